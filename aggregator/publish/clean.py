"""Text that every output format can carry: XML 1.0 forbids most C0 controls, lone
surrogates and U+FFFE/U+FFFF, and lxml refuses to serialize them, so one stray byte in a
source's title would otherwise stop a section from being published.

Tab and newline stay; carriage returns go (XML parsers turn them into newlines anyway).
"""

from __future__ import annotations

import dataclasses
import re
from functools import cache
from typing import Any, TypeVar

from aggregator.store import StoryView

_INVALID = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff\ud800-\udfff]")
_T = TypeVar("_T")


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry."""
    return _INVALID.sub("", text)


def clean_story(story: StoryView) -> StoryView:
    """The story with every text field of every item made XML-safe (other fields kept);
    the same object when there was nothing to remove, which is nearly always."""
    items = tuple(_clean(item) for item in story.items)
    if all(new is old for new, old in zip(items, story.items, strict=True)):
        return story
    return dataclasses.replace(story, items=items)


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _clean(record: _T) -> _T:
    changes: dict[str, Any] = {}
    for name in _names(type(record)):
        value = getattr(record, name)
        if isinstance(value, str):
            if _INVALID.search(value):
                changes[name] = xml_text(value)
        elif isinstance(value, tuple) and any(isinstance(v, str) and _INVALID.search(v)
                                              for v in value):
            changes[name] = tuple(xml_text(v) if isinstance(v, str) else v for v in value)
    return dataclasses.replace(record, **changes) if changes else record  # type: ignore[type-var]

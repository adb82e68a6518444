"""Text that every output format can carry: XML 1.0 forbids most C0 controls, lone
surrogates and U+FFFE/U+FFFF, and lxml refuses to serialize them, so one stray byte in a
source's title would otherwise stop a section from being published. C1 controls, DEL and
U+FFFD (text decoded with the wrong charset) are legal XML but the W3C validator reports them
(BadCharacters), so they go too; UTF-8 read as Latin-1 ("CafÃ©") is read again as UTF-8.

Tab and newline stay; carriage returns go (XML parsers turn them into newlines anyway).
`plain()` is for the fields that cannot declare markup (names, labels, link titles, RSS).
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Iterable
from functools import cache
from html.entities import html5 as _HTML5_ENTITIES
from operator import attrgetter
from typing import Any, TypeVar

from aggregator.store import StoryOutline, StoryView

_INVALID = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd\ufffe\uffff\ud800-\udfff]")
# "Ã©": the lead byte of a two-byte UTF-8 sequence (U+00C2/U+00C3) followed by a
# continuation byte, both read as Latin-1.
_MOJIBAKE = re.compile("[\u00c2\u00c3][\u0080-\u00bf]")
_DIRTY = re.compile(f"{_INVALID.pattern}|{_MOJIBAKE.pattern}")
_LATIN1_RUN = re.compile("[\u0000-\u00ff]+")
# Tags of HTML elements (what readers and the validator take for markup in plain text).
_HTML_ELEMENT_NAMES = (
    "a abbr acronym address applet area article aside audio b base basefont bdi bdo big "
    "blink blockquote body br button canvas caption center cite code col colgroup data "
    "datalist dd del details dfn dialog dir div dl dt em embed fieldset figcaption figure font "
    "footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe img "
    "input ins kbd label legend li link main map mark menu meta meter nav noframes noscript "
    "object ol optgroup option output p param picture plaintext pre progress q rp rt rtc ruby "
    "s samp script section select slot small source span strike strong style sub summary sup "
    "table tbody td template textarea tfoot th thead time title tr track tt u ul var video wbr "
    "xmp listing comment")
HTML_ELEMENTS = frozenset(_HTML_ELEMENT_NAMES.split())
_INLINE_NAMES = ("a abbr b bdi big cite code data dfn em font i kbd mark q s samp small span "
                 "strike strong sub sup time tt u var wbr")
_INLINE = frozenset(_INLINE_NAMES.split())
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)\b[^<>]*>")
_ENTITY_LIKE = re.compile(r"&(#?\w+);?")
_SPACES = re.compile(r"[ \t\r\n]+")
_EMAIL = re.compile(r"\s*<[^<>@\s]+@[^<>\s]+>\s*")
_EMAIL_THEN_NAME = re.compile(r"\s*[^\s@()]+@[^\s()]+\s*\((.+)\)\s*")  # RSS: "a@b.example (Name)"
_WORD_JOINER = "\u2060"
_T = TypeVar("_T")
_S = TypeVar("_S", StoryView, StoryOutline)


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry or the validator calls bad."""
    if _MOJIBAKE.search(text):
        text = _LATIN1_RUN.sub(_reread_utf8, text)
    return _INVALID.sub("", text)


def _reread_utf8(match: re.Match[str]) -> str:
    run = match.group(0)
    if not _MOJIBAKE.search(run):
        return run
    try:
        return run.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return run


def plain(text: str) -> str:
    """Text for a field that cannot say "this is HTML": HTML tags dropped, entity references
    read, whitespace collapsed. An "&" that would still read as a reference gets an invisible
    word joiner after it, so no reader (or validator) takes "R&D2" for markup."""
    text = xml_text(text)
    for _ in range(3):  # "&amp;lt;b&amp;gt;" takes two readings to become a tag
        if "&" in text and _ENTITY_LIKE.search(text):
            text = html.unescape(text)
        if "<" in text:
            text = _TAG.sub(_drop_tag, text)
        if "&" not in text or not _ENTITY_LIKE.search(text):
            break
    if "&" in text:
        text = _ENTITY_LIKE.sub(_defuse, text)
    return _SPACES.sub(" ", text).strip()


def _drop_tag(match: re.Match[str]) -> str:
    name = match.group(1).lower()
    if name not in HTML_ELEMENTS:
        return match.group(0)
    return "" if name in _INLINE else " "


def _defuse(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.isalpha() and f"{name};" not in _HTML5_ENTITIES and name != "apos":
        return match.group(0)
    return "&" + _WORD_JOINER + match.group(0)[1:]


def person_name(text: str | None) -> str | None:
    """An author's name without e-mail addresses in angle brackets (the validator's
    ContainsEmail) or markup; None when nothing is left."""
    if not text:
        return None
    text = plain(text)
    if match := _EMAIL_THEN_NAME.fullmatch(text):
        text = match.group(1)
    return plain(_EMAIL.sub(" ", text)) or None


def clean_story(story: _S) -> _S:
    """The story with every text field of every item made XML-safe (other fields kept);
    the same object when there was nothing to remove, which is nearly always (told by one
    search of all its text: lines never hold a mojibake pair across them)."""
    if not _DIRTY.search("\n".join(_strings(story.items))):
        return story
    items = tuple(_clean(item) for item in story.items)
    if all(new is old for new, old in zip(items, story.items, strict=True)):
        return story
    return dataclasses.replace(story, items=items)


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@cache
def _getter(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    return attrgetter(*_names(cls))


def _strings(records: Iterable[Any]) -> list[str]:
    """Every text of these records: their str fields and the strs in their tuple fields."""
    found: list[str] = []
    for record in records:
        for value in _getter(type(record))(record):
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, tuple) and value:
                found.extend(v for v in value if isinstance(v, str))
    return found


def _dirty(value: str) -> bool:
    return bool(_INVALID.search(value) or _MOJIBAKE.search(value))


def _clean(record: _T) -> _T:
    changes: dict[str, Any] = {}
    for name in _names(type(record)):
        value = getattr(record, name)
        if isinstance(value, str):
            if _dirty(value):
                changes[name] = xml_text(value)
        elif isinstance(value, tuple) and any(isinstance(v, str) and _dirty(v) for v in value):
            changes[name] = tuple(xml_text(v) if isinstance(v, str) else v for v in value)
    return dataclasses.replace(record, **changes) if changes else record  # type: ignore[type-var]

"""The dedupe stage: who an entry is inside its source, and which story it belongs to.

Pure deciders: the store hands in what it already knows (candidates), these functions
say what to do, the store writes it.

Identity inside a source (as Miniflux and FreshRSS do, degrading when a feed is broken):
    guid/atom:id → guid + link when the fetch repeats that guid → canonical link
    → hash of title and content.
Across sources, an entry joins the story of an item from *another* source that has the
same canonical link, or the same title key published within the story window.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aggregator.models import Entry

# A title key shorter than this is too generic ("عاجل", "Live updates") to join stories.
MIN_TITLE_WORDS = 3
MIN_TITLE_CHARS = 12


def assign_identities(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """Give each entry its identity; later copies of an identity in one fetch are dropped."""
    entries = tuple(entries)
    guid_counts = Counter(e.guid for e in entries if e.guid)
    seen: set[str] = set()
    out = []
    for entry in entries:
        identity = _identity(entry, repeated=guid_counts[entry.guid] > 1 if entry.guid else False)
        if identity not in seen:
            seen.add(identity)
            out.append(replace(entry, identity=identity))
    return tuple(out)


def _identity(entry: Entry, *, repeated: bool) -> str:
    if entry.guid and not repeated:
        return f"guid:{entry.guid}"
    if entry.guid and entry.canonical_link:
        return f"guid+link:{entry.guid} {entry.canonical_link}"
    if entry.canonical_link:
        return f"link:{entry.canonical_link}"
    digest = hashlib.sha256(f"{entry.title}\x1f{entry.summary_html}\x1f{entry.content_html}"
                            .encode()).hexdigest()[:32]
    return f"hash:{digest}"


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """A stored item that a new entry might share a story with."""

    story_id: int  # the story it is in
    source_id: str  # its source: never joined with an entry of the same source
    canonical_link: str | None  # its canonical link
    title_key: str  # its title key
    published: datetime  # compared with the entry's, within the window


def usable_link(link: str | None) -> bool:
    """A home-page link says nothing about which story an item tells."""
    return bool(link) and urlsplit(link).path not in ("", "/")


def usable_title_key(key: str) -> bool:
    return len(key) >= MIN_TITLE_CHARS and key.count(" ") + 1 >= MIN_TITLE_WORDS


def find_story(entry: Entry, candidates: Sequence[StoryCandidate],
               window: timedelta) -> int | None:
    """The story an entry joins: the oldest story among its matches, or None for a new one."""
    matches = [
        c.story_id for c in candidates
        if c.source_id != entry.source_id and (
            (usable_link(entry.canonical_link) and c.canonical_link == entry.canonical_link)
            or (usable_title_key(entry.title_key) and c.title_key == entry.title_key
                and abs(c.published - entry.published) <= window))
    ]
    return min(matches) if matches else None

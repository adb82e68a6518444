"""The dedupe stage: who an entry is inside its source. Pure.

Identity inside a source (as Miniflux and FreshRSS do, degrading when a feed is broken):
    guid/atom:id → guid + link when the fetch repeats that guid → canonical link
    → hash of title and content.
Which story an entry joins across sources is the clusterer's (pipeline/cluster/); the
rules here say which links and title keys are specific enough to join stories at all.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
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


def usable_link(link: str | None) -> bool:
    """A home-page link says nothing about which story an item tells."""
    return bool(link) and urlsplit(link).path not in ("", "/")


def usable_title_key(key: str) -> bool:
    return len(key) >= MIN_TITLE_CHARS and key.count(" ") + 1 >= MIN_TITLE_WORDS

"""The dates an entry shows, the same in every format and every document it appears in.

- A date before 1990 is a source's broken clock (the W3C validator calls it implausible): the
  entry shows when we first stored the item instead. The normalize stage already keeps dates
  out of the future.
- atom:updated is never before atom:published.
- No two entries of a document share atom:updated (the validator's DuplicateUpdated): stories
  polled in one pass often carry the same second. The sub-second digits of an entry's updated
  come from its permanent id (within the second before the update, never after it), so the
  value is the same in the subscription document, in its archive document and in the JSON
  Feed; a rare tie left in one document is broken there.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aggregator.store import ItemOutline, ItemView, StoryOutline, StoryView

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class EntryDates:
    """What an entry shows as published and updated."""

    published: datetime
    updated: datetime


def plausible(moment: datetime, item: ItemView | ItemOutline) -> datetime:
    """`moment`, or the item's first sighting when `moment` is before 1990."""
    if moment >= EARLIEST or item.first_seen is None or item.first_seen < EARLIEST:
        return moment
    return item.first_seen


def entry_dates(story: StoryView | StoryOutline) -> EntryDates:
    first = story.items[0]
    published = plausible(first.published, first)
    updated = max(plausible(story.updated, first), published)
    stamped = updated.replace(microsecond=zlib.crc32(story.uid.encode()) % 1_000_000)
    if stamped > updated:  # never later than the update itself: a date in the future is a lie
        stamped -= timedelta(seconds=1)
    return EntryDates(published, stamped if stamped >= published else updated)


def document_dates(stories: Sequence[StoryView | StoryOutline]) -> list[EntryDates]:
    """Each story's dates, ties between two entries' updated broken by a microsecond."""
    dates = [entry_dates(story) for story in stories]
    seen: set[datetime] = set()
    for i, entry in enumerate(dates):
        updated = entry.updated
        while updated in seen:
            updated += timedelta(microseconds=1)
        seen.add(updated)
        if updated != entry.updated:
            dates[i] = EntryDates(entry.published, updated)
    return dates

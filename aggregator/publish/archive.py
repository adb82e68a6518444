"""Paging of a section's feed, as RFC 5005 §4 "archived feeds": one archive document per
closed UTC day, fixed once written; the subscription document is the current one.

What a reader walking rel="prev-archive" from the subscription document gets:
- the subscription document: the newest `max_items` stories, plus every story not yet in an
  archive (the open day), plus every archived story that changed today (RFC 5005 §4: clients
  may not fetch an archive again, so changes are also shown in the current document);
- then one archive per day, newest first, each day linking the day before (prev-archive),
  the day after (next-archive; the newest one names the day that closes next) and the
  subscription document (current). Days are consecutive, empty ones too: a document's links
  are known when it is written, so a new day never rewrites the day before it.

A day's archive is written once the day has been over for GRACE (items dated late on a day
reach us a little after midnight). It holds the stories first reported that day, except late
arrivals: a story stored after its day was archived goes to the day it was stored (it shows
in the subscription document meanwhile), so an archive's set of entries never changes
(RFC 5005 §4: "SHOULD NOT change over time"). An archive is rendered again only when an entry
it shows changed (a late outlet, an edit), its links changed (retention dropped the day
before it) or its file is missing; days older than retention are deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from aggregator.config import SectionConfig
from aggregator.publish import fork
from aggregator.publish.archive_state import (
    ArchiveState,
    DayRecord,
    first_seen,
    frame_digest,
    story_digest,
)
from aggregator.publish.clean import clean_story
from aggregator.publish.dates import EARLIEST
from aggregator.publish.render import Outlined, Page, RenderContext, atom_parts
from aggregator.publish.urls import DAY, archive_dir, archive_file
from aggregator.publish.write import write_parts
from aggregator.store import StoryOutline, StoryView

GRACE = timedelta(hours=1)  # a day is archived this long after it ended (UTC)
# Stories whose text is read and rendered at a time: a backlog's day can hold thousands, more
# than is worth holding at once (bench/publish_cost.py).
BATCH = 200
Reader = Callable[[Sequence[StoryOutline]], list[StoryView]]  # Store.story_views


def in_batches(outlines: Sequence[StoryOutline], read: Reader) -> Iterator[list[StoryView]]:
    """The stories in full, in order, BATCH at a time."""
    for start in range(0, len(outlines), BATCH):
        yield read(outlines[start:start + BATCH])


@dataclass(frozen=True, slots=True)
class ArchiveDay:
    """One archive document of a section."""

    day: str  # its UTC day, 2026-11-24
    stories: tuple[StoryOutline, ...]  # the stories of that day, newest first
    prev: str | None  # the day before, when it has an archive: rel="prev-archive"
    next: str  # the day after (rel="next-archive"), archived once it closes


@dataclass(frozen=True, slots=True)
class ArchivePlan:
    """Where each story of a section goes, at one moment."""

    days: tuple[ArchiveDay, ...]  # consecutive days, newest first
    current: tuple[StoryOutline, ...]  # for the subscription document: open days, changed today


@dataclass(frozen=True)
class DayStories:
    """The stories of an archive document, outlined (and digested: story_digest), their text
    read a batch at a time."""

    outlines: Sequence[StoryOutline]
    read: Reader
    digests: dict[str, str]  # story uid -> story_digest

    @classmethod
    def of(cls, outlines: Sequence[StoryOutline], read: Reader,
           ctx: RenderContext) -> DayStories:
        return cls(outlines, read, {story.uid: story_digest(story, ctx) for story in outlines})

    def batches(self) -> Iterator[list[StoryView]]:
        return in_batches(self.outlines, self.read)

    def unchanged(self, old: DayRecord) -> bool:
        """Every story shows what it showed when `old` was recorded."""
        return self.digests == old.stories


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def _end_of(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(), UTC)


def report_day(story: Outlined) -> str:
    """The UTC day of the story's first report (a pre-1990 date counts as when we saw it)."""
    moments = [item.published if item.published >= EARLIEST or item.first_seen is None
               else item.first_seen for item in story.items]
    return day_of(min(moments))


def archive_day(story: Outlined, since: datetime) -> str:
    """The day whose archive holds the story: its report day, unless it was stored after
    that day's archive was due (and after the first archive was written), then the day it
    was stored."""
    natural = report_day(story)
    seen = first_seen(story)
    if seen is None or seen <= since or seen < _end_of(natural) + GRACE:
        return natural
    return day_of(seen)


def plan_archives(history: Sequence[StoryOutline], *, now: datetime, retention: timedelta,
                  since: datetime) -> ArchivePlan:
    """Group a section's stories (newest first) into archive days and the current ones."""
    open_day = day_of(now - GRACE)  # this day and later are not archived yet
    horizon = day_of(now - retention)  # days before it are gone with retention
    changed_since = datetime.combine(date.fromisoformat(open_day), time(), UTC)
    by_day: defaultdict[str, list[StoryOutline]] = defaultdict(list)
    current = []
    for story in history:
        day = archive_day(story, since)
        if day >= open_day:
            current.append(story)
            continue
        if day >= horizon:
            by_day[day].append(story)
        if story.updated >= changed_since:
            current.append(story)
    if not by_day:
        return ArchivePlan((), tuple(current))
    first, last = date.fromisoformat(min(by_day)), date.fromisoformat(open_day)
    span = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days)]
    days = tuple(ArchiveDay(day, tuple(by_day.get(day, ())), span[i - 1] if i else None,
                            (date.fromisoformat(day) + timedelta(days=1)).isoformat())
                 for i, day in reversed(list(enumerate(span))))
    return ArchivePlan(days, tuple(current))


def write_archives(output_dir: Path, section: SectionConfig, plan: ArchivePlan,
                   ctx: RenderContext, state: ArchiveState, read: Reader,
                   child_setup: Callable[[], None] | None = None,
                   meanwhile: Callable[[], None] | None = None, meanwhile_weight: int = 0,
                   ) -> tuple[int, dict[str, DayRecord]]:
    """Render the archive documents whose content changed (or whose file is missing), delete
    the days no longer planned; return how many files changed and the new day records.
    `child_setup`: given, a big render is shared with a forked child (publish/fork.py),
    which calls it first (`read` must then work in the child after it). `meanwhile`: other
    work of this process, done while the child renders (it weighs as many stories as
    `meanwhile_weight`), or after the days when there is no child."""
    records, due = {}, []
    for archive in plan.days:
        frame = frame_digest(section, ctx, archive.day, archive.prev, archive.next)
        old = state.days.get(archive.day)
        stories = DayStories.of(archive.stories, read, ctx)
        if old and old.frame == frame and stories.unchanged(old) and \
                archive_file(output_dir, section.id, archive.day).exists():
            records[archive.day] = old
            continue
        records[archive.day] = DayRecord(frame, stories.digests)
        due.append((archive, stories))

    def render(days: Sequence[tuple[ArchiveDay, DayStories]]) -> int:
        changed = 0
        for archive, stories in days:
            page = Page(day=archive.day, prev_archive=archive.prev, next_archive=archive.next)
            changed += write_parts(archive_file(output_dir, section.id, archive.day),
                                   render_atom(section, stories, ctx, page))
        return changed

    changed = fork.shared(due, lambda day: len(day[1].outlines), render,
                          child_setup=child_setup, meanwhile=meanwhile,
                          meanwhile_weight=meanwhile_weight)
    return changed + _delete_unplanned(output_dir, section.id, records.keys()), records


def render_atom(section: SectionConfig, stories: DayStories, ctx: RenderContext,
                page: Page) -> Iterator[bytes]:
    """An archive document as render.render_atom writes it, in parts: the text of a batch of
    its stories at a time."""
    outlines = [clean_story(story) for story in stories.outlines]
    batches = ([clean_story(story) for story in batch] for batch in stories.batches())
    return atom_parts(section, outlines, batches, ctx, page)


def _delete_unplanned(output_dir: Path, section_id: str, keep: Collection[str]) -> int:
    deleted = 0
    folder = archive_dir(output_dir, section_id)
    if folder.is_dir():
        for path in folder.glob("*.atom"):
            if DAY.fullmatch(path.stem) and path.stem not in keep:
                path.unlink(missing_ok=True)
                deleted += 1
    return deleted

"""Paging of a section's feed, as RFC 5005 "archived feeds": one archive document per UTC
day, holding every story of the section first reported that day, newest first.

Why days, not numbered pages: a page of "stories 51-100" shifts with every new story, so no
reader or cache could keep it. A day's document changes only when one of its stories really
changes (a late outlet, an edited item) or retention deletes it, so it is stable and
cacheable; today's document grows until midnight UTC. The subscription document links
rel="prev-archive" to the newest day, each day to the day before, so a reader walks back
through the whole retention window; every story sits in exactly one archive document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aggregator.config import SectionConfig
from aggregator.publish.render import Page, RenderContext, render_atom
from aggregator.publish.urls import DAY, archive_dir, archive_file
from aggregator.publish.write import write_atomic
from aggregator.store import StoryView


@dataclass(frozen=True, slots=True)
class ArchiveDay:
    """One archive document of a section."""

    day: str  # its UTC day, 2026-11-24
    stories: tuple[StoryView, ...]  # first reported that day, newest first
    prev: str | None  # the next older day with stories: its rel="prev-archive"


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def plan_archives(history: Sequence[StoryView]) -> list[ArchiveDay]:
    """Group a section's stories (newest first) by the UTC day of their first report;
    newest day first."""
    by_day: dict[str, list[StoryView]] = {}
    for story in history:
        by_day.setdefault(day_of(story.published), []).append(story)
    days = sorted(by_day, reverse=True)
    return [ArchiveDay(day, tuple(by_day[day]), days[i + 1] if i + 1 < len(days) else None)
            for i, day in enumerate(days)]


def write_archives(output_dir: Path, section: SectionConfig, plan: Sequence[ArchiveDay],
                   ctx: RenderContext) -> int:
    """Write every archive document of the plan and delete the days retention emptied;
    return how many files changed."""
    changed = 0
    for archive in plan:
        data = render_atom(section, archive.stories, ctx,
                           Page(day=archive.day, prev_archive=archive.prev))
        changed += write_atomic(archive_file(output_dir, section.id, archive.day), data)
    keep = {f"{archive.day}.atom" for archive in plan}
    folder = archive_dir(output_dir, section.id)
    if folder.is_dir():
        for path in folder.glob("*.atom"):
            if path.name not in keep and DAY.fullmatch(path.stem):
                path.unlink(missing_ok=True)
                changed += 1
    return changed

"""What publishing remembers about a section's archive documents, between publishes:
`archive/{id}/.state.json` beside them (the web server serves only `{day}.atom` there).

- `since`: when the first archive document was written. A story stored before it belongs to
  the day of its first report; one stored later for a day already archived is a late arrival
  (publish/archive.py). Until the first archive exists, `since` follows the newest story.
- `selection`: what picks the section's stories (its topics and their rules, sources,
  languages). When that changes the section is a different feed: its archives are planned
  afresh.
- `current`: a digest of what the subscription document and its alternates were last written
  from, so that a publish with nothing new renders none of the three again.
- per archive day, a digest of the document's frame (links, section, base URL) and of each
  story it holds, so an archive is rendered again only when something it shows changed. A
  story's digest is of its outline (item ids, dates, content hashes, topics, the names of
  its outlets and topics): telling an unchanged day needs none of its stories' text.

A missing or unreadable state file is not an error: every archive is then rendered once more
(and rewritten only where its bytes differ). So is one of an older VERSION, whose story
digests were made otherwise; its `since` is kept, since it decides where stories go.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from aggregator import __version__
from aggregator.config import Config, SectionConfig
from aggregator.publish.render import Outlet, RenderContext
from aggregator.publish.urls import archive_dir
from aggregator.publish.write import write_atomic
from aggregator.store import StoryOutline, StoryView

STATE_FILE = ".state.json"
VERSION = 2  # 1: story digests of their text (StoryView), read and cleaned on every publish
# Part of every digest: bump it when a change to the renderers changes the Atom a story or an
# archive document renders to, so every archive is rendered again once.
RENDER_VERSION = "2026-11-29"


@dataclass(frozen=True)
class DayRecord:
    """What an archive document was last rendered from."""

    frame: str  # digest of the document apart from its entries
    stories: dict[str, str]  # story uid -> digest of what it showed


@dataclass(frozen=True)
class ArchiveState:
    selection: str  # digest of what selects the section's stories
    since: datetime | None  # when the first archive was written; None: none yet
    days: dict[str, DayRecord] = field(default_factory=dict)
    current: str | None = None  # subscription_digest of the subscription document written


def selection_key(config: Config, section: SectionConfig) -> str:
    topics = [(t.id, t.terms, t.exclude, t.with_terms, t.case_sensitive, t.regex)
              for t in config.topics if t.id in section.topics]
    return _digest((section.topics, section.sources, section.languages, topics))


def story_digest(story: StoryOutline, ctx: RenderContext) -> str:
    """Changes whenever the entry of `story` would render differently: the outline holds
    what its text changes with (ItemOutline.content_hash and `updated`)."""
    # Plain values: the repr of dataclasses costs more than the rest of the digest.
    items = tuple((i.id, i.source_id, i.language, str(i.published), str(i.updated),
                   str(i.first_seen), i.content_hash, i.topics) for i in story.items)
    outlets = tuple(_outlet(ctx.outlets.get(item.source_id)) for item in story.items)
    topics = sorted({(t, ctx.topic_titles.get(t)) for item in story.items for t in item.topics})
    return _digest((RENDER_VERSION, ctx.base_url, story.uid, items, outlets, topics))


@lru_cache(maxsize=1024)
def _outlet(outlet: Outlet | None) -> str:
    return repr(outlet)


def frame_digest(section: SectionConfig, ctx: RenderContext, day: str, prev: str | None,
                 next_day: str | None) -> str:
    return _digest((RENDER_VERSION, ctx.base_url, section.id, section.title,
                    section.description, section.languages, day, prev, next_day))


def subscription_digest(section: SectionConfig, stories: Sequence[StoryOutline],
                        ctx: RenderContext, prev_archive: str | None) -> str:
    """Changes whenever the subscription document or an alternate would render differently:
    its stories (story_digest), their order, its links, the section, the generator's
    version."""
    return _digest((RENDER_VERSION, __version__, ctx.base_url, ctx.hub, ctx.empty_updated,
                    section.id, section.title, section.description, section.languages,
                    prev_archive, [story_digest(story, ctx) for story in stories]))


def _digest(value: object) -> str:
    return hashlib.blake2b(repr(value).encode("utf-8"), digest_size=16).hexdigest()


def state_file(output_dir: Path, section_id: str) -> Path:
    return archive_dir(output_dir, section_id) / STATE_FILE


def load_state(output_dir: Path, section_id: str, selection: str) -> ArchiveState:
    """The recorded state, or a fresh one when there is none or its selection differs."""
    try:
        raw = json.loads(state_file(output_dir, section_id).read_text(encoding="utf-8"))
        if raw.get("version") not in (1, VERSION) or raw.get("selection") != selection:
            return ArchiveState(selection, None)
        since = datetime.fromisoformat(raw["since"]) if raw.get("since") else None
        if raw["version"] != VERSION:  # digests of another kind: every day rendered once
            return ArchiveState(selection, since)
        days = {day: DayRecord(rec["frame"], dict(rec["stories"]))
                for day, rec in raw.get("days", {}).items()}
        return ArchiveState(selection, since, days, raw.get("current"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ArchiveState(selection, None)


def save_state(output_dir: Path, section_id: str, state: ArchiveState) -> bool:
    if state.since is None and not state.days:
        return False
    data = {"version": VERSION, "selection": state.selection,
            "since": state.since.isoformat() if state.since else None,
            "days": {day: {"frame": rec.frame, "stories": rec.stories}
                     for day, rec in sorted(state.days.items())}, "current": state.current}
    text = json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"
    return write_atomic(state_file(output_dir, section_id), text.encode("utf-8"))


def effective_since(state: ArchiveState, history: Sequence[StoryOutline],
                    now: datetime) -> datetime:
    """`since` as recorded, or (no archive yet) the newest first sighting: everything stored
    so far counts as on time."""
    if state.since is not None:
        return state.since
    seen = [moment for story in history if (moment := first_seen(story)) is not None]
    return max(seen, default=now).astimezone(UTC)


def first_seen(story: StoryView | StoryOutline) -> datetime | None:
    """When we first stored an item of the story (as the section shows it)."""
    seen = [item.first_seen for item in story.items if item.first_seen is not None]
    return min(seen) if seen else None

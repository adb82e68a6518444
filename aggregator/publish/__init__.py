"""Publishing: every section rendered from the store and written to the output folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aggregator.config import Config
from aggregator.publish.render import Outlet, RenderContext, render_atom
from aggregator.publish.write import write_atomic
from aggregator.store import Store


@dataclass(frozen=True, slots=True)
class Published:
    """What publishing did to one section's file."""

    section_id: str
    path: Path  # the file written
    stories: int  # entries in the feed
    changed: bool  # False when the file already held exactly these bytes
    story_uids: tuple[str, ...] = ()  # the stories it shows, which retention must keep


def render_context(config: Config, store: Store) -> RenderContext:
    meta = store.feed_meta()
    outlets = {s.id: Outlet(title=s.title or meta.get(s.id, (None, None))[0] or s.id,
                            link=meta.get(s.id, (None, None))[1])
               for s in config.sources}
    # The config file's mtime dates an empty feed: stable from one publish to the next.
    empty = datetime.fromtimestamp(int(config.path.stat().st_mtime), UTC) \
        if config.path.exists() else datetime(2026, 1, 1, tzinfo=UTC)
    return RenderContext(base_url=config.settings.base_url, outlets=outlets,
                         topic_titles={t.id: t.title for t in config.topics},
                         empty_updated=empty)


def feed_path(config: Config, section_id: str) -> Path:
    return config.settings.output_dir / f"{section_id}.atom"


def publish_all(config: Config, store: Store) -> list[Published]:
    ctx = render_context(config, store)
    results = []
    for section in config.sections:
        stories = store.section_stories(section)
        path = feed_path(config, section.id)
        changed = write_atomic(path, render_atom(section, stories, ctx))
        results.append(Published(section.id, path, len(stories), changed,
                                 tuple(s.uid for s in stories)))
    return results


def publish_and_prune(config: Config, store: Store, now: datetime) -> list[Published]:
    """Publish every section, then apply retention to what no section shows any more."""
    results = publish_all(config, store)
    store.prune(before=now - config.settings.retention, now=now,
                keep_stories={uid for r in results for uid in r.story_uids})
    return results

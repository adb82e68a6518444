"""Publishing: every section rendered from the store and written to the output folder.

For each section: the Atom subscription document ({id}.atom: the newest `max_items` stories
and whatever is not archived yet), its RSS 2.0 and JSON Feed 1.1 alternates ({id}.rss,
{id}.json, the same entries), one RFC 5005 archive document per closed day
(archive/{id}/{day}.atom, rendered only when it changed; publish/archive.py) and its page
(sections/{id}.html); then the index page and the two OPML lists. Every file is written
atomically and only when its bytes change, so an unchanged poll rewrites nothing
(publish/urls.py maps them to addresses).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aggregator.config import Config, SectionConfig
from aggregator.publish.archive import ArchivePlan, plan_archives, write_archives
from aggregator.publish.archive_state import (
    ArchiveState,
    effective_since,
    load_state,
    save_state,
    selection_key,
)
from aggregator.publish.jsonfeed import render_json
from aggregator.publish.opml import sections_opml, sources_opml
from aggregator.publish.pages import SectionPage, write_index, write_section_page
from aggregator.publish.render import Outlet, Page, RenderContext, render_atom
from aggregator.publish.rss import render_rss
from aggregator.publish.urls import feed_file, feed_url, opml_file
from aggregator.publish.websub import notify_hub
from aggregator.publish.write import write_atomic
from aggregator.store import Store, StoryView

# section_stories() with this as max_items reads every stored story of a section: the
# archives reach as far back as retention keeps items, whatever their number.
ALL_STORIES = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Published:
    """What publishing did to one section's file."""

    section_id: str
    path: Path  # the file written
    stories: int  # entries in the feed
    changed: bool  # False when the file already held exactly these bytes
    story_uids: tuple[str, ...] = ()  # the stories it shows, which retention must keep
    files_changed: int = 0  # of all its outputs: alternates, archives, page


def render_context(config: Config, store: Store) -> RenderContext:
    meta = store.feed_meta()
    outlets = {s.id: Outlet(title=s.title or meta.get(s.id, (None, None))[0] or s.id,
                            link=meta.get(s.id, (None, None))[1], feed_url=s.url)
               for s in config.sources}
    # The config file's mtime dates an empty feed: stable from one publish to the next.
    empty = datetime.fromtimestamp(int(config.path.stat().st_mtime), UTC) \
        if config.path.exists() else datetime(2026, 1, 1, tzinfo=UTC)
    return RenderContext(base_url=config.settings.base_url, outlets=outlets,
                         topic_titles={t.id: t.title for t in config.topics},
                         empty_updated=empty, extra={"feed_meta": meta},
                         hub=config.settings.websub_hub)


def feed_path(config: Config, section_id: str) -> Path:
    return feed_file(config.settings.output_dir, section_id)


def subscription_stories(newest: Sequence[StoryView],
                         current: Sequence[StoryView]) -> list[StoryView]:
    """The subscription document's stories: the newest ones and those not archived yet (or
    changed today), once each, newest first report first."""
    stories = {story.uid: story for story in newest}
    for story in current:
        stories.setdefault(story.uid, story)
    return sorted(stories.values(), key=lambda story: story.published, reverse=True)


def publish_all(config: Config, store: Store, now: datetime | None = None) -> list[Published]:
    """Publish every section as of `now` (default: the clock), which decides which days are
    closed and archived."""
    now = now or datetime.now(UTC)
    ctx = render_context(config, store)
    results, pages = [], []
    for section in config.sections:
        result, page = _publish_section(config, store, section, ctx, now)
        results.append(result)
        pages.append(page)
    out = config.settings.output_dir
    write_index(out, pages)
    write_atomic(opml_file(out, "sources"), sources_opml(config, ctx.extra["feed_meta"]))
    write_atomic(opml_file(out, "sections"), sections_opml(config))
    if config.settings.websub_hub:  # after the files are in place: a ping never delays them
        # The subscription documents of every format (their files change together).
        notify_hub(config.settings.websub_hub, out,
                   [feed_url(config.settings.base_url, r.section_id, fmt)
                    for r in results if r.changed for fmt in ("atom", "rss", "json")])
    return results


def _publish_section(config: Config, store: Store, section: SectionConfig,
                     ctx: RenderContext, now: datetime) -> tuple[Published, SectionPage]:
    out = config.settings.output_dir
    # Every stored story of the section, newest first report first (the store's order, so
    # the first max_items are what section_stories(section) gives).
    history = store.section_stories(dataclasses.replace(section, max_items=ALL_STORIES))
    newest = history[:section.max_items]
    state = load_state(out, section.id, selection_key(config, section))
    since = effective_since(state, history, now)
    plan = plan_archives(history, now=now, retention=config.settings.retention, since=since)
    stories = subscription_stories(newest, plan.current)
    # The archives first: the subscription document must never link a day not yet written.
    others = _archive(out, section, plan, ctx, state, since)
    path = feed_path(config, section.id)
    page = Page(prev_archive=plan.days[0].day if plan.days else None)
    changed = write_atomic(path, render_atom(section, stories, ctx, page))
    others += (write_atomic(feed_file(out, section.id, "rss"), render_rss(section, stories, ctx))
               + write_atomic(feed_file(out, section.id, "json"),
                              render_json(section, stories, ctx)))
    section_page = SectionPage(section, newest, archived=sum(len(d.stories) for d in plan.days),
                               days=len(plan.days))
    others += write_section_page(out, section_page, ctx)
    return (Published(section.id, path, len(stories), changed,
                      tuple(s.uid for s in stories), changed + others), section_page)


def _archive(out: Path, section: SectionConfig, plan: ArchivePlan, ctx: RenderContext,
             state: ArchiveState, since: datetime) -> int:
    """Write the archives that changed and remember what they show."""
    changed, days = write_archives(out, section, plan, ctx, state)
    if days or state.days:  # `since` is fixed once the first archive exists
        save_state(out, section.id, ArchiveState(state.selection, since, days))
    return changed


def publish_and_prune(config: Config, store: Store, now: datetime) -> list[Published]:
    """Publish every section, then apply retention to what no section shows any more."""
    results = publish_all(config, store, now)
    store.prune(before=now - config.settings.retention, now=now,
                keep_stories={uid for r in results for uid in r.story_uids})
    return results


PUBLISHED_STAMP = ".published-at"  # in output_dir: when the last publish began (database clock)


def publish_after_pass(config: Config, store: Store, now: datetime, stored_at: datetime, *,
                       force: bool = False) -> list[Published] | None:
    """Publish what a pass stored, one node at a time (the store's publish lock). `stored_at`:
    the database clock after the pass's last write. When another node began publishing into
    this folder after that, its reads saw our rows and its files hold them: publishing again
    would render the same bytes, so we skip it and return None. With several pollers this
    turns one publish per poller into about one per pass. `force`: publish anyway (a new
    configuration, whose sections the other node may not have)."""
    stamp = config.settings.output_dir / PUBLISHED_STAMP
    with store.publish_lock():
        last = _read_stamp(stamp)
        if not force and last is not None and last > stored_at:
            return None
        began = store.clock()
        results = publish_and_prune(config, store, now)
        write_atomic(stamp, began.isoformat().encode("ascii"))
        return results


def _read_stamp(path: Path) -> datetime | None:
    try:
        found = datetime.fromisoformat(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    return found if found.tzinfo is not None else None

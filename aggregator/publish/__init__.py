"""Publishing: every section rendered from the store and written to the output folder.

For each section: the Atom subscription document ({id}.atom, the newest `max_items`
stories), its RSS 2.0 and JSON Feed 1.1 alternates ({id}.rss, {id}.json), one RFC 5005
archive document per day (archive/{id}/{day}.atom) and its page (sections/{id}.html); then
the index page and the two OPML lists. Every file is written atomically and only when its
bytes change, so an unchanged poll rewrites nothing (publish/urls.py maps them to addresses).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aggregator.config import Config
from aggregator.publish.archive import plan_archives, write_archives
from aggregator.publish.jsonfeed import render_json
from aggregator.publish.opml import sections_opml, sources_opml
from aggregator.publish.pages import SectionPage, write_index, write_section_page
from aggregator.publish.render import Outlet, Page, RenderContext, render_atom
from aggregator.publish.rss import render_rss
from aggregator.publish.urls import feed_file, feed_url, opml_file
from aggregator.publish.websub import notify_hub
from aggregator.publish.write import write_atomic
from aggregator.store import Store

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


def publish_all(config: Config, store: Store) -> list[Published]:
    ctx = render_context(config, store)
    out = config.settings.output_dir
    results, pages = [], []
    for section in config.sections:
        stories = store.section_stories(section)
        history = store.section_stories(dataclasses.replace(section, max_items=ALL_STORIES))
        plan = plan_archives(history)
        page = Page(prev_archive=plan[0].day if plan else None)
        path = feed_path(config, section.id)
        changed = write_atomic(path, render_atom(section, stories, ctx, page))
        others = (write_atomic(feed_file(out, section.id, "rss"), render_rss(section, stories, ctx))
                  + write_atomic(feed_file(out, section.id, "json"),
                                 render_json(section, stories, ctx))
                  + write_archives(out, section, plan, ctx))
        pages.append(SectionPage(section, stories, archived=len(history), days=len(plan)))
        others += write_section_page(out, pages[-1], ctx)
        results.append(Published(section.id, path, len(stories), changed,
                                 tuple(s.uid for s in stories), changed + others))
    write_index(out, pages)
    write_atomic(opml_file(out, "sources"), sources_opml(config, ctx.extra["feed_meta"]))
    write_atomic(opml_file(out, "sections"), sections_opml(config))
    if config.settings.websub_hub:  # after the files are in place: a ping never delays them
        # The subscription documents of every format (their files change together).
        notify_hub(config.settings.websub_hub, out,
                   [feed_url(config.settings.base_url, r.section_id, fmt)
                    for r in results if r.changed for fmt in ("atom", "rss", "json")])
    return results


def publish_and_prune(config: Config, store: Store, now: datetime) -> list[Published]:
    """Publish every section, then apply retention to what no section shows any more."""
    results = publish_all(config, store)
    store.prune(before=now - config.settings.retention, now=now,
                keep_stories={uid for r in results for uid in r.story_uids})
    return results

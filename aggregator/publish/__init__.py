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

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aggregator.config import Config, SectionConfig
from aggregator.publish.archive import (
    Reader,
    in_batches,
    plan_archives,
    write_archives,
)
from aggregator.publish.archive_state import (
    ArchiveState,
    effective_since,
    load_state,
    save_state,
    selection_key,
    subscription_digest,
)
from aggregator.publish.clean import clean_story
from aggregator.publish.dates import document_dates
from aggregator.publish.jsonfeed import JSON_END, json_head, json_items
from aggregator.publish.opml import sections_opml, sources_opml
from aggregator.publish.pages import SectionPage, write_index, write_section_page
from aggregator.publish.render import (
    ATOM_END,
    Outlet,
    Page,
    RenderContext,
    atom_entries,
    atom_head,
    entry_html,
)
from aggregator.publish.rss import RSS_END, rss_head, rss_items
from aggregator.publish.urls import feed_file, feed_url, opml_file
from aggregator.publish.websub import notify_hub
from aggregator.publish.write import AtomicFile, write_atomic
from aggregator.store import Store, StoryOutline

_FORMATS = ("atom", "rss", "json")  # a section's subscription document and its alternates


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


def subscription_stories(newest: Sequence[StoryOutline],
                         current: Sequence[StoryOutline]) -> list[StoryOutline]:
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
    # Every stored story of the section without its text, newest first report first (the
    # archives reach as far back as retention keeps items); the text is read in batches.
    history = store.section_outlines(section)
    newest = history[:section.max_items]
    state = load_state(out, section.id, selection_key(config, section))
    since = effective_since(state, history, now)
    plan = plan_archives(history, now=now, retention=config.settings.retention, since=since)
    del history
    stories = subscription_stories(newest, plan.current)
    page = Page(prev_archive=plan.days[0].day if plan.days else None)
    current = subscription_digest(section, stories, ctx, page.prev_archive)
    unchanged = current == state.current and all(feed_file(out, section.id, fmt).exists()
                                                 for fmt in _FORMATS)
    files: list[AtomicFile] = []  # the subscription document, then its alternates
    with contextlib.ExitStack() as renamed:

        def subscription() -> None:
            """Rendered beside the archive days (while a forked child renders some); put in
            place once every day is written, as the block ends: the subscription document
            never links a day not yet written. Left alone when written from these very
            stories last time."""
            if not unchanged:
                files.extend(renamed.enter_context(AtomicFile(feed_file(out, section.id, fmt)))
                             for fmt in _FORMATS)
                _subscription(files, section, stories, ctx, page, store.story_views)

        others, days = write_archives(out, section, plan, ctx, state, store.story_views,
                                      child_setup=store.after_fork, meanwhile=subscription,
                                      meanwhile_weight=len(stories))
    changed = bool(files) and files[0].changed
    alternates = sum(f.changed for f in files[1:])
    if days or state.days:  # `since` is fixed once the first archive exists
        save_state(out, section.id, ArchiveState(state.selection, since, days, current))
    section_page = SectionPage(section, store.story_views(newest),
                               archived=sum(len(d.stories) for d in plan.days),
                               days=len(plan.days))
    others += alternates + write_section_page(out, section_page, ctx)
    return (Published(section.id, feed_path(config, section.id), len(stories), changed,
                      tuple(s.uid for s in stories), changed + others), section_page)


def _subscription(files: Sequence[AtomicFile], section: SectionConfig,
                  stories: Sequence[StoryOutline], ctx: RenderContext, page: Page,
                  read: Reader) -> None:
    """Render the subscription document and its RSS and JSON Feed alternates into `files`
    (open, in _FORMATS' order) together: each story's text is read, made XML-safe and
    rendered to HTML once for the three."""
    atom, rss, jsonfeed = files
    outlines = [clean_story(story) for story in stories]
    dates = document_dates(outlines)
    atom.write(atom_head(section, outlines, dates, ctx, page))
    rss.write(rss_head(section, outlines, dates, ctx))
    jsonfeed.write(json_head(section, outlines, ctx))
    done = 0
    for batch in in_batches(stories, read):
        batch = [clean_story(story) for story in batch]
        batch_dates = dates[done:done + len(batch)]
        htmls = [entry_html(story, ctx) for story in batch]
        atom.write(atom_entries(batch, batch_dates, htmls, ctx))
        rss.write(rss_items(batch, batch_dates, htmls, ctx))
        jsonfeed.write(json_items(batch, batch_dates, htmls, ctx, first=done == 0))
        done += len(batch)
    atom.write(ATOM_END)
    rss.write(RSS_END)
    if outlines:
        jsonfeed.write(JSON_END)


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

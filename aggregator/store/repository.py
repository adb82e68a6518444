"""The repository: every read and write the rest of the program makes, in a few calls.

A poll result is written in one transaction, alone or with the others that waited for the
store (`save_feeds`), with batched lookups (`IN` lists, and VALUES lists of (source,
identity) pairs joined to the unique index) and Core bulk inserts: one ORM round trip per
row is several times slower (DESIGN.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
import threading
import time
from collections import defaultdict, namedtuple
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import (
    Dialect,
    String,
    Table,
    any_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from aggregator.config import SectionConfig, SourceConfig
from aggregator.errors import StoreError
from aggregator.models import Changed, Entry, FetchResult, ParsedFeed, SourceState, Unchanged
from aggregator.pipeline.cluster import Decision
from aggregator.store.schema import ensure_schema
from aggregator.store.tables import (
    ItemRow,
    ItemTopicRow,
    ItemVectorRow,
    PollRow,
    SourceRow,
    StoryAliasRow,
    StoryRow,
    TombstoneRow,
)
from aggregator.store.views import PollView

log = logging.getLogger(__name__)

# Core tables: multi-row inserts through them skip the ORM's bulk machinery.
ITEMS = ItemRow.__table__  # type: ignore[attr-defined]
STORIES = StoryRow.__table__  # type: ignore[attr-defined]
ITEM_TOPICS = ItemTopicRow.__table__  # type: ignore[attr-defined]
POLLS = PollRow.__table__  # type: ignore[attr-defined]
SOURCES = SourceRow.__table__  # type: ignore[attr-defined]
TOMBSTONES = TombstoneRow.__table__  # type: ignore[attr-defined]
ALIASES = StoryAliasRow.__table__  # type: ignore[attr-defined]
VECTORS = ItemVectorRow.__table__  # type: ignore[attr-defined]
CHUNK = 500  # keeps IN lists and multi-row inserts under every engine's parameter limit
POLL_LOCK_KEY = 0x61676772  # "aggr": the advisory lock id of a poll pass
STORY_LOCK_KEY = 0x61677374  # "agst": held while a transaction decides stories (PostgreSQL)
PUBLISH_LOCK_KEY = 0x61677075  # "agpu": held while a process publishes (PostgreSQL)
SYNC_LOCK_KEY = 0x6167736f  # "agso": held while feeds.yaml's sources are written (PostgreSQL)
# The write path's lookups, built once: making and keying a statement on every execution
# costs more in SQLAlchemy than running it costs in SQLite. "values" is an expanding IN list.
_VALUES = bindparam("values", expanding=True)
# Keyed by (source_id, identity): a list of pairs joined to the unique index (see _keyed).
# What the entries are already: stored items (with their id, content hash and date), or
# tombstones of pruned ones (id None); and the ids of stored items.
_KNOWN = ("SELECT items.source_id, items.identity, items.id, items.content_hash, items.updated"
          " FROM k JOIN items ON items.source_id = k.s AND items.identity = k.i"
          " UNION ALL SELECT tombstones.source_id, tombstones.identity, NULL, NULL, NULL"
          " FROM k JOIN tombstones ON tombstones.source_id = k.s AND tombstones.identity = k.i",
          (ITEMS.c.source_id, ITEMS.c.identity, ITEMS.c.id, ITEMS.c.content_hash,
           ITEMS.c.updated))
_ITEM_IDS = ("SELECT items.source_id, items.identity, items.id"
             " FROM k JOIN items ON items.source_id = k.s AND items.identity = k.i",
             (ITEMS.c.source_id, ITEMS.c.identity, ITEMS.c.id))
_PAIRS = (16, 128, 400)  # pairs per lookup: a chunk is padded to one of these sizes
_ITEMS_AFTER = select(ITEMS.c.source_id, ITEMS.c.identity, ITEMS.c.id).where(
    ITEMS.c.id > bindparam("after"))
_SET_MATCH = update(ITEMS).where(ITEMS.c.id == bindparam("b_id")).values(
    join_match=bindparam("b_match"))
_STORY_IDS = select(STORIES.c.uid, STORIES.c.id).where(STORIES.c.uid.in_(_VALUES))
_ALIASED = select(ALIASES.c.alias_uid, ALIASES.c.story_id).where(ALIASES.c.alias_uid.in_(_VALUES))
_NEWEST_ITEM = select(func.max(ITEMS.c.id))
_NEWEST_STORY = select(func.max(STORIES.c.id))
# A merge's statements (_merge), built once: level 3 merges thousands of stories in a first
# poll with the encoder, and building the statements cost more than running them.
_STORY_OF_UID = select(STORIES.c.id).where(STORIES.c.uid == bindparam("uid"))
_UID_OF_STORY = select(STORIES.c.uid).where(STORIES.c.id == bindparam("story"))
_ALIAS_STORY = select(ALIASES.c.story_id).where(ALIASES.c.alias_uid == bindparam("uid"))
_NEW_ALIAS = insert(ALIASES).values(alias_uid=bindparam("uid"), story_id=bindparam("story"))
_SET_ALIAS = update(ALIASES).where(ALIASES.c.alias_uid == bindparam("uid")).values(
    story_id=bindparam("story"))
_MOVE_ITEMS = update(ITEMS).where(ITEMS.c.story_id == bindparam("absorbed")).values(
    story_id=bindparam("story"))
_MOVE_ALIASES = update(ALIASES).where(ALIASES.c.story_id == bindparam("absorbed")).values(
    story_id=bindparam("story"))
_DROP_STORY = delete(STORIES).where(STORIES.c.id == bindparam("absorbed"))
_STORIES_AFTER = select(STORIES.c.uid, STORIES.c.id).where(STORIES.c.id > bindparam("after"))
MOVE_AFTER = 3  # polls in a row ending at the same permanent redirect before we follow it


@dataclass(frozen=True, slots=True)
class ItemView:
    """One outlet's item as the publisher shows it."""

    source_id: str  # its source
    title: str
    link: str | None
    summary_html: str
    content_html: str
    author: str | None
    language: str | None
    published: datetime
    updated: datetime
    topics: tuple[str, ...]
    first_seen: datetime | None = None  # when we first stored it


class StoryDecider(Protocol):
    """Decides the stories of a source's new entries (the Poller's clusterer); item keys are
    (source_id, identity)."""

    def decide(self, entries: Sequence[Entry]) -> Sequence[Decision]: ...

    def vectors(self, keys: Sequence[Hashable]) -> tuple[str, dict[Hashable, bytes]] | None:
        """The embedding model's name and the vectors worth keeping, or None."""
        ...

    # Several pollers: before deciding, the decider learns what the others stored since.
    @property
    def seen_item(self) -> int | None:
        """The highest item id the decider knows of (None: it has not loaded the store)."""
        ...

    def learn(self, stored: Sequence[tuple[Entry, str]], seen_item: int,
              vectors: Mapping[Hashable, bytes]) -> None:
        """Items other processes stored (with their story uids and kept vectors), and the new
        highest item id."""
        ...

    @property
    def vector_model(self) -> str | None:
        """The embedding model whose vectors `learn` can use, or None."""
        ...


@dataclass(frozen=True, slots=True)
class JoinView:
    """One item of a story and how it joined (aggregator explain-story)."""

    item_id: int
    source_id: str
    language: str | None
    title: str
    published: datetime
    level: int | None  # None: stored before decisions were recorded
    rule: str | None
    score: float | None
    matched: int | None  # the item id it matched


@dataclass(frozen=True, slots=True)
class StoryView:
    """A story with the items a section shows of it, earliest first."""

    uid: str  # permanent id, minted once
    items: tuple[ItemView, ...]  # items[0] represents the story, the others earliest first

    @property
    def updated(self) -> datetime:
        """The latest edit, or the arrival of an outlet after the first report."""
        first = min(self.items, key=lambda i: i.published)
        joined = [i.first_seen for i in self.items if i is not first and i.first_seen]
        return max([i.updated for i in self.items] + joined)

    @property
    def published(self) -> datetime:
        return min(i.published for i in self.items)


@dataclass(frozen=True, slots=True)
class ItemOutline:
    """An item without its text: what publishing plans documents and dates with."""

    id: int  # its row, by which Store.story_views reads the rest
    source_id: str
    language: str | None
    published: datetime
    updated: datetime
    first_seen: datetime | None = None
    # What else its entry shows changes only with these: the write path rewrites an item's
    # text, author and language when its content hash changes (and moves `updated` on), and
    # a retag changes its topics. Publishing tells an unchanged archive day by them.
    content_hash: str = ""
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoryOutline:
    """A story as StoryView orders it, without text: a section's whole history fits in a few
    MiB, and publishing reads the text of a few hundred stories at a time."""

    uid: str  # permanent id, minted once
    items: tuple[ItemOutline, ...]  # items[0] represents the story, the others earliest first

    # The same moments as the StoryView of the same items.
    updated = StoryView.updated
    published = StoryView.published


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A row of `aggregator status`."""

    id: str
    url: str
    feed_title: str | None
    last_poll_at: datetime | None
    last_outcome: str | None
    last_error: str | None
    error_since: datetime | None
    consecutive_errors: int
    next_check_at: datetime | None
    retired: bool
    items: int
    moved_to: str | None  # the permanent redirect target now polled instead of `url`
    redirect_url: str | None  # a permanent redirect seen, not yet adopted
    claimed_by: str | None = None  # the poller polling it now (host:pid:tag), if any
    claimed_until: datetime | None = None  # when that claim lapses unless renewed

    def state(self, enabled: bool) -> str:
        """disabled, retired, failing, waiting (an error not counted against it: its host
        said wait, or our network was down), moved (polled at its permanent redirect), new
        (never polled) or healthy: what `aggregator status` and the /status page show."""
        if not enabled:
            return "disabled"
        if self.retired:
            return "retired"
        if self.last_outcome == "error":
            return "failing" if self.error_since is not None else "waiting"
        if self.moved_to:
            return "moved"
        return "new" if self.last_outcome is None else "healthy"


class Store:
    """Opens the database named by a SQLAlchemy URL and creates the tables if needed."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = _engine(url, echo=echo)
        try:
            _with_schema(self.engine)  # creates a fresh database; refuses an out-of-date one
        except Exception as exc:  # connection refused, bad URL, permissions…
            self.engine.dispose()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open database {_safe(url)}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def after_fork(self) -> None:
        """In a forked child: its own connections from now on, the parent's left alone (a
        connection shared by two processes corrupts its session)."""
        self.engine.dispose(close=False)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def poll_lock(self) -> Iterator[bool]:
        """Hold the pass lock: yields False at once when another `poll` holds it.

        SQLite: an flock beside the database file; PostgreSQL: a session advisory lock.
        Either is released by the operating system or the server if the process dies.
        """
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                        {"k": POLL_LOCK_KEY}).scalar())
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": POLL_LOCK_KEY})
                    conn.rollback()
            return
        database = _database_file(self.url)
        if database is None:
            yield True
            return
        with open(f"{database}.poll-lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def checkpointing(self, every: float = 0.2) -> Iterator[None]:
        """While a pass writes, on SQLite: a thread of its own copies the write-ahead log into
        the database file every `every` seconds (a PASSIVE checkpoint, which neither waits for
        nor blocks the writer), so the log stays short and the pass's commits do not run the
        checkpoints themselves: the commit that found 32 MiB of log copied it and synced the
        file, inside the store thread, which is a first poll's critical path (about 0.15 s of
        its 290 commits, bench/poll_vs_reader.py). Elsewhere, and in memory, nothing."""
        database = _database_file(self.url) if self.engine.dialect.name == "sqlite" else None
        if database is None:
            yield
            return
        stop = threading.Event()

        def checkpoint() -> None:
            try:
                conn = self.engine.raw_connection()
            except Exception:  # the pass's own connections will say what is wrong
                return
            try:
                while not stop.wait(every):
                    try:
                        conn.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except Exception as exc:  # busy, or the file went away: the commits do it
                        log.debug("background checkpoint failed: %s", exc)
            finally:
                conn.close()

        thread = threading.Thread(target=checkpoint, name="checkpoint", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # -- sources ---------------------------------------------------------------------------

    def sync_sources(self, sources: Sequence[SourceConfig]) -> None:
        """Add new sources. Any edit of a source's entry un-retires it; a changed URL also
        forgets the old polling state (validators, redirects, errors)."""
        with Session(self.engine) as s, s.begin():
            if self.engine.dialect.name == "postgresql":  # pollers starting at once
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SYNC_LOCK_KEY})
            # The columns compared, not the rows as objects: the ORM's entities cost a poll
            # of 500 sources 10 ms here before its first request.
            c = SOURCES.c
            rows = {r.id: r for r in s.execute(
                select(c.id, c.url, c.config_hash, c.retired, c.next_check_at))}
            added = []
            for src in sources:
                row, digest = rows.get(src.id), _config_hash(src)
                if row is None:
                    added.append({"id": src.id, "url": src.url, "config_hash": digest,
                                  "consecutive_errors": 0, "retired": False,
                                  "redirect_count": 0})
                elif row.url != src.url:
                    s.execute(update(SourceRow).where(SourceRow.id == src.id).values(
                        url=src.url, fetch_url=None, etag=None, last_modified=None,
                        body_hash=None, retired=False, next_check_at=None, redirect_url=None,
                        redirect_count=0, consecutive_errors=0, config_hash=digest))
                elif row.config_hash != digest:
                    s.execute(update(SourceRow).where(SourceRow.id == src.id).values(
                        retired=False, config_hash=digest,
                        next_check_at=None if row.retired else row.next_check_at))
            # One INSERT for the new ones, not an ORM object each (500 sources: 2 MiB that
            # stayed in the heap through a first poll).
            _insert_rows(s, SOURCES, added)

    def source_states(self, ids: Iterable[str]) -> dict[str, SourceState]:
        with Session(self.engine) as s:
            c = SOURCES.c
            rows = _in_chunks(s, select(c.id, c.url, c.fetch_url, c.etag, c.last_modified,
                                        c.body_hash, c.consecutive_errors), c.id, list(ids))
            return {r.id: SourceState(source_id=r.id, url=r.fetch_url or r.url, etag=r.etag,
                                      last_modified=r.last_modified, body_hash=r.body_hash,
                                      consecutive_errors=r.consecutive_errors)
                    for r in rows}

    def due_source_ids(self, ids: Sequence[str], now: datetime, *,
                       include_not_due: bool = False) -> list[str]:
        """Ids (in the given order) that are not retired and due at `now`."""
        with Session(self.engine) as s:
            c = SOURCES.c
            rows = _in_chunks(s, select(c.id, c.retired, c.next_check_at), c.id, list(ids))
            ok = {r.id for r in rows if not r.retired and (
                include_not_due or r.next_check_at is None or r.next_check_at <= now)}
        return [i for i in ids if i in ok]

    def rate_limited(self, now: datetime
                     ) -> list[tuple[str, int, datetime, datetime, str | None]]:
        """(URL polled, status, when, next check, error message) of the sources whose last
        poll was answered 429 Too Many Requests or 503 Service Unavailable and that are not
        due yet: their hosts may have asked every poller to wait (the poller reads the
        message for the Retry-After that came with it)."""
        with Session(self.engine) as s:
            c = SOURCES.c
            rows = s.execute(select(c.url, c.fetch_url, c.last_status, c.last_poll_at,
                                    c.next_check_at, c.last_error).where(
                c.last_status.in_((429, 503)), c.retired.is_(False), c.next_check_at > now))
            return [(r.fetch_url or r.url, r.last_status, r.last_poll_at, r.next_check_at,
                     r.last_error) for r in rows]

    # -- claims: which poller polls which source ----------------------------------------------

    def claim(self, ids: Sequence[str], now: datetime, *, owner: str, lease: timedelta,
              limit: int | None = None, include_not_due: bool = False) -> list[str]:
        """Claim up to `limit` of these sources for `owner` until now + lease, and return them
        (the most overdue first). Skipped: retired sources, sources not due (unless
        include_not_due), and sources another poller holds a live claim on.

        PostgreSQL: the candidate rows are locked FOR UPDATE SKIP LOCKED, so pollers claiming
        at the same moment each get different sources and never wait for one another."""
        if not ids:
            return []
        c = SOURCES.c
        until = now + lease
        claimed: list[str] = []
        postgres = self.engine.dialect.name == "postgresql"
        # PostgreSQL takes the whole list as one array parameter: one statement per claim
        # however many sources a pass covers. Elsewhere IN lists, a chunk at a time.
        chunks = [list(ids)] if postgres else _chunks(list(ids))
        with Session(self.engine) as s, s.begin():
            for chunk in chunks:
                if limit is not None and len(claimed) >= limit:
                    break
                listed = (c.id == any_(bindparam("ids", chunk, type_=ARRAY(String)))
                          if postgres else c.id.in_(chunk))
                wanted = select(c.id).where(
                    listed, c.retired.is_(False),
                    or_(c.claimed_until.is_(None), c.claimed_until < now))
                if not include_not_due:
                    wanted = wanted.where(or_(c.next_check_at.is_(None), c.next_check_at <= now))
                wanted = wanted.order_by(c.next_check_at.asc().nulls_first(), c.id)
                if limit is not None:
                    wanted = wanted.limit(limit - len(claimed))
                if postgres:
                    wanted = wanted.with_for_update(skip_locked=True)
                got = list(s.execute(wanted).scalars())
                if got:
                    s.execute(update(SOURCES).where(
                        c.id == any_(bindparam("got", got, type_=ARRAY(String))) if postgres
                        else c.id.in_(got)).values(claimed_by=owner, claimed_until=until))
                    claimed += got
        return claimed

    def renew_claims(self, owner: str, until: datetime) -> int:
        """Extend every claim `owner` holds (its heartbeat while a pass runs)."""
        with Session(self.engine) as s, s.begin():
            return s.execute(update(SOURCES).where(SOURCES.c.claimed_by == owner)
                             .values(claimed_until=until)).rowcount or 0

    def release_claims(self, owner: str) -> int:
        """Drop the claims `owner` still holds (the end of its pass)."""
        with Session(self.engine) as s, s.begin():
            return s.execute(update(SOURCES).where(SOURCES.c.claimed_by == owner)
                             .values(claimed_by=None, claimed_until=None)).rowcount or 0

    def claims(self) -> dict[str, tuple[str, datetime | None]]:
        """{source id: (owner, claimed until)} of every claim held now."""
        with Session(self.engine) as s:
            rows = s.execute(select(SOURCES.c.id, SOURCES.c.claimed_by, SOURCES.c.claimed_until)
                             .where(SOURCES.c.claimed_by.is_not(None)))
            return {r.id: (r.claimed_by, r.claimed_until) for r in rows}

    # -- poll results ------------------------------------------------------------------------

    def save_feed(self, source_id: str, *, fetched: FetchResult, feed: ParsedFeed,
                  entries: Sequence[Entry], now: datetime, next_check_at: datetime,
                  decider: StoryDecider, duration: float = 0.0) -> tuple[int, int]:
        """Store one parsed fetch in one transaction; return (new, updated) counts."""
        return self.save_feeds([Changed(source_id, fetched, feed, entries, now, next_check_at,
                                        duration)], decider)[0]

    def save_feeds(self, results: Sequence[Changed],
                   decider: StoryDecider) -> list[tuple[int, int]]:
        """Store parsed fetches of distinct sources in one transaction (the poller groups
        the feeds waiting for the store: a commit and a dozen statements for all of them,
        not for each); return (new, updated) counts per feed. The decider places the new
        entries (not stored yet, not tombstoned) in stories, in the order given. When it
        fails, nothing of it is written: the poller then saves the feeds one by one."""
        if not results:
            return []
        with Session(self.engine) as s, s.begin():
            written = _upsert_items(s, results, decider)
            states, polls = [], []
            for r, (new, changed) in zip(results, written, strict=True):
                outcome = "new" if new else "updated" if changed else "unchanged"
                states.append((r.source_id, dict(
                    feed_title=r.feed.title, feed_link=r.feed.link,
                    feed_language=r.feed.language, body_hash=r.fetched.body_hash,
                    **_success(s, r.source_id, r.fetched, r.now, r.next_check_at, outcome))))
                polls.append(_poll(r.source_id, r.now, r.duration, outcome, r.fetched.status,
                                   len(new), len(changed)))
            _update_sources(s, states)
            _insert_rows(s, POLLS, polls)
        return [(len(new), len(changed)) for new, changed in written]

    def save_unchanged(self, results: Sequence[Unchanged]) -> None:
        """304s, or bodies identical to the last ones: only the polling state moves.
        Many sources in one transaction, since a quiet pass is mostly these."""
        if not results:
            return
        with Session(self.engine) as s, s.begin():
            outcomes = ["not_modified" if r.fetched.not_modified else "unchanged"
                        for r in results]
            _update_sources(s, [(r.source_id, _success(s, r.source_id, r.fetched, r.now,
                                                       r.next_check_at, outcome))
                                for r, outcome in zip(results, outcomes, strict=True)])
            _insert_rows(s, POLLS, [_poll(r.source_id, r.now, r.duration, outcome,
                                            r.fetched.status, 0, 0)
                                      for r, outcome in zip(results, outcomes, strict=True)])

    def save_error(self, source_id: str, *, error: str, status: int | None, now: datetime,
                   next_check_at: datetime, count: bool = True, retire: bool = False,
                   duration: float = 0.0) -> int:
        """Record a failed poll; return the source's consecutive error count."""
        with Session(self.engine) as s, s.begin():
            row = s.get(SourceRow, source_id)
            if row is None:
                raise StoreError(f"unknown source {source_id!r}")
            if count:
                row.consecutive_errors += 1
                row.error_since = row.error_since or now
            row.last_poll_at, row.last_outcome, row.last_status = now, "error", status
            row.last_error, row.next_check_at, row.retired = error, next_check_at, retire
            row.claimed_by, row.claimed_until = None, None
            _log(s, source_id, now, duration, "error", status, 0, 0, error)
            return row.consecutive_errors

    def prune(self, *, before: datetime, keep_stories: Iterable[str], now: datetime) -> int:
        """Retention: delete items published before `before` whose story no section shows
        (`keep_stories`: story uids), leaving tombstones so they do not come back."""
        keep = set(keep_stories)
        with Session(self.engine) as s, s.begin():
            if self.engine.dialect.name == "postgresql":  # no poller joins what we delete
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STORY_LOCK_KEY})
            old = s.execute(select(ItemRow.id, ItemRow.source_id, ItemRow.identity,
                                   ItemRow.story_id, StoryRow.uid)
                            .join(StoryRow, StoryRow.id == ItemRow.story_id)
                            .where(ItemRow.published < before)).all()
            doomed = [r for r in old if r.uid not in keep]
            if not doomed:
                return 0
            tombstones = [{"source_id": r.source_id, "identity": r.identity, "removed_at": now}
                          for r in doomed]
            for chunk in _chunks(tombstones):
                s.execute(insert(TombstoneRow), list(chunk))
            ids = [r.id for r in doomed]
            for chunk in _chunks(ids):
                s.execute(delete(ITEM_TOPICS).where(ITEM_TOPICS.c.item_id.in_(chunk)))
                s.execute(delete(VECTORS).where(VECTORS.c.item_id.in_(chunk)))
                s.execute(delete(ItemRow).where(ItemRow.id.in_(chunk)))  # type: ignore[union-attr]
            stories = sorted({r.story_id for r in doomed})
            for chunk in _chunks(stories):
                still = select(ItemRow.story_id).where(ItemRow.story_id.in_(chunk))  # type: ignore[attr-defined]
                s.execute(delete(ALIASES).where(ALIASES.c.story_id.in_(chunk),
                                                ALIASES.c.story_id.not_in(still)))
                s.execute(delete(StoryRow).where(StoryRow.id.in_(chunk),  # type: ignore[union-attr]
                                                 StoryRow.id.not_in(still)))  # type: ignore[union-attr]
            return len(doomed)

    def clock(self) -> datetime:
        """Now by the database's clock on PostgreSQL, which every node shares (machines'
        own clocks drift apart); this machine's clock on SQLite, which has one machine."""
        if self.engine.dialect.name != "postgresql":
            return datetime.now(UTC)
        with self.engine.connect() as conn:
            found = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        return cast(datetime, found).astimezone(UTC)

    @contextlib.contextmanager
    def publish_lock(self) -> Iterator[None]:
        """One publisher at a time: on PostgreSQL several nodes may share the output folder,
        so a node waits for the one publishing, then publishes what it stored itself. Each
        publish renders from the database, so the later one is complete."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PUBLISH_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PUBLISH_LOCK_KEY})
                conn.commit()

    # -- stories (warming the clusterer, explain-story) ----------------------------------------

    def last_item_id(self) -> int:
        """The highest item id stored (0 when none): where a clusterer's catch-up starts."""
        with Session(self.engine) as s:
            return int(s.execute(select(func.max(ITEMS.c.id))).scalar() or 0)

    def window_items(self, since: datetime) -> list[tuple[Entry, str]]:
        """Items published since `since`, with their story uids, oldest first."""
        with Session(self.engine) as s:
            return _stored(s, ItemRow.published >= since,  # type: ignore[arg-type,operator]
                           (ItemRow.published, ItemRow.id))[1]

    def window_vectors(self, since: datetime, model: str) -> dict[tuple[str, str], bytes]:
        """Stored vectors of `model` for the items published since `since`, by item key."""
        with Session(self.engine) as s:
            return _vectors(s, model, ITEMS.c.published >= since)

    def resolve_story(self, uid: str) -> str | None:
        """The uid a story lives on under: itself, the survivor it was merged into, or None."""
        with Session(self.engine) as s:
            if s.execute(select(STORIES.c.uid).where(STORIES.c.uid == uid)).first():
                return uid
            return s.execute(select(STORIES.c.uid)
                             .join(ALIASES, ALIASES.c.story_id == STORIES.c.id)
                             .where(ALIASES.c.alias_uid == uid)).scalar()

    def story_joins(self, uid: str) -> list[JoinView]:
        """A story's items (earliest first) and how each joined it; [] when unknown."""
        found = self.resolve_story(uid)
        if found is None:
            return []
        with Session(self.engine) as s:
            c = ITEMS.c
            rows = s.execute(select(c.id, c.source_id, c.language, c.title, c.published,
                                    c.join_level, c.join_rule, c.join_score, c.join_match)
                             .join(STORIES, STORIES.c.id == c.story_id)
                             .where(STORIES.c.uid == found).order_by(c.published, c.id))
            return [JoinView(r.id, r.source_id, r.language, r.title, r.published, r.join_level,
                             r.join_rule, r.join_score, r.join_match) for r in rows]

    def recent_stories(self, since: datetime,
                       section: SectionConfig | None = None) -> list[StoryView]:
        """Stories first reported since `since` (in a section, when given), newest first."""
        with Session(self.engine) as s:
            first = func.min(ItemRow.published).label("first")
            query = select(ItemRow.story_id, first)
            if section is not None:
                query = (query.join(ItemTopicRow, ItemTopicRow.item_id == ItemRow.id)
                         .where(ItemTopicRow.topic.in_(section.topics),  # type: ignore[attr-defined]
                                *_section_filters(section)))
            query = (query.group_by(ItemRow.story_id).having(first >= since)
                     .order_by(first.desc(), ItemRow.story_id.desc()))  # type: ignore[union-attr]
            order = [row.story_id for row in s.execute(query)]
            return _story_views(s, order, section)

    # -- topics of stored items (explain, retag) -----------------------------------------------

    def stored_entries(self, item_ids: Sequence[int] | None = None,
                       batch: int = 1000) -> Iterator[tuple[int, Entry]]:
        """Stored items as entries with their stored topics, in id order, in batches."""
        last = 0
        while True:
            with Session(self.engine) as s:
                query = select(ItemRow).where(ItemRow.id > last).order_by(ItemRow.id).limit(batch)  # type: ignore[arg-type,operator]
                if item_ids is not None:
                    query = query.where(ItemRow.id.in_(item_ids))  # type: ignore[union-attr]
                rows = list(s.execute(query).scalars())
                topics = _topics_of(s, [r.id for r in rows])
            if not rows:
                return
            for r in rows:
                yield r.id, _entry_of(r, topics.get(r.id, ()))
            last = rows[-1].id

    def set_topics(self, changes: Sequence[tuple[int, tuple[str, ...]]]) -> None:
        """Replace the topics of these items, in one transaction."""
        with Session(self.engine) as s, s.begin():
            _write_topics(s, changes, replace=[i for i, _ in changes])

    # -- reading for publishing and status ------------------------------------------------------

    def section_stories(self, section: SectionConfig) -> list[StoryView]:
        """The newest `max_items` stories of a section, by the first report of each."""
        if not section.topics:
            return []
        with Session(self.engine) as s:
            return _story_views(s, _section_order(s, section, section.max_items), section)

    def section_outlines(self, section: SectionConfig) -> list[StoryOutline]:
        """Every stored story of a section in section_stories' order, without text."""
        if not section.topics:
            return []
        with Session(self.engine) as s:
            return _outlines(s, _section_order(s, section, None), section)

    def story_views(self, stories: Sequence[StoryOutline]) -> list[StoryView]:
        """These stories with their text: the items of each outline, read by id."""
        with Session(self.engine) as s:
            return _full_views(s, stories)

    def source_status(self) -> list[SourceStatus]:
        with Session(self.engine) as s:
            counts = dict(s.execute(select(ItemRow.source_id, func.count())
                                    .group_by(ItemRow.source_id)).all())
            return [SourceStatus(
                id=r.id, url=r.url, feed_title=r.feed_title, moved_to=r.fetch_url,
                redirect_url=r.redirect_url,
                last_poll_at=r.last_poll_at, last_outcome=r.last_outcome,
                last_error=r.last_error, error_since=r.error_since,
                consecutive_errors=r.consecutive_errors, next_check_at=r.next_check_at,
                retired=r.retired, items=counts.get(r.id, 0), claimed_by=r.claimed_by,
                claimed_until=r.claimed_until)
                for r in s.execute(select(SourceRow).order_by(SourceRow.id)).scalars()]

    def feed_meta(self) -> dict[str, tuple[str | None, str | None]]:
        """Each source's own feed title and home page link, as last fetched."""
        with Session(self.engine) as s:
            rows = s.execute(select(SourceRow.id, SourceRow.feed_title, SourceRow.feed_link))
            return {i: (t, link) for i, t, link in rows}

    def count(self, table: str) -> int:
        """Row count of one table, for tests and status totals."""
        model = {"items": ItemRow, "stories": StoryRow, "sources": SourceRow,
                 "polls": PollRow, "item_topics": ItemTopicRow}[table]
        with Session(self.engine) as s:
            return int(s.execute(select(func.count()).select_from(model)).scalar_one())

    # -- web reads ------------------------------------------------------------------------------

    def recent_polls(self, limit: int = 50) -> list[PollView]:
        """The last `limit` polls of any source, newest first."""
        with Session(self.engine) as s:
            newest = (PollRow.started_at.desc(), PollRow.id.desc())  # type: ignore[attr-defined,union-attr]
            rows = s.execute(select(PollRow).order_by(*newest).limit(limit)).scalars()
            return [PollView(source_id=r.source_id, started_at=r.started_at,
                             duration=r.duration, outcome=r.outcome, status=r.status,
                             new=r.new, updated=r.updated, error=r.error) for r in rows]

    def status_version(self) -> tuple[int, int, datetime | None]:
        """Changes whenever the status page would: (last poll id, items, last poll time)."""
        with Session(self.engine) as s:
            last, when = s.execute(select(func.max(PollRow.id),
                                          func.max(PollRow.started_at))).one()
            items = s.execute(select(func.count()).select_from(ItemRow)).scalar_one()
            return int(last or 0), int(items), when


# -- helpers ------------------------------------------------------------------------------------


def _with_schema(engine: Engine, attempts: int = 6) -> None:
    """ensure_schema, again after a moment when SQLite answers "database is locked": several
    processes opening one new file at once (a cron poll starting beside `run`) can meet while
    the first converts it to WAL or creates the tables; looking again finds the work done."""
    for attempt in range(attempts):
        try:
            ensure_schema(engine)
            return
        except (OperationalError, StoreError) as exc:  # StoreError: a migration that failed
            if (engine.dialect.name != "sqlite" or "database is locked" not in str(exc)
                    or attempt == attempts - 1):
                raise
            engine.dispose()  # a fresh connection sets its pragmas again
            time.sleep(0.1 * 2 ** attempt)


def _engine(url: str, *, echo: bool) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, echo=echo, pool_pre_ping=True)
    database = _database_file(url)
    if database is not None:
        Path(database).parent.mkdir(parents=True, exist_ok=True)  # data/ on a fresh checkout
    engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
            cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the poller
        cur.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every 32 MiB of log, not every 4: a first poll writes tens of MiB, and
        # each checkpoint copies and syncs the pages changed since the last one (a bigger
        # log copies a page changed twice once). The log file is cut back to 64 MiB after.
        cur.execute("PRAGMA wal_autocheckpoint=8192")
        cur.execute("PRAGMA journal_size_limit=67108864")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def _database_file(url: str) -> str | None:
    """The file of a SQLite URL's database; None in memory."""
    database = make_url(url).database
    return database if database and database != ":memory:" else None


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid URL>"


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), CHUNK):
        yield values[i:i + CHUNK]


def _insert_rows(s: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT rows (mappings with the same keys) in one executemany. On SQLite the rows go to
    the driver as tuples, through the statement and the columns' bind processors prepared
    once per table and set of columns: SQLAlchemy's own executemany builds a processed
    dict per row, which cost more than SQLite's insert (about a tenth of a first poll's
    store thread, for its 20,000 items). Elsewhere SQLAlchemy's, which batches them
    (insertmanyvalues)."""
    if not rows:
        return
    conn = s.connection()
    prepared = _driver_insert(table, tuple(rows[0]), conn.dialect)
    if prepared is None:
        s.execute(insert(table), rows)
        return
    sql, order, processed = prepared
    conn.exec_driver_sql(sql, [tuple(_processed([row[c] for c in order], processed))
                               for row in rows])


def _processed(values: list[Any], processors: Sequence[tuple[int, Any]]) -> list[Any]:
    """`values` with the value at each processor's position through it (in place)."""
    for at, process in processors:
        values[at] = process(values[at])
    return values


@functools.cache
def _driver_insert(table: Table, columns: tuple[str, ...], dialect: Dialect
                   ) -> tuple[str, tuple[str, ...], tuple[tuple[int, Any], ...]] | None:
    """The driver's INSERT of these columns, their order in its parameters and the bind
    processors to apply ((position, processor)); None but on SQLite, or when the statement
    would bind more than these columns (a default)."""
    if dialect.name != "sqlite":
        return None
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    order = tuple(compiled.positiontup or ())
    if sorted(order) != sorted(columns):
        return None
    processed = tuple((at, process) for at, name in enumerate(order)
                      if (process := table.c[name].type.dialect_impl(dialect)
                          .bind_processor(dialect)) is not None)
    return compiled.string, order, processed


def _in_chunks(s: Session, query: Any, column: Any, values: Sequence[Any]) -> list[Any]:
    """The rows of `query` whose `column` is one of `values`, an IN list of CHUNK at a time."""
    out: list[Any] = []
    for chunk in _chunks(values):
        out.extend(s.execute(query.where(column.in_(chunk))))
    return out


def _success(s: Session, source_id: str, fetched: FetchResult, now: datetime,
             next_check_at: datetime, outcome: str) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        last_poll_at=now, last_success_at=now, last_outcome=outcome, last_status=fetched.status,
        last_error=None, error_since=None, consecutive_errors=0, next_check_at=next_check_at,
        claimed_by=None, claimed_until=None)  # done: the next check is what holds it now
    if not fetched.not_modified:  # a 304 may omit validators; keep the stored ones
        values.update(etag=fetched.etag, last_modified=fetched.last_modified)
    values.update(_redirect(s, source_id, fetched.permanent_redirect))
    return values


def _redirect(s: Session, source_id: str, target: str | None) -> dict[str, Any]:
    """Permanent redirects are adopted after MOVE_AFTER polls in a row end at one URL."""
    if target is None:
        return {"redirect_url": None, "redirect_count": 0}
    row = s.execute(select(SOURCES.c.redirect_url, SOURCES.c.redirect_count)
                    .where(SOURCES.c.id == source_id)).one()
    count = row.redirect_count + 1 if row.redirect_url == target else 1
    if count >= MOVE_AFTER:
        return {"fetch_url": target, "redirect_url": None, "redirect_count": 0}
    return {"redirect_url": target, "redirect_count": count}


def _config_hash(src: SourceConfig) -> str:
    return hashlib.sha256(repr(src).encode()).hexdigest()[:32]


def _update_sources(s: Session, states: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Write each source's new polling state: one executemany per set of columns (a 304
    keeps the stored validators, a 200 replaces them), since a statement per source costs
    more in SQLAlchemy than in SQL."""
    groups: defaultdict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for source_id, values in states:
        groups[tuple(sorted(values))].append(
            {"b_id": source_id, **{f"b_{k}": v for k, v in values.items()}})
    for columns, rows in groups.items():
        s.execute(update(SOURCES).where(SOURCES.c.id == bindparam("b_id"))
                  .values({c: bindparam(f"b_{c}") for c in columns}), rows)


def _poll(source_id: str, now: datetime, duration: float, outcome: str, status: int | None,
          new: int, updated: int, error: str | None = None) -> dict[str, Any]:
    """A row of the poll log."""
    return dict(source_id=source_id, started_at=now, duration=duration, outcome=outcome,
                status=status, new=new, updated=updated, error=error)


def _log(s: Session, source_id: str, now: datetime, duration: float, outcome: str,
         status: int | None, new: int, updated: int, error: str | None = None) -> None:
    s.execute(insert(POLLS).values(**_poll(source_id, now, duration, outcome, status, new,
                                           updated, error)))


Written = tuple[list[Entry], list[tuple[int, Entry]]]  # one feed's (new, [(id, changed)])


def _upsert_items(s: Session, results: Sequence[Changed],
                  decider: StoryDecider) -> list[Written]:
    """Insert new entries, update changed ones in place; return each feed's (new, changed)."""
    # Core columns throughout the write path: ORM-enabled statements cost more
    keys = [(r.source_id, e.identity) for r in results for e in r.entries]
    existing: dict[Hashable, Any] = {}
    gone: set[Hashable] = set()
    for key, row in _keyed(s, _KNOWN, keys):
        if row.id is not None:
            existing[key] = row
        else:
            gone.add(key)
    written: list[Written] = []
    for r in results:
        mine = [((r.source_id, e.identity), e) for e in r.entries]
        written.append(([e for key, e in mine if key not in existing and key not in gone],
                        [(existing[key].id, e) for key, e in mine
                         if key in existing and existing[key].content_hash != e.content_hash]))
        for item_id, e in written[-1][1]:
            # An edit always moves the date readers see, in whole seconds, even when the
            # feed keeps the old one and the edit comes within a second of the last poll.
            # Two seconds on from the start of this one: a feed's entry shows a date up to a
            # second before the stored one (publish/dates.py), which must still be a later
            # second than before.
            before = existing[(r.source_id, e.identity)].updated
            s.execute(update(ITEMS).where(ITEMS.c.id == item_id).values(
                **_content(e), updated=e.updated if e.updated > before
                else max(before, r.now).replace(microsecond=0) + timedelta(seconds=2)))
    ids = _insert_new(s, [(r, e) for r, (new, _) in zip(results, written, strict=True)
                          for e in new], decider)
    _write_topics(s, [(ids[(e.source_id, e.identity)], e.topics)
                      for new, _ in written for e in new]
                  + [(i, e.topics) for _, changed in written for i, e in changed],
                  replace=[i for _, changed in written for i, _ in changed])
    return written


def _content(e: Entry) -> dict[str, Any]:
    return dict(guid=e.guid, link=e.link, canonical_link=e.canonical_link, title=e.title,
                title_key=e.title_key, summary_html=e.summary_html, content_html=e.content_html,
                text=e.text, author=e.author, language=e.language, image=e.image,
                content_hash=e.content_hash)


def _insert_new(s: Session, new: Sequence[tuple[Changed, Entry]],
                decider: StoryDecider) -> dict[Hashable, int]:
    """Decide the stories of the new entries, insert them; {(source_id, identity): id}."""
    if not new:
        return {}
    newest = _catch_up(s, decider)
    decisions = list(decider.decide([e for _, e in new]))
    stories = _story_ids(s, decisions, [r.now for r, _ in new])
    keys = [(r.source_id, e.identity) for r, e in new]
    # An item may match one inserted below (another feed of this transaction): that match
    # is written once the item has its id.
    inside = set(keys)
    matched = _item_ids(s, [d.matched_key for d in decisions
                            if d.matched_key is not None and d.matched_key not in inside])
    _insert_rows(s, ITEMS, [dict(_content(e), source_id=r.source_id, identity=e.identity,
                                   story_id=stories[str(d.story_id)], published=e.published,
                                   updated=e.updated, first_seen=r.now, join_level=d.level,
                                   join_rule=d.rule, join_score=d.score,
                                   join_match=matched.get(d.matched_key))  # type: ignore[arg-type]
                              for (r, e), d in zip(new, decisions, strict=True)])
    # Not RETURNING: SQLite runs an INSERT … RETURNING once per row, slower than one
    # executemany and one lookup. The rows just inserted are the newest: item inserts are
    # serialized (_catch_up), so a range of ids finds them all.
    ids = {(r.source_id, r.identity): r.id for r in s.execute(_ITEMS_AFTER, {"after": newest})}
    late = [{"b_id": ids[key], "b_match": ids[d.matched_key]}
            for key, d in zip(keys, decisions, strict=True) if d.matched_key in inside]
    if late:
        s.execute(_SET_MATCH, late)
    for d in decisions:  # in order: a later item may absorb the story of an earlier one
        for absorbed in d.merged:
            _merge(s, str(absorbed), stories[str(d.story_id)])
    kept = decider.vectors(keys)
    if kept is not None:
        model, vectors = kept
        rows = [{"item_id": ids[key], "model": model, "vector": vector}
                for key in keys if (vector := vectors.get(key)) is not None]
        _insert_rows(s, VECTORS, rows)
    if decider.seen_item is not None:  # ours are the newest ids: the lock is held
        decider.learn([], max([decider.seen_item, *ids.values()]), {})
    return ids


def _catch_up(s: Session, decider: StoryDecider) -> int:
    """Serialize story decisions across processes and show the decider what other pollers
    stored since it last looked, so two reports of one story that arrive through two pollers
    at the same moment still meet. PostgreSQL: a transaction-level advisory lock, released at
    commit; SQLite has one writer at a time anyway. Returns the newest stored item id: the
    items this transaction inserts come after it."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STORY_LOCK_KEY})
    newest: int = s.execute(_NEWEST_ITEM).scalar() or 0
    seen = decider.seen_item
    if seen is None or newest <= seen:
        return newest  # nothing new: one cheap look instead of the join below
    ids, stored = _stored(s, ItemRow.id > seen, (ItemRow.id,))  # type: ignore[arg-type,operator]
    if ids:
        model = decider.vector_model
        decider.learn(stored, max(ids), _vectors(s, model, ITEMS.c.id > seen) if model else {})
    return newest


def _stored(s: Session, where: Any, order: tuple[Any, ...]
            ) -> tuple[list[int], list[tuple[Entry, str]]]:
    """Stored items matching `where`, in `order`: their ids, and each as an entry with its
    topics and its story's uid (what a clusterer loads)."""
    rows = s.execute(select(ItemRow, StoryRow.uid)
                     .join(StoryRow, StoryRow.id == ItemRow.story_id)
                     .where(where).order_by(*order)).all()
    ids = [r.ItemRow.id for r in rows]
    topics = _topics_of(s, ids)
    return ids, [(_entry_of(r.ItemRow, topics.get(r.ItemRow.id, ())), r.uid) for r in rows]


def _vectors(s: Session, model: str, where: Any) -> dict[Hashable, bytes]:
    """Kept vectors of `model` for the items matching `where`, by item key."""
    rows = s.execute(select(ITEMS.c.source_id, ITEMS.c.identity, VECTORS.c.vector)
                     .join(VECTORS, VECTORS.c.item_id == ITEMS.c.id)
                     .where(where, VECTORS.c.model == model))
    return {(r.source_id, r.identity): bytes(r.vector) for r in rows}


def _story_ids(s: Session, decisions: Sequence[Decision],
               nows: Sequence[datetime]) -> dict[str, int]:
    """{uid: story row id} of the decisions' stories. The stories the decider minted are
    new (a fresh uuid each): inserted in one executemany, and found again by their id range
    (story inserts are serialized, see _catch_up); the others in one lookup. A uid not found
    was merged away, maybe by another poller: its alias says where it lives; one unknown
    even there is stored too. (Not RETURNING: SQLite runs it once per row.)
    `nows`: when each decision's item was polled, the creation time of a story it starts."""
    minted = {str(d.story_id): now for d, now in zip(decisions, nows, strict=True) if d.created}
    found: dict[str, int] = {}
    if minted:
        newest = s.execute(_NEWEST_STORY).scalar() or 0
        _insert_rows(s, STORIES, [{"uid": uid, "created_at": now}
                                  for uid, now in minted.items()])
        found = {r.uid: r.id for r in s.execute(_STORIES_AFTER, {"after": newest})}
    wanted = list(dict.fromkeys(str(d.story_id) for d in decisions))
    found.update(_lookup(s, _STORY_IDS, [uid for uid in wanted if uid not in found]))
    found.update(_lookup(s, _ALIASED, [uid for uid in wanted if uid not in found]))
    fresh = [uid for uid in wanted if uid not in found]
    if fresh:
        now = max(nows)
        _insert_rows(s, STORIES, [{"uid": uid, "created_at": now} for uid in fresh])
        found.update(_lookup(s, _STORY_IDS, fresh))
    return found


def _item_ids(s: Session, keys: Sequence[Hashable]) -> dict[Hashable, int]:
    """{(source_id, identity): item id} of the stored items among these keys."""
    return {key: row.id for key, row in _keyed(s, _ITEM_IDS, keys)}


def _keyed(s: Session, query: tuple[str, tuple[Any, ...]],
           keys: Sequence[Hashable]) -> list[tuple[Hashable, Any]]:
    """((source_id, identity), row) of `_KNOWN` or `_ITEM_IDS` over (source_id, identity)
    pairs: the pairs are a VALUES list that the query joins to the unique index, so one
    statement serves a whole group of feeds (a query per source was 2,000 statements in a
    first poll). Not a row-value IN, which SQLite answers by scanning the table, nor two IN
    lists, where the index is probed for every source times every identity. A chunk is
    padded to one of a few sizes by repeating its last pair, so a few statements are
    compiled, not one per length (the repeated pair's rows come back repeated). On SQLite
    the statement goes to the driver with the pairs as positional parameters (SQLAlchemy's
    handling of 800 named ones cost more than the lookup); rows have the columns'
    names and types either way."""
    pairs = list(dict.fromkeys(cast(Sequence[tuple[str, str]], keys)))
    conn = s.connection()
    out: list[tuple[Hashable, Any]] = []
    for start in range(0, len(pairs), _PAIRS[-1]):
        chunk = pairs[start:start + _PAIRS[-1]]
        size = next(size for size in _PAIRS if size >= len(chunk))
        chunk += chunk[-1:] * (size - len(chunk))
        prepared = _driver_pairs(*query, size, conn.dialect)
        if prepared is not None:
            sql, typed = prepared
            rows: Iterable[Any] = map(typed, conn.exec_driver_sql(
                sql, tuple(value for pair in chunk for value in pair)))
        else:
            rows = s.execute(_pairs_query(*query, size), {
                f"{name}{n}": value for n, pair in enumerate(chunk)
                for name, value in zip("si", pair, strict=True)})
        out += [((row[0], row[1]), row) for row in rows]
    return out


@functools.cache
def _pairs_query(select_sql: str, columns: tuple[Any, ...], size: int) -> Any:
    pairs = ", ".join(f"(:s{n}, :i{n})" for n in range(size))
    return text(f"WITH k(s, i) AS (VALUES {pairs}) {select_sql}").columns(*columns)


@functools.cache
def _driver_pairs(select_sql: str, columns: tuple[Any, ...], size: int, dialect: Dialect
                  ) -> tuple[str, Callable[[Sequence[Any]], Any]] | None:
    """_pairs_query for the driver (qmark parameters) and what makes a row of its answer:
    a named tuple of the columns, each value through its type's result processor; None but
    on SQLite, as _driver_insert."""
    if dialect.name != "sqlite":
        return None
    sql = f"WITH k(s, i) AS (VALUES {', '.join(['(?, ?)'] * size)}) {select_sql}"
    row = namedtuple("row", [column.name for column in columns])  # type: ignore[misc]
    processors = [(at, process) for at, column in enumerate(columns)
                  if (process := column.type.dialect_impl(dialect)
                      .result_processor(dialect, None)) is not None]
    if not processors:
        return sql, row._make
    return sql, lambda raw: row._make(_processed(list(raw), processors))


def _merge(s: Session, absorbed_uid: str, survivor: int) -> None:
    """Move an absorbed story's items to the survivor; its uid stays as an alias.

    The absorbed uid may already be an alias: another poller merged that story elsewhere
    first. Then the story it lives on now is what joins the survivor."""
    absorbed = s.execute(_STORY_OF_UID, {"uid": absorbed_uid}).scalar()
    if absorbed is None:
        current = s.execute(_ALIAS_STORY, {"uid": absorbed_uid}).scalar()
        if current is None:
            s.execute(_NEW_ALIAS, {"uid": absorbed_uid, "story": survivor})
        elif current != survivor:
            uid = s.execute(_UID_OF_STORY, {"story": current}).scalar_one()
            _merge(s, uid, survivor)  # moves the aliases pointing there, this one included
        return
    if absorbed == survivor:
        return
    moved = {"absorbed": absorbed, "story": survivor}
    s.execute(_MOVE_ITEMS, moved)
    s.execute(_MOVE_ALIASES, moved)
    s.execute(_DROP_STORY, moved)
    if s.execute(_ALIAS_STORY, {"uid": absorbed_uid}).first():
        s.execute(_SET_ALIAS, {"uid": absorbed_uid, "story": survivor})
    else:
        s.execute(_NEW_ALIAS, {"uid": absorbed_uid, "story": survivor})


def _rows(s: Session, statement: Any, values: Sequence[Any], **params: Any) -> list[Any]:
    """The rows of a prebuilt statement whose expanding "values" list takes `values`, a
    chunk at a time."""
    out: list[Any] = []
    for chunk in _chunks(values):
        out += s.execute(statement, {"values": list(chunk), **params}).all()
    return out


def _lookup(s: Session, statement: Any, values: Sequence[Any], **params: Any) -> dict[Any, Any]:
    """{first column: second column} of `_rows(...)`: ids by a unique column."""
    return {key: value for key, value, *_ in _rows(s, statement, values, **params)} \
        if values else {}


def _write_topics(s: Session, pairs: Sequence[tuple[int, tuple[str, ...]]],
                  replace: Sequence[int]) -> None:
    for chunk in _chunks(list(replace)):
        s.execute(delete(ITEM_TOPICS).where(ITEM_TOPICS.c.item_id.in_(chunk)))
    rows = [{"item_id": i, "topic": t} for i, topics in pairs for t in topics]
    _insert_rows(s, ITEM_TOPICS, rows)


def _topics_of(s: Session, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    found: defaultdict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(list(ids)):
        for item_id, topic in s.execute(
                select(ItemTopicRow.item_id, ItemTopicRow.topic)
                .where(ItemTopicRow.item_id.in_(chunk))  # type: ignore[attr-defined]
                .order_by(ItemTopicRow.topic)):
            found[item_id].append(topic)
    return {i: tuple(t) for i, t in found.items()}


def _entry_of(r: ItemRow, topics: tuple[str, ...]) -> Entry:
    return Entry(source_id=r.source_id, guid=r.guid, link=r.link, canonical_link=r.canonical_link,
                 title=r.title, summary_html=r.summary_html, content_html=r.content_html,
                 text=r.text, title_key=r.title_key, author=r.author, language=r.language,
                 published=r.published, updated=r.updated, content_hash=r.content_hash,
                 identity=r.identity, topics=topics, image=r.image)


def _section_filters(section: SectionConfig) -> list[Any]:
    filters = []
    if section.sources:
        filters.append(ItemRow.source_id.in_(section.sources))  # type: ignore[attr-defined]
    if section.languages:
        filters.append(ItemRow.language.in_(section.languages))  # type: ignore[union-attr]
    return filters


_I = TypeVar("_I", ItemView, ItemOutline)


def _section_order(s: Session, section: SectionConfig, limit: int | None) -> list[int]:
    """The ids of a section's stories, newest first report first."""
    first = func.min(ItemRow.published).label("first")
    query = (select(ItemRow.story_id, first)
             .join(ItemTopicRow, ItemTopicRow.item_id == ItemRow.id)
             .where(ItemTopicRow.topic.in_(section.topics))  # type: ignore[attr-defined]
             .where(*_section_filters(section))
             .group_by(ItemRow.story_id)
             .order_by(first.desc(), ItemRow.story_id.desc()))  # type: ignore[union-attr]
    if limit is not None:
        query = query.limit(limit)
    return [row.story_id for row in s.execute(query)]


def _story_views(s: Session, story_ids: Sequence[int],
                 section: SectionConfig | None) -> list[StoryView]:
    return _full_views(s, _outlines(s, story_ids, section))


def _outlines(s: Session, story_ids: Sequence[int],
              section: SectionConfig | None) -> list[StoryOutline]:
    """The stories in this order, each with the items the section shows (all without one)."""
    filters = _section_filters(section) if section is not None else []
    c = ITEMS.c
    names: dict[str, str] = {}  # one copy of each source id and language
    by_story: defaultdict[int, list[ItemOutline]] = defaultdict(list)
    uids: dict[int, str] = {}
    for chunk in _chunks(list(story_ids)):
        rows = s.execute(select(c.id, c.story_id, c.source_id, c.language, c.published,
                                c.updated, c.first_seen, c.content_hash, STORIES.c.uid)
                         .join(STORIES, STORIES.c.id == c.story_id)
                         .where(c.story_id.in_(chunk), *filters)
                         .order_by(c.published, c.id)).all()
        topics = _topics_of(s, [r.id for r in rows])
        shared = {t: t for t in topics.values()}  # one copy of each set of topics
        for r in rows:
            uids[r.story_id] = r.uid
            by_story[r.story_id].append(ItemOutline(
                r.id, names.setdefault(r.source_id, r.source_id),
                r.language and names.setdefault(r.language, r.language), r.published,
                r.updated, r.first_seen, r.content_hash, shared.get(topics.get(r.id, ()), ())))
    main = section.languages[0] if section is not None and section.languages else None
    return [StoryOutline(uid=uids[sid], items=_representative_first(by_story[sid], main))
            for sid in story_ids if by_story.get(sid)]


def _full_views(s: Session, stories: Sequence[StoryOutline]) -> list[StoryView]:
    """The outlines with their items' text; the rest (dates, language, topics) is the
    outline's, as the archive state digested it (publish/archive_state.py)."""
    outlined = {item.id: item for story in stories for item in story.items}
    c = ITEMS.c
    items: dict[int, ItemView] = {}
    for chunk in _chunks(list(outlined)):
        for r in s.execute(select(c.id, c.title, c.link, c.canonical_link, c.summary_html,
                                  c.content_html, c.author)
                           .where(c.id.in_(chunk))):
            o = outlined[r.id]
            items[r.id] = ItemView(
                source_id=o.source_id, title=r.title, link=r.canonical_link or r.link,
                summary_html=r.summary_html, content_html=r.content_html, author=r.author,
                language=o.language, published=o.published, updated=o.updated,
                topics=o.topics, first_seen=o.first_seen)
    # An item pruned since the outline was read is left out, as a later read would.
    return [StoryView(story.uid, shown) for story in stories
            if (shown := tuple(items[i.id] for i in story.items if i.id in items))]


def _representative_first(items: list[_I], language: str | None) -> tuple[_I, ...]:
    """The earliest item in the section's (first) language represents the story, else the
    earliest; the others follow, earliest first."""
    pick = next((i for i in items if i.language == language), items[0]) if language else items[0]
    return (pick, *(i for i in items if i is not pick))

"""The pipeline: the one place that knows the order of the stages.

    due sources ─► fetch ─► parse ─► normalize ─► dedupe ─► tag ─► store ─► PollOutcome
                   │ (concurrent: asyncio + httpx, bounded in all and per host)
                   ├ 304, or a body identical to the last one: only the polling state moves
                   └ any SourceError: an `error` outcome for that source; the pass goes on

The store asks `stories` (one Clusterer, warmed from the store at the first stored feed) which
story each new item joins, inside the source's transaction.

Fetching runs on the event loop; the CPU work (parse … tag) and the database writes of
each source run one after the other in a worker thread, so fetches keep flowing meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.config import Config, SourceConfig
from aggregator.errors import FetchError, SourceError
from aggregator.models import (
    Entry,
    FetchResult,
    ParsedFeed,
    PollOutcome,
    SourceState,
    Unchanged,
)
from aggregator.pipeline.dedupe import assign_identities
from aggregator.pipeline.fetch import Fetcher
from aggregator.pipeline.normalize import normalize
from aggregator.pipeline.parse import parse
from aggregator.pipeline.schedule import NO_HINTS, Hints, next_check
from aggregator.pipeline.stories import Stories
from aggregator.pipeline.tag import TopicMatcher, tag

if TYPE_CHECKING:  # the store imports the dedupe decider from this package
    from aggregator.store import Store

log = logging.getLogger("aggregator.poll")
PARSE_POOL_MIN_SOURCES = 8  # below this, starting worker processes costs more than it saves
Clock = Callable[[], datetime]


def process(fetched: FetchResult, source: SourceConfig, matcher: TopicMatcher,
            now: datetime, languages: Collection[str] = ()) -> tuple[ParsedFeed,
                                                                       tuple[Entry, ...]]:
    """The pure middle of the pipeline: bytes in, identified and tagged entries out.
    `languages`: the configured ones, which language detection chooses among."""
    assert fetched.body is not None
    feed = parse(fetched.body, url=fetched.final_url, content_type=fetched.content_type)
    if not feed.entries:
        raise SourceError("the feed has no entries")
    entries = normalize(feed, source_id=source.id, source_language=source.language, now=now,
                        languages=languages)
    return feed, tag(assign_identities(entries), matcher)


def configured_languages(config: Config) -> tuple[str, ...]:
    """Every language named in feeds.yaml: what detection may answer."""
    found = {s.language for s in config.sources if s.language}
    found.update(lang for section in config.sections for lang in section.languages)
    return tuple(sorted(found))


class Poller:
    """Runs passes over the sources of one configuration against one store."""

    def __init__(self, config: Config, store: Store, *, clock: Clock,
                 fetcher_factory: Callable[[], Fetcher] | None = None,
                 random: Callable[[], float] = random.random,
                 parse_workers: int | None = None, stories: Stories | None = None) -> None:
        self.config = config
        # Story clustering: `run` passes the same one to every tick's Poller.
        self.stories = stories or Stories.for_settings(config.settings)
        self.store = store
        self.clock = clock
        self.random = random  # jitter source, injected by tests
        self.matcher = TopicMatcher(config.topics)
        self.languages = configured_languages(config)
        # Worker processes for parse … tag: one per core; 0 keeps it all in this process.
        if parse_workers is None:  # $AGGREGATOR_PARSE_WORKERS overrides the core count
            parse_workers = int(os.environ.get("AGGREGATOR_PARSE_WORKERS") or os.cpu_count() or 1)
        self.parse_workers = parse_workers
        settings = config.settings
        self._fetcher_factory = fetcher_factory or (lambda: Fetcher(
            timeout=settings.timeout.total_seconds(), max_body=settings.max_body_bytes,
            max_concurrency=settings.max_concurrency,
            per_host=settings.per_host_concurrency))

    def due(self, only: Sequence[str] = (), *, all_sources: bool = False) -> list[str]:
        """Enabled, non-retired sources (or just `only`) that are due now; all of them
        with all_sources."""
        ids = [s.id for s in self.config.sources if s.enabled and (not only or s.id in only)]
        return self.store.due_source_ids(ids, self.clock(), include_not_due=all_sources)

    def run(self, source_ids: Sequence[str],
            on_outcome: Callable[[PollOutcome], None] | None = None) -> list[PollOutcome]:
        """One pass over the given sources; returns one outcome per source."""
        return asyncio.run(self.run_async(source_ids, on_outcome))

    async def run_async(self, source_ids: Sequence[str],
                        on_outcome: Callable[[PollOutcome], None] | None = None,
                        ) -> list[PollOutcome]:
        states = self.store.source_states(source_ids)
        loop = asyncio.get_running_loop()
        quiet: list[Unchanged] = []  # written together: most of a pass, most of the time
        self._stage = asyncio.Semaphore(2 * max(self.parse_workers, 1) + 2)
        with self._parse_pool(len(states)) as pool, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="store") as worker:
            async with self._fetcher_factory() as fetcher:

                # Fetching runs far ahead of parsing and storing: bound the bodies waiting.
                ahead = asyncio.Semaphore(4 * self.config.settings.max_concurrency)

                async def one(source_id: str) -> PollOutcome | _Unreachable:
                    async with ahead:
                        return await each(source_id)

                async def each(source_id: str) -> PollOutcome | _Unreachable:
                    state = states[source_id]
                    started = time.monotonic()
                    try:
                        fetched = await fetcher.fetch(state)
                    except FetchError as exc:
                        if exc.connection:  # judged once the whole pass is known
                            return _Unreachable(state, exc, started)
                        outcome = await loop.run_in_executor(
                            worker, self._fail, state, exc, started, True)
                    else:
                        if _unchanged(state, fetched):
                            outcome = self._quiet(state, fetched, started, quiet)
                        else:
                            outcome = await self._changed(loop, pool, worker, state, fetched,
                                                          started)
                    if on_outcome:
                        on_outcome(outcome)
                    return outcome

                results = await asyncio.gather(*(one(i) for i in source_ids if i in states))
            await loop.run_in_executor(worker, self.store.save_unchanged, quiet)
            unreachable = [r for r in results if isinstance(r, _Unreachable)]
            # Every source failing to connect says more about our network than about them.
            counted = not (len(results) > 1 and len(unreachable) == len(results))
            outcomes = {r.source_id: r for r in results if isinstance(r, PollOutcome)}
            for u in unreachable:
                outcome = await loop.run_in_executor(worker, self._fail, u.state, u.error,
                                                     u.started, counted)
                if on_outcome:
                    on_outcome(outcome)
                outcomes[u.state.source_id] = outcome
        if not counted:
            log.warning("every source failed to connect: is the network down? "
                        "(not counted against the sources)")
        return [outcomes[i] for i in source_ids if i in outcomes]

    def _due(self, source: SourceConfig, now: datetime, *, hints: Hints = NO_HINTS,
             errors: int = 0) -> datetime:
        settings = self.config.settings
        return next_check(now, interval=source.interval or settings.default_interval,
                          min_interval=settings.min_interval, max_interval=settings.max_interval,
                          hints=hints, consecutive_errors=errors, jitter=settings.jitter,
                          random=self.random)

    def _parse_pool(self, sources: int) -> contextlib.AbstractContextManager[Executor | None]:
        """Worker processes for the CPU work, when the pass is big enough to pay for them."""
        if self.parse_workers < 2 or sources < PARSE_POOL_MIN_SOURCES:
            return contextlib.nullcontext()
        # forkserver, not fork: `run` polls from a thread beside the web server's threads.
        return ProcessPoolExecutor(max_workers=self.parse_workers,
                                   mp_context=multiprocessing.get_context("forkserver"),
                                   initializer=_init_worker, initargs=(self.config,))

    async def _changed(self, loop: asyncio.AbstractEventLoop, pool: Executor | None,
                       worker: Executor, state: SourceState, fetched: FetchResult,
                       started: float) -> PollOutcome:
        """A new body: parse … tag in a worker process (when there is a pool), then store
        in the store thread."""
        async with self._stage:  # bounded: parsed feeds must not pile up before the store
            return await self._process_and_store(loop, pool, worker, state, fetched, started)

    async def _process_and_store(self, loop: asyncio.AbstractEventLoop, pool: Executor | None,
                                 worker: Executor, state: SourceState, fetched: FetchResult,
                                 started: float) -> PollOutcome:
        now = self.clock()
        processed = None
        if pool is not None:
            try:
                processed = await loop.run_in_executor(pool, _process_in_worker, fetched,
                                                       state.source_id, now)
            except SourceError as exc:
                return await loop.run_in_executor(worker, self._fail, state, exc, started, True)
            except Exception as exc:  # a crashed worker: record it, keep the pass going
                log.exception("worker failed on %s", state.source_id)
                return await loop.run_in_executor(
                    worker, self._fail, state, SourceError(f"internal error: {exc!r}"),
                    started, True)
        return await loop.run_in_executor(worker, self._finish, state, fetched, started,
                                          processed, now)

    def _finish(self, state: SourceState, fetched: FetchResult, started: float,
                processed: Processed | None = None, now: datetime | None = None) -> PollOutcome:
        """Process (unless a worker did) and store one source's fetch; never raises."""
        source = self.config.source(state.source_id)
        try:
            return self._store(state, source, fetched, now or self.clock(), started, processed)
        except SourceError as exc:
            return self._fail(state, exc, started, True)
        except Exception as exc:  # a bug must not stop the pass: record it on the source
            log.exception("internal error while processing %s", state.source_id)
            return self._fail(state, SourceError(f"internal error: {exc!r}"), started, True)

    def _quiet(self, state: SourceState, fetched: FetchResult, started: float,
               quiet: list[Unchanged]) -> PollOutcome:
        """A 304 or an identical body: no parsing, only the polling state (batched)."""
        now = self.clock()
        source = self.config.source(state.source_id)
        hints = Hints(cache_control=fetched.cache_control, expires=fetched.expires)
        duration = time.monotonic() - started
        quiet.append(Unchanged(state.source_id, fetched, now,
                               self._due(source, now, hints=hints), duration))
        return PollOutcome(state.source_id,
                           "not_modified" if fetched.not_modified else "unchanged",
                           status=fetched.status, duration=duration)

    def _store(self, state: SourceState, source: SourceConfig, fetched: FetchResult,
               now: datetime, started: float, processed: Processed | None) -> PollOutcome:
        hints = Hints(cache_control=fetched.cache_control, expires=fetched.expires)
        feed, entries = processed or process(fetched, source, self.matcher, now,
                                             self.languages)
        hints = replace(hints, ttl_minutes=feed.ttl_minutes)
        self.stories.warm(self.store, now)  # lazily: at the first feed of a pass to store
        new, updated = self.store.save_feed(
            state.source_id, fetched=fetched, feed=feed, entries=entries, now=now,
            next_check_at=self._due(source, now, hints=hints),
            decider=self.stories, duration=time.monotonic() - started)
        kind = "new" if new else "updated" if updated else "unchanged"
        return PollOutcome(state.source_id, kind, new=new, updated=updated, seen=len(entries),
                           status=fetched.status, duration=time.monotonic() - started)

    def _fail(self, state: SourceState, exc: SourceError, started: float,
              counted: bool) -> PollOutcome:
        source = self.config.source(state.source_id)
        now = self.clock()
        status = getattr(exc, "status", None)
        errors = state.consecutive_errors + 1 if counted else state.consecutive_errors
        due = self._due(source, now, hints=Hints(retry_after=getattr(exc, "retry_after", None)),
                        errors=errors)
        message = str(exc)
        self.store.save_error(state.source_id, error=message, status=status, now=now,
                              next_check_at=due, retire=status == 410, count=counted,
                              duration=time.monotonic() - started)
        log.debug("%s: error: %s", state.source_id, message)
        return PollOutcome(state.source_id, "error", error=message, status=status,
                           duration=time.monotonic() - started, counted=counted,
                           connection_error=bool(getattr(exc, "connection", False)))


Processed = tuple[ParsedFeed, tuple[Entry, ...]]
_WORKER: tuple[Config, TopicMatcher, tuple[str, ...]] | None = None


def _init_worker(config: Config) -> None:
    """Build the matcher once per worker process."""
    global _WORKER
    _WORKER = (config, TopicMatcher(config.topics), configured_languages(config))


def _process_in_worker(fetched: FetchResult, source_id: str, now: datetime) -> Processed:
    assert _WORKER is not None, "worker not initialized"
    config, matcher, languages = _WORKER
    return process(fetched, config.source(source_id), matcher, now, languages)


def _unchanged(state: SourceState, fetched: FetchResult) -> bool:
    return fetched.not_modified or bool(fetched.body_hash and fetched.body_hash == state.body_hash)


@dataclass(frozen=True, slots=True)
class _Unreachable:
    """A connection failure held back until the pass shows whether all sources failed."""

    state: SourceState
    error: FetchError
    started: float

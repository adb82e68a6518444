"""The poller: passes over the sources, stage by stage (see the package's docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import random
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aggregator.config import Config, SourceConfig
from aggregator.errors import FetchError, SourceError, asks_host_to_wait, noted_retry_after
from aggregator.models import (
    Changed,
    FetchResult,
    PollOutcome,
    SourceState,
    Unchanged,
)
from aggregator.pipeline.fetch import Fetcher
from aggregator.pipeline.inflate import decoded
from aggregator.pipeline.schedule import NO_HINTS, Hints, next_check
from aggregator.pipeline.stories import Stories
from aggregator.pipeline.tag import TopicMatcher
from aggregator.pipeline.work import (
    PARSERS,
    Processed,
    _init_worker,
    _process_in_worker,
    _worker_ready,
    configured_languages,
    process,
)

if TYPE_CHECKING:  # the store imports the dedupe decider from this package
    from aggregator.store import Store

log = logging.getLogger("aggregator.poll")
# Parse workers start once a pass has brought this many new bodies (parsed in the store thread
# until then): a pass of a few changed feeds, which most cron passes are, costs less without
# worker processes to start. Not many more: the bodies parsed before the workers start hold
# up the store thread (bench/poll_vs_reader.py, 500 feeds: 9.5 s with workers from the 8th
# body, 10.9 s from the 32nd). $AGGREGATOR_PARSE_POOL_AFTER overrides it.
PARSE_POOL_AFTER = 8
PARSE_POOL_EAGER = 32  # ... or at once when it claims this many never-polled sources
QUIET_BATCH = 50  # 304s (and identical bodies) written together while a pass fetches
GROUP_MAX = 32  # parsed feeds stored in one transaction at most
Clock = Callable[[], datetime]


class Poller:
    """Runs passes over the sources of one configuration against one store."""

    def __init__(self, config: Config, store: Store, *, clock: Clock,
                 fetcher_factory: Callable[[], Fetcher] | None = None,
                 random: Callable[[], float] = random.random,
                 parse_workers: int | None = None, stories: Stories | None = None,
                 shared: bool = False) -> None:
        self.config = config
        # Every pass claims its sources in the store, so two processes never poll one source
        # at once. Alone (the pass lock held), a pass claims all it was given at once; shared
        # with other pollers (PostgreSQL), it claims a few at a time as it goes, so the
        # pollers split the due sources between them.
        self.shared = shared
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
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
        self.parse_pool_after = int(os.environ.get("AGGREGATOR_PARSE_POOL_AFTER")
                                    or PARSE_POOL_AFTER)
        settings = config.settings
        self._fetcher_factory = fetcher_factory or (lambda: Fetcher(
            timeout=settings.timeout.total_seconds(), max_body=settings.max_body_bytes,
            max_concurrency=settings.max_concurrency,
            per_host=settings.per_host_concurrency,
            # Bodies stay compressed until a parse worker decodes them: inflating and
            # hashing them here made the event loop wait for the GIL after each (a first
            # poll 0.95 times the time: bench/peak_rss_ab.py), and they cross to the
            # workers at a third of the size.
            decode=False))

    def due(self, only: Sequence[str] = (), *, all_sources: bool = False) -> list[str]:
        """Enabled, non-retired sources (or just `only`) that are due now; all of them
        with all_sources."""
        ids = [s.id for s in self.config.sources if s.enabled and (not only or s.id in only)]
        return self.store.due_source_ids(ids, self.clock(), include_not_due=all_sources)

    def run(self, source_ids: Sequence[str],
            on_outcome: Callable[[PollOutcome], None] | None = None, *,
            due_only: bool = False) -> list[PollOutcome]:
        """One pass over the given sources (those still due when claimed, with due_only);
        returns one outcome per source polled. Sources another poller holds are skipped."""
        return asyncio.run(self.run_async(source_ids, on_outcome, due_only=due_only))

    async def run_async(self, source_ids: Sequence[str],
                        on_outcome: Callable[[PollOutcome], None] | None = None, *,
                        due_only: bool = False) -> list[PollOutcome]:
        loop = asyncio.get_running_loop()
        settings = self.config.settings
        claims = _Claims(self.store, self.owner, settings.claim_lease, source_ids,
                         due_only=due_only,
                         batch=2 * settings.max_concurrency if self.shared else None)
        results: list[PollOutcome | _Unreachable] = []
        # Parsed feeds in flight (parsing or waiting for the store): bounded, and enough of
        # them for the store thread to find several waiting when it is the bottleneck.
        self._stage = asyncio.Semaphore(_staged(self.parse_workers))
        # read while the pass sets up, not before its first claim
        rate_limited = loop.run_in_executor(None, self.store.rate_limited, self.clock())
        heartbeat = asyncio.create_task(self._heartbeat(loop))
        try:
            with self.store.checkpointing(), self._parse_pool() as pool, \
                    ThreadPoolExecutor(max_workers=1, thread_name_prefix="store") as worker, \
                    self._embed_threads(pool) as ahead:
                line = _StoreLine(loop, worker, self._finish)
                quiet = _QuietLine(loop, worker, self.store.save_unchanged)
                async with self._fetcher_factory() as fetcher:
                    self._hold_rate_limited(fetcher, await rate_limited)

                    async def each(state: SourceState) -> PollOutcome | _Unreachable:
                        started = time.monotonic()
                        try:
                            fetched = await fetcher.fetch(state)
                        except FetchError as exc:
                            if exc.connection:  # judged once the whole pass is known
                                return _Unreachable(state, exc, started)
                            # a source its host's 429 held back is not at fault
                            outcome = await loop.run_in_executor(
                                worker, self._fail, state, exc, started, not exc.deferred)
                        else:
                            if _unchanged(state, fetched):
                                outcome = self._quiet(state, fetched, started, quiet)
                            else:
                                changed = self._changed(loop, pool, ahead, worker, line,
                                                        quiet, state, fetched, started)
                                del fetched  # _changed lets the body go once it is parsed
                                outcome = await changed
                        if on_outcome:
                            on_outcome(outcome)
                        return outcome

                    await self._drive(loop, claims, each, results,
                                      None if pool is None else pool.expect)
                await quiet.finish()
                outcomes = await self._judge_unreachable(loop, worker, results, on_outcome)
        finally:
            heartbeat.cancel()
            self.stories.forget_ahead()
            await loop.run_in_executor(None, self.store.release_claims, self.owner)
        return [outcomes[i] for i in source_ids if i in outcomes]

    def _hold_rate_limited(self, fetcher: Fetcher,
                           held: Sequence[tuple[str, int, datetime, datetime, str | None]],
                           ) -> None:
        """Hosts that told an earlier pass to wait are left alone for as long as they said:
        another of their sources, due sooner, would otherwise ask again at every pass (every
        cron run, every tick of `run`). A 429 or 503 with a Retry-After holds its host until
        then; a 429 without one until the source it answered is due again; a 503 without one
        is that feed's trouble, not word from its host."""
        now = self.clock()
        for url, status, asked, due, error in held:  # Store.rate_limited
            waited = noted_retry_after(error)
            if not asks_host_to_wait(status, waited):
                continue
            until = due if waited is None else min(asked + timedelta(seconds=waited), due)
            if until > now:
                fetcher.hold(url, status, ago=(now - asked).total_seconds(),
                             seconds=(until - now).total_seconds())

    async def _drive(self, loop: asyncio.AbstractEventLoop, claims: _Claims,
                     each: Callable[[SourceState], Awaitable[PollOutcome | _Unreachable]],
                     results: list[PollOutcome | _Unreachable],
                     claimed: Callable[[list[SourceState]], None] | None = None) -> None:
        """Claim sources and poll them until nothing is left to claim. Fetching runs ahead
        of parsing and storing, as far as `ahead` lets it: every request in flight, and as
        many bodies fetched as may be parsing or waiting for the store; a shared pass claims
        more whenever fewer than max_concurrency sources are left in flight."""
        ahead = asyncio.Semaphore(self.config.settings.max_concurrency
                                  + _staged(self.parse_workers))
        low_water = self.config.settings.max_concurrency
        more = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        in_flight = 0

        async def one(state: SourceState) -> None:
            nonlocal in_flight
            try:
                async with ahead:
                    results.append(await each(state))
            finally:
                in_flight -= 1
                if in_flight <= low_water:
                    more.set()

        while claims.open:
            more.clear()
            states = await loop.run_in_executor(None, claims.next, self.clock())
            if claimed is not None:
                claimed(states)
            for state in states:
                in_flight += 1
                tasks.append(asyncio.create_task(one(state)))
            if claims.open and in_flight > low_water:
                await more.wait()
        await asyncio.gather(*tasks)

    async def _judge_unreachable(self, loop: asyncio.AbstractEventLoop, worker: Executor,
                                 results: Sequence[PollOutcome | _Unreachable],
                                 on_outcome: Callable[[PollOutcome], None] | None,
                                 ) -> dict[str, PollOutcome]:
        """Every source failing to connect says more about our network than about them."""
        unreachable = [r for r in results if isinstance(r, _Unreachable)]
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
        return outcomes

    async def _heartbeat(self, loop: asyncio.AbstractEventLoop) -> None:
        """Renew this pass's claims while it runs: only a poller that died lets them lapse."""
        lease = self.config.settings.claim_lease
        while True:
            await asyncio.sleep(lease.total_seconds() / 4)
            try:
                await loop.run_in_executor(None, self.store.renew_claims, self.owner,
                                           self.clock() + lease)
            except Exception:  # the database is away for a moment: try again next beat
                log.warning("could not renew the claims of %s", self.owner, exc_info=True)

    def _due(self, source: SourceConfig, now: datetime, *, hints: Hints = NO_HINTS,
             errors: int = 0) -> datetime:
        settings = self.config.settings
        return next_check(now, interval=source.interval or settings.default_interval,
                          min_interval=settings.min_interval, max_interval=settings.max_interval,
                          hints=hints, consecutive_errors=errors, jitter=settings.jitter,
                          random=self.random)

    def _parse_pool(self) -> contextlib.AbstractContextManager[_LazyPool | None]:
        """Worker processes for the CPU work, started when the pass brings enough of it."""
        if self.parse_workers < 2:
            return contextlib.nullcontext()
        return _LazyPool(self.parse_pool_after, lambda: ProcessPoolExecutor(
            max_workers=self.parse_workers, mp_context=_forkserver(),
            initializer=_init_worker, initargs=(self.config,)))

    def _embed_threads(self, pool: _LazyPool | None
                       ) -> contextlib.AbstractContextManager[Executor | None]:
        """Threads embedding the entries of sources polled for the first time while the store
        thread works (Stories.embed_ahead), for the bodies the parse workers parse, when
        stories have an encoder."""
        if pool is None or self.stories.embedder is None:
            return contextlib.nullcontext()
        return ThreadPoolExecutor(max_workers=self.parse_workers, thread_name_prefix="embed")

    async def _changed(self, loop: asyncio.AbstractEventLoop, workers: _LazyPool | None,
                       ahead: Executor | None, worker: Executor, line: _StoreLine,
                       quiet: _QuietLine, state: SourceState, fetched: FetchResult,
                       started: float) -> PollOutcome:
        """A new body: parse … tag in a worker process (once the pass has started them),
        then store in the store thread. A source's first body (no body stored before: every
        entry is new) parsed by a worker is also embedded for level 3 beforehand, in
        `ahead`'s threads."""
        async with self._stage:  # bounded: parsed feeds must not pile up before the store
            now = self.clock()
            processed = None
            # With the encoder, a body waits for the workers: a first body parsed there is
            # embedded beside the store thread (`ahead`), which is worth more than the wait.
            pool = workers.take(patient=ahead is not None) if workers is not None else None
            if pool is not None:
                try:
                    body_hash, processed = await loop.run_in_executor(
                        pool, _process_in_worker, fetched, state.source_id, now,
                        state.body_hash)
                except SourceError as exc:
                    return await loop.run_in_executor(worker, self._fail, state, exc, started,
                                                      True)
                except Exception as exc:  # a crashed worker: record it, keep the pass going
                    log.exception("worker failed on %s", state.source_id)
                    return await loop.run_in_executor(
                        worker, self._fail, state, SourceError(f"internal error: {exc!r}"),
                        started, True)
                # the store needs what came with the body, not the body
                fetched = replace(fetched, body=None, encoding=None, body_hash=body_hash)
                if processed is None:  # the body stored last time, once decompressed
                    return self._quiet(state, fetched, started, quiet)
            if ahead is not None and processed is not None and state.body_hash is None:
                try:
                    await loop.run_in_executor(ahead, self.stories.embed_ahead, processed[1])
                except Exception:  # the store thread's clusterer embeds them itself then
                    log.warning("could not embed %s's entries ahead", state.source_id,
                                exc_info=True)
            return await line.store(_Job(state, fetched, started, now, processed))

    def _finish(self, jobs: Sequence[_Job]) -> list[PollOutcome]:
        """Process (unless a worker did) and store parsed fetches: in one transaction when
        there are several, else (or when that fails) one by one; a body that decodes to the
        one stored writes only its polling state. Never raises for a source's fault or a
        bug, which become that source's error."""
        outcomes: dict[int, PollOutcome] = {}
        ready: list[tuple[int, Changed]] = []
        same: list[tuple[int, Unchanged, PollOutcome]] = []
        for i, job in enumerate(jobs):
            try:
                change = self._changes(job)
            except Exception as exc:
                outcomes[i] = self._failed(job, exc)
                continue
            if isinstance(change, Changed):
                ready.append((i, change))
            else:  # the body stored last time, once decompressed
                same.append((i, *change))
        if same:
            try:
                self.store.save_unchanged([unchanged for _, unchanged, _ in same])
            except Exception as exc:
                outcomes.update((i, self._failed(jobs[i], exc)) for i, _, _ in same)
            else:
                outcomes.update((i, outcome) for i, _, outcome in same)
        if len(ready) > 1:
            try:
                self.stories.warm(self.store, ready[0][1].now)  # lazily: at the first feed
                counts = self.store.save_feeds([c for _, c in ready], self.stories)
            except Exception:
                log.warning("could not store %d feeds in one transaction; storing them one "
                            "by one", len(ready), exc_info=True)
            else:
                for (i, changed), (new, updated) in zip(ready, counts, strict=True):
                    outcomes[i] = self._stored(changed, jobs[i].started, new, updated)
                ready = []
        for i, changed in ready:
            try:
                self.stories.warm(self.store, changed.now)
                [(new, updated)] = self.store.save_feeds([changed], self.stories)
            except Exception as exc:
                outcomes[i] = self._failed(jobs[i], exc)
            else:
                outcomes[i] = self._stored(changed, jobs[i].started, new, updated)
        return [outcomes[i] for i in range(len(jobs))]

    def _changes(self, job: _Job) -> Changed | tuple[Unchanged, PollOutcome]:
        """What the store writes of one parsed fetch (decoded and parsed here when no
        worker did; only its polling state when the decoded body is the one stored)."""
        source = self.config.source(job.state.source_id)
        fetched = job.fetched
        if job.processed is None:
            fetched = decoded(fetched, self.config.settings.max_body_bytes)
            if _unchanged(job.state, fetched):
                return self._same(job.state, fetched, job.started)
        feed, entries = job.processed or process(fetched, source, self.matcher, job.now,
                                                 self.languages)
        hints = Hints(cache_control=job.fetched.cache_control, expires=job.fetched.expires,
                      ttl_minutes=feed.ttl_minutes)
        return Changed(job.state.source_id, replace(fetched, body=None), feed, entries, job.now,
                       self._due(source, job.now, hints=hints), time.monotonic() - job.started)

    @staticmethod
    def _stored(changed: Changed, started: float, new: int, updated: int) -> PollOutcome:
        kind = "new" if new else "updated" if updated else "unchanged"
        return PollOutcome(changed.source_id, kind, new=new, updated=updated,
                           seen=len(changed.entries), status=changed.fetched.status,
                           duration=time.monotonic() - started)

    def _failed(self, job: _Job, exc: Exception) -> PollOutcome:
        if not isinstance(exc, SourceError):  # a bug must not stop the pass: record it
            log.error("internal error while processing %s", job.state.source_id,
                      exc_info=exc)
            exc = SourceError(f"internal error: {exc!r}")
        return self._fail(job.state, exc, job.started, True)

    def _quiet(self, state: SourceState, fetched: FetchResult, started: float,
               quiet: _QuietLine) -> PollOutcome:
        """A 304 or an identical body: no parsing, only the polling state (batched)."""
        unchanged, outcome = self._same(state, fetched, started)
        quiet.add(unchanged)
        return outcome

    def _same(self, state: SourceState, fetched: FetchResult,
              started: float) -> tuple[Unchanged, PollOutcome]:
        """The polling state a 304 or an identical body writes, and its outcome."""
        now = self.clock()
        source = self.config.source(state.source_id)
        hints = Hints(cache_control=fetched.cache_control, expires=fetched.expires)
        duration = time.monotonic() - started
        return (Unchanged(state.source_id, replace(fetched, body=None), now,
                          self._due(source, now, hints=hints), duration),
                PollOutcome(state.source_id,
                            "not_modified" if fetched.not_modified else "unchanged",
                            status=fetched.status, duration=duration))

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


@dataclass(frozen=True, slots=True)
class _Job:
    """A fetched new body on its way to the store, parsed by a worker or not yet."""

    state: SourceState
    fetched: FetchResult
    started: float  # time.monotonic() when its fetch began
    now: datetime  # the poll's time
    processed: Processed | None


class _LazyPool:
    """The parse workers of a pass, started at its `after`-th new body (the bodies before it
    are parsed in the store thread, and so are those that come while the workers start,
    unless the caller is patient: 0.4 s in which the store thread would otherwise wait for
    them); shut down with the pass.

    A pass that claims PARSE_POOL_EAGER sources (and `after`) that never brought a body, each
    of which will bring one (a first poll, a big addition to feeds.yaml), starts them at
    once instead (`expect`), and its bodies wait for them: this process then never loads
    the parsers (feedparser, lxml, nh3: 8 MiB of a first poll's peak), and the store thread
    stores while the workers parse from the start."""

    def __init__(self, after: int, start: Callable[[], ProcessPoolExecutor]) -> None:
        self._after, self._start = after, start
        self._bodies = 0
        self._expected = 0  # claimed sources that never brought a body
        self._eager = False
        self._pool: ProcessPoolExecutor | None = None
        self._ready: Future[None] | None = None  # done once a worker has started

    def expect(self, claimed: Sequence[SourceState]) -> None:
        """Sources the pass claimed: those that never brought a body will bring one."""
        self._expected += sum(state.body_hash is None for state in claimed)
        if self._pool is None and self._expected >= max(self._after, PARSE_POOL_EAGER):
            self._begin()
            self._eager = True

    def take(self, *, patient: bool = False) -> Executor | None:
        """Where the next new body is parsed: the workers, or None (the store thread).
        `patient`: the workers once started, even before one runs."""
        self._bodies += 1
        if self._pool is None and self._bodies >= self._after:
            self._begin()
        return self._pool if patient or self._eager or self.ready else None

    def _begin(self) -> None:
        self._pool = self._start()
        self._ready = self._pool.submit(_worker_ready)

    @property
    def ready(self) -> bool:
        return self._ready is not None and self._ready.done()

    def __enter__(self) -> _LazyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class _StoreLine:
    """Parsed feeds waiting for the store thread, stored together (a group commit). Each
    feed queues one call on the thread; the first call to run takes every feed then
    waiting (GROUP_MAX at most) and stores them in one go, and the calls after it find
    their feed done. One feed waiting is stored alone, as soon as the thread is free."""

    def __init__(self, loop: asyncio.AbstractEventLoop, worker: Executor,
                 finish: Callable[[Sequence[_Job]], list[PollOutcome]]) -> None:
        self._loop, self._worker, self._finish = loop, worker, finish
        self._waiting: deque[tuple[_Job, asyncio.Future[PollOutcome]]] = deque()

    async def store(self, job: _Job) -> PollOutcome:
        future: asyncio.Future[PollOutcome] = self._loop.create_future()
        self._waiting.append((job, future))
        await self._loop.run_in_executor(self._worker, self._take)
        return await future

    def _take(self) -> None:
        """On the store thread."""
        taken = []
        while self._waiting and len(taken) < GROUP_MAX:
            taken.append(self._waiting.popleft())
        if not taken:
            return
        try:
            outcomes = self._finish([job for job, _ in taken])
        except Exception as exc:  # the store itself failed (recording an error did)
            for _, future in taken:
                self._loop.call_soon_threadsafe(_settle, future, None, exc)
            return
        for (_, future), outcome in zip(taken, outcomes, strict=True):
            self._loop.call_soon_threadsafe(_settle, future, outcome, None)


class _QuietLine:
    """304s and identical bodies, whose polling state the store thread writes while the pass
    is still fetching: QUIET_BATCH or more at a time, one write at a time, whatever arrived
    during the last one next; `finish` writes the rest. Written only once the pass had
    fetched everything, the 500 of a quiet pass added 12 ms to its end, and a long shared
    pass held their claims until then."""

    def __init__(self, loop: asyncio.AbstractEventLoop, worker: Executor,
                 save: Callable[[Sequence[Unchanged]], None]) -> None:
        self._loop, self._worker, self._save = loop, worker, save
        self._waiting: list[Unchanged] = []
        self._writing: asyncio.Future[None] | None = None
        self._failed: BaseException | None = None

    def add(self, unchanged: Unchanged) -> None:
        self._waiting.append(unchanged)
        if self._writing is None and len(self._waiting) >= QUIET_BATCH:
            self._write()

    def _write(self) -> asyncio.Future[None]:
        batch, self._waiting = self._waiting, []
        writing = self._writing = self._loop.run_in_executor(self._worker, self._save, batch)
        writing.add_done_callback(self._written)
        return writing

    def _written(self, done: asyncio.Future[None]) -> None:
        self._writing = None
        if not done.cancelled() and done.exception() is not None and self._failed is None:
            self._failed = done.exception()
        if len(self._waiting) >= QUIET_BATCH:
            self._write()

    async def finish(self) -> None:
        """Write what is left once the pass has fetched everything; a write that failed
        (the store did) raises here."""
        while self._writing is not None or self._waiting:
            # the write in flight, else the rest (fewer than QUIET_BATCH)
            writing = self._writing if self._writing is not None else self._write()
            await asyncio.wait([writing])  # `_written` has run when this returns
        if self._failed is not None:
            raise self._failed


STORE_QUEUE = 18  # parsed feeds that may wait for the store thread, besides the workers'


def _staged(parse_workers: int) -> int:
    """Parsed feeds allowed in flight at once: one parsing on each worker, one more waiting
    for each, and STORE_QUEUE waiting for the store thread, which stores together all it
    finds waiting (_StoreLine). A transaction has a fixed cost, about 1.5 ms of the store
    thread's CPU (bench/store_cost.py: a first poll's feeds stored 1 at a time took 2.77
    CPU-s, 2 at a time 2.31, 4 at a time 2.15): the longer the queue, the bigger the groups.
    2 waiting made groups of 1.7 feeds on average, 18 of 3.3: a first poll 0.94 times the
    time, the peak 2.8 MiB higher (bench/peak_rss_ab.py, 500 feeds, 6 repeats), each
    waiting feed holding its entries (its body goes once parsed). 26 measured 0.97 times the
    time of 18 and 2 MiB more; one per worker + 2 starved the store thread (10 % slower)."""
    return 2 * max(parse_workers, 1) + STORE_QUEUE


def _settle(future: asyncio.Future[PollOutcome], outcome: PollOutcome | None,
            error: Exception | None) -> None:
    if future.done():  # its pass was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert outcome is not None
        future.set_result(outcome)


def _forkserver() -> multiprocessing.context.BaseContext:
    """Workers forked by a server process, not by this one: `run` polls from a thread beside
    the web server's threads. The server imports the worker side (pipeline.work) once, and
    each worker it forks has it already: a worker importing it itself cost a first poll
    ~0.5 CPU-s more, and `run` again at every tick. Only the worker side: with the poller's
    modules (the store, aiohttp, numpy) the server took 0.3 s, not 0.1 s, to start on an
    idle machine, and 0.6 s in a first poll, whose store thread parses the bodies that come
    meanwhile."""
    context = multiprocessing.get_context("forkserver")
    # until the server starts; the parsers, which pipeline.work imports when it first parses
    context.set_forkserver_preload(["aggregator.pipeline.work", *PARSERS])
    return context


def _unchanged(state: SourceState, fetched: FetchResult) -> bool:
    return fetched.not_modified or bool(fetched.body_hash and fetched.body_hash == state.body_hash)


class _Claims:
    """The sources a pass may still claim, taken from the store `batch` at a time (all at
    once when batch is None)."""

    def __init__(self, store: Store, owner: str, lease: timedelta, ids: Sequence[str], *,
                 due_only: bool, batch: int | None) -> None:
        self.store, self.owner, self.lease = store, owner, lease
        self.left = list(dict.fromkeys(ids))
        self.due_only, self.batch = due_only, batch
        self.open = bool(self.left)

    def next(self, now: datetime) -> list[SourceState]:
        """Claim the next sources and return their polling states; closes when none is left
        that is free (and due, with due_only)."""
        got = self.store.claim(self.left, now, owner=self.owner, lease=self.lease,
                               limit=self.batch, include_not_due=not self.due_only)
        if got:
            taken = set(got)
            self.left = [i for i in self.left if i not in taken]
        self.open = bool(got) and bool(self.left)
        states = self.store.source_states(got)
        return [states[i] for i in got if i in states]


@dataclass(frozen=True, slots=True)
class _Unreachable:
    """A connection failure held back until the pass shows whether all sources failed."""

    state: SourceState
    error: FetchError
    started: float

"""Parse workers start only once a pass has brought enough new bodies (the first ones are
parsed in the store thread): what a pass stores and reports is the same either way."""

from __future__ import annotations

import gzip
import hashlib
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feedserver import FEEDS_DIR, FeedServer, Route

from aggregator.config import load_config
from aggregator.models import PollOutcome, SourceState
from aggregator.pipeline import Poller
from aggregator.pipeline import poller as pipeline
from aggregator.pipeline.stories import Stories
from aggregator.store import Store

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FEEDS = {"wire-one": "rss20_en.xml", "almarsad": "rss20_ar.xml", "ledger": "rss10.rdf",
         "atom-mixed": "atom10.xml", "albareed": "rss20_ar_cp1256.xml",
         "html-page": "not_a_feed.html", "broken": "malformed.xml"}


def poll(tmp_path: Path, server: FeedServer, after: int,
         monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, tuple[str, int]], int, int]:
    """One pass with parse workers started at the `after`-th new body: per source (outcome,
    new items); the bodies parsed in this process; the items stored."""
    monkeypatch.setenv("AGGREGATOR_PARSE_POOL_AFTER", str(after))
    in_process = []
    original = pipeline.process

    def counted(*args: Any, **kwargs: Any) -> Any:
        in_process.append(args[1].id)
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "process", counted)  # the worker processes keep their own
    outcomes, stored = run_pass(tmp_path / f"after-{after}", server, list(FEEDS))
    return {o.source_id: (o.outcome, o.new) for o in outcomes}, len(in_process), stored


def run_pass(folder: Path, server: FeedServer, sources: list[str],
             settings: tuple[str, ...] = ()) -> tuple[list[PollOutcome], int]:
    """One pass over `sources` (served at /<id>.xml) with two parse workers, into a new
    store in `folder` (more `settings` lines given): its outcomes, and the items stored."""
    folder.mkdir()
    (folder / "feeds.yaml").write_text("\n".join([
        "settings:", f"  database: sqlite:///{folder}/store.db", "  output_dir: public",
        "  base_url: https://news.example/", "  story_embeddings: false", *settings,
        "sources:", *(f"  - {{id: {s}, url: '{server.url(f'/{s}.xml')}'}}" for s in sources),
    ]) + "\n", encoding="utf-8")
    config = load_config(folder / "feeds.yaml")
    with Store(config.settings.database) as store:
        store.sync_sources(config.sources)
        outcomes = Poller(config, store, clock=lambda: NOW, parse_workers=2,
                          stories=Stories(config.settings.story_window, embedder=None)
                          ).run(sources)
        return outcomes, store.count("items")


def test_workers_start_at_the_nth_new_body(tmp_path: Path, feed_server: FeedServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for source, name in FEEDS.items():
        feed_server.serve_file(f"/{source}.xml", name)
    # Here the bodies wait for the workers to start (they are parsed in this process
    # meanwhile otherwise: see the tests below), so which process parses each is known.
    monkeypatch.setattr(pipeline._LazyPool, "ready", property(lambda pool: True))
    alone, parsed_here, stored = poll(tmp_path, feed_server, 1000, monkeypatch)
    assert parsed_here == len(FEEDS)  # a small pass: no worker process at all
    assert stored > 0 and alone["html-page"][0] == alone["broken"][0] == "error"
    pooled, parsed_here, stored_pooled = poll(tmp_path, feed_server, 3, monkeypatch)
    assert parsed_here == 2  # the first two bodies, then the workers
    assert pooled == alone and stored_pooled == stored
    everything, parsed_here, _ = poll(tmp_path, feed_server, 1, monkeypatch)
    assert parsed_here == 0 and everything == alone


def test_bodies_that_come_while_the_workers_start_are_parsed_here(
        tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers that are slow to start (all of them here) keep no body waiting: the store
    thread parses it, and the pass stores the same."""
    for source, name in FEEDS.items():
        feed_server.serve_file(f"/{source}.xml", name)
    alone, _, stored = poll(tmp_path, feed_server, 1000, monkeypatch)
    monkeypatch.setattr(pipeline._LazyPool, "ready", property(lambda pool: False))
    started, parsed_here, stored_here = poll(tmp_path, feed_server, 1, monkeypatch)
    assert parsed_here == len(FEEDS) and started == alone and stored_here == stored


def test_a_pass_of_many_new_sources_starts_its_workers_at_once(
        tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claiming PARSE_POOL_EAGER never-polled sources starts the workers before the first
    body comes, and every body waits for them: nothing is parsed in this process (which
    then never loads the parsers), and the pass stores the same."""
    for source, name in FEEDS.items():
        feed_server.serve_file(f"/{source}.xml", name)
    alone, _, stored = poll(tmp_path, feed_server, 1000, monkeypatch)
    monkeypatch.setattr(pipeline._LazyPool, "ready", property(lambda pool: False))  # slow
    monkeypatch.setattr(pipeline, "PARSE_POOL_EAGER", len(FEEDS))
    eager, parsed_here, stored_eager = poll(tmp_path, feed_server, 3, monkeypatch)
    assert parsed_here == 0 and eager == alone and stored_eager == stored


class _Starting:
    """An executor whose first task, the readiness probe, finishes when the test says."""

    def __init__(self) -> None:
        self.probe: Future[None] = Future()
        self.submitted: list[Any] = []

    def submit(self, fn: Any, *args: Any) -> Future[None]:
        self.submitted.append(fn)
        return self.probe


def test_the_workers_take_bodies_once_one_has_started() -> None:
    executor = _Starting()
    pool = pipeline._LazyPool(2, lambda: executor)  # type: ignore[arg-type,return-value]
    assert pool.take() is None and executor.submitted == []  # the first body: no workers
    assert pool.take() is None  # the second starts them; not running yet: parsed here
    assert executor.submitted == [pipeline._worker_ready]
    assert pool.take() is None
    executor.probe.set_result(None)  # a worker ran the probe
    assert pool.take() is executor and pool.take() is executor
    assert executor.submitted == [pipeline._worker_ready]  # started once
    patient_executor = _Starting()
    patient = pipeline._LazyPool(1, lambda: patient_executor)  # type: ignore[arg-type,return-value]
    assert patient.take(patient=True) is patient_executor  # the encoder's case: it waits
    eager_executor = _Starting()
    eager = pipeline._LazyPool(2, lambda: eager_executor)  # type: ignore[arg-type,return-value]
    polled = SourceState("old", "http://x.example/old", body_hash="h")
    eager.expect([SourceState("new", "http://x.example/new")] * (pipeline.PARSE_POOL_EAGER - 1)
                 + [polled])  # claimed: not enough never-polled sources
    assert eager_executor.submitted == []
    eager.expect([SourceState("new", "http://x.example/new")])  # a later batch of claims
    assert eager_executor.submitted == [pipeline._worker_ready]
    assert eager.take() is eager_executor  # not running yet, and still the body waits


def test_a_slow_store_holds_back_fetching(tmp_path: Path, feed_server: FeedServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A store thread slower than the network: the bodies fetched and not yet stored stay
    within what `_staged` allows beside the requests in flight, and the parsed feeds waiting
    for the store within `_staged`; nothing is lost for it."""
    sources = [f"wire-{n}" for n in range(40)]
    for source in sources:
        feed_server.serve_file(f"/{source}.xml", "rss20_en.xml")
    fetched, stored = [0], [0]
    ahead, queued = [], []
    fetch, take, finish = pipeline.Fetcher.fetch, pipeline._StoreLine._take, Poller._finish

    async def counted_fetch(self: Any, state: Any) -> Any:
        result = await fetch(self, state)
        fetched[0] += 1
        ahead.append(fetched[0] - stored[0])  # bodies held: this one and those not stored
        return result

    def counted_take(self: Any) -> None:
        queued.append(len(self._waiting))
        take(self)

    def slow_finish(self: Any, jobs: Any) -> Any:
        time.sleep(0.02)  # the store thread is the bottleneck
        outcomes = finish(self, jobs)
        stored[0] += len(jobs)
        return outcomes

    monkeypatch.setattr(pipeline.Fetcher, "fetch", counted_fetch)
    monkeypatch.setattr(pipeline._StoreLine, "_take", counted_take)
    monkeypatch.setattr(Poller, "_finish", slow_finish)
    outcomes, _ = run_pass(tmp_path / "slow", feed_server, sources,
                           ("  max_concurrency: 4", "  per_host_concurrency: 4"))
    assert [o.outcome for o in outcomes] == ["new"] * len(sources)
    assert stored[0] == len(sources) and fetched[0] == len(sources)
    staged = pipeline._staged(2)
    assert 1 < max(queued) <= staged  # the store's queue filled up to its bound, no further
    assert max(ahead) <= 4 + staged  # max_concurrency + _staged


def test_a_parsed_feed_waits_for_the_store_without_its_body(
        tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a worker has parsed a body, the feed waiting for the store keeps what came with
    the body (validators, checksum), not the body: tens of kilobytes each, times the parsed
    feeds in flight. A body parsed in the store thread is still there for it."""
    sources = [f"wire-{n}" for n in range(12)]
    for source in sources:
        feed_server.serve_file(f"/{source}.xml", "rss20_en.xml")
    seen: list[tuple[bool, bool, bool]] = []  # (parsed by a worker, body kept, checksum kept)
    finish = Poller._finish

    def looking(self: Any, jobs: Any) -> Any:
        seen.extend((job.processed is not None, job.fetched.body is not None,
                     job.fetched.body_hash is not None) for job in jobs)
        return finish(self, jobs)

    monkeypatch.setenv("AGGREGATOR_PARSE_POOL_AFTER", "1")
    monkeypatch.setattr(Poller, "_finish", looking)
    outcomes, stored = run_pass(tmp_path / "drop", feed_server, sources)
    assert [o.outcome for o in outcomes] == ["new"] * len(sources) and stored > 0
    assert any(by_worker for by_worker, _, _ in seen)
    assert all(kept != by_worker and checksum for by_worker, kept, checksum in seen)


@pytest.mark.parametrize("after", [1, 1000])  # parse workers from the first body; none
def test_compressed_bodies_are_decoded_beside_the_poll(
        tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch,
        after: int) -> None:
    """The pass leaves gzip bodies compressed until they are parsed (in a worker, or in the
    store thread before the workers run): the same items are stored, a bomb is still
    stopped at the cap, and the same body again is 'unchanged', not parsed twice."""
    body = (FEEDS_DIR / "rss20_ar.xml").read_bytes()
    bomb = gzip.compress(b"<rss>" + b" " * (3 * 1024 * 1024), mtime=0)  # 3 MiB of spaces
    for n in range(4):  # no validators: the second pass gets the same 200 again
        feed_server.route(f"/wire-{n}.xml", Route(body=body, gzip=True))
    feed_server.route("/bomb.xml", Route(body=bomb, gzip=True, raw=True))
    monkeypatch.setenv("AGGREGATOR_PARSE_POOL_AFTER", str(after))
    sources = [f"wire-{n}" for n in range(4)] + ["bomb"]
    parsed = []
    original = pipeline.process

    def counted(*args: Any, **kwargs: Any) -> Any:
        parsed.append(args[1].id)
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "process", counted)  # the store thread's parses only
    folder = tmp_path / f"after-{after}"
    first, stored = run_pass(folder, feed_server, sources, ("  max_body_bytes: 1MiB",))
    outcomes = {o.source_id: o for o in first}
    assert [outcomes[s].outcome for s in sources[:4]] == ["new"] * 4
    assert outcomes["bomb"].error == ("the body is over the 1 MiB limit once decompressed "
                                      "(max_body_bytes)")
    assert outcomes["bomb"].counted
    with Store(f"sqlite:///{folder}/store.db") as store:
        assert store.count("items") == stored > 0
        hashes = store.source_states(sources[:4])
    assert all(state.body_hash == hashlib.sha256(body).hexdigest() for state in hashes.values())
    parsed.clear()
    config = load_config(folder / "feeds.yaml")
    with Store(config.settings.database) as store:
        again = Poller(config, store, clock=lambda: NOW, parse_workers=2,
                       stories=Stories(config.settings.story_window, embedder=None)
                       ).run(sources[:4])
        assert store.count("items") == stored
    assert [o.outcome for o in again] == ["unchanged"] * 4 and parsed == []
    assert [o.seen for o in again] == [0] * 4  # not parsed by a worker either


def test_quiet_writes_go_one_at_a_time_and_a_failed_one_fails_the_pass_at_its_end() -> None:
    """_QuietLine (pure, a fake store): batches of QUIET_BATCH or more while the pass goes,
    never two writes at once, the rest at `finish`; a write that failed does not stop the
    later ones, and `finish` raises it."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    batches: list[list[int]] = []
    busy = threading.Lock()

    def save(batch: list[int]) -> None:
        assert busy.acquire(blocking=False), "two writes at once"
        try:
            time.sleep(0.002)  # a write takes a while: more arrive meanwhile
            batches.append(list(batch))
            if len(batches) == 1:
                raise RuntimeError("database is locked")
        finally:
            busy.release()

    async def go() -> None:
        with ThreadPoolExecutor(max_workers=1) as worker:
            line = pipeline._QuietLine(asyncio.get_running_loop(), worker, save)  # type: ignore[arg-type]
            for n in range(3 * pipeline.QUIET_BATCH + 7):
                line.add(n)  # type: ignore[arg-type]
                await asyncio.sleep(0)
            async with asyncio.timeout(5):  # the first write started as the batch filled
                while not batches:
                    await asyncio.sleep(0.001)
            assert len(batches[0]) == pipeline.QUIET_BATCH
            with pytest.raises(RuntimeError, match="locked"):
                await line.finish()

    asyncio.run(go())
    assert [n for batch in batches for n in batch] == list(range(3 * pipeline.QUIET_BATCH + 7))
    assert all(len(b) >= pipeline.QUIET_BATCH for b in batches[:-1])


def test_parse_workers_load_the_worker_side_and_not_the_poller_s() -> None:
    """The workers' server preloads pipeline.work (parse … tag): not the store, the fetcher,
    the clusterer or numpy, which made it start 0.3 s after the pass asked, not 0.1 s
    (bench/peak_rss_ab.py: a first poll 3 % faster). Importing the package loads none of
    the poller either; its names are there when asked for."""
    import subprocess
    import sys
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=pipeline._forkserver()) as pool:
        loaded = set(pool.submit(eval, "sorted(__import__('sys').modules)").result())
    heavy = {"aggregator.pipeline.poller", "aggregator.store", "aggregator.pipeline.fetch",
             "aggregator.pipeline.cluster", "sqlalchemy", "aiohttp", "numpy"}
    assert "aggregator.pipeline.work" in loaded and not heavy & loaded, heavy & loaded
    assert {"aggregator.pipeline.parse", "feedparser", "lxml", "nh3"} <= loaded  # preloaded
    probe = ("import sys, aggregator.pipeline as p; before = set(sys.modules); "
             "p.Poller, p.process, p.QUIET_BATCH; "
             "print(sorted({'aggregator.pipeline.poller', 'sqlalchemy'} & before)); "
             "print(sorted({'feedparser', 'lxml', 'nh3'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    # the poller is loaded lazily, and loading it loads no parser (its workers parse)
    assert out.split("\n")[:2] == ["[]", "[]"]

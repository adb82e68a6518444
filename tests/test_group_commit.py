"""Feeds waiting for the store thread are stored together (a group commit): one transaction
for the group (Store.save_feeds), the matches between the group's own feeds written, and a
group that fails is stored again one feed at a time, so a bad feed costs only itself."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from aggregator.config import Config, load_config
from aggregator.models import Changed, FetchResult
from aggregator.pipeline import Poller, process
from aggregator.pipeline import poller as pipeline
from aggregator.pipeline.poller import _Job
from aggregator.pipeline.stories import Stories
from aggregator.pipeline.tag import TopicMatcher
from aggregator.store import Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
QUAKE = ("Strong earthquake of magnitude 6.8 shakes the northern coast overnight",
         "Rescue teams searched collapsed buildings in three coastal towns after the quake, "
         "which the national seismic centre measured at magnitude 6.8 shortly after midnight.")
BUDGET = ("Parliament approves the new budget after a long night session",
          "Deputies voted 112 to 87 for the spending plan, which raises the health budget and "
          "freezes public sector hiring until the end of next year.")
HARBOUR = ("Harbour Rovers sign a new goalkeeper from the second division",
           "The club confirmed the two-year contract on Tuesday; the keeper kept eleven clean "
           "sheets last season and joins the squad for the winter training camp.")


def rss(host: str, *items: tuple[str, tuple[str, str]]) -> bytes:
    """An RSS 2.0 feed of (guid, (title, description)) items, an hour apart."""
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>https://{host}/{guid}</link>"
        f"<description>{text}</description>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=i + 1))}</pubDate></item>"
        for i, (guid, (title, text)) in enumerate(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{host}</title><link>https://{host}/</link><language>en</language>"
            f"{entries}</channel></rss>").encode()


def config(tmp_path: Path, database_url: str, names: list[str]) -> Config:
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join([
        "settings:", f"  database: {database_url}", "  output_dir: public",
        "  base_url: https://news.example/", "  story_embeddings: false", "  jitter: 0",
        "sources:", *(f"  - {{id: {n}, url: 'http://127.0.0.1:9/{n}.xml'}}" for n in names),
        "topics:", "  all: {title: All, terms: [earthquake, budget, goalkeeper]}",
        "sections:", "  - {id: all, title: All, topics: [all]}"]) + "\n", encoding="utf-8")
    return load_config(path)


def fetched(source: str, body: bytes) -> FetchResult:
    url = f"http://127.0.0.1:9/{source}.xml"
    return FetchResult(source, url, url, 200, body, content_type="application/rss+xml",
                       body_hash=str(hash(body)))


def changed(cfg: Config, source: str, body: bytes) -> Changed:
    got = fetched(source, body)
    feed, entries = process(got, cfg.source(source), TopicMatcher(cfg.topics), NOW)
    return Changed(source, got, feed, entries, NOW, NOW + timedelta(hours=1))


def test_a_group_is_one_transaction_and_its_feeds_meet(tmp_path: Path,
                                                       database_url: str) -> None:
    cfg = config(tmp_path, database_url, ["wire", "daily", "sport"])
    group = [changed(cfg, "wire", rss("wire.example", ("q", QUAKE), ("b", BUDGET))),
             # the wire's quake report, copied under a guid of its own
             changed(cfg, "daily", rss("daily.example", ("d1", QUAKE))),
             changed(cfg, "sport", rss("sport.example", ("s1", HARBOUR)))]
    with Store(database_url) as store:
        store.sync_sources(cfg.sources)
        stories = Stories(timedelta(hours=72), embedder=None)
        stories.warm(store, NOW)
        commits: list[object] = []
        event.listen(store.engine, "commit", commits.append)
        assert store.save_feeds(group, stories) == [(2, 0), (1, 0), (1, 0)]
        assert len(commits) == 1
        assert store.count("items") == 4 and store.count("stories") == 3
        quake = next(s for s in store.recent_stories(NOW - timedelta(days=1))
                     if s.items[0].title == QUAKE[0])
        joins = store.story_joins(quake.uid)
        assert [j.source_id for j in joins] == ["wire", "daily"]
        # the copy matched an item inserted in the same transaction: its id is written
        assert joins[1].rule in ("link", "title", "near_duplicate")
        assert joins[1].matched == joins[0].item_id
        states = store.source_states(["wire", "daily", "sport"])
        assert {s.body_hash for s in states.values()} == {g.fetched.body_hash for g in group}
        assert [p.outcome for p in store.recent_polls()] == ["new"] * 3
        # the same bodies again: every item is known, per source
        assert store.save_feeds(group, stories) == [(0, 0)] * 3
        assert store.count("items") == 4 and len(commits) == 2


def test_a_failing_group_is_stored_one_feed_at_a_time(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A feed the store rejects (here: a date without a zone, a bug upstream) fails the
    group's transaction; the poller then stores each feed alone: the others land, and the
    bad one is recorded as that source's error."""
    names = ["wire", "broken", "sport"]
    cfg = config(tmp_path, database_url, names)

    def naive_for_broken(got: FetchResult, source: Any, *args: Any) -> Any:
        feed, entries = process(got, source, *args)
        if source.id == "broken":
            entries = tuple(replace(e, published=e.published.replace(tzinfo=None))
                            for e in entries)
        return feed, entries

    monkeypatch.setattr(pipeline, "process", naive_for_broken)
    bodies = {"wire": rss("wire.example", ("q", QUAKE)),
              "broken": rss("broken.example", ("x", BUDGET)),
              "sport": rss("sport.example", ("s1", HARBOUR))}
    with Store(database_url) as store:
        store.sync_sources(cfg.sources)
        poller = Poller(cfg, store, clock=lambda: NOW, parse_workers=0,
                        stories=Stories(timedelta(hours=72), embedder=None))
        states = store.source_states(names)
        jobs = [_Job(states[n], fetched(n, bodies[n]), time.monotonic(), NOW, None)
                for n in names]
        with caplog.at_level(logging.WARNING, logger="aggregator.poll"):
            outcomes = poller._finish(jobs)
        assert [o.outcome for o in outcomes] == ["new", "error", "new"]
        assert (outcomes[1].error or "").startswith("internal error: TypeError")
        assert "could not store 3 feeds in one transaction" in caplog.text
        assert store.count("items") == 2
        status = {s.id: s for s in store.source_status()}
        assert status["broken"].consecutive_errors == 1
        assert (status["wire"].items, status["broken"].items, status["sport"].items) == (1, 0, 1)
        assert status["wire"].last_outcome == "new" and status["sport"].last_outcome == "new"


def test_pruned_items_stay_away_when_their_feed_changes(tmp_path: Path,
                                                        database_url: str) -> None:
    """A pruned item leaves a tombstone: the feed's next body (changed, so it is parsed and
    stored) still carries it, and it is not stored again; the new item is."""
    cfg = config(tmp_path, database_url, ["wire"])
    with Store(database_url) as store:
        store.sync_sources(cfg.sources)
        stories = Stories(timedelta(hours=72), embedder=None)
        stories.warm(store, NOW)
        assert store.save_feeds([changed(cfg, "wire", rss("wire.example", ("q", QUAKE)))],
                                stories) == [(1, 0)]
        assert store.prune(before=NOW + timedelta(days=1), keep_stories=(), now=NOW) == 1
        assert store.count("items") == 0
        again = changed(cfg, "wire", rss("wire.example", ("b", BUDGET), ("q", QUAKE)))
        assert store.save_feeds([again], stories) == [(1, 0)]
        assert [s.items[0].title for s in store.recent_stories(NOW - timedelta(days=1))] \
            == [BUDGET[0]]


def test_lookups_by_source_and_identity(tmp_path: Path, database_url: str) -> None:
    """repository._keyed, the group's one lookup of what its entries are already: stored
    items with their id, content hash and date (typed: an aware UTC datetime on every
    engine, though SQLite's answer comes through the driver), tombstones with no id, and
    nothing for the rest; every length of key list (chunks padded to a few sizes)."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from aggregator.store.repository import _ITEM_IDS, _KNOWN, _PAIRS, ITEMS, TOMBSTONES, _keyed

    cfg = config(tmp_path, database_url, ["wire", "daily"])
    with Store(database_url) as store:
        store.sync_sources(cfg.sources)
        stories = Stories(timedelta(hours=72), embedder=None)
        stories.warm(store, NOW)
        store.save_feeds([changed(cfg, "wire", rss("wire.example", ("q", QUAKE),
                                                   ("b", BUDGET)))], stories)
        with Session(store.engine) as s, s.begin():
            s.execute(insert(TOMBSTONES), [{"source_id": "daily", "identity": "gone",
                                            "removed_at": NOW}])
            stored = {(r.source_id, r.identity): r for r in s.execute(
                ITEMS.select().order_by(ITEMS.c.id))}
            assert len(stored) == 2
            unknown = [("wire", f"new-{n}") for n in range(_PAIRS[-1] + 3)]
            for keys in ([], list(stored), [*stored, ("daily", "gone"), *unknown],
                         [*unknown, *stored]):
                found = dict(_keyed(s, _KNOWN, keys))
                assert set(found) == (set(stored) | {("daily", "gone")}) & set(keys)
                for key in set(stored) & set(keys):
                    known, row = found[key], stored[key]
                    assert (known.id, known.content_hash) == (row.id, row.content_hash)
                    assert known.updated == row.updated and known.updated.tzinfo is UTC
                if ("daily", "gone") in found:
                    assert found[("daily", "gone")].id is None
                assert {k: r.id for k, r in _keyed(s, _ITEM_IDS, keys)} == \
                    {k: r.id for k, r in stored.items() if k in keys}

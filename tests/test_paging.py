"""RFC 5005 paging walked as a feed reader would: fetch the subscription document over HTTP,
follow rel="prev-archive" to the end, and find every story of the retention window once."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import httpx
from feedserver import FeedServer
from published import free_port, serving

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.store import Store

STORIES = 60
MAX_ITEMS = 10


def _feed(now: datetime) -> bytes:
    """60 unrelated stories, one every 7 hours back from now: about 18 UTC days."""
    items = []
    for n in range(STORIES):
        when = now - timedelta(hours=7 * n + 1)
        # every word unique to its story, so no two are grouped as one
        words = " ".join(f"{w}{n}x" for w in ("alder", "brisk", "cobalt", "dune", "ember"))
        items.append(f"<item><title>Ukraine {words}</title>"
                     f"<link>https://paging.example/{n}</link><guid>p-{n}</guid>"
                     f"<description>Kyiv report {words}.</description>"
                     f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate></item>")
    return ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
            "<title>Paging</title><link>https://paging.example/</link><description>d"
            f"</description><language>en</language>{''.join(items)}</channel></rss>"
            ).encode()


def test_walking_prev_archive_finds_every_story_once(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with FeedServer() as server:
        server.route("/paging.xml", _feed(datetime.now(UTC)))
        config = tmp_path / "feeds.yaml"
        config.write_text(
            f"settings: {{database: 'sqlite:///{tmp_path}/db.sqlite', base_url: '{base}'}}\n"
            f"sources:\n  - {{id: paging, url: '{server.url('/paging.xml')}'}}\n"
            "topics: {ukraine: {terms: [Ukraine]}}\n"
            f"sections:\n  - {{id: war, title: War, topics: [ukraine], max_items: {MAX_ITEMS}}}\n",
            encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["--config", str(config), "poll", "--all"]) == 0
    with Store(load_config(config).settings.database) as store:
        assert store.count("stories") == STORIES

    seen: list[str] = []
    dates: list[tuple[int, ...]] = []
    archives = 0
    with serving(config, port), httpx.Client() as client:
        url: str | None = f"{base}feeds/war.atom"
        subscription = feedparser.parse(client.get(url).content)
        assert len(subscription.entries) == MAX_ITEMS  # the newest max_items
        newest = [e.id for e in subscription.entries]
        url = _link(subscription, "prev-archive")
        while url:
            response = client.get(url)
            assert response.status_code == 200, url
            doc = feedparser.parse(response.content)
            assert not doc.bozo, doc.get("bozo_exception")
            assert _link(doc, "self") == url  # each archive names itself
            assert _link(doc, "current") == f"{base}feeds/war.atom"
            seen.extend(e.id for e in doc.entries)
            dates.extend(tuple(e.published_parsed) for e in doc.entries)
            archives += 1
            url = _link(doc, "prev-archive")
            assert archives < 100
    assert len(seen) == len(set(seen)) == STORIES  # every story, each in one archive
    assert set(newest) <= set(seen)
    assert 15 <= archives <= 20  # one per UTC day of the 17.5 days covered
    assert dates == sorted(dates, reverse=True)  # newest first, across documents too


def _link(doc: feedparser.FeedParserDict, rel: str) -> str | None:
    return next((x.href for x in doc.feed.get("links", []) if x.get("rel") == rel), None)

"""RFC 5005 archived feeds, as a feed reader and as a cache see them.

- Walked over HTTP: from the subscription document along rel="prev-archive", a reader
  rebuilds the whole retention window, each story once (RFC 5005 §4.2).
- Stable: archive documents are closed days, written once; a publish that changes nothing in
  them neither renders nor rewrites them (bytes and mtime kept); a late story waits in the
  subscription document instead of changing an archive; a changed story is shown again.
The stability tests poll with an injected clock and publish `as of` chosen moments.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import httpx
import pytest
from feedserver import FeedServer
from lxml import etree
from published import free_port, serving

import aggregator.publish.archive as archive_module
from aggregator.cli import main
from aggregator.config import Config, load_config
from aggregator.pipeline import Poller
from aggregator.publish import publish_all
from aggregator.store import Store

STORIES = 60
MAX_ITEMS = 10
A = "{http://www.w3.org/2005/Atom}"
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # the injected clock's first poll


def _item(n: int, when: datetime, extra: str = "") -> str:
    # every word unique to its story, so no two are grouped as one
    words = " ".join(f"{w}{n}x" for w in ("alder", "brisk", "cobalt", "dune", "ember"))
    return (f"<item><title>Ukraine {words}</title>"
            f"<link>https://paging.example/{n}</link><guid>p-{n}</guid>"
            f"<description>Kyiv report {words}.{extra}</description>"
            f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate></item>")


def _feed(items: list[str]) -> bytes:
    return ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
            "<title>Paging</title><link>https://paging.example/</link><description>d"
            f"</description><language>en</language>{''.join(items)}</channel></rss>").encode()


def _write_config(folder: Path, url: str, base: str) -> Path:
    config = folder / "feeds.yaml"
    config.write_text(
        f"settings: {{database: 'sqlite:///{folder}/db.sqlite', base_url: '{base}'}}\n"
        f"sources:\n  - {{id: paging, url: '{url}'}}\n"
        "topics: {ukraine: {terms: [Ukraine]}}\n"
        f"sections:\n  - {{id: war, title: War, topics: [ukraine], max_items: {MAX_ITEMS}}}\n",
        encoding="utf-8")
    return config


def test_walking_prev_archive_rebuilds_the_retention_window(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    now = datetime.now(UTC)
    with FeedServer() as server:  # 60 stories, one every 7 hours back from now: ~18 days
        server.route("/paging.xml", _feed([_item(n, now - timedelta(hours=7 * n + 1))
                                           for n in range(STORIES)]))
        config = _write_config(tmp_path, server.url("/paging.xml"), base)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["--config", str(config), "poll", "--all"]) == 0
    with Store(load_config(config).settings.database) as store:
        assert store.count("stories") == STORIES

    archived: list[str] = []
    dates: list[tuple[int, ...]] = []
    days: list[str] = []
    with serving(config, port), httpx.Client() as client:
        url: str | None = f"{base}feeds/war.atom"
        subscription = feedparser.parse(client.get(url).content)
        current = [e.id for e in subscription.entries]
        assert len(current) >= MAX_ITEMS  # the newest max_items, and today's stories
        url = _link(subscription, "prev-archive")
        next_url = None
        while url:
            response = client.get(url)
            assert response.status_code == 200, url
            doc = feedparser.parse(response.content)
            assert not doc.bozo, doc.get("bozo_exception")
            assert _link(doc, "self") == url  # each archive names itself
            assert _link(doc, "current") == f"{base}feeds/war.atom"
            assert next_url is None or _link(doc, "next-archive") == next_url
            archived.extend(e.id for e in doc.entries)
            dates.extend(tuple(e.published_parsed) for e in doc.entries)
            days.append(url.rsplit("/", 1)[1].removesuffix(".atom"))
            next_url, url = url, _link(doc, "prev-archive")
            assert len(days) < 100
    assert len(archived) == len(set(archived))  # each story in one archive only
    assert len(set(archived) | set(current)) == STORIES  # the whole window, rebuilt
    assert days == sorted(days, reverse=True) and days[0] < now.date().isoformat()
    assert all(date.fromisoformat(a) - date.fromisoformat(b) == timedelta(days=1)
               for a, b in zip(days, days[1:], strict=False))  # consecutive days
    assert 15 <= len(days) <= 20  # one per UTC day of the 17.5 days covered
    assert dates == sorted(dates, reverse=True)  # newest first, across documents too
    unarchived = set(current) - set(archived)  # only the day(s) still open
    assert all(e.published_parsed[:3] >= (now - timedelta(hours=1)).timetuple()[:3]
               for e in subscription.entries if e.id in unarchived)


def _link(doc: feedparser.FeedParserDict, rel: str) -> str | None:
    return next((x.href for x in doc.feed.get("links", []) if x.get("rel") == rel), None)


# -- stability, with an injected clock ---------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Paging:
    """A section fed by one local feed whose items the test sets, polled at `clock.now`."""

    def __init__(self, folder: Path, server: FeedServer) -> None:
        self.server, self.clock = server, Clock()
        self.items: dict[int, str] = {}
        server.route("/paging.xml", _feed([]))
        self.config: Config = load_config(_write_config(folder, server.url("/paging.xml"),
                                                        "https://news.example/"))
        self.store = Store(self.config.settings.database)
        self.store.sync_sources(self.config.sources)
        self.public = self.config.settings.output_dir

    def add(self, n: int, when: datetime, extra: str = "") -> None:
        self.items[n] = _item(n, when, extra)

    def poll_and_publish(self, at: datetime) -> None:
        self.clock.now = at
        self.server.route("/paging.xml", _feed(list(self.items.values())))
        poller = Poller(self.config, self.store, clock=self.clock, random=lambda: 0.0)
        poller.run(poller.due(all_sources=True))
        publish_all(self.config, self.store, at)

    def archives(self) -> dict[str, tuple[bytes, int]]:
        return {p.stem: (p.read_bytes(), p.stat().st_mtime_ns)
                for p in sorted((self.public / "archive" / "war").glob("*.atom"))}

    def titles(self, name: str) -> list[str]:
        """The entry titles of the subscription document ("war") or of a day's archive."""
        path = self.public / (f"{name}.atom" if name == "war" else f"archive/war/{name}.atom")
        root = etree.parse(path).getroot()
        return [e.findtext(f"{A}title") or "" for e in root.iter(f"{A}entry")]


@pytest.fixture
def paging(tmp_path: Path, feed_server: FeedServer) -> Iterator[Paging]:
    harness = Paging(tmp_path, feed_server)
    try:
        yield harness
    finally:
        harness.store.close()


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The days of the archive documents rendered, in order."""
    days: list[str] = []
    real: Callable[..., bytes] = archive_module.render_atom

    def counting(section, stories, ctx, page=None):  # type: ignore[no-untyped-def]
        days.append(page.day)
        return real(section, stories, ctx, page)

    monkeypatch.setattr(archive_module, "render_atom", counting)
    return days


def _number(title: str) -> int:
    return int(title.split("alder")[1].split("x")[0])


def test_only_closed_days_are_archived_and_an_unchanged_one_is_left_alone(
        paging: Paging, renders: list[str]) -> None:
    for n in range(12):  # one story every 8 hours back from T0: today and 4 days before
        paging.add(n, T0 - timedelta(hours=8 * n + 1))
    paging.poll_and_publish(T0)
    before = paging.archives()
    assert list(before) == ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]
    assert renders == list(reversed(before))  # each rendered once, newest first
    today = [_number(t) for t in paging.titles("war")]
    assert set(range(12)) <= set(today) | {_number(t) for d in before for t in paging.titles(d)}

    renders.clear()
    paging.add(12, T0 + timedelta(hours=1))  # a new story today, and the same day republished
    paging.poll_and_publish(T0 + timedelta(hours=2))
    assert renders == [] and paging.archives() == before  # not rendered, not rewritten
    assert 12 in [_number(t) for t in paging.titles("war")]

    renders.clear()  # the next day, an hour after midnight: the 20th closes
    paging.poll_and_publish(datetime(2026, 11, 21, 1, 30, tzinfo=UTC))
    after = paging.archives()
    assert renders == ["2026-11-20"]  # only the new day; the 19th already named it next
    assert {day: after[day] for day in before} == before
    assert 12 in [_number(t) for t in paging.titles("2026-11-20")]


def test_a_day_is_archived_an_hour_after_it_ends(paging: Paging) -> None:
    paging.add(0, T0 - timedelta(hours=1))
    paging.poll_and_publish(datetime(2026, 11, 21, 0, 30, tzinfo=UTC))
    assert "2026-11-20" not in paging.archives()  # within the grace hour: still current
    assert [_number(t) for t in paging.titles("war")] == [0]
    paging.poll_and_publish(datetime(2026, 11, 21, 1, 0, tzinfo=UTC))
    assert [_number(t) for t in paging.titles("2026-11-20")] == [0]


def test_a_late_story_waits_in_the_subscription_document(paging: Paging,
                                                         renders: list[str]) -> None:
    paging.add(0, datetime(2026, 11, 18, 9, tzinfo=UTC))
    paging.add(1, datetime(2026, 11, 20, 9, tzinfo=UTC))
    paging.poll_and_publish(T0)
    before = paging.archives()
    renders.clear()
    # a story first reported on the 18th reaches us on the 20th: its day is archived already
    paging.add(2, datetime(2026, 11, 18, 12, tzinfo=UTC))
    paging.poll_and_publish(T0 + timedelta(hours=3))
    assert renders == [] and paging.archives() == before
    assert 2 in [_number(t) for t in paging.titles("war")]
    # once the day it arrived closes, it is archived with that day, and stays there
    paging.poll_and_publish(datetime(2026, 11, 21, 2, tzinfo=UTC))
    assert {_number(t) for t in paging.titles("2026-11-20")} == {1, 2}
    assert 2 not in [_number(t) for t in paging.titles("2026-11-18")]
    assert paging.archives()["2026-11-18"] == before["2026-11-18"]


def test_a_changed_story_is_shown_again(paging: Paging, renders: list[str]) -> None:
    paging.add(0, datetime(2026, 11, 17, 9, tzinfo=UTC))
    paging.add(1, datetime(2026, 11, 18, 9, tzinfo=UTC))
    paging.poll_and_publish(T0)
    before = paging.archives()
    renders.clear()
    paging.add(0, datetime(2026, 11, 17, 9, tzinfo=UTC), extra=" Corrected.")  # an edit
    paging.poll_and_publish(T0 + timedelta(hours=1))
    after = paging.archives()
    assert renders == ["2026-11-17"]  # that archive only, the entry set unchanged
    assert after["2026-11-18"] == before["2026-11-18"]
    assert after["2026-11-17"] != before["2026-11-17"]
    assert [_number(t) for t in paging.titles("2026-11-17")] == [0]
    assert 0 in [_number(t) for t in paging.titles("war")]  # and shown in the current one


def test_retention_drops_old_days_and_the_oldest_left_links_no_further(
        paging: Paging) -> None:
    for n in range(6):
        paging.add(n, datetime(2026, 11, 14 + n, 9, tzinfo=UTC))
    paging.poll_and_publish(T0)
    assert list(paging.archives())[0] == "2026-11-14"
    later = datetime(2026, 11, 14, 12, tzinfo=UTC) + paging.config.settings.retention \
        + timedelta(days=2)  # the 14th and 15th are past retention
    paging.poll_and_publish(later)
    days = list(paging.archives())
    assert days[0] == "2026-11-16" and days[-1] == (later.date() - timedelta(days=1)).isoformat()
    oldest = etree.parse(paging.public / "archive" / "war" / f"{days[0]}.atom").getroot()
    rels = [x.get("rel") for x in oldest.findall(f"{A}link")]
    assert "prev-archive" not in rels and "next-archive" in rels


def test_the_archive_state_survives_being_lost(paging: Paging, renders: list[str]) -> None:
    paging.add(0, datetime(2026, 11, 18, 9, tzinfo=UTC))
    paging.poll_and_publish(T0)
    before = paging.archives()
    (paging.public / "archive" / "war" / ".state.json").unlink()
    renders.clear()
    paging.poll_and_publish(T0 + timedelta(hours=1))
    assert sorted(renders) == sorted(before)  # rendered again once...
    assert paging.archives() == before  # ...but the same bytes: nothing rewritten

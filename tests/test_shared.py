"""Issue 7: several pollers on one PostgreSQL database. They split the due sources by claiming
them (SELECT … FOR UPDATE SKIP LOCKED, with a lease), a poller killed mid-pass loses nothing,
and two reports of one story arriving through two pollers at once end in one story.

The pollers are real `aggregator` processes; the feeds come from a real HTTP server on
127.0.0.1; the database is the machine's PostgreSQL server. Claim rules are also checked on
SQLite, where a single poller uses them too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from feedserver import FeedServer, Route

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.store import Store

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def rss(name: str, items: int, *, title: str | None = None) -> bytes:
    """A feed of `items` reports with titles of their own (or all titled `title`)."""
    body = "".join(
        f"<item><guid>{name}-{i}</guid><title>{title or f'{name} report number {i}'}</title>"
        f"<link>https://{name}.example/news/{i}</link>"
        f"<pubDate>Sun, 29 Nov 2026 0{i % 10}:00:00 GMT</pubDate></item>"
        for i in range(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{name}</title><link>https://{name}.example/</link>"
            f"<language>en</language>{body}</channel></rss>").encode()


def write_config(tmp_path: Path, server: FeedServer, database: str, names: list[str],
                 *, lease: str = "2m") -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join([
        "settings:", f"  database: {database}", "  output_dir: public",
        "  base_url: https://news.example/", "  default_interval: 1h",
        "  max_concurrency: 10", "  per_host_concurrency: 10", f"  claim_lease: {lease}",
        "  story_embeddings: false", "  jitter: 0", "sources:",
        *(f"  - {{id: {n}, url: '{server.url(f'/{n}.xml')}'}}" for n in names),
        "topics:",
        "  all: {title: All, terms: [report, earthquake, budget, bank, wildfires, team]}",
        "sections:", "  - {id: all, title: All, topics: [all]}"]) + "\n", encoding="utf-8")
    return path


def aggregator(config: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "aggregator", "--config", str(config),
                             *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(procs: list[subprocess.Popen[str]], timeout: float = 120) -> list[str]:
    outs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, out
        outs.append(out)
    return outs


# -- the claim rules, on both engines ---------------------------------------------------------


def test_claims_skip_held_not_due_and_retired_sources(tmp_path: Path, feed_server: FeedServer,
                                                      database_url: str) -> None:
    names = [f"s{i}" for i in range(6)]
    config = load_config(write_config(tmp_path, feed_server, database_url, names))
    lease = timedelta(minutes=2)
    with Store(database_url) as store:
        store.sync_sources(config.sources)
        first = store.claim(names, T0, owner="one", lease=lease, limit=2)
        assert len(first) == 2
        second = store.claim(names, T0, owner="two", lease=lease)
        assert set(second) == set(names) - set(first)  # never a source held by another
        assert store.claim(names, T0, owner="three", lease=lease) == []
        assert store.release_claims("two") == 4
        store.save_error("s5", error="gone", status=410, now=T0, next_check_at=T0, retire=True)
        assert store.release_claims("one") == 2
        later = T0 + timedelta(minutes=1)
        store.save_error("s4", error="x", status=500, now=T0, next_check_at=T0 + timedelta(hours=1))
        due = store.claim(names, later, owner="four", lease=lease)
        assert set(due) == {"s0", "s1", "s2", "s3"}  # s4 is not due, s5 is retired
        assert store.claim(["s4"], later, owner="five", lease=lease, include_not_due=True) == ["s4"]
        # a lease that is not renewed lapses: a poller that died lets the others take over
        assert store.renew_claims("four", later + lease) == 4
        assert store.claim(names, later + lease - timedelta(seconds=1), owner="six",
                           lease=lease) == []
        taken = store.claim(names, later + lease + timedelta(seconds=1), owner="six",
                            lease=lease)
        assert set(taken) == {"s0", "s1", "s2", "s3"}
        assert {owner for owner, _ in store.claims().values()} == {"six", "five"}


def test_a_finished_poll_leaves_no_claim(tmp_path: Path, feed_server: FeedServer,
                                         database_url: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    names = ["a", "b", "c"]
    for n in names:
        feed_server.route(f"/{n}.xml", rss(n, 2))
    feed_server.route("/c.xml", Route(status=500))
    config = write_config(tmp_path, feed_server, database_url, names)
    assert main(["--config", str(config), "poll"]) == 0
    with Store(database_url) as store:
        assert store.claims() == {}
        assert store.count("items") == 4


def test_poll_skips_a_source_another_poller_holds(tmp_path: Path, feed_server: FeedServer,
                                                  database_url: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    names = ["a", "b"]
    for n in names:
        feed_server.route(f"/{n}.xml", rss(n, 2))
    config = write_config(tmp_path, feed_server, database_url, names)
    with Store(database_url) as store:
        store.sync_sources(load_config(config).sources)
        assert store.claim(["b"], datetime.now(UTC), owner="elsewhere",
                           lease=timedelta(minutes=2)) == ["b"]
    capsys.readouterr()
    assert main(["--config", str(config), "poll", "--source", "a", "--source", "b"]) == 0
    out = capsys.readouterr().out
    assert "a: new (2 new, 0 updated)" in out
    assert "b: skipped: another poller is polling it" in out
    assert feed_server.hits("/b.xml") == 0
    assert main(["--config", str(config), "status"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("b "))
    assert "being polled by elsewhere (claim until" in row


def test_shared_polling_refuses_sqlite(tmp_path: Path, feed_server: FeedServer,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, feed_server, f"sqlite:///{tmp_path / 'x.db'}", ["a"])
    for argv in (["poll", "--shared"], ["run", "--shared", "--no-serve"]):
        assert main(["--config", str(config), *argv]) == 2
        err = capsys.readouterr().err
        assert f"`aggregator {' '.join(argv[:2])}` (several pollers) needs PostgreSQL" in err
        assert "SQLite" in err
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


# -- real processes on the real PostgreSQL server ----------------------------------------------


@pytest.fixture
def many(tmp_path: Path, feed_server: FeedServer, database_url: str) -> tuple[Path, list[str]]:
    """200 feeds of 2 items each, slow enough that three pollers' passes overlap."""
    names = [f"f{i:03d}" for i in range(200)]
    for n in names:
        feed_server.route(f"/{n}.xml", Route(rss(n, 2), delay=0.25, etag=f'"{n}"'))
    return write_config(tmp_path, feed_server, database_url, names, lease="10s"), names


@POSTGRES
def test_three_pollers_fetch_each_feed_once_and_store_each_item_once(
        many: tuple[Path, list[str]], feed_server: FeedServer, database_url: str) -> None:
    config, names = many
    outs = finish([aggregator(config, "poll", "--shared") for _ in range(3)])
    assert [feed_server.hits(f"/{n}.xml") for n in names] == [1] * len(names)
    polled = Counter(line.split(":")[0] for out in outs for line in out.splitlines()
                     if ": new (" in line)
    assert sorted(polled) == names and set(polled.values()) == {1}
    assert sum(1 for out in outs if ": new (" in out) >= 2  # the work was shared
    with Store(database_url) as store:
        assert store.count("items") == 2 * len(names)
        assert store.claims() == {}
    # nothing is due for an hour: a second round of pollers fetches nothing
    finish([aggregator(config, "poll", "--shared") for _ in range(3)])
    assert sum(feed_server.hits(f"/{n}.xml") for n in names) == len(names)


@POSTGRES
def test_a_poller_killed_mid_pass_loses_and_doubles_nothing(
        many: tuple[Path, list[str]], feed_server: FeedServer, database_url: str) -> None:
    config, names = many
    pollers = [aggregator(config, "run", "--shared", "--no-serve", "--tick", "1")
               for _ in range(3)]
    victim = pollers[0]
    try:
        with Store(database_url) as store:
            deadline = time.monotonic() + 60
            while not any(owner.split(":")[1] == str(victim.pid)
                          for owner, _ in store.claims().values()):
                assert time.monotonic() < deadline, "the victim never claimed a source"
                time.sleep(0.05)
            os.kill(victim.pid, signal.SIGKILL)  # mid-pass: it holds claims, fetches in flight
            victim.communicate(timeout=10)  # reaped, its pipe closed
            # its claims lapse after claim_lease (10s); the others take those sources over
            deadline = time.monotonic() + 90
            while store.count("items") < 2 * len(names) or store.claims():
                assert time.monotonic() < deadline, (store.count("items"), store.claims())
                time.sleep(0.2)
            assert store.count("items") == 2 * len(names)  # nothing lost, nothing doubled
            assert store.count("stories") == 2 * len(names)
            assert all(s.last_outcome == "new" for s in store.source_status())
    finally:
        for proc in pollers[1:]:
            proc.send_signal(signal.SIGTERM)
        outs = [proc.communicate(timeout=60)[0] for proc in pollers[1:]]
    assert [proc.returncode for proc in pollers[1:]] == [0, 0], outs
    assert all(feed_server.hits(f"/{n}.xml") >= 1 for n in names)


@POSTGRES
def test_one_story_told_through_two_pollers_at_once_is_one_story(
        tmp_path: Path, feed_server: FeedServer, database_url: str) -> None:
    """Each poller warms its clusterer on a quick feed first, then both store the two
    reports of each story at about the same moment: without the story lock and the catch-up
    on what the other stored, each would start a story of its own."""
    pairs = 5
    names = ["p1", "p2"] + [f"{side}{i}" for i in range(pairs) for side in "ab"]
    feed_server.route("/p1.xml", rss("p1", 1))
    feed_server.route("/p2.xml", rss("p2", 1))
    headlines = ["Earthquake of magnitude 6 shakes the northern coast overnight",
                 "Parliament passes the budget after a marathon session",
                 "Central bank raises interest rates by half a point",
                 "Wildfires force thousands to leave their homes in the south",
                 "National team wins the regional football championship final"]
    for i, title in enumerate(headlines[:pairs]):
        for side in "ab":
            feed_server.route(f"/{side}{i}.xml", Route(rss(f"{side}{i}", 1, title=title),
                                                       delay=2.0))
    config = write_config(tmp_path, feed_server, database_url, names)
    first = ["--source", "p1", *(f"--source=a{i}" for i in range(pairs))]
    second = ["--source", "p2", *(f"--source=b{i}" for i in range(pairs))]
    finish([aggregator(config, "poll", "--shared", *first),
            aggregator(config, "poll", "--shared", *second)])
    with Store(database_url) as store:
        assert store.count("items") == 2 * pairs + 2
        assert store.count("stories") == pairs + 2
        since = datetime(2026, 11, 1, tzinfo=UTC)
        grouped = [len(s.items) for s in store.recent_stories(since)]
        assert sorted(grouped) == [1, 1] + [2] * pairs


@POSTGRES
def test_publishing_waits_for_the_other_publisher(database_url: str) -> None:
    """The publish lock: a second node waits for the first, then publishes itself."""
    import threading

    with Store(database_url) as one, Store(database_url) as two:
        order: list[str] = []
        with one.publish_lock():
            thread = threading.Thread(target=lambda: _publish(two, order))
            thread.start()
            time.sleep(0.5)
            order.append("first done")
        thread.join(timeout=10)
    assert order == ["first done", "second"]


def _publish(store: Store, order: list[str]) -> None:
    with store.publish_lock():
        order.append("second")


@POSTGRES
def test_two_web_nodes_answer_the_same_etags(tmp_path: Path, feed_server: FeedServer,
                                             database_url: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Two `serve` processes over one database and one output folder: a load balancer may
    send a reader's conditional request to either and still get its 304."""
    names = ["a", "b"]
    for n in names:
        feed_server.route(f"/{n}.xml", rss(n, 3))
    config = write_config(tmp_path, feed_server, database_url, names)
    assert main(["--config", str(config), "poll"]) == 0
    ports = [_free_port(), _free_port()]
    nodes = [aggregator(config, "serve", "--port", str(port)) for port in ports]
    try:
        paths = ["/", "/sections/all", "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json",
                 "/opml/sources.opml", "/status"]
        with httpx.Client(timeout=5) as client:
            for port in ports:
                _wait_for(client, port)
            for path in paths:
                one, two = (client.get(f"http://127.0.0.1:{p}{path}") for p in ports)
                assert one.status_code == two.status_code == 200, path
                assert one.headers["etag"] == two.headers["etag"], path
                assert one.content == two.content, path
                again = client.get(f"http://127.0.0.1:{ports[1]}{path}",
                                   headers={"If-None-Match": one.headers["etag"]})
                assert again.status_code == 304, path
    finally:
        for node in nodes:
            node.send_signal(signal.SIGTERM)
            node.communicate(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(client: httpx.Client, port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            client.get(f"http://127.0.0.1:{port}/")
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"serve on port {port} never answered"
            time.sleep(0.1)


@POSTGRES
def test_a_pass_published_by_another_node_is_not_published_twice(
        tmp_path: Path, feed_server: FeedServer, database_url: str) -> None:
    """Publishing after a pass is skipped when another node began publishing after the
    pass's last write (its files hold our rows); a new configuration publishes anyway."""
    from aggregator.publish import PUBLISHED_STAMP, publish_after_pass

    names = ["a"]
    feed_server.route("/a.xml", rss("a", 3))
    config = load_config(write_config(tmp_path, feed_server, database_url, names))
    now = datetime.now(UTC)
    with Store(database_url) as store:
        store.sync_sources(config.sources)
        stored_at = store.clock()  # this node's pass ended here
        other = publish_after_pass(config, store, now, store.clock())  # another node
        assert other is not None and other[0].stories == 0
        stamp = config.settings.output_dir / PUBLISHED_STAMP
        assert datetime.fromisoformat(stamp.read_text()) > stored_at
        assert publish_after_pass(config, store, now, stored_at) is None
        assert publish_after_pass(config, store, now, stored_at, force=True) is not None
        assert publish_after_pass(config, store, now, store.clock()) is not None

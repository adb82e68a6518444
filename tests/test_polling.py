"""Polling rules against a real HTTP server, with an injected clock (no test sleeps to
wait for a schedule): hints, backoff, 410, network down, redirects, conditional GET,
retention, and the cron lock."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer, Route

from aggregator.cli import main
from aggregator.config import Config, load_config
from aggregator.models import PollOutcome
from aggregator.pipeline import QUIET_BATCH, Poller
from aggregator.pipeline.schedule import Hints, next_check
from aggregator.publish import publish_and_prune
from aggregator.store import Store

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><guid>1</guid><title>Kyiv talks</title><link>http://o.example/1</link>"
        b"<pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make_config(tmp_path: Path, sources: dict[str, str], database: str | None = None,
                extra: str = "") -> Config:
    lines = ["settings:", f"  database: {database or 'sqlite:///db.sqlite'}",
             "  default_interval: 30m", "  timeout: 5s", *extra.splitlines(), "sources:"]
    lines += [f"  - {{id: {sid}, url: '{url}'}}" for sid, url in sources.items()]
    lines += ["topics: {ukraine: {terms: [Kyiv]}}",
              "sections: [{id: ukraine, title: Ukraine, topics: [ukraine]}]"]
    (tmp_path / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(tmp_path / "feeds.yaml")


def dead_url() -> str:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/feed"


class Harness:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = Clock()
        self.store = Store(config.settings.database)
        self.store.sync_sources(config.sources)

    def poll(self, *, all_sources: bool = False) -> dict[str, PollOutcome]:
        poller = Poller(self.config, self.store, clock=self.clock, random=lambda: 0.0)
        return {o.source_id: o for o in poller.run(poller.due(all_sources=all_sources))}

    def status(self, source_id: str):  # type: ignore[no-untyped-def]
        return next(r for r in self.store.source_status() if r.id == source_id)

    def wait(self, source_id: str) -> timedelta:
        return self.status(source_id).next_check_at - self.clock.now

    def advance_to_due(self, source_id: str) -> None:
        self.clock.now = self.status(source_id).next_check_at


@pytest.fixture
def make(tmp_path: Path):  # type: ignore[no-untyped-def]
    stores: list[Store] = []

    def build(sources: dict[str, str], **kw: str) -> Harness:
        harness = Harness(make_config(tmp_path, sources, **kw))
        stores.append(harness.store)
        return harness

    yield build
    for store in stores:
        store.close()


# -- the rule itself (pure) ----------------------------------------------------------------------


def rule(**kw: object) -> timedelta:
    args = dict(interval=timedelta(minutes=30), min_interval=timedelta(minutes=5),
                max_interval=timedelta(hours=24)) | kw
    return next_check(T0, **args) - T0  # type: ignore[arg-type]


def test_the_largest_hint_wins_within_the_clamp() -> None:
    assert rule() == timedelta(minutes=30)
    assert rule(hints=Hints(ttl_minutes=60)) == timedelta(hours=1)
    assert rule(hints=Hints(cache_control="public, max-age=5400")) == timedelta(minutes=90)
    assert rule(hints=Hints(expires="Sat, 28 Nov 2026 15:00:00 GMT")) == timedelta(hours=3)
    assert rule(hints=Hints(retry_after=7200, ttl_minutes=60)) == timedelta(hours=2)
    assert rule(hints=Hints(cache_control="max-age=999999")) == timedelta(hours=24)
    assert rule(interval=timedelta(minutes=1)) == timedelta(minutes=5)
    assert rule(hints=Hints(cache_control="no-store, max-age=9000")) == timedelta(minutes=30)


def test_jitter_stays_within_its_share() -> None:
    assert rule(jitter=0.1, random=lambda: 0.0) == timedelta(minutes=30)
    assert rule(jitter=0.1, random=lambda: 0.999) < timedelta(minutes=33)
    assert rule(jitter=0.1, random=lambda: 0.5) == timedelta(minutes=31, seconds=30)


def test_backoff_doubles_to_the_cap_and_never_stops() -> None:
    waits = [rule(consecutive_errors=n) for n in range(1, 9)]
    assert waits[:4] == [timedelta(minutes=m) for m in (30, 60, 120, 240)]
    assert waits[-1] == timedelta(hours=24) and rule(consecutive_errors=500) == timedelta(hours=24)


# -- against the server --------------------------------------------------------------------------


def test_errors_back_off_and_a_success_resets(make, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    feed_server.route("/f", [Route(status=500)] * 4 + [Route(body=FEED)])
    h = make({"s": feed_server.url("/f")})
    expected = [30, 60, 120, 240]
    for minutes in expected:
        assert h.poll()["s"].outcome == "error"
        assert h.wait("s") == timedelta(minutes=minutes)
        assert h.poll() == {}  # not due yet: nothing fetched
        h.advance_to_due("s")
    status = h.status("s")
    assert status.consecutive_errors == 4 and status.error_since == T0
    assert "HTTP 500" in (status.last_error or "")
    assert h.poll()["s"].outcome == "new"
    assert h.status("s").consecutive_errors == 0 and h.wait("s") == timedelta(minutes=30)
    assert feed_server.hits("/f") == 5


def test_retry_after_and_cache_hints_are_obeyed(make, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    feed_server.route("/busy", Route(status=429, headers={"Retry-After": "10800"}))
    feed_server.route("/cached", Route(body=FEED, headers={"Cache-Control": "max-age=7200"}))
    # two hosts: a 429 holds back the other sources of its own host (next test)
    h = make({"busy": feed_server.url("/busy"),
              "cached": feed_server.url("/cached").replace("127.0.0.1", "localhost")})
    h.poll()
    assert h.wait("busy") == timedelta(hours=3)
    assert h.wait("cached") == timedelta(hours=2)


@pytest.mark.parametrize(("status", "retry_after", "wait"), [
    (429, "3600", timedelta(hours=1)),  # the host's time, not the sources' 30 minutes
    (503, "3600", timedelta(hours=1)),
    (429, None, timedelta(minutes=30)),  # held for the pass; then each source's interval
])
def test_a_host_that_says_wait_gets_no_more_requests_in_the_pass(
        make, feed_server: FeedServer, status: int, retry_after: str | None,  # type: ignore[no-untyped-def]
        wait: timedelta) -> None:
    """Five sources on one host, asked one at a time: the first answer is 429 (or 503 with
    Retry-After) and the other four are not requested at all. They are not at fault: no
    error is counted against them, and they come back when the host said to."""
    headers = {"Retry-After": retry_after} if retry_after else {}
    ids = [f"s{i}" for i in range(5)]
    for sid in ids:
        feed_server.route(f"/{sid}", Route(status=status, headers=headers))
    feed_server.route("/elsewhere", FEED)
    h = make({**{sid: feed_server.url(f"/{sid}") for sid in ids},
              "elsewhere": feed_server.url("/elsewhere").replace("127.0.0.1", "localhost")},
             extra="  per_host_concurrency: 1")
    outcomes = h.poll()
    asked = [sid for sid in ids if feed_server.hits(f"/{sid}")]
    assert len(asked) == 1 and feed_server.hits(f"/{asked[0]}") == 1
    assert outcomes["elsewhere"].outcome == "new"  # another host is asked as usual
    assert outcomes[asked[0]].counted and h.status(asked[0]).consecutive_errors == 1
    for sid in set(ids) - set(asked):
        outcome = outcomes[sid]
        assert outcome.outcome == "error" and not outcome.counted, outcome
        assert f"answered HTTP {status} to another of its sources" in (outcome.error or "")
        assert h.status(sid).consecutive_errors == 0
        assert timedelta(0) <= wait - h.wait(sid) < timedelta(seconds=30)
    # The next pass asks the host again: one request, as long as it keeps saying wait.
    h.clock.now += timedelta(hours=1)
    h.poll()
    assert sum(feed_server.hits(f"/{sid}") for sid in ids) == 2


def test_gone_retires_the_source_until_its_entry_changes(make, feed_server: FeedServer,
                                                          tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    feed_server.route("/gone", Route(status=410))
    h = make({"gone": feed_server.url("/gone")})
    assert h.poll()["gone"].status == 410
    assert h.status("gone").retired
    h.clock.now += timedelta(days=3)
    assert h.poll(all_sources=True) == {}  # not even --all polls a retired source
    assert feed_server.hits("/gone") == 1
    # The operator edits the entry: the source is polled again.
    config = make_config(tmp_path, {"gone": feed_server.url("/gone")}).sources[0]
    from dataclasses import replace
    h.store.sync_sources([replace(config, interval=timedelta(hours=1))])
    assert not h.status("gone").retired
    h.poll()
    assert feed_server.hits("/gone") == 2


def test_network_down_is_not_held_against_sources(make, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    h = make({"a": dead_url(), "b": dead_url()})
    outcomes = h.poll()
    assert all(o.outcome == "error" and not o.counted for o in outcomes.values())
    assert h.status("a").consecutive_errors == 0 and h.wait("a") == timedelta(minutes=30)
    feed_server.route("/ok", FEED)
    h2 = make({"a": dead_url(), "ok": feed_server.url("/ok")})
    h2.clock.now += timedelta(hours=1)
    outcome = h2.poll()["a"]
    assert outcome.counted and h2.status("a").consecutive_errors >= 1


def test_permanent_redirect_is_adopted_after_three_polls(make, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    feed_server.route("/old", Route(status=301, headers={"Location": "/new"}))
    feed_server.route("/new", FEED)
    h = make({"s": feed_server.url("/old")})
    for _ in range(2):
        h.poll()
        h.advance_to_due("s")
        assert h.store.source_states(["s"])["s"].url == feed_server.url("/old")
    h.poll()
    assert h.store.source_states(["s"])["s"].url == feed_server.url("/new")
    assert h.status("s").moved_to == feed_server.url("/new")
    h.advance_to_due("s")
    h.poll()
    assert feed_server.hits("/old") == 3 and feed_server.hits("/new") == 4


def test_temporary_redirect_changes_nothing(make, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    feed_server.route("/old", Route(status=307, headers={"Location": "/new"}))
    feed_server.route("/new", FEED)
    h = make({"s": feed_server.url("/old")})
    for _ in range(4):
        h.poll()
        h.advance_to_due("s")
    assert h.store.source_states(["s"])["s"].url == feed_server.url("/old")
    assert h.status("s").moved_to is None and h.status("s").redirect_url is None


def test_not_modified_and_unchanged_bodies_skip_parsing(make, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    feed_server.route("/etag", FEED, etag='"abc"')
    feed_server.route("/plain", FEED)
    h = make({"etag": feed_server.url("/etag"), "plain": feed_server.url("/plain")})
    first = h.poll(all_sources=True)
    assert first["etag"].outcome == first["plain"].outcome == "new"
    second = h.poll(all_sources=True)
    assert second["etag"].outcome == "not_modified" and second["etag"].seen == 0
    assert second["plain"].outcome == "unchanged" and second["plain"].seen == 0
    assert feed_server.requests("/etag")[1]["If-None-Match"] == '"abc"'


def test_not_modified_sources_are_written_while_the_pass_still_fetches(
        make, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    """A 304's polling state is written as the pass goes, QUIET_BATCH at a time, not once it
    has fetched everything: a source kept pending does not hold back the others' writes,
    and the writes that remain when it answers are made before the pass returns."""
    feed_server.route("/slow", FEED, etag='"slow"')
    quick = {f"q{n}": f"/q{n}" for n in range(QUIET_BATCH + 7)}
    for path in quick.values():
        feed_server.route(path, FEED, etag='"q"')
    h = make({"slow": feed_server.url("/slow"),
              **{sid: feed_server.url(path) for sid, path in quick.items()}},
             extra="  per_host_concurrency: 4")
    assert {o.outcome for o in h.poll(all_sources=True).values()} == {"new"}
    gate = threading.Event()
    feed_server.route("/slow", Route(FEED, etag='"slow"', gate=gate))
    h.clock.now += timedelta(hours=1)

    def written() -> set[str]:
        return {r.id for r in h.store.source_status() if r.last_poll_at == h.clock.now}

    outcomes: dict[str, PollOutcome] = {}
    second = threading.Thread(target=lambda: outcomes.update(h.poll(all_sources=True)))
    second.start()
    try:
        # An upper bound, left as soon as the writes are seen: below the 5 s the pending
        # request may take before it times out (and the pass ends, writing everything).
        deadline = time.monotonic() + 4
        while len(written()) < QUIET_BATCH and time.monotonic() < deadline:
            time.sleep(0.01)
        early = written()
        assert len(early) >= QUIET_BATCH and "slow" not in early and second.is_alive()
    finally:
        gate.set()
        second.join()
    assert {o.outcome for o in outcomes.values()} == {"not_modified"}
    assert written() == {"slow", *quick}
    logged = [p.source_id for p in h.store.recent_polls(limit=1000)
              if p.outcome == "not_modified"]
    assert sorted(logged) == sorted(["slow", *quick])  # one line each, none twice


def test_retention_removes_old_unshown_items_for_good(make, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    shown = FEED
    other = FEED.replace(b"<guid>1</guid><title>Kyiv talks</title>",
                         b"<guid>2</guid><title>Harbour news</title>").replace(b"/1<", b"/2<")
    feed_server.route("/a", shown)
    feed_server.route("/b", other)
    h = make({"a": feed_server.url("/a"), "b": feed_server.url("/b")},
             extra="  retention: 30d")
    h.poll()
    assert h.store.count("items") == 2
    h.clock.now = T0 + timedelta(days=45)
    publish_and_prune(h.config, h.store, h.clock.now)
    assert h.store.count("items") == 1  # the Kyiv item is still shown by a section
    h.poll(all_sources=True)
    assert h.store.count("items") == 1  # the pruned one does not come back


def test_two_polls_at_once_fetch_each_source_once(tmp_path: Path,
                                                  feed_server: FeedServer) -> None:
    sources = {}
    for i in range(4):
        feed_server.route(f"/slow{i}", Route(body=FEED, delay=1.5))
        sources[f"s{i}"] = feed_server.url(f"/slow{i}")
    make_config(tmp_path, sources)
    command = [sys.executable, "-m", "aggregator", "--config", str(tmp_path / "feeds.yaml"),
               "poll", "--all"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    import time
    deadline = time.monotonic() + 10
    while feed_server.hits("/slow0") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    out, _ = first.communicate(timeout=30)
    assert first.returncode == 0 and second.returncode == 0
    assert second.stdout.strip() == "another poll is running; nothing to do"
    assert "total: 4 sources polled" in out
    assert [feed_server.hits(f"/slow{i}") for i in range(4)] == [1, 1, 1, 1]


def test_poll_lock_on_postgres(database_url: str) -> None:
    with Store(database_url) as a, Store(database_url) as b, a.poll_lock() as got_a:
        assert got_a
        with b.poll_lock() as got_b:
            assert not got_b
    with Store(database_url) as c, c.poll_lock() as again:
        assert again


def test_a_host_that_said_wait_is_left_alone_by_the_next_passes(
        make, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    """A later pass (the next cron run, the next tick of `run`) does not ask a host that
    answered 429 for another of its sources either, until the one told to wait is due."""
    feed_server.route("/a", Route(status=429, headers={"Retry-After": "3600"}))
    feed_server.route("/b", FEED)
    h = make({"a": feed_server.url("/a"), "b": feed_server.url("/b")})

    def poll(ids: list[str]) -> dict[str, PollOutcome]:
        poller = Poller(h.config, h.store, clock=h.clock, random=lambda: 0.0)
        return {o.source_id: o for o in poller.run(ids)}

    assert poll(["a"])["a"].status == 429
    h.clock.now += timedelta(minutes=10)
    deferred = poll(["b"])["b"]
    assert feed_server.hits("/b") == 0 and not deferred.counted
    assert "answered HTTP 429 to another of its sources 600s ago; left alone for 3000s more" \
        in (deferred.error or "")
    assert timedelta(minutes=50) <= h.wait("b") <= timedelta(minutes=50, seconds=1)
    assert h.status("b").consecutive_errors == 0
    feed_server.route("/a", FEED)  # the host has calmed down by the time it said
    h.clock.now = T0 + timedelta(hours=1)
    outcomes = poll(["a", "b"])
    assert outcomes["a"].outcome == outcomes["b"].outcome == "new"


@pytest.mark.parametrize(("status", "retry_after", "held"), [
    (429, "120", False),  # asked for 2 minutes: not the source's 30-minute interval
    (503, "3600", True),  # a site down for maintenance, back in an hour
    (503, None, False),  # that feed's trouble: nothing said about the host
])
def test_the_next_pass_holds_a_host_as_long_as_it_said(  # type: ignore[no-untyped-def]
        make, feed_server: FeedServer, status: int, retry_after: str | None,
        held: bool) -> None:
    """Ten minutes after a host answered one source, another source of that host falls due:
    it is left alone only while the host's own Retry-After runs."""
    headers = {"Retry-After": retry_after} if retry_after else {}
    feed_server.route("/a", Route(status=status, headers=headers))
    feed_server.route("/b", FEED)
    h = make({"a": feed_server.url("/a"), "b": feed_server.url("/b")})

    def poll(ids: list[str]) -> dict[str, PollOutcome]:
        poller = Poller(h.config, h.store, clock=h.clock, random=lambda: 0.0)
        return {o.source_id: o for o in poller.run(ids)}

    assert poll(["a"])["a"].status == status
    assert h.wait("a") >= timedelta(minutes=30)  # its next check: the interval at least
    h.clock.now += timedelta(minutes=10)
    b = poll(["b"])["b"]
    if held:
        assert feed_server.hits("/b") == 0 and not b.counted
        assert b.error == (f"not requested: 127.0.0.1 answered HTTP {status} to another of "
                           "its sources 600s ago; left alone for 3000s more")
    else:
        assert feed_server.hits("/b") == 1 and b.outcome == "new"


def test_poll_and_status_say_which_sources_a_host_held_back(
        feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for sid in ("a", "b", "c"):
        feed_server.route(f"/{sid}", Route(status=429, headers={"Retry-After": "600"}))
    make_config(tmp_path, {sid: feed_server.url(f"/{sid}") for sid in "abc"},
                extra="  per_host_concurrency: 1")
    config = ["--config", str(tmp_path / "feeds.yaml")]
    assert main([*config, "poll"]) == 0
    out = capsys.readouterr().out
    assert out.count("error: HTTP 429") == 1 and out.count("error: not requested: ") == 2
    assert "network looks down" not in out
    assert main([*config, "status"]) == 0
    out = capsys.readouterr().out
    assert out.count("answered HTTP 429 to another of its sources") == 2
    assert out.count("failing since") == 1  # the one that was asked
    assert "3 sources: 0 healthy, 1 failing, 0 retired, 0 disabled, 0 new, 2 waiting" in out


def test_status_shows_failing_retired_and_moved(make, feed_server: FeedServer, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    feed_server.route("/gone", Route(status=410))
    feed_server.route("/bad", Route(status=503))
    feed_server.route("/ok", FEED)
    h = make({"gone": feed_server.url("/gone"), "bad": feed_server.url("/bad"),
              "ok": feed_server.url("/ok")})
    h.poll()
    assert main(["--config", str(tmp_path / "feeds.yaml"), "status"]) == 0
    out = capsys.readouterr().out
    assert "410 Gone: not polled until its entry in feeds.yaml is changed" in out
    assert "HTTP 503" in out and "failing since 2026-11-28 12:00" in out
    assert "3 sources: 1 healthy, 1 failing, 1 retired" in out


@pytest.mark.parametrize(("limits", "expected"), [
    ("  per_host_concurrency: 2", 2),
    ("  per_host_concurrency: 10\n  max_concurrency: 3", 3),
])
def test_concurrency_limits_hold(make, feed_server: FeedServer, limits: str,  # type: ignore[no-untyped-def]
                                 expected: int) -> None:
    sources = {}
    for i in range(6):
        feed_server.route(f"/f{i}", Route(body=FEED, delay=0.4))
        sources[f"s{i}"] = feed_server.url(f"/f{i}")
    h = make(sources, extra=limits)
    assert len(h.poll()) == 6
    assert feed_server.max_in_flight == expected


_PASS_PROBE = """
import sys
from aggregator import pipeline
from aggregator.cli import main

run = pipeline.Poller.run
def probed(self, *args, **kwargs):
    outcomes = run(self, *args, **kwargs)
    print("publishing loaded during the pass:", "aggregator.publish" in sys.modules)
    return outcomes
pipeline.Poller.run = probed
status = main(sys.argv[1:])
print("publishing loaded at the end:", "aggregator.publish" in sys.modules)
sys.exit(status)
"""


def test_a_cron_poll_loads_publishing_after_its_pass(tmp_path: Path,
                                                      feed_server: FeedServer) -> None:
    """`aggregator poll` imports publishing's modules (Jinja among them) once its pass is
    over, so they reuse what the story window gave back instead of adding to the pass's
    peak; and not at all when the pass stored nothing and the outputs are in place."""
    feed_server.route("/a", FEED)
    make_config(tmp_path, {"a": feed_server.url("/a")})
    command = [sys.executable, "-c", _PASS_PROBE, "--config", str(tmp_path / "feeds.yaml"),
               "poll", "--all"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert "publishing loaded during the pass: False" in first.stdout
    assert "publishing loaded at the end: True" in first.stdout  # it published
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert "not modified" in again.stdout or "unchanged" in again.stdout
    assert "publishing loaded at the end: False" in again.stdout

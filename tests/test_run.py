"""`aggregator run` as a user starts it: a real process polling a real HTTP server,
serving its feeds, picking up feeds.yaml edits, and stopping cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from feedserver import FeedServer

CONFIG = """\
settings:
  database: sqlite:///data/db.sqlite
  output_dir: public
  base_url: http://127.0.0.1:{port}/
  default_interval: 30m
sources:
{sources}
topics:
  ukraine: {{terms: [Kyiv, كييف, Ukraine]}}
  iran: {{terms: [Iran, إيران]}}
sections:
  - {{id: ukraine, title: Ukraine, topics: [ukraine]}}
  - {{id: iran, title: Iran, topics: [iran]}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def write(path: Path, port: int, sources: dict[str, str]) -> None:
    lines = "\n".join(f"  - {{id: {sid}, url: '{url}'}}" for sid, url in sources.items())
    path.write_text(CONFIG.format(port=port, sources=lines), encoding="utf-8")


@pytest.fixture
def running(tmp_path: Path, feed_server: FeedServer) -> Iterator[tuple[subprocess.Popen[str],
                                                                       Path, int]]:
    feed_server.serve_file("/en.xml", "rss20_en.xml")
    feed_server.serve_file("/ar.xml", "rss20_ar.xml")
    port = free_port()
    config = tmp_path / "feeds.yaml"
    write(config, port, {"wire-one": feed_server.url("/en.xml")})
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "run", "--port",
         str(port), "--tick", "0.3"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        yield proc, config, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def entries(port: int, section: str) -> list[str]:
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/feeds/{section}.atom", timeout=2)
    except httpx.TransportError:
        return []
    return [e.title for e in feedparser.parse(r.content).entries] if r.status_code == 200 else []


def related(port: int, section: str) -> str:
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/feeds/{section}.atom", timeout=2)
    except httpx.TransportError:
        return ""
    return " ".join(link.href for e in feedparser.parse(r.content).entries for link in e.links
                    if link.rel == "related")


def test_run_polls_serves_reloads_and_stops(running: tuple[subprocess.Popen[str], Path, int],
                                            feed_server: FeedServer) -> None:
    proc, config, port = running
    wait_for(lambda: any("Kyiv" in t for t in entries(port, "ukraine")))
    # the sections are written one after the other: the second may land a moment later
    wait_for(lambda: entries(port, "iran") == [
        "Iran and European powers resume nuclear talks in Vienna"])
    assert feed_server.hits("/en.xml") == 1  # not due again for 30 minutes

    # An invalid edit is refused; the running configuration carries on.
    config.write_text(config.read_text(encoding="utf-8").replace("30m", "thirty"),
                      encoding="utf-8")
    time.sleep(1.0)
    assert proc.poll() is None
    # A valid edit adds a source, polled at the next tick.
    write(config, port, {"wire-one": feed_server.url("/en.xml"),
                         "almarsad": feed_server.url("/ar.xml")})
    # almarsad's Arabic report joins the English story as a related link (issue 5)
    wait_for(lambda: "almarsad.example" in related(port, "iran"))
    assert feed_server.hits("/en.xml") == 1

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    log = proc.stdout.read() if proc.stdout else ""
    assert "feeds.yaml:5: settings.default_interval:" in log
    assert "configuration reloaded" in log

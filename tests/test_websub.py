"""WebSub against a hub stub on 127.0.0.1: rel=hub in the feeds, a ping per changed feed,
failed pings retried at the next publish, and publishing never held up by the hub."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
from feedserver import FeedServer

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.publish import publish_all
from aggregator.store import Store


class Hub:
    """Records publish pings; answers the statuses it is given, in turn (the last repeats)."""

    def __init__(self) -> None:
        self.pings: list[dict[str, list[str]]] = []
        self.statuses = [204]
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = hub.statuses[min(len(hub.pings), len(hub.statuses) - 1)]
                hub.pings.append(parse_qs(body.decode()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def urls(self) -> list[str]:
        return sorted(u for ping in self.pings for u in ping["hub.url"])


@pytest.fixture
def hub() -> Iterator[Hub]:
    stub = Hub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def config_file(tmp_path: Path, feed_server: FeedServer, hub_url: str) -> Path:
    feed_server.serve_file("/en.xml", "rss20_en.xml")
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "settings:\n  database: sqlite:///db.sqlite\n  base_url: https://news.example/\n"
        f"  websub_hub: {hub_url}\n"
        f"sources: [{{id: wire, url: '{feed_server.url('/en.xml')}'}}]\n"
        "topics: {ukraine: {terms: [Kyiv]}, iran: {terms: [Iran]}}\n"
        "sections:\n  - {id: ukraine, title: Ukraine, topics: [ukraine]}\n"
        "  - {id: iran, title: Iran, topics: [iran]}\n", encoding="utf-8")
    return path


def test_changed_feeds_are_pinged_once(tmp_path: Path, feed_server: FeedServer, hub: Hub,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = config_file(tmp_path, feed_server, hub.url)
    assert main(["--config", str(config), "poll", "--all"]) == 0
    feed = feedparser.parse((tmp_path / "public" / "ukraine.atom").read_bytes())
    assert any(link.rel == "hub" and link.href == hub.url for link in feed.feed.links)
    assert all(p["hub.mode"] == ["publish"] for p in hub.pings)
    rss = feedparser.parse((tmp_path / "public" / "ukraine.rss").read_bytes())
    assert any(link.rel == "hub" and link.href == hub.url for link in rss.feed.links)
    import json
    data = json.loads((tmp_path / "public" / "ukraine.json").read_text(encoding="utf-8"))
    assert data["hubs"] == [{"type": "WebSub", "url": hub.url}]
    assert hub.urls() == [f"https://news.example/feeds/{s}.{fmt}" for s in ("iran", "ukraine")
                          for fmt in ("atom", "json", "rss")]
    assert main(["--config", str(config), "poll", "--all"]) == 0  # nothing new: no ping
    assert len(hub.pings) == 6


def test_failed_pings_are_retried_and_never_block(tmp_path: Path, feed_server: FeedServer,
                                                  hub: Hub) -> None:
    hub.statuses = [500] * 6 + [204]  # the first publish: every ping fails
    config = load_config(config_file(tmp_path, feed_server, hub.url))
    assert main(["--config", str(config.path), "poll", "--all"]) == 0
    assert (tmp_path / "public" / "ukraine.atom").exists()  # published despite the hub
    pending = (tmp_path / "public" / ".websub-pending").read_text(encoding="utf-8")
    assert "ukraine.atom" in pending and "iran.atom" in pending
    with Store(config.settings.database) as store:
        publish_all(config, store)  # nothing changed, but the pending pings go out again
    assert hub.urls().count("https://news.example/feeds/ukraine.atom") == 2
    assert (tmp_path / "public" / ".websub-pending").read_text(encoding="utf-8") == "[]"


def test_unreachable_hub_is_logged_not_raised(tmp_path: Path, feed_server: FeedServer) -> None:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hub"
    config = config_file(tmp_path, feed_server, dead)
    assert main(["--config", str(config), "poll", "--all"]) == 0
    assert "ukraine.atom" in (tmp_path / "public" / ".websub-pending").read_text(
        encoding="utf-8")

"""A published site for the output tests (feeds, OPML, pages, HTTP, browser): the end-to-end
fixture feeds polled once into SQLite, plus an outlet with hostile titles and a source
that answers 410 Gone, and a real HTTP server for it (uvicorn in a thread)."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from feedserver import FeedServer, Route
from test_e2e import BAD, GOOD, write_config

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.web.app import OutputApp

# Markup in a title (double-escaped in the feed, so it survives as text), an event handler,
# a script and a relative link in the description.
HOSTILE_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>https://hostile.example/</link>
<description>x</description><language>en</language>
<item><title>Kyiv &amp;lt;script&amp;gt;alert("t")&amp;lt;/script&amp;gt; &amp;amp; "quotes"</title>
<link>https://hostile.example/a?x=1&amp;y=2</link><guid isPermaLink="false">h-1</guid>
<description>&lt;p onclick="steal()"&gt;Ukraine: see &lt;a href="/relative/page"&gt;this&lt;/a&gt;
&lt;script&gt;alert(2)&lt;/script&gt;&lt;/p&gt;</description>
<pubDate>Tue, 24 Nov 2026 06:00:00 GMT</pubDate></item>
</channel></rss>
"""
HOSTILE_OUTLET = "<i>Evil</i> & Co"
DESCRIPTION = "War <b>news</b> & analysis"


@dataclass(frozen=True)
class Site:
    config: Path  # feeds.yaml
    public: Path  # the output folder
    base: str  # base_url, ending in "/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_site(folder: Path, base_url: str = "https://news.example/") -> Site:
    """Poll the fixture feeds once (which publishes) into `folder`."""
    server = FeedServer()
    try:
        for sid, name in {**GOOD, **BAD}.items():
            server.serve_file(f"/{sid}.xml", name)
        server.route("/http-500.xml", Route(status=500, body=b"boom"))
        server.route("/hostile.xml", HOSTILE_FEED.encode("utf-8"))
        server.route("/gone.xml", Route(status=410, body=b"gone"))
        config = write_config(folder, server, f"sqlite:///{folder / 'db.sqlite'}")
        text = config.read_text(encoding="utf-8").replace(
            "  base_url: https://news.example/", f"  base_url: {base_url}").replace(
            "sources:\n",
            "sources:\n"
            f"  - {{id: hostile, url: '{server.url('/hostile.xml')}', "
            f"title: '{HOSTILE_OUTLET}'}}\n"
            f"  - {{id: gone, url: '{server.url('/gone.xml')}'}}\n").replace(
            "{id: ukraine, title: Ukraine, topics: [ukraine]}",
            f"{{id: ukraine, title: Ukraine, topics: [ukraine], description: '{DESCRIPTION}'}}")
        config.write_text(text, encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["--config", str(config), "poll", "--all"]) == 0
    finally:
        server.close()
    return Site(config, folder / "public", base_url)


@contextlib.contextmanager
def serving(config: Path, port: int | None = None) -> Iterator[str]:
    """`aggregator serve`'s app on 127.0.0.1; yields its address (no trailing slash)."""
    loaded = load_config(config)
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(OutputApp(lambda: loaded), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()

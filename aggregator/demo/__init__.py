"""`aggregator demo`: the whole product in one command on a machine with no internet.

It serves the bundled sample feeds (written for this project: six outlets in Arabic,
English and French telling overlapping stories) from 127.0.0.1, aggregates them with a
bundled configuration into a temporary folder, and serves the site and the feeds.
"""

from __future__ import annotations

import http.server
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FEEDS = Path(__file__).parent / "feeds"
OUTLETS = {  # source id: (file, title)
    "wire-one": ("rss20_en.xml", "Wire One"),
    "almarsad": ("rss20_ar.xml", "المرصد الإخباري"),
    "nafitha": ("rss20_ar_variants.xml", "نافذة الشرق"),
    "albareed": ("rss20_ar_cp1256.xml", "البريد العربي"),
    "ledger": ("rss10.rdf", "The Northern Ledger"),
    "crossroads": ("atom10.xml", "Crossroads"),
}
CONFIG = """\
# The demo's configuration, written by `aggregator demo`.
settings:
  database: sqlite:///data/demo.db
  output_dir: public
  base_url: {site}
  default_interval: 30m
sources:
{sources}
topics:
  ukraine:
    title: أوكرانيا
    terms: [أوكرانيا, كييف, زيلينسكي, الكرملين, Ukraine, Kyiv, Zelensky, Kremlin]
  iran:
    title: إيران
    terms: [إيران, طهران, Iran, Tehran, Iranian]
  middle-east:
    title: الشرق الأوسط
    terms: [غزة, رفح, الأردن, Gaza, Rafah, Jordan]
  us-politics:
    title: US politics
    terms: [Congress, White House, House passes, Senate, الكونغرس]
  economy:
    title: اقتصاد
    terms: [أسعار الفائدة, النفط, الطاقة الشمسية, central bank, marchés, Markets]
sections:
  - {{id: ukraine, title: الحرب في أوكرانيا, topics: [ukraine]}}
  - {{id: iran, title: إيران, topics: [iran]}}
  - {{id: middle-east, title: الشرق الأوسط, topics: [middle-east, iran]}}
  - {{id: us-politics, title: US politics, topics: [us-politics]}}
  - {{id: economy, title: اقتصاد, topics: [economy]}}
  - {{id: arabic, title: بالعربية, topics: [ukraine, iran, middle-east, economy], languages: [ar]}}
"""
_TYPES = {".xml": "application/rss+xml", ".rdf": "application/rdf+xml"}


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the bundled feeds, nothing else."""

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        name = self.path.lstrip("/")
        if name not in {file for file, _ in OUTLETS.values()}:
            self.send_error(404)
            return
        body = (FEEDS / name).read_bytes()
        kind = "application/atom+xml" if name.startswith("atom") else _TYPES[Path(name).suffix]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet: the demo prints its own lines."""


@contextmanager
def feed_server() -> Iterator[str]:
    """The sample feeds on 127.0.0.1 (a free port), for as long as the block runs."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def prepare(folder: Path, feeds_url: str, site_url: str) -> Path:
    """Write the demo's feeds.yaml into `folder`; return its path."""
    sources = "\n".join(f"  - {{id: {sid}, url: '{feeds_url}{file}', title: {title}}}"
                        for sid, (file, title) in OUTLETS.items())
    path = folder / "feeds.yaml"
    path.write_text(CONFIG.format(site=site_url, sources=sources), encoding="utf-8")
    return path


def run_demo(host: str, port: int, folder: Path | None, serve_site: bool) -> int:
    """Aggregate the sample feeds, print where things are, then serve until Ctrl-C."""
    from aggregator.config import load_config
    from aggregator.pipeline import Poller
    from aggregator.publish import publish_all
    from aggregator.store import Store

    folder = folder or Path(tempfile.mkdtemp(prefix="aggregator-demo-"))
    site = f"http://{host}:{port}/"
    with feed_server() as feeds:
        config = load_config(prepare(folder, feeds, site))
        with Store(config.settings.database) as store:
            store.sync_sources(config.sources)
            poller = Poller(config, store, clock=lambda: datetime.now(UTC))
            for outcome in poller.run([s.id for s in config.sources]):
                print(outcome.summary())
            published = publish_all(config, store)
        print(f"sample feeds served at {feeds}")
        print(f"demo folder: {folder} (feeds.yaml, data/demo.db, public/)")
        for result in published:
            print(f"  {site}feeds/{result.section_id}.atom  ({result.stories} stories)")
        if not serve_site:
            return 0
        print(f"site: {site}   status: {site}status   (Ctrl-C stops)", flush=True)
        from aggregator.web.app import serve

        serve(lambda: config, host, port)
    return 0

"""The benchmark's feed server: serves a corpus folder on 127.0.0.1 as a news site would.

Every response waits `--latency-ms` first (a far-away server), carries ETag and Last-Modified,
and a matching conditional request gets 304 (RFC 9110 §13.1: If-None-Match wins over
If-Modified-Since). gzip is negotiated, as real feed servers do; bodies are compressed once
at start. HTTP/1.1 keep-alive, one thread per connection, Nagle off, and each response is
written with a single send, so the server is never what the clients wait for.

Run as a separate process: `python bench/feedserver.py FOLDER` prints the port on its first
line of stdout, then serves until its stdin closes (the parent ended) or `--max-seconds`
pass. `GET /__stats` answers the request counts as JSON (`?reset=1` also zeroes them).
Standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from corpus import ANCHOR

LAST_MODIFIED = format_datetime(ANCHOR, usegmt=True)


@dataclass(frozen=True)
class Variant:
    """One representation of a feed: identity or gzip."""

    body: bytes
    etag: str  # quoted strong validator, distinct per encoding (RFC 9110 §8.8.3)
    encoding: str | None  # Content-Encoding, None for identity


@dataclass(frozen=True)
class Resource:
    content_type: str
    identity: Variant
    gzipped: Variant


def load(folder: Path) -> dict[str, Resource]:
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    resources = {}
    for path, content_type in index.items():
        body = (folder / path.lstrip("/")).read_bytes()
        tag = hashlib.sha256(body).hexdigest()[:20]
        resources[path] = Resource(
            content_type, Variant(body, f'"{tag}"', None),
            Variant(gzip.compress(body, compresslevel=6, mtime=0), f'"{tag}-gz"', "gzip"))
    return resources


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, *keys: str) -> None:
        with self.lock:
            self.counts.update(keys)

    def snapshot(self, reset: bool) -> dict[str, int]:
        with self.lock:
            out = dict(self.counts)
            if reset:
                self.counts.clear()
        return out


def _not_modified(headers: object, variant: Variant) -> bool:
    inm = headers.get("If-None-Match")  # type: ignore[attr-defined]
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or variant.etag in tags
    ims = headers.get("If-Modified-Since")  # type: ignore[attr-defined]
    if ims:
        try:
            return parsedate_to_datetime(ims) >= ANCHOR
        except (TypeError, ValueError):
            return False
    return False


def make_handler(resources: dict[str, Resource], stats: Stats, latency: float) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive by default
        disable_nagle_algorithm = True
        server_version = "benchfeeds/1"

        def setup(self) -> None:
            super().setup()
            stats.add("connections")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet: thousands of requests per run

        def do_GET(self) -> None:  # noqa: N802 (the http.server naming)
            path = urlsplit(self.path)
            if path.path == "/__stats":
                body = json.dumps(stats.snapshot("reset=1" in path.query)).encode()
                return self._send(200, {"Content-Type": "application/json"}, body)
            time.sleep(latency)
            resource = resources.get(path.path)
            if resource is None:
                stats.add("requests", "404")
                return self._send(404, {"Content-Type": "text/plain"}, b"not found")
            accepts = self.headers.get("Accept-Encoding", "")
            variant = resource.gzipped if "gzip" in accepts else resource.identity
            headers = {"ETag": variant.etag, "Last-Modified": LAST_MODIFIED,
                       "Vary": "Accept-Encoding", "Cache-Control": "max-age=60"}
            if _not_modified(self.headers, variant):
                stats.add("requests", "304")
                return self._send(304, headers, None)
            stats.add("requests", "200", "gzip" if variant.encoding else "identity")
            headers["Content-Type"] = resource.content_type
            if variant.encoding:
                headers["Content-Encoding"] = variant.encoding
            return self._send(200, headers, variant.body)

        def _send(self, status: int, headers: dict[str, str], body: bytes | None) -> None:
            lines = [f"HTTP/1.1 {status} {self.responses[status][0]}",
                     f"Date: {self.date_time_string()}", f"Server: {self.server_version}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            if body is not None:  # a 304 has no body and no Content-Length (RFC 9110 §8.6)
                lines.append(f"Content-Length: {len(body)}")
            if self.close_connection:
                lines.append("Connection: close")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            self.wfile.write(head + (body or b""))  # one send: no Nagle/delayed-ACK stall

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen() backlog: no refused connection under a burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="corpus folder with index.json")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--max-seconds", type=float, default=3600.0,
                        help="stop by itself after this long, whatever happens")
    args = parser.parse_args()
    resources = load(args.folder)
    server = Server(("127.0.0.1", args.port),
                    make_handler(resources, Stats(), args.latency_ms / 1000))
    print(server.server_address[1], flush=True)

    def stop_when_parent_goes() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or ended
        server.shutdown()

    threading.Thread(target=stop_when_parent_goes, daemon=True).start()
    deadline = threading.Timer(args.max_seconds, server.shutdown)
    deadline.daemon = True
    deadline.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        sys.exit(0)


if __name__ == "__main__":
    main()

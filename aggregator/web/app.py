"""HTTP serving of the published outputs: a small ASGI app (run by uvicorn in `serve`/`run`).

Only files named after configured sections are served, so no request path ever reaches
the file system (no traversal). Conditional requests, HEAD and gzip are handled here.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import html
import signal
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import uvicorn

from aggregator.config import Config

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ATOM_TYPE = "application/atom+xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
GZIP_MIN = 1024  # smaller bodies are not worth compressing


@dataclass(frozen=True, slots=True)
class Resource:
    """One output, ready to send: bytes, validators and a compressed copy."""

    body: bytes
    gz: bytes | None
    etag: str  # strong: the same bytes give the same ETag on every node
    last_modified: datetime
    content_type: str


class OutputApp:
    """The ASGI application. `config` is a callable so a reloaded config takes effect."""

    def __init__(self, config: Callable[[], Config]) -> None:
        self._config = config
        self._cache: dict[Path, tuple[tuple[int, int], Resource]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _send(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")],
                        head=False)
            return
        resource = self._route(scope["path"])
        if resource is None:
            await _send(send, 404, b"not found\n", [(b"content-type", b"text/plain")],
                        head=method == "HEAD")
            return
        await _respond(scope, send, resource, self._max_age())

    def _max_age(self) -> int:
        return int(min(self._config().settings.default_interval.total_seconds(), 3600))

    def _route(self, path: str) -> Resource | None:
        config = self._config()
        if path in ("/", "/index.html"):
            return _page(index_page(config))
        if path.startswith("/feeds/") and path.endswith(".atom"):
            section_id = path[len("/feeds/"):-len(".atom")]
            if any(s.id == section_id for s in config.sections):
                return self._file(config.settings.output_dir / f"{section_id}.atom", ATOM_TYPE)
        return None

    def _file(self, path: Path, content_type: str) -> Resource | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        resource = _resource(path.read_bytes(), content_type,
                             datetime.fromtimestamp(int(st.st_mtime), UTC))
        self._cache[path] = (key, resource)
        return resource


def _resource(body: bytes, content_type: str, modified: datetime) -> Resource:
    digest = hashlib.sha256(body).hexdigest()[:32]
    gz = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN else None
    return Resource(body, gz, f'"{digest}"', modified, content_type)


def _page(text: str) -> Resource:
    body = text.encode("utf-8")
    return _resource(body, HTML_TYPE, datetime(2026, 1, 1, tzinfo=UTC))


async def _respond(scope: Scope, send: Send, res: Resource, max_age: int) -> None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    common = [(b"etag", res.etag.encode()),
              (b"last-modified", format_datetime(res.last_modified, usegmt=True).encode()),
              (b"cache-control", f"public, max-age={max_age}".encode()),
              (b"vary", b"Accept-Encoding")]
    if _not_modified(headers, res):
        await _send(send, 304, b"", common, head=True)
        return
    body = res.body
    extra = [(b"content-type", res.content_type.encode())]
    if res.gz is not None and "gzip" in headers.get("accept-encoding", ""):
        body = res.gz
        extra.append((b"content-encoding", b"gzip"))
    await _send(send, 200, body, common + extra, head=scope["method"] == "HEAD")


def _not_modified(headers: dict[str, str], res: Resource) -> bool:
    """RFC 9110 §13.1: If-None-Match wins over If-Modified-Since."""
    if "if-none-match" in headers:
        tags = [t.strip().removeprefix("W/") for t in headers["if-none-match"].split(",")]
        return "*" in tags or res.etag in tags
    since = headers.get("if-modified-since")
    if since:
        try:
            return res.last_modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], *,
                head: bool) -> None:
    headers = headers + [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def index_page(config: Config) -> str:
    """The list of sections with their feed addresses."""
    rows = []
    for s in config.sections:
        url = f"{config.settings.base_url}feeds/{s.id}.atom"
        rows.append(f'<li><a href="{html.escape(url)}" dir="auto">{html.escape(s.title)}</a> '
                    f"<code>{html.escape(url)}</code></li>")
    links = "".join(
        f'<link rel="alternate" type="application/atom+xml" title="{html.escape(s.title)}" '
        f'href="{html.escape(config.settings.base_url)}feeds/{html.escape(s.id)}.atom">'
        for s in config.sections)
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>aggregator</title>{links}</head><body><h1>Sections</h1>"
            f"<ul>{''.join(rows)}</ul></body></html>\n")


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal it caught once it has shut down, which would end the
    process with -15 instead of a clean exit; `serve` installs its own handlers instead."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


def serve(config: Callable[[], Config], host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM, then return normally (exit status 0)."""
    server = _Server(uvicorn.Config(OutputApp(config), host=host, port=port,
                                    log_level="warning", server_header=False,
                                    access_log=False, lifespan="on"))

    def stop(*_: object) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["OutputApp", "index_page", "serve"]

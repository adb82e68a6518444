"""HTTP serving of the outputs: a small ASGI app (run by uvicorn in `serve`/`run`).

A request path is matched against a fixed set of patterns and its ids against the config;
only then is a file name built (publish/urls.py), so no request path ever reaches the file
system (no traversal, nothing else in the folder is reachable). Every output gets a strong
ETag, Last-Modified, 304s, HEAD, gzip with Vary, and a max-age close to how often it can
change. Everything is a published file except /status, rendered from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from aggregator import site
from aggregator.config import Config
from aggregator.errors import SchemaError, StoreError
from aggregator.publish import urls
from aggregator.publish.archive import day_of
from aggregator.site.views import section_card
from aggregator.store import Store
from aggregator.web.http import (
    Receive,
    Resource,
    Scope,
    Send,
    lifespan,
    resource,
    respond,
    send_response,
)
from aggregator.web.status import StatusPage

log = logging.getLogger(__name__)
HTML_TYPE = "text/html; charset=utf-8"
CORS = ((b"access-control-allow-origin", b"*"),)  # web-based feed readers fetch from pages
# The pages carry no script and load nothing from elsewhere; say so, in case a feed's text
# ever slipped through escaping.
PAGE_HEADERS = ((b"content-security-policy",
                 b"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                 b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
                (b"referrer-policy", b"strict-origin-when-cross-origin"))
ARCHIVE_MAX_AGE = 24 * 3600  # a past day's archive document rarely changes again
CACHE_LIMIT = 4096  # resources kept in memory; the cache is emptied beyond it

_FEED = re.compile(r"/feeds/([a-z0-9-]+)\.(atom|rss|json)")
_ARCHIVE = re.compile(r"/feeds/([a-z0-9-]+)/archive/([0-9]{4}-[0-9]{2}-[0-9]{2})\.atom")
_SECTION = re.compile(r"/sections/([a-z0-9-]+)")
_OPML = re.compile(r"/opml/(sources|sections)\.opml")


@dataclass(frozen=True, slots=True)
class Target:
    """What a request path names: a published file, or (file None) a page built here."""

    file: Path | None
    content_type: str
    max_age: int  # seconds of Cache-Control
    headers: tuple[tuple[bytes, bytes], ...]
    page: str | None = None  # "status" or "index" when file is None


def publish_max_age(config: Config) -> int:
    """How long a copy may be reused: no source is polled more often than min_interval,
    so outputs change about that often (5 minutes by default), within [1 min, 1 hour]."""
    return int(min(max(config.settings.min_interval.total_seconds(), 60), 3600))


def resolve(path: str, config: Config, today: str | None = None) -> Target | None:
    """The target of a request path, or None (404). Pure, apart from naming files."""
    out, age = config.settings.output_dir, publish_max_age(config)
    sections = {s.id for s in config.sections}
    if path in ("/", "/index.html"):
        index = urls.index_file(out)
        if index.exists():
            return Target(index, HTML_TYPE, age, PAGE_HEADERS)
        return Target(None, HTML_TYPE, age, PAGE_HEADERS, "index")  # nothing published yet
    if path == "/status":
        return Target(None, HTML_TYPE, min(60, age), PAGE_HEADERS, "status")
    if (m := _FEED.fullmatch(path)) and m[1] in sections:
        media = urls.FORMATS[m[2]][1]
        return Target(urls.feed_file(out, m[1], m[2]), f"{media}; charset=utf-8", age, CORS)
    if (m := _ARCHIVE.fullmatch(path)) and m[1] in sections:
        closed = m[2] < (today or day_of(datetime.now(UTC)))
        return Target(urls.archive_file(out, m[1], m[2]), "application/atom+xml; charset=utf-8",
                      ARCHIVE_MAX_AGE if closed else age, CORS)
    if (m := _SECTION.fullmatch(path)) and m[1] in sections:
        return Target(urls.section_file(out, m[1]), HTML_TYPE, age, PAGE_HEADERS)
    if m := _OPML.fullmatch(path):
        return Target(urls.opml_file(out, m[1]), f"{urls.OPML_TYPE}; charset=utf-8", age, CORS)
    return None


class OutputApp:
    """The ASGI application. `config` is a callable so a reloaded config takes effect;
    `store` serves /status (default: opened on the config's database when first needed)."""

    def __init__(self, config: Callable[[], Config], store: Store | None = None) -> None:
        self._config = config
        self._cache: dict[Path, tuple[tuple[int, int, int], Resource]] = {}
        self._status = StatusPage(store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            self._status.close()
            return
        if scope["type"] != "http":
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await send_response(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")],
                                head=False)
            return
        config = self._config()
        target = resolve(scope["path"], config)
        res = None
        if target is not None and target.page == "status":
            try:
                res = await asyncio.to_thread(self._status.get, config, target.headers)
            except StoreError as exc:  # the database is down: say so, keep serving the rest
                log.warning("status page: %s", exc)
                why = (b"database schema out of date: run `aggregator db upgrade`"
                       if isinstance(exc, SchemaError) else b"database unreachable")
                await send_response(send, 503, b"status unavailable: " + why + b"\n",
                                    [(b"content-type", b"text/plain; charset=utf-8"),
                                     (b"retry-after", b"60")], head=method == "HEAD")
                return
        elif target is not None and target.page == "index":
            res = resource(index_page(config).encode("utf-8"), HTML_TYPE,
                           _mtime(config.path), target.headers)
        elif target is not None and target.file is not None:
            res = self._file(target)
        if target is None or res is None:
            await send_response(send, 404, b"not found\n",
                                [(b"content-type", b"text/plain; charset=utf-8")],
                                head=method == "HEAD")
            return
        await respond(scope, send, res, target.max_age)

    def _file(self, target: Target) -> Resource | None:
        path = target.file
        assert path is not None
        try:
            st = path.stat()
        except OSError:  # not published (yet)
            return None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)  # an atomic replace changes the inode
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        try:
            body = path.read_bytes()
        except OSError:
            return None
        res = resource(body, target.content_type, datetime.fromtimestamp(int(st.st_mtime), UTC),
                       target.headers)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[path] = (key, res)
        return res


def index_page(config: Config) -> str:
    """The index before anything was published: the sections and their feed addresses."""
    return site.index_page([section_card(s, [], language=None, archived=0, days=0)
                            for s in config.sections], opml=False)


def _mtime(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
    except OSError:
        return datetime(2026, 1, 1, tzinfo=UTC)


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal it caught once it has shut down, which would end the
    process with -15 instead of a clean exit; `serve` installs its own handlers instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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


__all__ = ["OutputApp", "index_page", "resolve", "serve"]

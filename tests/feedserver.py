"""A real HTTP/1.1 server on 127.0.0.1 for fetch and end-to-end tests.

Each path answers a scripted `Route` (status, headers, delay, validators, gzip); the
server records every request so tests can assert what the client sent. Standard library
only, and it must never print: a test that passes should leave stderr empty.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip as gzip_codec
import http.server
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FEEDS_DIR = Path(__file__).parent / "data" / "feeds"

# serve_file() guesses a Content-Type from the fixture name when none is given.
_CONTENT_TYPES = {
    ".rdf": "application/rdf+xml",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
}
_DEFAULT_CONTENT_TYPE = "application/xml"

# Statuses that never carry a body, so they get no Content-Length (RFC 9110 §8.6).
_BODYLESS = {204, 304}


@dataclass(frozen=True)
class Route:
    """What one path answers."""

    body: bytes = b""  # the payload, uncompressed unless raw=True
    status: int = 200  # HTTP status code
    headers: dict[str, str] = field(default_factory=dict)  # extra headers: Location, Retry-After
    delay: float = 0.0  # seconds to wait before answering (slow responses, client timeouts)
    gate: threading.Event | None = None  # answer once the test sets it (a source kept pending)
    etag: str | None = None  # sent as ETag; a matching If-None-Match gets 304
    last_modified: str | None = None  # sent as Last-Modified; an equal If-Modified-Since gets 304
    gzip: bool = False  # send with Content-Encoding: gzip (compressed here unless raw=True)
    raw: bool = False  # send body exactly as given, e.g. a pre-built gzip bomb

    def encoded_body(self) -> bytes:
        """The bytes that go on the wire."""
        if self.gzip and not self.raw:
            # mtime=0 keeps the bytes identical from run to run.
            return gzip_codec.compress(self.body, mtime=0)
        return self.body

    def not_modified(self, request_headers: dict[str, str]) -> bool:
        """Whether the request's validators match, per RFC 9110 §13.2.2 precedence."""
        if not 200 <= self.status < 300:
            return False
        if_none_match = request_headers.get("If-None-Match")
        if if_none_match is not None:
            # If-None-Match wins over If-Modified-Since; weak comparison (RFC 9110 §13.1.2).
            if self.etag is None:
                return False
            wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in wanted or self.etag.removeprefix("W/") in wanted
        if_modified_since = request_headers.get("If-Modified-Since")
        # Exact string equality on purpose: a client should echo Last-Modified verbatim,
        # and one that invents its own date should see a 200 in tests.
        return self.last_modified is not None and if_modified_since == self.last_modified


RouteLike = Route | bytes | str


def _as_route(value: RouteLike, overrides: dict[str, Any]) -> Route:
    if isinstance(value, Route):
        return dataclasses.replace(value, **overrides) if overrides else value
    body = value.encode("utf-8") if isinstance(value, str) else value
    return Route(body=body, **overrides)


def _path_key(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _title_case(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


class _Server(http.server.ThreadingHTTPServer):
    """Tracks open connections so close() can end keep-alive handlers promptly."""

    # Non-daemon handler threads are joined by server_close(), after drop_connections()
    # has woken them, so no socket outlives the test (warnings are errors here).
    daemon_threads = False
    block_on_close = True
    owner: FeedServer

    def __init__(self, owner: FeedServer) -> None:
        self.owner = owner
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may already have hung up
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that times out or hangs up mid-answer is a normal test scenario.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        if self.stopping.is_set():
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server: _Server
    timeout = 30  # a client that holds an idle connection cannot pin a thread forever

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the standard handler logs every request to stderr."""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        self._drain_request_body()
        request_headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = _title_case(name)
            request_headers[key] = (
                f"{request_headers[key]}, {value}" if key in request_headers else value
            )
        route = self.server.owner._record(self.path, request_headers)
        if route is None:
            route = Route(b"not found", 404, {"Content-Type": "text/plain; charset=utf-8"})
        with self.server.owner._in_flight():
            if route.delay and self.server.stopping.wait(route.delay):
                self.close_connection = True
                return
            while route.gate is not None and not route.gate.wait(0.05):
                if self.server.stopping.is_set():
                    self.close_connection = True
                    return
        if route.not_modified(request_headers):
            self._send(304, self._validator_headers(route), b"", send_body=False)
            return
        headers = self._validator_headers(route)
        if route.gzip:
            headers["Content-Encoding"] = "gzip"
        if not any(name.lower() == "content-type" for name in route.headers):
            headers["Content-Type"] = _DEFAULT_CONTENT_TYPE
        headers.update(route.headers)
        self._send(route.status, headers, route.encoded_body(), send_body=send_body)

    def _drain_request_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    @staticmethod
    def _validator_headers(route: Route) -> dict[str, str]:
        headers = {}
        if route.etag is not None:
            headers["ETag"] = route.etag
        if route.last_modified is not None:
            headers["Last-Modified"] = route.last_modified
        return headers

    def _send(self, status: int, headers: dict[str, str], body: bytes, *, send_body: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status not in _BODYLESS:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and status not in _BODYLESS:
            self.wfile.write(body)


class FeedServer:
    """A scripted HTTP server on 127.0.0.1 with an ephemeral port, running in a thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, list[Route]] = {}
        self._served: dict[str, int] = {}  # how far each scripted sequence has got
        self._requests: dict[str, list[dict[str, str]]] = {}
        self._busy = 0
        self.max_in_flight = 0  # the most requests ever held at once (during their delay)
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        # A short poll interval keeps close(), and so every test's teardown, fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"feedserver:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def url(self, path: str = "/") -> str:
        """The absolute URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}{_path_key(path)}"

    def route(
        self, path: str, route_or_body: RouteLike | Sequence[RouteLike] = b"", **kw: Any
    ) -> None:
        """Set what a path answers, replacing any earlier route and restarting its sequence.

        A list answers its routes in turn, the last one repeating; keyword arguments are
        Route fields applied to every route given. A path with a query string matches only
        that exact query; a path without one matches any query.
        """
        values = (
            list(route_or_body)
            if isinstance(route_or_body, Sequence) and not isinstance(route_or_body, bytes | str)
            else [route_or_body]
        )
        if not values:
            raise ValueError("a route sequence needs at least one route")
        routes = [_as_route(value, kw) for value in values]
        key = _path_key(path)
        with self._lock:
            self._routes[key] = routes
            self._served[key] = 0

    def serve_file(
        self, path: str, fixture_name: str, content_type: str | None = None, **kw: Any
    ) -> None:
        """Answer a path with a fixture from tests/data/feeds/, as bytes on disk."""
        body = (FEEDS_DIR / fixture_name).read_bytes()
        if content_type is None:
            content_type = _CONTENT_TYPES.get(Path(fixture_name).suffix, _DEFAULT_CONTENT_TYPE)
            if "atom" in fixture_name:
                content_type = "application/atom+xml"
        headers = {"Content-Type": content_type, **kw.pop("headers", {})}
        self.route(path, Route(body=body, headers=headers), **kw)

    def hits(self, path: str) -> int:
        """How many requests reached a path (routed or not)."""
        with self._lock:
            return len(self._requests.get(_path_key(path), []))

    def requests(self, path: str) -> list[dict[str, str]]:
        """Request headers of each hit on a path, names in Title-Case (If-None-Match)."""
        with self._lock:
            return [dict(headers) for headers in self._requests.get(_path_key(path), [])]

    def close(self) -> None:
        """Stop serving, end open connections and wait for the threads."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _in_flight(self) -> Iterator[None]:
        with self._lock:
            self._busy += 1
            self.max_in_flight = max(self.max_in_flight, self._busy)
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1

    def _record(self, raw_path: str, headers: dict[str, str]) -> Route | None:
        """Count a request and pick its route; called from handler threads."""
        bare_path = urlsplit(raw_path).path or "/"
        with self._lock:
            key = raw_path if raw_path in self._routes else bare_path
            self._requests.setdefault(key, []).append(headers)
            routes = self._routes.get(key)
            if routes is None:
                return None
            served = self._served[key]
            self._served[key] = served + 1
            return routes[min(served, len(routes) - 1)]

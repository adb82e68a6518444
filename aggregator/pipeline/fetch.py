"""The fetch stage: one polite, bounded, conditional GET per source. aiohttp is used only here.

It follows redirects itself (to tell permanent from temporary ones), caps the body both
as it arrives and after decompression (so a compressed bomb stops early; the poller's
fetcher leaves the decompression, under the same cap, to the parse workers:
pipeline/inflate.py), and never parses anything: bytes go to the parse stage untouched.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import re
import socket
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import aiohttp

from aggregator import USER_AGENT
from aggregator.errors import FetchError, asks_host_to_wait, note_retry_after
from aggregator.models import FetchResult, SourceState
from aggregator.pipeline.inflate import Inflater, decoder, over_text

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

MAX_REDIRECTS = 5
PERMANENT = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, application/feed+json;q=0.7, */*;q=0.5"
)
# Given in full so aiohttp adds none of its own (it would offer br and zstd, which
# inflate.decoder cannot undo: aiohttp's decompression is off so the cap sees every byte).
REQUEST_HEADERS = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}
KEEPALIVE = 5.0  # seconds an idle connection is kept for the next request to its host


class Fetcher:
    """Shares one connection pool and the concurrency limits across a pass; use it as an
    async context manager (aiohttp's session must be made inside the running loop)."""

    def __init__(self, *, timeout: float = 30.0, max_body: int = 10 * 1024 * 1024,
                 max_concurrency: int = 20, per_host: int = 2,
                 monotonic: Callable[[], float] = time.monotonic,
                 connect_timeout: float | None = None, decode: bool = True) -> None:
        self.timeout = timeout  # whole-request deadline, seconds
        self.max_body = max_body  # byte cap on the wire and after decompression
        self.max_concurrency = max_concurrency  # requests in flight, and pooled connections
        # False: a compressed body is returned as it came (FetchResult.encoding), for the
        # parse workers to decompress (`decoded`) beside the poll's own process
        self.decode = decode
        # seconds for a connection to open (within the whole deadline)
        self.connect_timeout = min(timeout, 10.0) if connect_timeout is None else connect_timeout
        self._all = asyncio.Semaphore(max_concurrency)
        self._per_host: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host))
        self._session: aiohttp.ClientSession | None = None
        # host -> (monotonic() until which it is left alone, status, when it said so)
        self._held: dict[str, tuple[float, int, float]] = {}
        self._monotonic = monotonic
        # HTTP_PROXY, HTTPS_PROXY and NO_PROXY, read once per pass (aiohttp's trust_env
        # would read them, and ~/.netrc, again for every request).
        self._proxies = urllib.request.getproxies_environment()

    async def __aenter__(self) -> Fetcher:
        # aiohttp itself, not httpx over it: httpx's layer (its requests, responses, cookies,
        # auth and redirect wrappers) cost the event loop 0.2 ms of CPU per 304
        # (bench/poll_vs_reader.py's second poll: 0.34 -> 0.24 CPU-s for 500 feeds).
        # ssl=True: aiohttp's one verifying context, made when aiohttp is imported (the
        # system's CA bundle, as ssl.create_default_context reads it). A context of our own
        # cost every Fetcher, one per tick of `run`, 0.03 s and 2.3 MiB more for the same
        # trust anchors.
        connector = aiohttp.TCPConnector(limit=self.max_concurrency, ssl=True,
                                         keepalive_timeout=KEEPALIVE)
        # The whole deadline is asyncio.timeout's in fetch(); aiohttp only bounds a connect.
        # No per-read timeout: it would re-arm a timer for every chunk.
        self._session = aiohttp.ClientSession(
            connector=connector, headers=REQUEST_HEADERS, auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # one source's cookies never reach another
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, state: SourceState) -> FetchResult:
        """GET the source's URL; raise FetchError (with the source id) on any failure.

        A host that answers 429 Too Many Requests, or 503 with a Retry-After, speaks for
        itself, not only for that feed: the fetcher sends it nothing more until its
        Retry-After has passed (for the rest of the fetcher's life without one), and each of
        its sources asked meanwhile fails at once, `deferred`, with the time left as its
        retry_after. The poller also holds, from the start of a pass, the hosts that
        answered 429 in an earlier one (`hold`). Miniflux and reader ask again for every
        other feed of the host, which is how their users with many feeds on one site get
        blocked."""
        host = urlsplit(state.url).hostname or ""
        self._check_held(host, state)
        async with self._all, self._per_host[host]:
            self._check_held(host, state)  # an answer that came while this one waited
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._follow(state)
            except FetchError as exc:
                exc.source_id, exc.url = state.source_id, state.url
                if asks_host_to_wait(exc.status, exc.retry_after):
                    assert exc.status is not None
                    self._hold(host, exc.status, exc.retry_after)
                raise
            # Before TimeoutError: aiohttp's own timeouts are TimeoutErrors too.
            except aiohttp.ClientError as exc:
                # An answer that aiohttp's parser refused came from a server we reached: the
                # source's fault, not a sign that our network is down.
                raise FetchError(_client_message(exc, self.connect_timeout),
                                 source_id=state.source_id, url=state.url,
                                 connection=not isinstance(exc, aiohttp.ClientResponseError),
                                 ) from None
            except TimeoutError:
                raise FetchError(f"timed out after {self.timeout:g}s", source_id=state.source_id,
                                 url=state.url, connection=True) from None

    def hold(self, url: str, status: int, ago: float, seconds: float) -> None:
        """Leave the URL's host alone for `seconds` more: it answered `status` `ago` seconds
        ago, in an earlier pass (Store.rate_limited)."""
        self._hold(urlsplit(url).hostname or "", status, seconds, ago=ago)

    def _hold(self, host: str, status: int, retry_after: float | None, *,
              ago: float = 0.0) -> None:
        now = self._monotonic()
        until = now + retry_after if retry_after is not None else math.inf
        if until > self._held.get(host, (-math.inf, 0, 0.0))[0]:
            self._held[host] = (until, status, now - ago)

    def _check_held(self, host: str, state: SourceState) -> None:
        held = self._held.get(host)
        if held is None:
            return
        until, status, since = held
        now = self._monotonic()
        if now >= until:
            del self._held[host]
            return
        wait = f"for {until - now:.0f}s more" if until != math.inf else "for this pass"
        raise FetchError(f"not requested: {host} answered HTTP {status} to another of its "
                         f"sources {now - since:.0f}s ago; left alone {wait}",
                         source_id=state.source_id, url=state.url, deferred=True,
                         retry_after=math.ceil(until - now) if until != math.inf else None)

    async def _follow(self, state: SourceState) -> FetchResult:
        if self._session is None:
            raise RuntimeError("Fetcher is used outside `async with`")
        url, permanent = state.url, True
        conditional = _conditional_headers(state) or None
        for _ in range(MAX_REDIRECTS + 1):
            async with self._session.get(url, headers=conditional, allow_redirects=False,
                                         proxy=self._proxy(url)) as response:
                status = response.status
                if status in REDIRECTS and (location := response.headers.get("location")):
                    permanent = permanent and status in PERMANENT
                    url = urljoin(url, location)
                    continue
                encoding = (_header(response.headers, "content-encoding")
                            or "identity").strip().lower()
                # the Content-Encoding left on the body for `decoded`, if any
                kept = None if self.decode or encoding in ("identity", "") else encoding
                body = await self._read_body(response, encoding, kept) if status == 200 \
                    else None
            return _result(state, url, response, body, moved=permanent and url != state.url,
                           encoding=kept if body is not None else None)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def _proxy(self, url: str) -> str | None:
        """The proxy the environment names for this URL's scheme, unless NO_PROXY exempts
        its host; None for a direct connection."""
        if not self._proxies:
            return None
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme)
        if proxy is None or urllib.request.proxy_bypass_environment(parts.netloc,
                                                                    self._proxies):
            return None
        return proxy

    async def _read_body(self, response: aiohttp.ClientResponse, encoding: str,
                         kept: str | None) -> bytes:
        """Read the raw body under the cap, and decompress it under the same cap unless it
        is `kept` for `decoded` (an encoding nobody can undo fails here either way, before
        any byte is read)."""
        if kept is not None:
            decoder(kept)
        inflate = Inflater("identity" if kept is not None else encoding, self.max_body)
        chunks: list[bytes] = []
        raw_size = 0
        async for chunk in response.content.iter_any():
            raw_size += len(chunk)
            if raw_size > self.max_body:
                raise FetchError(f"{over_text(self.max_body)} (max_body_bytes)")
            chunks.append(inflate(chunk))
        return b"".join(chunks)


def _conditional_headers(state: SourceState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _header(headers: CIMultiDictProxy[str], name: str) -> str | None:
    """A header's value, repeated fields joined by commas (RFC 9110 §5.3); None if absent."""
    values = headers.getall(name, ())
    return ", ".join(values) if values else None


def _result(state: SourceState, url: str, response: aiohttp.ClientResponse, body: bytes | None,
            moved: bool, encoding: str | None = None) -> FetchResult:
    status, headers = response.status, response.headers
    if status not in (200, 304):
        retry_after = retry_after_seconds(_header(headers, "retry-after"))
        message = f"HTTP {status} {response.reason or _phrase(status)}".rstrip()
        if retry_after is not None:  # why the next check is that far off, for `status`
            message = note_retry_after(message, retry_after)
        raise FetchError(message, status=status, retry_after=retry_after)
    return FetchResult(
        source_id=state.source_id, url=state.url, final_url=url, status=status, body=body,
        etag=_header(headers, "etag"), last_modified=_header(headers, "last-modified"),
        content_type=_header(headers, "content-type"), permanent_redirect=url if moved else None,
        cache_control=_header(headers, "cache-control"), expires=_header(headers, "expires"),
        body_hash=hashlib.sha256(body).hexdigest() if body is not None and encoding is None
        else None, encoding=encoding)


def _phrase(status: int) -> str:
    """The standard reason phrase, for a status line that gave none."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when.tzinfo else None


def _client_message(exc: aiohttp.ClientError, connect_timeout: float) -> str:
    kind = type(exc).__name__
    text = str(exc) or kind
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS handshake
        return f"cannot connect to {exc.host}:{exc.port}: {_connect_failure(exc)}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # the host never answered
        return f"timed out connecting: no connection after {connect_timeout:g}s"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return f"timed out ({kind})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientPayloadError):  # the body stopped short, or its chunks
        got = re.search(r"received \d+ of \d+ bytes", text)
        return "the answer was cut off" + (f" ({got.group()})" if got else f": {_line(text)}")
    if isinstance(exc, aiohttp.ClientResponseError):  # aiohttp's parser refused the answer
        # "Bad status line:\n  Expected HTTP/ ...", "Got more than 8190 bytes when reading:
        # b'aaaa...'": the first line says what; the rest quotes bytes over several lines
        what = (exc.message or kind).split("\n", 1)[0].split(": b'", 1)[0].rstrip(" :.")
        return f"not a valid HTTP answer: {_line(what[:1].lower() + what[1:])}"
    return f"{kind}: {_line(text)}"


def _line(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters: `poll` prints it, `status` keeps it."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _connect_failure(exc: aiohttp.ClientConnectorError) -> str:
    """Why a connection failed, in the words an operator looks up: "connection refused",
    "host name not found (...)", "TLS certificate not accepted: ...". aiohttp's own text
    ("Cannot connect to host h:80 ssl:default [Connect call failed ('10.0.0.1', 80)]")
    names its TLS setting for plain HTTP too, and no reason for a refusal."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        error = exc.certificate_error
        reason = getattr(error, "verify_message", None) or getattr(error, "reason", None)
        return "TLS certificate not accepted: certificate verify failed" + (
            f": {reason}" if reason and reason != "CERTIFICATE_VERIFY_FAILED" else "")
    error = exc.os_error
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"TLS handshake failed: {getattr(error, 'reason', None) or error}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or isinstance(error, socket.gaierror):
        return f"host name not found ({error.strerror or error})"
    if error.errno is not None:
        return os.strerror(error.errno).lower()
    return error.strerror or str(error) or type(error).__name__

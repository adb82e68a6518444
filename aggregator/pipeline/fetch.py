"""The fetch stage: one polite, bounded, conditional GET per source. httpx is used only here.

It follows redirects itself (to tell permanent from temporary ones), caps the body both
as it arrives and after decompression (so a compressed bomb stops early), and never
parses anything: bytes go to the parse stage untouched.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl
import zlib
from collections import defaultdict
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx
from httpx_aiohttp import AiohttpTransport

from aggregator import USER_AGENT
from aggregator.errors import FetchError
from aggregator.models import FetchResult, SourceState

MAX_REDIRECTS = 5
PERMANENT = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, application/feed+json;q=0.7, */*;q=0.5"
)
REQUEST_HEADERS = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: reading the CA bundle costs 0.1-0.2 s of CPU,
    which `run` would otherwise pay at every tick, as each tick's Fetcher is new."""
    return httpx.create_ssl_context()


class Fetcher:
    """Shares one connection pool and the concurrency limits across a pass."""

    def __init__(self, *, timeout: float = 30.0, max_body: int = 10 * 1024 * 1024,
                 max_concurrency: int = 20, per_host: int = 2,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.timeout = timeout  # whole-request deadline, seconds
        self.max_body = max_body  # byte cap on the wire and after decompression
        self._all = asyncio.Semaphore(max_concurrency)
        self._per_host: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host))
        limits = httpx.Limits(max_connections=max_concurrency,
                              max_keepalive_connections=max_concurrency)
        # httpx's API over aiohttp's connection pool: httpcore's pool costs several times
        # more CPU per request and drops keep-alive connections after a 304 (bench/README.md).
        transport = transport or AiohttpTransport(limits=limits, verify=_tls_context())
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), limits=limits,
            follow_redirects=False, transport=transport, headers=REQUEST_HEADERS)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def fetch(self, state: SourceState) -> FetchResult:
        """GET the source's URL; raise FetchError (with the source id) on any failure."""
        host = urlsplit(state.url).hostname or ""
        async with self._all, self._per_host[host]:
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._follow(state)
            except FetchError as exc:
                exc.source_id, exc.url = state.source_id, state.url
                raise
            except TimeoutError:
                raise FetchError(f"timed out after {self.timeout:g}s", source_id=state.source_id,
                                 url=state.url, connection=True) from None
            except httpx.TransportError as exc:
                raise FetchError(_transport_message(exc), source_id=state.source_id,
                                 url=state.url, connection=True) from None

    async def _follow(self, state: SourceState) -> FetchResult:
        url, permanent = state.url, True
        conditional = _conditional_headers(state)
        for _ in range(MAX_REDIRECTS + 1):
            request = self._client.build_request("GET", url, headers=conditional)
            response = await self._client.send(request, stream=True)
            try:
                if response.status_code in REDIRECTS and "location" in response.headers:
                    permanent = permanent and response.status_code in PERMANENT
                    url = urljoin(url, response.headers["location"])
                    continue
                body = await self._read_body(response) if response.status_code == 200 else None
            finally:
                await response.aclose()
            return _result(state, url, response, body, moved=permanent and url != state.url)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _read_body(self, response: httpx.Response) -> bytes:
        """Read the raw body under the cap, then decompress it under the same cap."""
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        decoder = _decoder(encoding)
        chunks: list[bytes] = []
        raw_size = size = 0
        async for chunk in response.aiter_raw():
            raw_size += len(chunk)
            if raw_size > self.max_body:
                raise FetchError(f"body larger than {self.max_body} bytes")
            data = decoder(chunk, self.max_body - size + 1)
            size += len(data)
            if size > self.max_body:
                raise FetchError(f"body larger than {self.max_body} bytes after decompression")
            chunks.append(data)
        return b"".join(chunks)


def _decoder(encoding: str):  # type: ignore[no-untyped-def]
    """A function (chunk, limit) -> decoded bytes, producing at most `limit` bytes per call."""
    if encoding in ("identity", ""):
        return lambda chunk, limit: chunk
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"unsupported Content-Encoding {encoding!r}")
    # 47 = gzip or zlib header auto-detected; some servers send raw deflate for "deflate"
    state = {"z": zlib.decompressobj(47), "raw_tried": False}

    def decode(chunk: bytes, limit: int) -> bytes:
        try:
            data = state["z"].decompress(chunk, limit)
        except zlib.error:
            if encoding != "deflate" or state["raw_tried"]:
                raise FetchError(f"corrupt {encoding} body") from None
            state["z"], state["raw_tried"] = zlib.decompressobj(-15), True
            data = state["z"].decompress(chunk, limit)
        if state["z"].unconsumed_tail:  # more output pending than the limit allows
            raise FetchError(f"body larger than {limit - 1} bytes after decompression")
        return data

    return decode


def _conditional_headers(state: SourceState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _result(state: SourceState, url: str, response: httpx.Response, body: bytes | None,
            moved: bool) -> FetchResult:
    status = response.status_code
    if status not in (200, 304):
        raise FetchError(f"HTTP {status} {response.reason_phrase}".rstrip(), status=status,
                         retry_after=retry_after_seconds(response.headers.get("retry-after")))
    headers = response.headers
    return FetchResult(
        source_id=state.source_id, url=state.url, final_url=url, status=status, body=body,
        etag=headers.get("etag"), last_modified=headers.get("last-modified"),
        content_type=headers.get("content-type"), permanent_redirect=url if moved else None,
        cache_control=headers.get("cache-control"), expires=headers.get("expires"),
        body_hash=hashlib.sha256(body).hexdigest() if body is not None else None)


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


def _transport_message(exc: httpx.TransportError) -> str:
    kind = type(exc).__name__
    text = str(exc) or kind
    # The aiohttp transport maps a refused connection to ConnectTimeout; its cause tells.
    refused = isinstance(exc.__cause__, OSError) and not isinstance(exc.__cause__, TimeoutError)
    if isinstance(exc, httpx.ConnectError) or (isinstance(exc, httpx.ConnectTimeout) and refused):
        return f"cannot connect: {text}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({kind})"
    return f"{kind}: {text}"

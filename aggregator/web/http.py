"""HTTP mechanics shared by every output: strong validators, conditional requests, HEAD,
gzip and the raw ASGI send. No routing and no file system here.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
GZIP_MIN = 1024  # smaller bodies are not worth compressing
NOSNIFF = (b"x-content-type-options", b"nosniff")


@dataclass(frozen=True, slots=True)
class Resource:
    """One output, ready to send: bytes, validators and a compressed copy."""

    body: bytes
    gz: bytes | None
    etag: str  # strong: the same bytes give the same ETag on every node
    last_modified: datetime
    content_type: str
    extra: tuple[tuple[bytes, bytes], ...] = ()  # headers of its kind (CORS, CSP)


def resource(body: bytes, content_type: str, modified: datetime,
             extra: tuple[tuple[bytes, bytes], ...] = ()) -> Resource:
    digest = hashlib.sha256(body).hexdigest()[:32]
    # mtime=0: the same bytes compress to the same bytes on every node
    gz = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN else None
    return Resource(body, gz, f'"{digest}"', modified.replace(microsecond=0), content_type,
                    extra)


async def respond(scope: Scope, send: Send, res: Resource, max_age: int) -> None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    common = [(b"etag", res.etag.encode()),
              (b"last-modified", format_datetime(res.last_modified, usegmt=True).encode()),
              (b"cache-control", f"public, max-age={max_age}".encode()),
              (b"vary", b"Accept-Encoding"), *res.extra]
    if not_modified(headers, res):
        await send_response(send, 304, b"", common, head=True)
        return
    body = res.body
    extra = [(b"content-type", res.content_type.encode()), NOSNIFF]
    if res.gz is not None and accepts_gzip(headers.get("accept-encoding", "")):
        body = res.gz
        extra.append((b"content-encoding", b"gzip"))
    await send_response(send, 200, body, common + extra, head=scope["method"] == "HEAD")


def not_modified(headers: dict[str, str], res: Resource) -> bool:
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


def accepts_gzip(header: str) -> bool:
    """Accept-Encoding lists gzip (or *) without q=0 (RFC 9110 §12.5.3)."""
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            q = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


async def send_response(send: Send, status: int, body: bytes, headers: Headers, *,
                        head: bool) -> None:
    if status != 304:  # a 304's Content-Length would have to be the 200's (RFC 9110 §8.6)
        headers = headers + [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

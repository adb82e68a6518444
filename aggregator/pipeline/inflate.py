"""Undoing a body's Content-Encoding (gzip, deflate) under a size cap: in the fetcher as the
body streams in, or later, in a parse worker, for a body the poll's own process left
compressed (FetchResult.encoding). Standard library only: the parse workers import it."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import replace

from aggregator.errors import FetchError
from aggregator.models import FetchResult


def decoded(fetched: FetchResult, max_body: int) -> FetchResult:
    """The result with its body decompressed under `max_body` (a compressed bomb fails
    as it would have in the fetcher) and hashed; as it is when already decoded."""
    if fetched.encoding is None or fetched.body is None:
        return fetched
    body = Inflater(fetched.encoding, max_body)(fetched.body)
    return replace(fetched, body=body, encoding=None, body_hash=hashlib.sha256(body).hexdigest())


class Inflater:
    """Decompresses a body chunk by chunk, failing once it passes the cap."""

    def __init__(self, encoding: str, cap: int) -> None:
        self._decode = decoder(encoding)
        self._cap, self._size = cap, 0
        self._over = f"{over_text(cap)} once decompressed (max_body_bytes)"

    def __call__(self, chunk: bytes) -> bytes:
        try:
            data = self._decode(chunk, self._cap - self._size + 1)
        except _Overflow:  # it inflates past the room left
            raise FetchError(self._over) from None
        self._size += len(data)
        if self._size > self._cap:
            raise FetchError(self._over)
        return data


def over_text(cap: int) -> str:
    return f"the body is over the {size_text(cap)} limit"


class _Overflow(Exception):
    """A chunk inflates to more than the room left under the cap."""


def size_text(count: int) -> str:
    """A byte count as feeds.yaml writes sizes: 10 MiB, 512 KiB, 5000 bytes."""
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if count >= unit and count % unit == 0:
            return f"{count // unit} {name}"
    return f"{count} bytes"


def decoder(encoding: str):  # type: ignore[no-untyped-def]
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
            raise _Overflow
        return data

    return decode

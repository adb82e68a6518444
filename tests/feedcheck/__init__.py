"""A conformance checker for the feeds we publish: every error and warning rule of the W3C Feed
Validation Service that applies to Atom 1.0 and RSS 2.0 feeds like ours, written afresh from
its documentation and source (validator.w3.org/feed/docs, github.com/w3c/feedvalidator), plus
a few stricter house rules. The service itself cannot be reached from here.

    check_atom(data, address)   -> [Message]   an Atom document served at `address`
    check_rss(data, address)    -> [Message]   an RSS 2.0 document
    check_http(status, headers, data, kind) -> [Message]   how a document is served

messages.py lists every validator message: the ones checked (each with a hand-made bad
document in tests/test_conformance.py) and, for the rest, why they cannot apply to our feeds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from feedcheck.atom import check_atom as _check_atom
from feedcheck.common import Message, Report
from feedcheck.messages import LEVELS
from feedcheck.rss import check_rss as _check_rss

__all__ = ["Message", "check_atom", "check_http", "check_rss"]

MEDIA_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
_DECLARED = re.compile(rb"<\?xml[^>]*encoding\s*=\s*['\"]([^'\"]+)['\"]")


def check_atom(data: bytes, address: str) -> list[Message]:
    report = Report(LEVELS)
    _check_atom(data, address, report)
    return report.messages


def check_rss(data: bytes, address: str) -> list[Message]:
    report = Report(LEVELS)
    _check_rss(data, address, report)
    return report.messages


def check_http(status: int, headers: Mapping[str, str], data: bytes, kind: str) -> list[Message]:
    """The validator's checks on the HTTP response: status, media type, charset."""
    report = Report(LEVELS)
    if status != 200:
        report.add("HttpError", "http", str(status))
    media, _, params = headers.get("content-type", "").partition(";")
    if media.strip().lower() != MEDIA_TYPES[kind]:
        report.add("UnexpectedContentType", "http", media)
    charset = next((p.split("=", 1)[1].strip().strip('"') for p in params.split(";")
                    if p.strip().lower().startswith("charset=")), None)
    declared = _DECLARED.match(data)
    if charset and declared and charset.lower() != declared.group(1).decode().lower():
        report.add("EncodingMismatch", "http", f"{charset} vs {declared.group(1).decode()}")
    return report.messages

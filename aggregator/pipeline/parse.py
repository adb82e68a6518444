"""The parse stage: bytes -> ParsedFeed. feedparser is used only here, and never fetches.

feedparser's own sanitizing and relative-URI resolution are turned off: the normalize
stage does both once, faster and stricter (see DESIGN.md, "Library pitfalls").
"""

from __future__ import annotations

import calendar
import codecs
import io
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html

from aggregator.errors import ParseError
from aggregator.models import ParsedEntry, ParsedFeed
from aggregator.pipeline.parse_fast import parse_fast, primary_subtag
from aggregator.text.dates import feedparser_handler

# feedparser reads these bozo exceptions as harmless: the document was still read fully.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)

# Arabic/French/Russian month names, dd/mm/yyyy, and RFC 822 zones feedparser reads as UTC
# (EET, MSK): our handler runs first and returns at once for the dates feedparser reads right.
feedparser.registerDateHandler(feedparser_handler)


def parse(body: bytes, *, url: str, content_type: str | None = None,
          fast: bool = True) -> ParsedFeed:
    """Parse one feed document; raise ParseError when it is not a feed.

    Well-formed RSS and Atom take the lxml fast path; feedparser reads everything else.
    """
    body, content_type = _repair_encoding(body, content_type)
    if fast:
        feed = parse_fast(body, url=url, content_type=content_type, parse_date=_parse_date)
        if feed is not None:
            return feed
    # No Content-Location: feedparser would resolve guids against the fetch URL, and an
    # item's identity must not change when the feed moves. Links are resolved in normalize.
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    # A BytesIO, never bytes or str: feedparser treats a str as a URL to fetch and tries
    # bytes as a local file name before parsing them.
    result = feedparser.parse(io.BytesIO(body), response_headers=headers,
                              sanitize_html=False, resolve_relative_uris=False)
    _check(result, body, url)
    feed = result.feed
    entries = tuple(_entry(e) for e in result.entries)
    if result.get("bozo") and not isinstance(result.get("bozo_exception"), _HARMLESS):
        # feedparser's loose parser salvages broken documents; keep only entries it
        # really read, and call the document broken when none is left.
        entries = tuple(e for e in entries if e.title or e.link or e.guid)
        if not entries:
            raise ParseError(f"malformed feed ({_reason(result.get('bozo_exception'))})")
    return ParsedFeed(
        title=_text(feed.get("title")),
        link=feed.get("link") or None,
        language=primary_subtag(feed.get("language") or _detail_lang(feed, "title_detail")),
        base_url=url,
        entries=entries,
        ttl_minutes=_int(feed.get("ttl")),
        format=result.get("version") or "",
    )


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
_DECLARATION = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9._:-]+)([\"'])")
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?[^;\"]*\"?", re.I)


def _repair_encoding(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """Settle two cases feedparser gets wrong before it sees the bytes.

    A byte-order mark decides the encoding (XML 1.0 appendix F), even when the server
    says text/xml without a charset. And a body that is valid UTF-8 with non-ASCII bytes
    is UTF-8 whatever its label says: Arabic text in windows-1256 or ISO-8859-6 is never
    valid UTF-8, but many CMSs label their UTF-8 feeds with the old encoding.
    """
    text = None
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            try:
                text = body[len(bom):].decode(encoding)
            except UnicodeDecodeError:
                return body, content_type
            break
    if text is None:
        declared = _declared(body, content_type)
        if declared in (None, "utf-8", "utf8") or body.isascii():
            return body, content_type
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body, content_type  # really in the legacy encoding it declares
    utf8 = _DECLARATION.sub(rb"\1utf-8\3", text.encode("utf-8"), count=1)
    media = _CHARSET.sub("", content_type or "application/xml")
    return utf8, f"{media}; charset=utf-8"


def _declared(body: bytes, content_type: str | None) -> str | None:
    """The HTTP charset, else the XML declaration's encoding, lower-cased."""
    if content_type:
        match = re.search(r"charset\s*=\s*\"?([^;\"\s]+)", content_type, re.I)
        if match:
            return match[1].lower()
    match = _DECLARATION.match(body[:200])
    return match[2].decode("ascii").lower() if match else None


def _check(result: Any, body: bytes, url: str) -> None:
    if not body.strip():
        raise ParseError("empty response body")
    version = result.get("version") or ""
    exc = result.get("bozo_exception")
    if not version:
        if _HTML.search(body[:2048]):  # a site's page where its feed was expected
            raise ParseError(_html_page(body, url))
        if exc is not None and not isinstance(exc, _HARMLESS):
            raise ParseError(f"not a feed: malformed XML ({_reason(exc)})")
        raise ParseError("not a feed: the document is not RSS or Atom")


# The start of an HTML page: its doctype or its root element, after an XML declaration,
# comments or a byte-order mark.
_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]", re.I)
# What a page's <link rel="alternate"> calls a feed that this parser reads.
_FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml"}
_SHOWN = 3  # feeds named in the message at most


def _html_page(body: bytes, url: str) -> str:
    """The error for an HTML page, naming the feeds it links (<link rel="alternate"
    type="application/rss+xml" href=...>, absolute): a source whose URL is its site's home
    page, or an article, tells the operator what to put in feeds.yaml instead."""
    try:
        page = lxml.html.document_fromstring(body)
    except (lxml.etree.ParserError, ValueError):
        page = None
    feeds: list[str] = []
    for link in page.iter("link") if page is not None else ():
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in _FEED_TYPES and href:
            found = urljoin(url, href)
            if found not in feeds:
                feeds.append(found)
    if not feeds:
        return "not a feed: an HTML page, which links no feed"
    if len(feeds) == 1:
        return f"not a feed: an HTML page, which links its feed at {feeds[0]}: put that URL " \
               "in feeds.yaml"
    named = ", ".join(feeds[:_SHOWN]) + (", …" if len(feeds) > _SHOWN else "")
    return f"not a feed: an HTML page, which links {len(feeds)} feeds ({named}): put one in " \
           "feeds.yaml"


def _reason(exc: BaseException | None) -> str:
    text = str(exc or "unknown error")
    line = getattr(exc, "getLineNumber", None)
    return f"line {line()}: {text}" if callable(line) else text


def _entry(e: Any) -> ParsedEntry:
    content = e.get("content") or []
    return ParsedEntry(
        guid=(e.get("id") or "").strip() or None,
        link=(e.get("link") or "").strip() or None,
        title=e.get("title") or "",
        summary_html=e.get("summary") or "",
        content_html="".join(c.get("value") or "" for c in content[:1]),
        author=(e.get("author") or "").strip() or None,
        language=primary_subtag(_detail_lang(e, "title_detail") or _detail_lang(e, "summary_detail")
                           or e.get("language")),
        published=_date(e.get("published_parsed")),
        # dict.get: feedparser's own .get maps a missing updated to published, with a warning
        updated=_date(dict.get(e, "updated_parsed")),
        image=_image(e),
    )


def _detail_lang(obj: Any, key: str) -> str | None:
    detail = obj.get(key)
    return detail.get("language") if detail else None


def _parse_date(text: str) -> datetime | None:
    """feedparser's date reading (our handlers first), for the fast path."""
    return _date(feedparser.datetimes._parse_date(text))


def _date(parsed: time.struct_time | None) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _image(e: Any) -> str | None:
    for enclosure in e.get("enclosures") or []:
        if (enclosure.get("type") or "").startswith("image/") and enclosure.get("href"):
            return str(enclosure["href"])
    for media in (e.get("media_thumbnail") or []) + (e.get("media_content") or []):
        if media.get("url"):
            return str(media["url"])
    return None


def _text(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None

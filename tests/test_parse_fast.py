"""The lxml fast path reads every document it accepts exactly as feedparser does."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.pipeline.parse import parse
from aggregator.pipeline.parse_fast import parse_fast

FEEDS = Path(__file__).parent / "data" / "feeds"
ACCEPTED = ["rss20_en.xml", "rss20_ar.xml", "rss20_ar_variants.xml", "rss20_ar_cp1256.xml",
            "rss10.rdf", "atom10.xml", "missing_guids.xml", "repeated_guids.xml", "empty.xml"]
URL = "https://outlet.example/feed.xml"


def _never(_: str) -> None:
    raise AssertionError("not reached")


@pytest.mark.parametrize("name", ACCEPTED)
def test_fast_path_equals_feedparser(name: str) -> None:
    body = (FEEDS / name).read_bytes()
    fast = parse(body, url=URL)
    slow = parse(body, url=URL, fast=False)
    assert fast.entries == slow.entries
    assert (fast.title, fast.link, fast.language, fast.ttl_minutes) == \
        (slow.title, slow.link, slow.language, slow.ttl_minutes)
    assert parse_fast(body, url=URL, content_type=None, parse_date=lambda s: None) is not None


@pytest.mark.parametrize("name", ["entities.xml", "malformed.xml", "not_a_feed.html"])
def test_fast_path_declines_what_it_does_not_know(name: str) -> None:
    body = (FEEDS / name).read_bytes()
    assert parse_fast(body, url=URL, content_type=None, parse_date=_never) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("snippet", [
    # XHTML title and content: feedparser serializes them itself
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>1</id>'
    b'<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></title></entry>'
    b"</feed>",
    # markup inside an RSS description
    b'<rss version="2.0"><channel><title>t</title><item><title>a</title>'
    b"<description><p>raw</p></description></item></channel></rss>",
    # an HTTP charset is honoured by feedparser, so the fast path steps aside
])
def test_fast_path_declines_quirks(snippet: bytes) -> None:
    assert parse_fast(snippet, url=URL, content_type=None, parse_date=lambda s: None) is None


def test_http_charset_disagreeing_with_the_document_goes_to_feedparser() -> None:
    body = (FEEDS / "rss20_ar_cp1256.xml").read_bytes()
    assert parse_fast(body, url=URL, content_type="text/xml; charset=windows-1256",
                      parse_date=lambda s: None) is not None
    assert parse_fast(body, url=URL, content_type="text/xml; charset=iso-8859-1",
                      parse_date=lambda s: None) is None


def test_guid_permalink_stands_in_for_a_missing_link() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><item><title>a</title>'
            b"<guid>https://o.example/a</guid></item><item><title>b</title>"
            b'<guid isPermaLink="false">https://o.example/b</guid></item></channel></rss>')
    assert parse(body, url=URL).entries == parse(body, url=URL, fast=False).entries

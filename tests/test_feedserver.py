"""Checks for the test HTTP server (tests/feedserver.py) and the fixture feeds it serves.

Other tests trust both, so a quirk a fixture claims to carry (README.md beside it) is
asserted here against feedparser's reading of the bytes.
"""

import gzip
import http.client
import re
import time
import unicodedata
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import feedparser
import httpx
import pytest
from feedserver import FEEDS_DIR, FeedServer, Route

# --- the server -----------------------------------------------------------------------


def test_route_answers_body_with_length_and_default_type(feed_server: FeedServer) -> None:
    feed_server.route("/feed.xml", b"<rss/>")
    response = httpx.get(feed_server.url("/feed.xml"))
    assert response.status_code == 200
    assert response.content == b"<rss/>"
    assert response.headers["Content-Length"] == "6"
    assert response.headers["Content-Type"] == "application/xml"
    assert feed_server.hits("/feed.xml") == 1


def test_url_and_route_accept_paths_without_leading_slash(feed_server: FeedServer) -> None:
    feed_server.route("a/b", "héllo", headers={"Content-Type": "text/plain; charset=utf-8"})
    assert feed_server.url("a/b") == f"http://127.0.0.1:{feed_server.port}/a/b"
    response = httpx.get(feed_server.url("/a/b"))
    assert response.text == "héllo"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_unknown_path_is_404_and_still_counted(feed_server: FeedServer) -> None:
    response = httpx.get(feed_server.url("/missing"))
    assert response.status_code == 404
    assert feed_server.hits("/missing") == 1
    assert feed_server.hits("/never") == 0
    assert feed_server.requests("/never") == []


def test_matching_etag_gets_304_with_validators_and_no_body(feed_server: FeedServer) -> None:
    feed_server.route(
        "/feed", b"<rss/>", etag='"v1"', last_modified="Tue, 24 Nov 2026 09:00:00 GMT"
    )
    with httpx.Client() as client:
        first = client.get(feed_server.url("/feed"))
        again = client.get(feed_server.url("/feed"), headers={"If-None-Match": '"v1"'})
        weak = client.get(feed_server.url("/feed"), headers={"If-None-Match": 'W/"v1"'})
        other = client.get(feed_server.url("/feed"), headers={"If-None-Match": '"v0", "v2"'})
    assert first.status_code == 200
    assert first.headers["ETag"] == '"v1"'
    assert first.headers["Last-Modified"] == "Tue, 24 Nov 2026 09:00:00 GMT"
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == '"v1"'
    assert weak.status_code == 304
    assert other.status_code == 200
    assert other.content == b"<rss/>"
    assert [r.get("If-None-Match") for r in feed_server.requests("/feed")] == [
        None,
        '"v1"',
        'W/"v1"',
        '"v0", "v2"',
    ]


def test_equal_if_modified_since_gets_304(feed_server: FeedServer) -> None:
    stamp = "Tue, 24 Nov 2026 09:00:00 GMT"
    feed_server.route("/feed", b"<rss/>", last_modified=stamp)
    with httpx.Client() as client:
        same = client.get(feed_server.url("/feed"), headers={"If-Modified-Since": stamp})
        older = client.get(
            feed_server.url("/feed"),
            headers={"If-Modified-Since": "Mon, 23 Nov 2026 09:00:00 GMT"},
        )
    assert same.status_code == 304
    assert older.status_code == 200


def test_if_none_match_takes_precedence_over_if_modified_since(feed_server: FeedServer) -> None:
    stamp = "Tue, 24 Nov 2026 09:00:00 GMT"
    feed_server.route("/feed", b"<rss/>", etag='"v2"', last_modified=stamp)
    stale = {"If-None-Match": '"v1"', "If-Modified-Since": stamp}
    response = httpx.get(feed_server.url("/feed"), headers=stale)
    assert response.status_code == 200


def test_validators_do_not_turn_errors_into_304(feed_server: FeedServer) -> None:
    feed_server.route("/feed", b"down", status=503, etag='"v1"')
    response = httpx.get(feed_server.url("/feed"), headers={"If-None-Match": '"v1"'})
    assert response.status_code == 503


def test_sequence_answers_in_turn_and_repeats_the_last(feed_server: FeedServer) -> None:
    feed_server.route(
        "/feed",
        [
            Route(b"busy", status=503, headers={"Retry-After": "120"}),
            Route(b"<rss>one</rss>"),
            b"<rss>two</rss>",
        ],
    )
    with httpx.Client() as client:
        answers = [client.get(feed_server.url("/feed")) for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 200, 200, 200]
    assert answers[0].headers["Retry-After"] == "120"
    assert [a.content for a in answers[1:]] == [b"<rss>one</rss>", b"<rss>two</rss>"] + [
        b"<rss>two</rss>"
    ]
    assert feed_server.hits("/feed") == 4


def test_rerouting_restarts_the_sequence_but_keeps_hits(feed_server: FeedServer) -> None:
    feed_server.route("/feed", [b"a", b"b"])
    with httpx.Client() as client:
        client.get(feed_server.url("/feed"))
        feed_server.route("/feed", [b"c", b"d"])
        assert client.get(feed_server.url("/feed")).content == b"c"
    assert feed_server.hits("/feed") == 2


def test_keyword_fields_apply_to_a_given_route(feed_server: FeedServer) -> None:
    feed_server.route("/feed", Route(b"<rss/>"), status=410)
    assert httpx.get(feed_server.url("/feed")).status_code == 410


def test_empty_sequence_is_refused(feed_server: FeedServer) -> None:
    with pytest.raises(ValueError, match="at least one"):
        feed_server.route("/feed", [])


def test_redirect_with_location(feed_server: FeedServer) -> None:
    feed_server.route("/old", status=301, headers={"Location": feed_server.url("/new")})
    feed_server.route("/new", b"<rss/>")
    response = httpx.get(feed_server.url("/old"), follow_redirects=True)
    assert response.content == b"<rss/>"
    assert response.history[0].status_code == 301
    assert feed_server.hits("/old") == 1
    assert feed_server.hits("/new") == 1


def test_gzip_compresses_the_given_body(feed_server: FeedServer) -> None:
    body = b"<rss>" + b"x" * 1000 + b"</rss>"
    feed_server.route("/feed", body, gzip=True)
    response = httpx.get(feed_server.url("/feed"))
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) < len(body)
    assert response.content == body
    # urllib does not decode, so it shows the bytes on the wire.
    with urllib.request.urlopen(feed_server.url("/feed")) as raw:
        assert gzip.decompress(raw.read()) == body


def test_raw_body_goes_out_untouched(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 1_000_000)
    feed_server.route("/bomb", bomb, gzip=True, raw=True)
    with urllib.request.urlopen(feed_server.url("/bomb")) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.read() == bomb


def test_delay_slows_the_answer(feed_server: FeedServer) -> None:
    feed_server.route("/slow", b"late", delay=0.3)
    started = time.monotonic()
    response = httpx.get(feed_server.url("/slow"))
    assert time.monotonic() - started >= 0.3
    assert response.content == b"late"


def test_client_timeout_on_delay_is_quiet(
    feed_server: FeedServer, capfd: pytest.CaptureFixture[str]
) -> None:
    feed_server.route("/slow", b"late", delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(feed_server.url("/slow"), timeout=0.05)
    time.sleep(0.5)  # let the server write to the connection the client dropped
    assert feed_server.hits("/slow") == 1
    assert capfd.readouterr().err == ""


def test_server_is_quiet(feed_server: FeedServer, capfd: pytest.CaptureFixture[str]) -> None:
    feed_server.route("/feed", b"<rss/>")
    with httpx.Client() as client:
        client.get(feed_server.url("/feed"))
        client.get(feed_server.url("/missing"))
    assert capfd.readouterr().err == ""


def test_close_is_prompt_with_sleeping_and_idle_connections() -> None:
    server = FeedServer()
    server.route("/slow", b"late", delay=30)
    server.route("/feed", b"<rss/>")
    with httpx.Client(timeout=0.2) as client:
        client.get(server.url("/feed"))  # leaves an idle keep-alive connection
        with pytest.raises(httpx.ReadTimeout):
            client.get(server.url("/slow"))
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 2
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url("/feed"), timeout=1)


def test_context_manager_closes() -> None:
    with FeedServer() as server:
        server.route("/feed", b"<rss/>")
        assert httpx.get(server.url("/feed")).status_code == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url("/feed"), timeout=1)


def test_keep_alive_reuses_one_connection(feed_server: FeedServer) -> None:
    feed_server.route("/feed", b"<rss/>", etag='"v1"')
    connection = http.client.HTTPConnection("127.0.0.1", feed_server.port, timeout=5)
    try:
        connection.request("GET", "/feed")
        first = connection.getresponse()
        assert first.read() == b"<rss/>"
        sock = connection.sock
        connection.request("GET", "/feed", headers={"If-None-Match": '"v1"'})
        second = connection.getresponse()
        assert second.status == 304
        assert second.read() == b""
        connection.request("GET", "/missing")
        third = connection.getresponse()
        assert third.status == 404
        third.read()
        assert not third.will_close
        assert connection.sock is sock
    finally:
        connection.close()


def test_head_sends_length_without_body(feed_server: FeedServer) -> None:
    feed_server.route("/feed", b"<rss/>")
    response = httpx.head(feed_server.url("/feed"))
    assert response.headers["Content-Length"] == "6"
    assert response.content == b""


def test_requests_record_headers_in_title_case(feed_server: FeedServer) -> None:
    feed_server.route("/feed", b"<rss/>")
    httpx.get(
        feed_server.url("/feed"),
        headers={"user-agent": "aggregator-test/1.0", "if-modified-since": "x"},
    )
    (headers,) = feed_server.requests("/feed")
    assert headers["User-Agent"] == "aggregator-test/1.0"
    assert headers["If-Modified-Since"] == "x"
    assert "gzip" in headers["Accept-Encoding"]


def test_query_strings_match_exactly_or_fall_back_to_the_path(feed_server: FeedServer) -> None:
    feed_server.route("/feed", b"any")
    feed_server.route("/feed?page=2", b"second")
    with httpx.Client() as client:
        assert client.get(feed_server.url("/feed?page=2")).content == b"second"
        assert client.get(feed_server.url("/feed?utm_source=rss")).content == b"any"
    assert feed_server.hits("/feed?page=2") == 1
    assert feed_server.hits("/feed") == 1


def test_hits_are_counted_under_concurrency(feed_server: FeedServer) -> None:
    feed_server.route("/feed", [Route(b"<rss/>", delay=0.01)])

    def fetch(_: int) -> int:
        return httpx.get(feed_server.url("/feed")).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(fetch, range(40)))
    assert statuses == [200] * 40
    assert feed_server.hits("/feed") == 40
    assert len(feed_server.requests("/feed")) == 40


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("rss20_en.xml", "application/xml"),
        ("atom10.xml", "application/atom+xml"),
        ("rss10.rdf", "application/rdf+xml"),
        ("not_a_feed.html", "text/html; charset=utf-8"),
    ],
)
def test_serve_file_sends_fixture_bytes(
    feed_server: FeedServer, name: str, content_type: str
) -> None:
    feed_server.serve_file("/f", name)
    response = httpx.get(feed_server.url("/f"))
    assert response.headers["Content-Type"] == content_type
    assert response.content == (FEEDS_DIR / name).read_bytes()


def test_serve_file_takes_route_fields(feed_server: FeedServer) -> None:
    feed_server.serve_file(
        "/f", "rss20_ar.xml", "application/rss+xml", gzip=True, etag='"ar"', headers={"X-A": "1"}
    )
    response = httpx.get(feed_server.url("/f"))
    assert response.headers["Content-Type"] == "application/rss+xml"
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["X-A"] == "1"
    assert response.content == (FEEDS_DIR / "rss20_ar.xml").read_bytes()
    repeat = httpx.get(feed_server.url("/f"), headers={"If-None-Match": '"ar"'})
    assert repeat.status_code == 304


# --- the fixture feeds ----------------------------------------------------------------

GOOD_FEEDS = [
    # (file, feedparser version, entry count)
    ("rss20_en.xml", "rss20", 4),
    ("rss20_ar.xml", "rss20", 5),
    ("rss20_ar_variants.xml", "rss20", 2),
    ("rss20_ar_cp1256.xml", "rss20", 3),
    ("rss10.rdf", "rss10", 3),
    ("atom10.xml", "atom10", 4),
    ("missing_guids.xml", "rss20", 3),
    ("repeated_guids.xml", "rss20", 3),
    ("empty.xml", "rss20", 0),
]


def parse(name: str, **kwargs: bool) -> feedparser.FeedParserDict:
    return feedparser.parse((FEEDS_DIR / name).read_bytes(), **kwargs)


def title_key(title: str) -> str:
    """A reference Arabic title key: the README's claim about the variants, made testable."""
    text = unicodedata.normalize("NFKC", title)
    text = re.sub("[\u064b-\u065f\u0670\u0640]", "", text)  # harakat, dagger alef, tatweel
    text = re.sub("[\u0622\u0623\u0625]", "\u0627", text)  # alef with madda/hamza -> alef
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split()).casefold()


@pytest.mark.parametrize(("name", "version", "count"), GOOD_FEEDS)
def test_good_fixtures_parse_cleanly(name: str, version: str, count: int) -> None:
    parsed = parse(name)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    assert len(parsed.entries) == count


@pytest.mark.parametrize(("name", "version", "count"), GOOD_FEEDS)
def test_fixture_dates_fall_in_late_november_2026(name: str, version: str, count: int) -> None:
    for entry in parse(name).entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        assert stamp is not None, entry.title
        assert (stamp.tm_year, stamp.tm_mon) == (2026, 11)
        assert 20 <= stamp.tm_mday <= 27


@pytest.mark.parametrize("name", ["not_a_feed.html", "malformed.xml"])
def test_non_feeds_are_bozo_without_entries(name: str) -> None:
    parsed = parse(name)
    assert parsed.bozo
    assert parsed.entries == []


def test_entity_expansion_is_not_expanded() -> None:
    parsed = parse("entities.xml")
    assert parsed.bozo
    assert len(parsed.entries) == 1
    assert len(parsed.entries[0].title) < 100
    assert "lollol" not in parsed.entries[0].title


def test_rss20_en_tracking_link_and_permalink_guids() -> None:
    parsed = parse("rss20_en.xml")
    assert parsed.feed.title == "Wire One"
    assert parsed.feed.link == "https://wire-one.example/"
    iran = parsed.entries[1]
    assert iran.link == (
        "https://wire-one.example/world/2026/11/23/iran-nuclear-talks-vienna"
        "?utm_source=rss&utm_medium=feed#comments"
    )
    assert iran.id == "https://wire-one.example/world/2026/11/23/iran-nuclear-talks-vienna"
    assert all(entry.guidislink is False for entry in parsed.entries)
    assert [entry.id == entry.link for entry in parsed.entries] == [True, False, True, True]


def test_rss20_ar_quirks() -> None:
    parsed = parse("rss20_ar.xml")
    assert parsed.feed.language == "ar"
    titles = [entry.title for entry in parsed.entries]
    assert "زيلينسكي" in titles[0] and "كييف" in titles[0] and "الكرملين" in titles[0]
    assert "إيران" in titles[1]
    assert "غزة" in titles[2]
    assert "\u0640" in titles[3] and "\u0651" in titles[3] and "\u064f" in titles[3]
    assert titles[4].endswith(" ×")
    assert parsed.entries[2].published == "Sun, 22 Nov 2026 14:00:00 +0200"


def test_ar_variant_headline_shares_a_normalized_key_only() -> None:
    original = parse("rss20_ar.xml").entries[0]
    variant = parse("rss20_ar_variants.xml").entries[0]
    assert original.title != variant.title
    assert title_key(original.title) == title_key(variant.title)
    assert original.link != variant.link
    assert "زيلنسكي" in variant.summary and "الكرملن" in variant.summary
    assert "كييف" in variant.summary
    others = {title_key(e.title) for e in parse("rss20_ar.xml").entries}
    assert title_key(parse("rss20_ar_variants.xml").entries[1].title) not in others


def test_cp1256_fixture_decodes_to_arabic() -> None:
    raw = (FEEDS_DIR / "rss20_ar_cp1256.xml").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    parsed = parse("rss20_ar_cp1256.xml")
    assert parsed.encoding == "windows-1256"
    assert parsed.feed.title == "البريد العربي"
    assert parsed.entries[0].title == "إيران توافق على جولة جديدة من المحادثات النووية"


def test_rss10_has_dc_dates_and_rdf_about_ids() -> None:
    first = parse("rss10.rdf").entries[0]
    link = "https://northern-ledger.example/2026/11/25/kyiv-power-grid-winter"
    assert first.id == first.link == link
    assert first.updated == "2026-11-25T07:30:00Z"
    assert "Kyiv" in first.title


def test_atom_relative_links_languages_and_hostile_html() -> None:
    parsed = parse("atom10.xml")
    us, fr, hostile, ukraine = parsed.entries
    assert us.link == "https://crossroads.example/news/2026/11/white-house-congress-spending.html"
    assert 'src="https://crossroads.example/img/2026/11/capitol-dome.jpg"' in us.content[0].value
    assert "White House" in us.title and "Congress" in us.title
    assert fr.title_detail.language == "fr"
    assert us.title_detail.language == "en"
    assert fr.author == "Élodie Marchand"
    assert us.published == "2026-11-26T14:00:00Z" and us.updated == "2026-11-26T18:30:00Z"
    assert "Ukraine" in ukraine.title
    raw = parse("atom10.xml", sanitize_html=False, resolve_relative_uris=False)
    html = raw.entries[2].content[0].value
    assert hostile.title == raw.entries[2].title
    for marker in ("<script>alert(1)</script>", "<iframe", "onclick=", 'href="javascript:'):
        assert marker in html
    assert 'src="/img/2026/11/capitol-dome.jpg"' in raw.entries[0].content[0].value


def test_missing_guids_fall_back_to_link_or_nothing() -> None:
    entries = parse("missing_guids.xml").entries
    assert all("id" not in entry for entry in entries)
    assert [entry.get("link") for entry in entries] == [
        "https://valley-gazette.example/local/bus-routes-approved",
        "https://valley-gazette.example/local/flood-defences-finished",
        None,
    ]
    assert entries[2].title == "Road closure notice: Mill Lane"


def test_repeated_guids_share_one_id_across_distinct_links() -> None:
    entries = parse("repeated_guids.xml").entries
    assert {entry.id for entry in entries} == {"metro-daily-article"}
    assert len({entry.link for entry in entries}) == 3


def test_fixture_served_gzipped_parses_the_same(feed_server: FeedServer) -> None:
    feed_server.serve_file("/ar.xml", "rss20_ar_cp1256.xml", gzip=True)
    response = httpx.get(feed_server.url("/ar.xml"))
    parsed = feedparser.parse(response.content)
    assert parsed.entries[0].title == parse("rss20_ar_cp1256.xml").entries[0].title

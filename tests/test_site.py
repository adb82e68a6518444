"""The web site and HTTP for every output, over a real socket: validators, 304s, HEAD, gzip,
media types, cache lifetimes, 404s without leaks, identical ETags on two nodes, and what the
pages show (escaped, directed, discoverable)."""

from __future__ import annotations

import contextlib
import gzip
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import lxml.html
import pytest
from lxml import etree
from published import DESCRIPTION, HOSTILE_OUTLET, Site, build_site, free_port, serving

from aggregator.cli import main
from aggregator.site.views import source_line
from aggregator.store import SourceStatus

A = "{http://www.w3.org/2005/Atom}"
HTML = "text/html; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def base(site: Site) -> Iterator[str]:
    with serving(site.config) as url:
        yield url


def outputs(site: Site) -> dict[str, tuple[str, int]]:
    """Every kind of output: path -> (Content-Type, max-age)."""
    day = sorted(p.stem for p in (site.public / "archive" / "ukraine").glob("*.atom"))[0]
    closed = day < datetime.now(UTC).date().isoformat()
    return {
        "/": (HTML, 300), "/sections/ukraine": (HTML, 300), "/status": (HTML, 60),
        "/feeds/ukraine.atom": (ATOM, 300),
        "/feeds/ukraine.rss": ("application/rss+xml; charset=utf-8", 300),
        "/feeds/ukraine.json": ("application/feed+json; charset=utf-8", 300),
        f"/feeds/ukraine/archive/{day}.atom": (ATOM, 86400 if closed else 300),
        "/opml/sources.opml": ("text/x-opml; charset=utf-8", 300),
        "/opml/sections.opml": ("text/x-opml; charset=utf-8", 300),
    }


def test_every_output_speaks_http_properly(site: Site, base: str) -> None:
    with httpx.Client() as client:
        for path, (media, max_age) in outputs(site).items():
            r = client.get(base + path, headers={"Accept-Encoding": "identity"})
            assert r.status_code == 200, path
            assert r.headers["content-type"] == media, path
            etag = r.headers["etag"]
            assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10, path
            modified = parsedate_to_datetime(r.headers["last-modified"])
            assert modified <= datetime.now(UTC)
            assert r.headers["cache-control"] == f"public, max-age={max_age}", path
            assert r.headers["vary"] == "Accept-Encoding"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert int(r.headers["content-length"]) == len(r.content) > 0
            for validators in ({"If-None-Match": etag}, {"If-None-Match": f'"x", W/{etag}'},
                               {"If-Modified-Since": r.headers["last-modified"]}):
                again = client.get(base + path, headers=validators)
                assert again.status_code == 304 and again.content == b"", (path, validators)
                assert again.headers["etag"] == etag
            changed = client.get(base + path, headers={"If-None-Match": '"other"'})
            assert changed.status_code == 200
            head = client.head(base + path, headers={"Accept-Encoding": "identity"})
            assert head.status_code == 200 and head.content == b""
            assert head.headers["content-length"] == r.headers["content-length"]
            assert head.headers["etag"] == etag
            zipped = client.get(base + path, headers={"Accept-Encoding": "gzip"})
            if len(r.content) >= 1024:
                assert zipped.headers["content-encoding"] == "gzip", path
                assert zipped.content == r.content  # httpx inflates it
            refused = client.get(base + path, headers={"Accept-Encoding": "gzip;q=0"})
            assert "content-encoding" not in refused.headers


def test_raw_gzip_body_is_valid(base: str) -> None:
    with httpx.Client() as client, client.stream(
            "GET", base + "/feeds/ukraine.atom", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert gzip.decompress(raw).startswith(b"<?xml")


@pytest.mark.parametrize("path", [
    "/feeds/nope.atom", "/feeds/nope.rss", "/feeds/ukraine.xml", "/feeds/UKRAINE.atom",
    "/feeds/nope/archive/2026-11-24.atom", "/feeds/ukraine/archive/2026-01-01.atom",
    "/feeds/ukraine/archive/latest.atom", "/feeds/ukraine/archive/../../feeds.yaml",
    "/sections/nope", "/sections/ukraine/", "/sections/ukraine.html", "/sections/../feeds.yaml",
    "/opml/other.opml", "/opml/../feeds.yaml", "/feeds.yaml", "/db.sqlite", "/public/index.html",
    "/feeds/..%2f..%2ffeeds.yaml", "/%2e%2e/feeds.yaml", "/archive/ukraine",
])
def test_unknown_paths_are_404_without_leaks(base: str, path: str) -> None:
    r = httpx.get(base + path)
    assert r.status_code == 404 and r.content == b"not found\n"


def test_two_nodes_serve_the_same_validators(site: Site, base: str) -> None:
    with serving(site.config) as other, httpx.Client() as client:
        for path in outputs(site):
            a, b = client.get(base + path), client.get(other + path)
            assert a.content == b.content, path
            assert (a.headers["etag"], a.headers["last-modified"]) == \
                (b.headers["etag"], b.headers["last-modified"]), path


def test_index_lists_sections_with_subscribe_links(site: Site, base: str) -> None:
    page = lxml.html.fromstring(httpx.get(base + "/").content)
    discovery = page.xpath('//head/link[@rel="alternate"]')
    assert {x.get("href") for x in discovery} == {
        f"feeds/{s}.atom" for s in ("ukraine", "iran", "us", "ukraine-ar")}
    for section, stories in (("ukraine", _entries(site, "ukraine")), ("iran", None)):
        card = page.get_element_by_id(f"section-{section}")
        links = {a.get("href"): a.get("type") for a in card.iter("a")}
        assert links == {f"sections/{section}": None,
                         f"feeds/{section}.atom": "application/atom+xml",
                         f"feeds/{section}.rss": "application/rss+xml",
                         f"feeds/{section}.json": "application/feed+json"}
        text = card.text_content()
        if stories is not None:
            assert f"{len(stories)} stories in the feed" in text
        assert card.xpath(".//time/@datetime")  # last update
    assert page.xpath('//a[@href="status"]') and page.xpath('//a[@href="opml/sources.opml"]')
    _self_contained(page)


def test_section_page_shows_stories_readably(site: Site, base: str) -> None:
    raw = httpx.get(base + "/sections/ukraine").text
    page = lxml.html.fromstring(raw)
    assert {(x.get("type"), x.get("href")) for x in page.xpath('//head/link[@rel="alternate"]')} \
        == {("application/atom+xml", "../feeds/ukraine.atom"),
            ("application/rss+xml", "../feeds/ukraine.rss"),
            ("application/feed+json", "../feeds/ukraine.json")}
    articles = page.xpath("//article")
    entries = _entries(site, "ukraine")
    assert [a.get("id") for a in articles] == [f"story-{i[9:]}" for i, _ in entries]
    for article, (_, language) in zip(articles, entries, strict=True):
        assert article.get("lang") == (language or None)
        expected = {"ar": "rtl", "en": "ltr", "fr": "ltr", "": "auto"}[language]
        assert article.get("dir") == expected
        assert article.xpath(".//time/@datetime") and article.xpath(".//ul[@class='reports']/li")
        assert article.xpath(".//ul[@class='topics']/li/text()") == ["Ukraine"]
    # the Zelensky story: two Arabic and two English outlets (one story since issue 5), each
    # report with its own direction
    told = next(a for a in articles if len(a.xpath(".//ul[@class='reports']/li")) > 1)
    reports = told.xpath(".//ul[@class='reports']/li")
    assert sorted((r.get("lang"), r.get("dir")) for r in reports) == [
        ("ar", "rtl"), ("ar", "rtl"), ("en", "ltr"), ("en", "ltr")]
    # what came from feeds and feeds.yaml is text, never markup
    assert "<script" not in raw and "&lt;script&gt;" in raw
    assert HOSTILE_OUTLET not in raw and "&lt;i&gt;Evil&lt;/i&gt; &amp; Co" in raw
    assert DESCRIPTION in page.text_content() and "<b>news</b>" not in raw
    assert "onclick" not in raw and "steal()" not in raw
    _self_contained(page)


def _entries(site: Site, section: str) -> list[tuple[str, str]]:
    feed = etree.parse(site.public / f"{section}.atom").getroot()
    return [(e.findtext(f"{A}id"), e.get("{http://www.w3.org/XML/1998/namespace}lang"))
            for e in feed.findall(f"{A}entry")]


def _self_contained(page: lxml.html.HtmlElement) -> None:
    """No script, no external stylesheet, image or font: the page works offline."""
    assert not page.xpath("//script") and not page.xpath('//link[@rel="stylesheet"]')
    assert not [x for x in page.xpath("//@src") if not x.startswith("data:")]
    assert page.xpath('//meta[@name="viewport"]')
    assert "@media (max-width:600px)" in lxml.html.tostring(page, encoding="unicode")


def test_status_page_shows_each_source(site: Site, base: str) -> None:
    r = httpx.get(base + "/status")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = lxml.html.fromstring(r.content)

    def row(source: str) -> tuple[str, str]:
        tr = page.get_element_by_id(f"source-{source}")
        return tr.xpath("string(td[contains(@class, 'state')])"), tr.text_content()

    assert row("wire-one")[0] == "healthy"
    state, text = row("http-500")
    assert state == "failing" and "HTTP 500" in text and "failing since" in text
    assert row("unreachable")[0] == "failing"
    state, text = row("gone")
    assert state == "retired" and "410 Gone" in text
    polls = page.xpath("//h2[.='Last polls']/following::table[1]/tbody/tr")
    assert len(polls) == 16  # one per source: the pass that built the site
    assert "<i>Evil</i>" not in r.text


def test_status_page_follows_new_polls(site: Site, base: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aggregator.web.status.RECHECK", 0.0)  # no grace between checks
    before = httpx.get(base + "/status")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--config", str(site.config), "poll", "--source", "wire-one"]) == 0
    after = httpx.get(base + "/status", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    assert after.text.count("<td>wire-one</td>") == 2


@pytest.mark.parametrize(("changes", "enabled", "state"), [
    ({}, True, "healthy"), ({"last_outcome": None}, True, "new"), ({}, False, "disabled"),
    ({"retired": True}, True, "retired"),
    ({"last_outcome": "error", "error_since": datetime(2026, 1, 1, tzinfo=UTC)}, True,
     "failing"),
    ({"last_outcome": "error"}, True, "waiting"),  # not counted: its host said wait
    ({"moved_to": "https://new.example/feed"}, True, "moved"),
])
def test_source_states(changes: dict[str, object], enabled: bool, state: str) -> None:
    values: dict[str, object] = dict(
        id="s", url="https://s.example/feed", feed_title="S", last_poll_at=None,
        last_outcome="new", last_error=None, error_since=None, consecutive_errors=0,
        next_check_at=datetime(2026, 1, 1, tzinfo=UTC), retired=False, items=3, moved_to=None,
        redirect_url=None)
    line = source_line(SourceStatus(**{**values, **changes}), enabled=enabled, title=None)  # type: ignore[arg-type]
    assert line.state == state
    assert (line.next_check is None) == (state in ("retired", "disabled"))


def test_status_without_a_database_is_503(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("nodb")
    config = folder / "feeds.yaml"
    port = free_port()  # nothing listens there: the database is down
    config.write_text(f"settings: {{database: 'postgresql+psycopg://u@127.0.0.1:{port}/x'}}\n",
                      encoding="utf-8")
    with serving(config) as url:
        r = httpx.get(url + "/status")
        assert r.status_code == 503 and r.headers["retry-after"] == "60"
        assert b"127.0.0.1" not in r.content  # no address, user or password leaks
        assert httpx.get(url + "/").status_code == 200  # the rest is still served

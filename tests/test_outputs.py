"""The published feeds as a feed reader sees them: RFC 4287 rule by rule (a second, simpler
opinion beside tests/test_conformance.py, which applies the W3C validator's rules), RFC 5005
paging links, hostile text escaped, and byte-identical republishing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from lxml import etree
from published import DESCRIPTION, Site, build_site

from aggregator.cli import main

A = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
BCP47 = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
MARKUP = re.compile(r"<[A-Za-z/!?]")
ENTRY_ORDER_BEFORE = {"id", "title", "updated", "author", "link", "generator", "subtitle",
                      "category", "contributor", "icon", "logo", "rights"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("outputs"))


def documents(site: Site) -> Iterator[tuple[str, Path]]:
    """(the address it is served at, the file) of every Atom document published."""
    for path in sorted(site.public.glob("*.atom")):
        yield f"{site.base}feeds/{path.name}", path
    for path in sorted(site.public.glob("archive/*/*.atom")):
        yield f"{site.base}feeds/{path.parent.name}/archive/{path.name}", path


def test_every_atom_document_follows_rfc_4287(site: Site) -> None:
    checked = 0
    for address, path in documents(site):
        data = path.read_bytes()
        assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
        text = data.decode("utf-8")  # valid UTF-8, else this raises
        assert not CONTROL.search(text), f"{path}: a control character"
        feed = etree.fromstring(data)  # well-formed: strict parser, no recovery
        assert feed.tag == f"{A}feed", path
        _check_feed(feed, address, site)
        entries = feed.findall(f"{A}entry")
        # subscription documents are never empty here; an archive of a day with no story is
        assert entries or feed.find(f"{FH}archive") is not None, path
        ids = [e.findtext(f"{A}id") for e in entries]
        assert len(ids) == len(set(ids)), f"{path}: two entries with the same id"
        for entry in entries:
            _check_entry(entry)
        checked += 1
    assert checked >= 8  # 4 subscription documents and their archives


def _check_feed(feed: etree._Element, address: str, site: Site) -> None:
    section = re.search(r"feeds/([a-z0-9-]+)", address)[1]  # type: ignore[index]
    assert BCP47.fullmatch(feed.get(XML_LANG) or ""), "xml:lang on the feed"
    _urn_uuid(feed.findtext(f"{A}id"))
    for name in ("title", "updated"):
        assert len(feed.findall(f"{A}{name}")) == 1, f"exactly one feed {name}"
    _rfc3339(feed.findtext(f"{A}updated"))
    _text_construct(feed.find(f"{A}title"))
    assert feed.findtext(f"{A}author/{A}name"), "a feed author, which entries inherit"
    links = feed.findall(f"{A}link")
    self_links = [link for link in links if link.get("rel") == "self"]
    assert [link.get("href") for link in self_links] == [address], "rel=self is its address"
    assert self_links[0].get("type") == "application/atom+xml"
    alternates = {link.get("type"): link.get("href") for link in links
                  if link.get("rel") == "alternate"}
    assert alternates["text/html"] == f"{site.base}sections/{section}"
    _no_duplicate_alternates(links)
    for link in links:
        _absolute(link.get("href"))
    generator = feed.find(f"{A}generator")
    assert generator is not None and generator.get("uri", "").startswith("https://")
    # metadata before the first entry (RFC 4287 §4.1.1 ordering the validator enforces)
    tags = [etree.QName(child).localname for child in feed]
    first_entry = tags.index("entry") if "entry" in tags else len(tags)
    assert all(tag == "entry" for tag in tags[first_entry:])


def _check_entry(entry: etree._Element) -> None:
    assert XML_LANG in entry.attrib, "xml:lang on every entry"
    language = entry.get(XML_LANG)
    assert language == "" or BCP47.fullmatch(language)  # "" means unknown (XML §2.12)
    _urn_uuid(entry.findtext(f"{A}id"))
    for name in ("id", "title", "updated"):
        assert len(entry.findall(f"{A}{name}")) == 1, f"exactly one entry {name}"
    for name in ("updated", "published"):
        _rfc3339(entry.findtext(f"{A}{name}"))
    _text_construct(entry.find(f"{A}title"))
    links = entry.findall(f"{A}link")
    _no_duplicate_alternates(links)
    for link in links:
        _absolute(link.get("href"))
        assert link.get("rel") in ("alternate", "related")
        if link.get("hreflang"):
            assert BCP47.fullmatch(link.get("hreflang"))
    content = entry.find(f"{A}content")
    assert content is not None and content.get("type") == "html" and content.text
    html = content.text
    # HTML content is wrapped in a block that sets the direction, from the item language
    if language in ("ar", "fa", "he", "ur"):
        assert html.startswith(f'<div dir="rtl" lang="{language}">'), html[:60]
    else:
        assert html.startswith('<div dir="auto">'), html[:60]
    _safe_html(html)
    for category in entry.findall(f"{A}category"):
        assert category.get("term")
    source = entry.find(f"{A}source")
    assert source is not None
    for name in ("id", "title", "updated"):  # the validator's MissingSourceElement
        assert source.findtext(f"{A}{name}"), f"atom:source {name}"
    _rfc3339(source.findtext(f"{A}updated"))
    assert [x.get("href") for x in source.findall(f"{A}link") if x.get("rel") == "self"] \
        == [source.findtext(f"{A}id")]


def _urn_uuid(value: str | None) -> None:
    """A permanent URI: urn:uuid with a canonical (lower-case) UUID (RFC 4122 §3)."""
    assert value and value.startswith("urn:uuid:"), value
    assert str(uuid.UUID(value[9:])) == value[9:], value


def _rfc3339(value: str | None) -> None:
    assert value and RFC3339.fullmatch(value), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None and parsed.year >= 2000


def _text_construct(element: etree._Element | None) -> None:
    """type is text (default), html or xhtml; plain text never looks like markup."""
    assert element is not None and element.text
    kind = element.get("type", "text")
    assert kind in ("text", "html", "xhtml")
    if kind == "text":
        assert not MARKUP.search(element.text), element.text
    if kind == "html":
        assert "<script" not in element.text.lower()


def _no_duplicate_alternates(links: list[etree._Element]) -> None:
    keys = [(link.get("type"), link.get("hreflang")) for link in links
            if link.get("rel") in (None, "alternate")]
    assert len(keys) == len(set(keys)), "two alternate links with the same type and hreflang"


def _absolute(url: str | None) -> None:
    assert url and re.match(r"(https?|mailto):", url), f"not an absolute URL: {url}"


def _safe_html(html: str) -> None:
    """Sanitized, absolute: no script, handler, style or relative reference."""
    for element in lxml.html.fragments_fromstring(html):
        if isinstance(element, str):
            continue
        for node in element.iter():
            if not isinstance(node.tag, str):
                continue
            assert node.tag not in ("script", "style", "iframe", "object", "embed")
            for attr, value in node.attrib.items():
                assert not attr.startswith("on") and attr != "style", attr
                if attr in ("href", "src"):
                    _absolute(value)


def test_hostile_item_is_escaped_and_its_links_absolute(site: Site) -> None:
    data = (site.public / "ukraine.atom").read_bytes()
    feed = etree.fromstring(data)
    entry = next(e for e in feed.findall(f"{A}entry") if "alert" in e.findtext(f"{A}title"))
    title = entry.find(f"{A}title")
    assert title.get("type") == "html"  # the markup-looking text is declared and escaped
    assert title.text.startswith("Kyiv &lt;script&gt;")
    content = entry.findtext(f"{A}content")
    assert 'href="https://hostile.example/relative/page"' in content
    assert "alert(2)" not in content and "onclick" not in content
    subtitle = feed.find(f"{A}subtitle")  # the config's text, markup declared as well
    assert subtitle.get("type") == "html" and lxml.html.fromstring(subtitle.text).text_content() \
        == DESCRIPTION
    assert b"<b>news</b>" not in data


def test_paging_links_follow_rfc_5005(site: Site) -> None:
    """Archives are closed UTC days, consecutive, each linking the day before and after; the
    subscription document links the newest (RFC 5005 §4)."""
    subscription = etree.parse(site.public / "ukraine.atom").getroot()
    assert subscription.find(f"{FH}archive") is None
    days = sorted(p.stem for p in (site.public / "archive" / "ukraine").glob("*.atom"))
    today = datetime.now(UTC).date()
    assert days and days[-1] < today.isoformat()  # the open day is never an archive
    assert days == [(date.fromisoformat(days[0]) + timedelta(days=n)).isoformat()
                    for n in range(len(days))]  # consecutive, empty days included
    prev = [x.get("href") for x in subscription.findall(f"{A}link")
            if x.get("rel") == "prev-archive"]
    assert prev == [f"{site.base}feeds/ukraine/archive/{days[-1]}.atom"]
    for i, day in enumerate(days):
        archive = etree.parse(site.public / "archive" / "ukraine" / f"{day}.atom").getroot()
        assert archive.find(f"{FH}archive") is not None
        assert archive.findtext(f"{A}id") == subscription.findtext(f"{A}id")
        rels = {x.get("rel"): x.get("href") for x in archive.findall(f"{A}link")}
        assert rels["current"] == f"{site.base}feeds/ukraine.atom"
        assert rels.get("prev-archive") == (
            f"{site.base}feeds/ukraine/archive/{days[i - 1]}.atom" if i else None)
        following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
        assert rels["next-archive"] == f"{site.base}feeds/ukraine/archive/{following}.atom"
        assert "next" not in rels  # archived, not paged: no RFC 5005 §3 links mixed in
        for entry in archive.findall(f"{A}entry"):
            assert entry.findtext(f"{A}published").startswith(day)  # first report that day


def test_republishing_rewrites_nothing(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    files = [p for p in site.public.rglob("*") if p.is_file()]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    assert main(["--config", str(site.config), "publish"]) == 0
    assert "written" not in capsys.readouterr().out
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in site.public.rglob("*")
             if p.is_file()}
    assert after == before
    assert not list(site.public.rglob(".*.tmp"))  # no temporary file left behind


def test_an_emptied_day_loses_its_archive(site: Site, tmp_path: Path) -> None:
    stale = site.public / "archive" / "iran" / "2001-01-01.atom"
    stale.write_bytes(b"<feed/>")
    keep = site.public / "archive" / "iran" / "notes.atom"  # not an archive's name
    keep.write_bytes(b"<feed/>")
    try:
        assert main(["--config", str(site.config), "publish"]) == 0
        assert not stale.exists() and keep.exists()
    finally:
        keep.unlink()


def test_dates_are_utc_and_plausible(site: Site) -> None:
    now = datetime.now(UTC)
    for _, path in documents(site):
        for element in etree.parse(path).iter(f"{A}updated", f"{A}published"):
            moment = datetime.fromisoformat(element.text)
            assert moment.utcoffset().total_seconds() == 0 and moment <= now

"""Conformance of every published feed to the W3C Feed Validation Service's rules.

The service cannot be reached from here, so tests/feedcheck re-implements every error and
warning rule of it that applies to Atom and RSS 2.0 feeds like ours (the table, with the
reasons for the rules left out, is tests/feedcheck/messages.py), plus a few stricter rules of
our own. These tests:

- run it over every published document (all sections, the subscription documents, every
  archive, the RSS alternates), from the fixture feeds and from hostile ones
  (tests/data/feeds/hostile_rss.xml, hostile_atom.xml and the inline hostile feed of
  published.py: scripts, control characters, relative and malformed links, broken dates,
  bogus languages, markup in names), fetched over HTTP as the validator would;
- render hand-made hostile stories straight through the renderers;
- and prove the checker can fail: one hand-made bad document per message it checks.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from feedcheck import Message, check_atom, check_http, check_rss
from feedcheck.messages import CHECKED, HOUSE, NOT_APPLICABLE, VALIDATOR_LEVELS
from feedserver import FeedServer
from published import HOSTILE_FEED, free_port, serving
from test_e2e import BAD, GOOD, write_config

from aggregator.cli import main
from aggregator.config import SectionConfig
from aggregator.publish.jsonfeed import render_json
from aggregator.publish.render import Outlet, Page, RenderContext, render_atom
from aggregator.publish.rss import render_rss
from aggregator.store import ItemView, StoryView


@dataclass(frozen=True)
class Published:
    config: Path
    public: Path
    base: str
    port: int


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """The fixture feeds and the hostile ones, polled once and published for an address on
    127.0.0.1, so the documents can be fetched where their rel="self" says they are."""
    folder = tmp_path_factory.mktemp("conformance")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with FeedServer() as server:
        for sid, name in {**GOOD, **BAD}.items():
            server.serve_file(f"/{sid}.xml", name)
        server.serve_file("/hostile-rss.xml", "hostile_rss.xml")
        server.serve_file("/hostile-atom.xml", "hostile_atom.xml")
        server.route("/hostile.xml", HOSTILE_FEED.encode("utf-8"))
        config = write_config(folder, server, f"sqlite:///{folder / 'db.sqlite'}")
        sources = (
            f"  - {{id: hostile-rss, url: '{server.url('/hostile-rss.xml')}', "
            "title: 'Hostile <b>RSS</b> &amp; Co'}\n"
            # a feed address that is not in normal form: atom:source ids must be
            f"  - {{id: hostile-atom, url: '{server.url('/./hostile-atom.xml?x=%7e')}'}}\n"
            f"  - {{id: hostile, url: '{server.url('/hostile.xml')}', "
            "title: '<i>Evil</i> & Co'}\n")
        text = config.read_text(encoding="utf-8").replace(
            "  base_url: https://news.example/", f"  base_url: {base}").replace(
            "sources:\n", "sources:\n" + sources).replace(
            "{id: ukraine, title: Ukraine, topics: [ukraine]}",
            "{id: ukraine, title: Ukraine <i>live</i>, topics: [ukraine], "
            "description: 'War <b>news</b> & analysis &amp; more'}")
        config.write_text(text, encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["--config", str(config), "poll", "--all"]) == 0
    return Published(config, folder / "public", base, port)


def documents(site: Published) -> Iterator[tuple[str, str, Path]]:
    """(kind, the address it is served at, file) of every Atom and RSS document published."""
    for path in sorted(site.public.glob("*.atom")):
        yield "atom", f"{site.base}feeds/{path.name}", path
    for path in sorted(site.public.glob("archive/*/*.atom")):
        yield "atom", f"{site.base}feeds/{path.parent.name}/archive/{path.name}", path
    for path in sorted(site.public.glob("*.rss")):
        yield "rss", f"{site.base}feeds/{path.name}", path


def _check(kind: str, data: bytes, address: str) -> list[Message]:
    return (check_atom if kind == "atom" else check_rss)(data, address)


def test_every_published_document_passes(published: Published) -> None:
    found = {}
    counts = {"atom": 0, "rss": 0}
    for kind, address, path in documents(published):
        counts[kind] += 1
        if messages := _check(kind, path.read_bytes(), address):
            found[str(path.relative_to(published.public))] = [str(m) for m in messages]
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)
    archives = list(published.public.glob("archive/*/*.atom"))
    assert counts["rss"] == 4 and counts["atom"] == 4 + len(archives) and len(archives) >= 8
    for path in published.public.glob("*.json"):
        assert json.loads(path.read_bytes())["items"]


def test_the_hostile_items_were_published(published: Published) -> None:
    """The hostile feeds reached the outputs (a checker run over nothing would pass too)."""
    atom = (published.public / "ukraine.atom").read_text(encoding="utf-8")
    for text in ("every dangerous tag", "dated 1970", "control", "Hostile Atom",
                 "Kyiv alert", "underscore language"):
        assert text in atom or any(text in p.read_text(encoding="utf-8") for p in
                                   published.public.glob("archive/ukraine/*.atom")), text


def test_every_document_passes_as_served(published: Published) -> None:
    """Fetched over HTTP at the address its rel="self" names: status, media type, charset."""
    found = {}
    with serving(published.config, published.port) as origin, httpx.Client() as client:
        for kind, address, _ in documents(published):
            response = client.get(address)
            assert address.startswith(origin)
            messages = check_http(response.status_code, response.headers, response.content,
                                  kind) + _check(kind, response.content, address)
            if messages:
                found[address] = [str(m) for m in messages]
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)


# -- the renderers, fed hostile stories directly ------------------------------------------------

WHEN = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def _item(**fields: object) -> ItemView:
    values: dict[str, object] = {
        "source_id": "out", "title": "Title", "link": "https://outlet.example/1",
        "summary_html": "", "content_html": "<p>Text</p>", "author": None, "language": "en",
        "published": WHEN, "updated": WHEN, "topics": ("t",), "first_seen": WHEN}
    values.update(fields)
    return ItemView(**values)  # type: ignore[arg-type]


def _story(*items: ItemView, uid: str | None = None) -> StoryView:
    return StoryView(uid=uid or str(uuid.uuid4()), items=items)


HOSTILE_STORIES = [
    _story(_item(title="Bell\x07 C1\x85 \ufffd CafÃ© in KÃ¶ln", author="Au\x08thor \x9c")),
    _story(_item(content_html=(
        '<p onclick="x()" style="width: expression(alert(1))">a<script>b</script>'
        '<bdo dir="rtl">c</bdo><ruby>d<rtc>e</rtc></ruby><a href="javascript:f()">g</a>'
        '<a href="/relative">h</a><img src="rel.png"><o:p>i</o:p><b>j<i>k</b></i>'
        '<a href="https://outlet.example/a|b c/زيت?q=[1]">l</a><iframe src="x"></iframe>'
        '<embed src="e.swf">m<wbr>n<video controls src="v.mp4"></video>&nbsp AT&T</p>'),
        summary_html='<p style="color:red">summary <script>x</script></p>')),
    _story(_item(link="HTTPS://Outlet.Example:443/news/a b|c/زيت?q=[1]#x#y", language="ckb"),
           _item(source_id="other", link="https://other.example/2", language="zz-ZZ"),
           _item(source_id="other", link="javascript:alert(1)", language="en_US"),
           _item(source_id="gone", link="/relative/only", language="ary")),
    _story(_item(published=datetime(1970, 1, 1, tzinfo=UTC),
                 updated=datetime(1970, 1, 1, tzinfo=UTC), link=None, title="")),
    *[_story(_item(title=f"Same second {n}", link=f"https://outlet.example/s{n}"))
      for n in range(12)],  # twelve entries updated at the same instant
    _story(_item(title="Kyiv <script>alert(1)</script> & R&D2 &amp;amp; <o:p>",
                 author="Jane &lt;jane@outlet.example&gt;", language=None)),
    _story(_item(author="jane@outlet.example (Jane <b>Doe</b>)", topics=("t", "u"))),
]
HOSTILE_CONTEXT = RenderContext(
    base_url="https://news.example/",
    outlets={"out": Outlet("Out <b>let</b> &amp; Co\x01", "https://Outlet.example",
                           "HTTP://Outlet.Example:80/./feed.xml?x=%7e"),
             "other": Outlet("Other", None, "https://other.example/feed")},
    topic_titles={"t": "T <i>opic</i> &amp;", "u": "R&D2"}, empty_updated=WHEN)
HOSTILE_SECTION = SectionConfig(id="s", title="Sec <b>tion</b>\x02", topics=("t",),
                                description="War <b>news</b> & analysis &#38; more")


@pytest.mark.parametrize("page", [Page(), Page(prev_archive="2026-11-23"),
                                  Page(day="2026-11-24", prev_archive="2026-11-23",
                                       next_archive="2026-11-25"),
                                  Page(day="2026-11-24", next_archive="2026-11-25")])
def test_hostile_stories_render_conformant(page: Page) -> None:
    stories = [*HOSTILE_STORIES, HOSTILE_STORIES[0]]  # the same story twice: one entry
    address = (f"https://news.example/feeds/s/archive/{page.day}.atom" if page.day
               else "https://news.example/feeds/s.atom")
    atom = render_atom(HOSTILE_SECTION, stories, HOSTILE_CONTEXT, page)
    assert [str(m) for m in check_atom(atom, address)] == []
    assert atom.count(b"<entry") == len(HOSTILE_STORIES)
    if page.day is None:
        rss = render_rss(HOSTILE_SECTION, stories, HOSTILE_CONTEXT)
        assert [str(m) for m in check_rss(rss, "https://news.example/feeds/s.rss")] == []
        feed = json.loads(render_json(HOSTILE_SECTION, stories, HOSTILE_CONTEXT))
        assert all(i["date_modified"] >= i["date_published"] for i in feed["items"])


def test_an_empty_archive_day_conforms() -> None:
    page = Page(day="2026-11-24", prev_archive="2026-11-23", next_archive="2026-11-25")
    atom = render_atom(HOSTILE_SECTION, [], HOSTILE_CONTEXT, page)
    assert check_atom(atom, "https://news.example/feeds/s/archive/2026-11-24.atom") == []
    assert b"<updated>2026-11-24T23:59:59" in atom


# -- the table, and the checker failing on bad documents ----------------------------------------

def test_the_table_classifies_every_validator_message() -> None:
    listed = set(CHECKED) | set(NOT_APPLICABLE)
    assert not set(CHECKED) & set(NOT_APPLICABLE)
    assert sorted(set(VALIDATOR_LEVELS) - listed) == []
    assert sorted(listed - set(VALIDATOR_LEVELS)) == []
    assert {code: row[0] for code, row in CHECKED.items()} == {
        code: VALIDATOR_LEVELS[code] for code in CHECKED}
    assert all(reason.strip() for reason in NOT_APPLICABLE.values())


ATOM_ADDRESS = "https://news.example/feeds/s.atom"
RSS_ADDRESS = "https://news.example/feeds/s.rss"
E1 = "urn:uuid:03ee562e-4273-4c07-bd94-907fbe55b846"
ENTRY1 = f"""<entry xml:lang="en">
    <id>{E1}</id>
    <title>A title</title>
    <updated>2026-11-25T09:00:00Z</updated>
    <published>2026-11-25T08:00:00Z</published>
    <link rel="alternate" type="text/html" href="https://outlet.example/1" hreflang="en"
          title="Outlet: A title"/>
    <content type="html">&lt;p&gt;Text &lt;a href="https://outlet.example/2"&gt;link&lt;/a&gt;&lt;/p&gt;</content>
    <category term="topic" label="Topic"/>
    <source>
      <id>https://outlet.example/feed.xml</id>
      <title>Outlet</title>
      <updated>2026-11-25T09:00:00Z</updated>
      <link rel="self" href="https://outlet.example/feed.xml"/>
    </source>
  </entry>"""
ENTRY2 = """
  <entry xml:lang="ar">
    <id>urn:uuid:7c110ca6-e36d-4b4a-affb-67246e843a1a</id>
    <title>عنوان</title>
    <updated>2026-11-24T09:00:00Z</updated>
    <link rel="alternate" href="https://outlet.example/3"/>
    <summary>Summary text</summary>
  </entry>"""
ATOM = f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <id>urn:uuid:6cf8ff64-bd2d-511d-8916-5bf86be86ed0</id>
  <title>Section</title>
  <updated>2026-11-25T10:00:00Z</updated>
  <author><name>Desk</name></author>
  <link href="{ATOM_ADDRESS}" rel="self" type="application/atom+xml"/>
  <link href="https://news.example/sections/s" rel="alternate" type="text/html"/>
  <generator uri="https://example.org/aggregator" version="1">aggregator</generator>
  {ENTRY1}{ENTRY2}
</feed>
"""
ARCHIVE = ATOM.replace(
    f'<link href="{ATOM_ADDRESS}" rel="self" type="application/atom+xml"/>',
    f'<link href="{ATOM_ADDRESS}" rel="self" type="application/atom+xml"/>'
    f'<link href="https://news.example/feeds/current.atom" rel="current"/>'
    '<link href="https://news.example/feeds/s/archive/2026-11-23.atom" rel="prev-archive"/>'
    '<fh:archive xmlns:fh="http://purl.org/syndication/history/1.0"/>')
RSS = f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
     version="2.0">
  <channel>
    <title>Section</title>
    <link>https://news.example/sections/s</link>
    <description>About</description>
    <language>en</language>
    <lastBuildDate>Wed, 25 Nov 2026 10:00:00 GMT</lastBuildDate>
    <atom:link rel="self" type="application/rss+xml" href="{RSS_ADDRESS}"/>
    <item>
      <title>A title</title>
      <link>https://outlet.example/1</link>
      <description>&lt;p&gt;Text&lt;/p&gt;</description>
      <dc:creator>Jane</dc:creator>
      <category>Topic</category>
      <guid isPermaLink="false">{E1}</guid>
      <pubDate>Wed, 25 Nov 2026 08:00:00 GMT</pubDate>
      <source url="https://outlet.example/feed.xml">Outlet</source>
    </item>
  </channel>
</rss>
"""
E_UPDATED = "<updated>2026-11-25T09:00:00Z</updated>\n    <published>"
CONTENT = ('<content type="html">&lt;p&gt;Text &lt;a href="https://outlet.example/2"&gt;'
           'link&lt;/a&gt;&lt;/p&gt;</content>')
SELF = f'<link href="{ATOM_ADDRESS}" rel="self" type="application/atom+xml"/>'
ALT3 = '<link rel="alternate" href="https://outlet.example/3"/>'
GUID = f'<guid isPermaLink="false">{E1}</guid>'


def _html(fragment: str) -> tuple[str, str, str]:
    """A case putting escaped HTML in the first entry's content."""
    return "atom", CONTENT, f'<content type="html">{fragment}</content>'


# code -> (document kind, text to replace, replacement); each makes the document break the
# rule of that message and no other rule it does not have to.
BAD_CASES: dict[str, tuple[str, str, str]] = {
    "SAXError": ("atom", "</feed>", ""),
    "UndefinedNamedEntity": ("atom", "<title>A title</title>", "<title>A &nbsp; title</title>"),
    "BadXmlVersion": ("atom", "<?xml version='1.0'", "<?xml version='1.1'"),
    "BadCharacters": ("atom", "<title>A title</title>", "<title>A \u0085 title</title>"),
    "UnexpectedText": ("atom", "<author><name>", "<author>stray<name>"),
    "UnexpectedWhitespace": ("atom", "<updated>2026-11-25T10:00:00Z",
                             "<updated> 2026-11-25T10:00:00Z"),
    "InvalidNamespace": ("atom", 'xmlns="http://www.w3.org/2005/Atom"',
                         'xmlns="http://example.org/not-atom"'),
    "UndefinedElement": ("atom", '<category term="topic"', '<foo/><category term="topic"'),
    "UnexpectedAttribute": ("atom", '<category term="topic"', '<category foo="x" term="topic"'),
    "UnknownNamespace": ("atom", 'xml:lang="en">', 'xml:lang="en" xmlns:x="http://x.example/">'),
    "ReservedPrefix": ("atom", 'xml:lang="en">', 'xml:lang="en" xmlns:dc="http://x.example/">'),
    "AvoidNamespacePrefix": ("atom", 'xml:lang="en">',
                             'xml:lang="en" xmlns:atom="http://www.w3.org/2005/Atom">'),
    "DuplicateElement": ("atom", "<title>Section</title>",
                         "<title>Section</title><title>B</title>"),
    "MisplacedMetadata": ("atom", "</feed>", "<rights>r</rights></feed>"),
    "MissingElement": ("atom", f"<id>{E1}</id>", ""),
    "MissingSourceElement": ("atom", "<title>Outlet</title>", ""),
    "MissingContentOrAlternate": ("atom", ALT3, ""),
    "MissingTextualContent": ("atom", "<summary>Summary text</summary>", ""),
    "MissingSummary": ("atom", CONTENT,
                       '<content type="image/png" src="https://outlet.example/x.png"/>'),
    "MissingSelf": ("atom", SELF, ""),
    "MissingAttribute": ("atom", '<category term="topic"', "<category"),
    "MissingHref": ("atom", ALT3, '<link rel="alternate"/>'),
    "MissingTypeAttr": ("atom", CONTENT, '<content src="https://outlet.example/x"/>'),
    "MissingXhtmlDiv": ("atom", CONTENT, '<content type="xhtml">plain</content>'),
    "InvalidFullLink": ("atom", f"<id>{E1}</id>", "<id>not-a-uri</id>"),
    "InvalidIRI": ("atom", ALT3, '<link rel="alternate" href="https://outlet.example/زيت"/>'),
    "InvalidUriChar": ("atom", ALT3, '<link rel="alternate" href="https://outlet.example/a b"/>'),
    "InvalidURIAttribute": ("atom", 'uri="https://example.org/aggregator"',
                            'uri="https://example.org/a b"'),
    "InvalidTAG": ("atom", f"<id>{E1}</id>", "<id>tag:bad</id>"),
    "InvalidURN": ("atom", f"<id>{E1}</id>", "<id>urn:x:y</id>"),
    "InvalidUUID": ("atom", f"<id>{E1}</id>", "<id>urn:uuid:1234</id>"),
    "NonCanonicalURI": ("atom", "<id>https://outlet.example/feed.xml</id>",
                        "<id>https://Outlet.example:443/feed.xml</id>"),
    "SchemeNotIANARegistered": ("atom", ALT3, '<link rel="alternate" href="foo:bar"/>'),
    "RelativeSelf": ("atom", f'href="{ATOM_ADDRESS}"', 'href="/feeds/s.atom"'),
    "SelfDoesntMatchLocation": ("atom", f'href="{ATOM_ADDRESS}"',
                                'href="https://news.example/feeds/other.atom"'),
    "DuplicateEntries": ("atom", "urn:uuid:7c110ca6-e36d-4b4a-affb-67246e843a1a", E1),
    "DuplicateIds": ("atom", ENTRY1 + ENTRY2, ENTRY1 * 11),
    "InvalidRFC3339Date": ("atom", E_UPDATED, "<updated>2026-11-25 09:00:00</updated><published>"),
    "ImplausibleDate": ("atom", "<published>2026-11-25T08:00:00Z",
                        "<published>1970-01-01T00:00:00Z"),
    "DuplicateUpdated": ("atom", "<updated>2026-11-24T09:00:00Z",
                         "<updated>2026-11-25T09:00:00Z"),
    "InvalidNonNegativeInteger": ("atom", ALT3,
                                  '<link rel="alternate" href="https://outlet.example/3" '
                                  'length="-1"/>'),
    "InvalidLanguage": ("atom", '<entry xml:lang="en">', '<entry xml:lang="zz">'),
    "InvalidTextType": ("atom", "<title>A title</title>", '<title type="text/plain">A</title>'),
    "InvalidMIMEType": ("atom", 'type="text/html" href="https://outlet.example/1"',
                        'type="html" href="https://outlet.example/1"'),
    "AttrNotBlank": ("atom", "<title>A title</title>", '<title type="">A title</title>'),
    "NotBlank": ("atom", "<title>A title</title>", "<title></title>"),
    "ContainsUndeclaredHTML": ("atom", "<title>A title</title>",
                               "<title>A &lt;b&gt;bold&lt;/b&gt; title</title>"),
    "ContainsHTML": ("atom", "<name>Desk</name>", "<name>Desk &lt;b&gt;x&lt;/b&gt;</name>"),
    "ContainsEmail": ("atom", "<name>Desk</name>", "<name>Desk &lt;desk@news.example&gt;</name>"),
    "InvalidAddrSpec": ("atom", "<name>Desk</name>", "<name>Desk</name><email>nobody</email>"),
    "HtmlFragment": ("atom", CONTENT, '<content type="text/html">&lt;p&gt;x</content>'),
    "NotBase64": ("atom", CONTENT, '<content type="image/png">abc</content>'),
    "NotHtml": _html("&lt;foo&gt;x&lt;/foo&gt;"),
    "SecurityRisk": _html("&lt;script&gt;x&lt;/script&gt;"),
    "SecurityRiskAttr": _html('&lt;p onclick="x()"&gt;y&lt;/p&gt;'),
    "DangerousStyleAttr": _html('&lt;p style="width: expression(alert(1))"&gt;y&lt;/p&gt;'),
    "ContainsRelRef": _html('&lt;a href="/relative"&gt;y&lt;/a&gt;'),
    "UnregisteredAtomLinkRel": ("atom", ALT3, '<link rel="foo" href="https://outlet.example/3"/>'),
    "AtomLinkNotEmpty": ("atom", ALT3,
                         '<link rel="alternate" href="https://outlet.example/3">text</link>'),
    "SelfNotAtom": ("atom", 'rel="self" type="application/atom+xml"',
                    'rel="self" type="text/html"'),
    "DuplicateAtomLink": ("atom", SELF, SELF + '<link href="https://news.example/x" '
                                               'rel="alternate" type="text/html"/>'),
    "FeedHistoryRelInEntry": ("atom", ALT3, ALT3 + '<link rel="next-archive" '
                                                   'href="https://outlet.example/n"/>'),
    "ArchiveIncomplete": ("archive", 'rel="prev-archive"', 'rel="related"'),
    "MissingCurrentInArchive": ("archive", 'rel="current"', 'rel="related"'),
    "FeedRelInCompleteFeed": ("archive", '<fh:archive xmlns', '<fh:complete xmlns'),
    "CurrentNotSelfInCompleteFeed": ("archive", 'rel="prev-archive"/><fh:archive xmlns',
                                     'rel="related"/><fh:complete xmlns'),
    "LinkPastEnd": ("atom", SELF, SELF + f'<link href="{ATOM_ADDRESS}" rel="first"/>'
                                         '<link href="https://news.example/p" rel="previous"/>'),
    "House:NotPermanentId": ("atom", f"<id>{E1}</id>", "<id>https://outlet.example/1</id>"),
    "House:RelativeReference": ("atom", 'href="https://outlet.example/3"', 'href="entries/3"'),
    "House:UnsafeScheme": _html('&lt;a href="javascript:alert(1)"&gt;y&lt;/a&gt;'),
    "House:UpdatedBeforePublished": ("atom", "<published>2026-11-25T08:00:00Z",
                                     "<published>2026-11-25T10:00:00Z"),
    "House:NotUtf8": ("atom", "encoding='UTF-8'", "encoding='ISO-8859-1'"),
    "House:MissingXmlDeclaration": ("atom", "<?xml version='1.0' encoding='UTF-8'?>", ""),
    "House:Doctype": ("atom", "<feed xmlns", "<!DOCTYPE feed>\n<feed xmlns"),
    # RSS 2.0
    "InvalidRSSVersion": ("rss", 'version="2.0"', 'version="0.92"'),
    "MissingTitle": ("rss", "<title>Section</title>", ""),
    "MissingLink": ("rss", "<link>https://news.example/sections/s</link>", ""),
    "MissingDescription": ("rss", "<description>About</description>", ""),
    "ItemMustContainTitleOrDescription": ("rss", "<title>A title</title>\n      <link>"
                                          "https://outlet.example/1</link>\n      <description>"
                                          "&lt;p&gt;Text&lt;/p&gt;</description>", ""),
    "MissingAtomSelfLink": ("rss", f'<atom:link rel="self" type="application/rss+xml" '
                                   f'href="{RSS_ADDRESS}"/>', ""),
    "MissingGuid": ("rss", GUID, ""),
    "InvalidRFC2822Date": ("rss", "<pubDate>Wed, 25 Nov 2026 08:00:00 GMT",
                           "<pubDate>2026-11-25"),
    "IncorrectDOW": ("rss", "<pubDate>Wed, 25 Nov", "<pubDate>Thu, 25 Nov"),
    "InvalidPositiveInteger": ("rss", "<language>en</language>",
                               "<language>en</language><ttl>soon</ttl>"),
    "CharacterData": ("rss", "<title>A title</title>", "<title>a&lt;b title</title>"),
    "DuplicateValue": ("rss", "</channel>", f"<item><title>B</title>{GUID}</item></channel>"),
    "InvalidHttpGUID": ("rss", GUID, '<guid isPermaLink="true">not a url</guid>'),
    "InvalidPermalink": ("rss", GUID, f'<guid isPermaLink="true">{E1}</guid>'),
    "NotSufficientlyUnique": ("rss", GUID, '<guid isPermaLink="false">123</guid>'),
    "InvalidBooleanAttribute": ("rss", 'isPermaLink="false"', 'isPermaLink="yes"'),
    "MisplacedItem": ("rss", "</channel>", "<ttl>60</ttl></channel>"),
    "UseOfExtensionAttr": ("rss", "<category>Topic</category>",
                           '<category xmlns:x="http://x.example/" x:a="1">Topic</category>'),
    "DuplicateSemantics": ("rss", "<language>en</language>",
                           "<language>en</language><dc:language>en</dc:language>"),
    "DuplicateItemSemantics": ("rss", "<dc:creator>Jane</dc:creator>",
                               "<dc:creator>Jane</dc:creator><author>j@x.example (J)</author>"),
    # HTTP
    "HttpError": ("http", "404", ""),
    "UnexpectedContentType": ("http", "text/xml; charset=utf-8", ""),
    "EncodingMismatch": ("http", "application/atom+xml; charset=iso-8859-1", ""),
}


def test_every_checked_message_has_a_bad_document() -> None:
    assert sorted(BAD_CASES) == sorted({*CHECKED, *HOUSE})


@pytest.mark.parametrize("kind,document", [("atom", ATOM), ("archive", ARCHIVE), ("rss", RSS)])
def test_the_good_documents_pass(kind: str, document: str) -> None:
    check = check_rss if kind == "rss" else check_atom
    address = RSS_ADDRESS if kind == "rss" else ATOM_ADDRESS
    assert [str(m) for m in check(document.encode("utf-8"), address)] == []


@pytest.mark.parametrize("code", sorted(BAD_CASES))
def test_the_checker_reports_a_bad_document(code: str) -> None:
    kind, old, new = BAD_CASES[code]
    if kind == "http":
        status, media = (int(old), "application/atom+xml") if old.isdigit() else (200, old)
        messages = check_http(status, {"content-type": media}, ATOM.encode("utf-8"), "atom")
    else:
        document = {"atom": ATOM, "archive": ARCHIVE, "rss": RSS}[kind]
        assert old in document, f"{code}: the case no longer matches its document"
        bad = document.replace(old, new, 1).encode("utf-8")
        messages = (check_rss(bad, RSS_ADDRESS) if kind == "rss"
                    else check_atom(bad, ATOM_ADDRESS))
    assert code in {m.code for m in messages}, [str(m) for m in messages]


def test_a_checker_finding_reads_well() -> None:
    bad = ATOM.replace("<published>2026-11-25T08:00:00Z", "<published>1970-01-01T00:00:00Z")
    [message] = check_atom(bad.encode("utf-8"), ATOM_ADDRESS)
    assert str(message) == ("warning ImplausibleDate at feed/entry[1]/published: "
                            "1970-01-01T00:00:00Z")


def test_dates_near_now_are_plausible() -> None:
    soon = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    good = ATOM.replace("2026-11-25T10:00:00Z", soon)
    assert check_atom(good.encode("utf-8"), ATOM_ADDRESS) == []

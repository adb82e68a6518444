"""The RSS 2.0 and JSON Feed 1.1 alternates carry the Atom feed's entries, ids and HTML;
no output carries a character XML 1.0 cannot."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from lxml import etree
from published import Site, build_site
from test_outputs import A, _rfc3339

from aggregator.config import SectionConfig
from aggregator.publish.jsonfeed import render_json
from aggregator.publish.pages import SectionPage, write_section_page
from aggregator.publish.render import Outlet, RenderContext, render_atom
from aggregator.publish.rss import render_rss
from aggregator.store import ItemView, StoryView


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("alternates"))


def test_alternates_carry_the_same_entries(site: Site) -> None:
    for section in ("ukraine", "iran", "us", "ukraine-ar"):
        atom = etree.parse(site.public / f"{section}.atom").getroot()
        ids = [e.findtext(f"{A}id") for e in atom.findall(f"{A}entry")]
        contents = [e.findtext(f"{A}content") for e in atom.findall(f"{A}entry")]
        types = {x.get("type"): x.get("href") for x in atom.findall(f"{A}link")
                 if x.get("rel") == "alternate"}
        assert types["application/rss+xml"] == f"{site.base}feeds/{section}.rss"
        assert types["application/feed+json"] == f"{site.base}feeds/{section}.json"

        rss = etree.parse(site.public / f"{section}.rss").getroot()
        assert rss.get("version") == "2.0"
        channel = rss.find("channel")
        for name in ("title", "link", "description"):
            assert channel.findtext(name)
        self_link = channel.find("{http://www.w3.org/2005/Atom}link")
        assert self_link.get("rel") == "self"
        assert self_link.get("href") == f"{site.base}feeds/{section}.rss"
        items = channel.findall("item")
        assert [i.findtext("guid") for i in items] == ids
        assert all(i.find("guid").get("isPermaLink") == "false" for i in items)
        assert [i.findtext("description") for i in items] == contents
        for item in items:
            assert parsedate_to_datetime(item.findtext("pubDate")).tzinfo is not None
            assert item.findtext("title")

        feed = json.loads((site.public / f"{section}.json").read_bytes())
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert feed["feed_url"] == f"{site.base}feeds/{section}.json"
        assert feed["home_page_url"] == f"{site.base}sections/{section}"
        assert [i["id"] for i in feed["items"]] == ids
        assert [i["content_html"] for i in feed["items"]] == contents
        for item in feed["items"]:
            _rfc3339(item["date_published"])
            _rfc3339(item["date_modified"])
            assert item["_aggregator"]["reports"]


def test_control_characters_never_reach_an_output(tmp_path: Path) -> None:
    """XML 1.0 cannot carry C0 controls (lxml refuses to write them): they are dropped from
    every output, tab and newline kept."""
    when = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    item = ItemView(source_id="s", title="Bell\x07 and\x0b tab\there\r", link="https://x.example/1",
                    summary_html="<p>a\x00b\x1fc\ufffe</p>", content_html="",
                    author="Au\x08thor", language="en", published=when, updated=when,
                    topics=("t",))
    story = StoryView(uid=str(uuid.uuid4()), items=(item,))
    section = SectionConfig(id="s", title="Sec\x01tion", topics=("t",))
    ctx = RenderContext(base_url="https://n.example/",
                        outlets={"s": Outlet("Out\x02let", None, "https://x.example/feed")},
                        topic_titles={"t": "T"}, empty_updated=when)
    atom = render_atom(section, [story], ctx)
    write_section_page(tmp_path, SectionPage(section, [story], archived=1, days=1), ctx)
    outputs = [atom, render_rss(section, [story], ctx), render_json(section, [story], ctx),
               (tmp_path / "sections" / "s.html").read_bytes()]
    for data in outputs:
        text = data.decode("utf-8")
        assert not re.search("[\x00-\x08\x0b-\x1f\ufffe]", text.replace("\n", "")), text[:80]
    entry = etree.fromstring(atom).find(f"{A}entry")
    assert entry.findtext(f"{A}title") == "Bell and tab\there"
    assert entry.findtext(f"{A}author/{A}name") == "Author"
    assert "abc" in entry.findtext(f"{A}content")
    assert json.loads(outputs[2])["items"][0]["title"] == "Bell and tab\there"

"""OPML: the two published lists, `aggregator export-opml`, and `aggregator import-opml`
editing feeds.yaml without disturbing anything else in it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree
from published import Site, build_site

from aggregator.cli import main
from aggregator.config import NewSource, add_sources, load_config

ROOT = Path(__file__).resolve().parent.parent
IMPORT = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>export</title></head><body>
  <outline text="News">
    <outline text="BBC News - World" type="rss" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
    <outline text="BBC again, other case" type="rss" xmlUrl="HTTPS://FEEDS.BBCI.CO.UK/news/world/rss.xml/"/>
    <outline title="Le Monde — International" text="lm" language="fr"
             xmlUrl="https://www.lemonde.fr/international/rss_full.xml"/>
    <outline text="الجزيرة نت" type="rss" language="ar"
             xmlUrl="https://www.aljazeera.net/aljazeerarss/a7c186be.xml"/>
    <outline text="BBC Arabic" type="rss" xmlUrl="https://example.org/bbc-arabic-mirror.xml"/>
  </outline>
  <outline text="not a feed" htmlUrl="https://example.org/"/>
  <outline text="script" xmlUrl="javascript:alert(1)"/>
</body></opml>
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("opml"))


def test_published_lists(site: Site) -> None:
    config = load_config(site.config)
    sources = etree.parse(site.public / "opml" / "sources.opml").getroot()
    assert sources.tag == "opml" and sources.get("version") == "2.0"
    assert sources.findtext("head/title")
    outlines = sources.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [s.url for s in config.sources if s.enabled]
    for outline in outlines:
        assert outline.get("type") == "rss" and outline.get("text")
    hostile = next(o for o in outlines if "hostile" in o.get("xmlUrl"))
    assert hostile.get("text") == "<i>Evil</i> & Co"  # an attribute value, escaped by XML
    sections = etree.parse(site.public / "opml" / "sections.opml").getroot()
    assert [(o.get("xmlUrl"), o.get("htmlUrl")) for o in sections.findall("body/outline")] == [
        (f"{site.base}feeds/{s.id}.atom", f"{site.base}sections/{s.id}")
        for s in config.sections]


def test_export_opml(site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(site.config), "export-opml"]) == 0
    printed = capsys.readouterr().out.encode("utf-8")
    assert printed == (site.public / "opml" / "sources.opml").read_bytes()
    target = tmp_path / "mine.opml"
    assert main(["--config", str(site.config), "export-opml", "-o", str(target)]) == 0
    assert target.read_bytes() == printed


def test_import_keeps_the_file_and_adds_new_feeds(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "feeds.yaml"
    shutil.copy(ROOT / "feeds.yaml", config)
    original = config.read_text(encoding="utf-8")
    count = len(load_config(config).sources)
    (tmp_path / "in.opml").write_text(IMPORT, encoding="utf-8")
    assert main(["--config", str(config), "import-opml", str(tmp_path / "in.opml")]) == 0
    out = capsys.readouterr().out
    assert "3 sources added" in out
    edited = config.read_text(encoding="utf-8")
    # every original line is still there, in order, with the new ones in one block
    old, new = original.splitlines(keepends=True), edited.splitlines(keepends=True)
    start = next(i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b)
    added = len(new) - len(old)
    assert new[:start] + new[start + added:] == old
    block = "".join(new[start:start + added])
    assert block.startswith("  - id: ") and "#" not in block
    sources = {s.id: s for s in load_config(config).sources}
    assert len(sources) == count + 3
    # BBC World is listed already (the OPML spells its URL in capitals with a trailing /)
    assert [s.id for s in sources.values() if "bbci.co.uk/news/world" in s.url] == ["bbc-world"]
    assert sources["le-monde-international"].title == "Le Monde — International"
    assert sources["le-monde-international"].language == "fr"
    arabic = next(s for s in sources.values() if s.title == "الجزيرة نت")
    assert arabic.id == "aljazeera-net" and arabic.language == "ar"  # from the host
    assert sources["bbc-arabic-2"].url == "https://example.org/bbc-arabic-mirror.xml"
    assert "javascript" not in edited and "htmlUrl" not in edited
    # a second import finds every feed already there and leaves the file alone
    assert main(["--config", str(config), "import-opml", str(tmp_path / "in.opml")]) == 0
    assert "0 sources added" in capsys.readouterr().out
    assert config.read_text(encoding="utf-8") == edited


def test_import_derives_unique_ids(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("# my feeds\nsources:\n  - {id: bbc-arabic, url: 'https://a.example/x'}"
                      "  # first\n\n# topics next\ntopics: {t: {terms: [x]}}\n", encoding="utf-8")
    ids = add_sources(config, [NewSource("https://b.example/feed", "BBC Arabic"),
                               NewSource("https://c.example/feed", "BBC Arabic"),
                               NewSource("https://a.example/x/", "duplicate")])
    assert ids == ["bbc-arabic-2", "bbc-arabic-3"]
    text = config.read_text(encoding="utf-8")
    assert text == ("# my feeds\nsources:\n  - {id: bbc-arabic, url: 'https://a.example/x'}"
                    "  # first\n  - {id: bbc-arabic-2, url: https://b.example/feed, "
                    "title: BBC Arabic}\n  - {id: bbc-arabic-3, url: https://c.example/feed, "
                    "title: BBC Arabic}\n\n# topics next\ntopics: {t: {terms: [x]}}\n")


@pytest.mark.parametrize("before", ["topics: {t: {terms: [x]}}\n",
                                    "sources:  # none yet\ntopics: {t: {terms: [x]}}\n",
                                    "sources: []\ntopics: {t: {terms: [x]}}\n"])
def test_import_into_a_file_without_sources(tmp_path: Path, before: str) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(before, encoding="utf-8")
    assert add_sources(config, [NewSource("https://www.example.com/rss", None)]) \
        == ["example-com"]
    assert [s.url for s in load_config(config).sources] == ["https://www.example.com/rss"]
    assert ("# none yet" in config.read_text(encoding="utf-8")) == ("# none yet" in before)


def test_bad_opml_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("sources: []\n", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    cases = {"broken.opml": "<opml><body><outline", "html.opml": "<html><body/></html>",
             "xxe.opml": f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM '
                         f'"file://{secret}">]><opml version="2.0"><body><outline text="&x;" '
                         'xmlUrl="https://x.example/feed"/></body></opml>'}
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    # an external entity is never read: lxml refuses it without opening the file
    for name in ("broken.opml", "html.opml", "missing.opml", "xxe.opml"):
        assert main(["--config", str(config), "import-opml", str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert f"error: {tmp_path / name}" in err and "TOP-SECRET" not in err
    assert config.read_text(encoding="utf-8") == "sources: []\n"

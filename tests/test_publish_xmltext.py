"""Entries written as text (publish/xmltext.py) are what lxml writes: the same escaping of
every character XML can carry, and the same pretty-printed layout when lxml reads the
entries back and writes them again."""

from __future__ import annotations

import pytest
from lxml import etree
from test_publish_stream import CTX, STORIES

from aggregator.publish import xmltext
from aggregator.publish.dates import document_dates
from aggregator.publish.render import ATOM_END, atom_entries, entry_html, unique_stories
from aggregator.publish.rss import rss_items

# Every character XML 1.0 allows below U+0080, and some beyond (NEL, NBSP, BOM, an emoji).
CHARACTERS = [chr(c) for c in (9, 10, 13, *range(32, 128), 0x85, 0xA0, 0xFEFF, 0x1F600)]


def _lxml(value: str | None, attrs: list[tuple[str, str]]) -> str:
    parent = etree.Element("p")
    child = etree.SubElement(parent, "x", attrib=dict(attrs))
    child.text = value
    text = etree.tostring(parent, pretty_print=True, encoding="unicode")
    return text[len("<p>\n"):-len("</p>\n")]


@pytest.mark.parametrize("char", CHARACTERS)
def test_a_character_is_escaped_as_lxml_escapes_it(char: str) -> None:
    value = f"a{char}b{char}"
    assert xmltext.element("  ", "x", value, [("v", value)]) == _lxml(value, [("v", value)])


@pytest.mark.parametrize(("value", "attrs"), [
    (None, []), (None, [("a", "1"), ("b", "")]), ("", []), (" ", [("href", "x?a=1&b=2")]),
    ("<p>R&amp;D</p>", [("type", "html")]),
])
def test_empty_and_attributed_elements_are_laid_out_as_lxml_lays_them_out(
        value: str | None, attrs: list[tuple[str, str]]) -> None:
    assert xmltext.element("  ", "x", value, attrs) == _lxml(value, attrs)


def _rewritten(document: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(document, parser), pretty_print=True,
                          encoding="UTF-8")


def test_atom_entries_are_what_lxml_writes_of_them() -> None:
    stories = unique_stories(STORIES)
    entries = atom_entries(stories, document_dates(stories),
                           [entry_html(s, CTX) for s in stories], CTX)
    assert entries.count(b"<entry ") == len(stories)
    document = b"<feed>\n" + entries + ATOM_END
    assert _rewritten(document) == document


def test_rss_items_are_what_lxml_writes_of_them() -> None:
    stories = unique_stories(STORIES)
    items = rss_items(stories, document_dates(stories),
                      [entry_html(s, CTX) for s in stories], CTX)
    assert items.count(b"<item>") == len(stories)
    document = (b'<rss xmlns:dc="http://purl.org/dc/elements/1.1/">\n  <channel>\n' + items
                + b"  </channel>\n</rss>\n")
    # lxml writes "<" and "&" as named references, the RSS writer as hexadecimal ones.
    expected = _rewritten(document).replace(b"&lt;", b"&#x3C;").replace(b"&amp;", b"&#x26;")
    assert expected == document

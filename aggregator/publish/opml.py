"""OPML 2.0 subscription lists: what we read (the sources) and what we publish (the
sections), and reading a list someone else exported, for `aggregator import-opml`.

Reading never resolves entities, loads a DTD or touches the network: an OPML file is data
from elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from aggregator.config import Config
from aggregator.publish.clean import xml_text
from aggregator.publish.urls import feed_url, section_url

SPEC = "http://opml.org/spec2.opml"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription found in an OPML file."""

    url: str  # xmlUrl, an http(s) address
    title: str | None  # title, else text, when not blank
    language: str | None  # the outline's language attribute, as written


def sources_opml(config: Config, meta: Mapping[str, tuple[str | None, str | None]]) -> bytes:
    """The enabled sources; `meta` gives each one's feed title and home page as fetched."""
    outlines = []
    for source in config.sources:
        if not source.enabled:
            continue
        title, home = meta.get(source.id, (None, None))
        attrs = {"text": xml_text(source.title or title or source.id), "type": "rss",
                 "xmlUrl": source.url}
        if home:
            attrs["htmlUrl"] = home
        if source.language:
            attrs["language"] = source.language
        outlines.append(attrs)
    return _document("Sources read by aggregator", outlines)


def sections_opml(config: Config) -> bytes:
    """The published sections, subscribed to by their Atom feeds."""
    base = config.settings.base_url
    outlines = []
    for section in config.sections:
        attrs = {"text": xml_text(section.title), "type": "rss",
                 "xmlUrl": feed_url(base, section.id), "htmlUrl": section_url(base, section.id)}
        if section.description:
            attrs["description"] = xml_text(section.description)
        if len(section.languages) == 1:
            attrs["language"] = section.languages[0]
        outlines.append(attrs)
    return _document("Sections published by aggregator", outlines)


def _document(title: str, outlines: list[dict[str, str]]) -> bytes:
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "docs").text = SPEC
    body = etree.SubElement(root, "body")
    for attrs in outlines:
        etree.SubElement(body, "outline", attrib=attrs)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def read_opml(data: bytes) -> list[OpmlFeed]:
    """Every outline with an http(s) xmlUrl, at any depth, in document order; raises
    ValueError when `data` is not an OPML document."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    if root.tag != "opml":
        raise ValueError(f"not an OPML document (root element <{root.tag}>)")
    feeds = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not _http(url):
            continue
        title = (outline.get("title") or outline.get("text") or "").strip() or None
        language = (outline.get("language") or "").strip() or None
        feeds.append(OpmlFeed(url=url, title=title, language=language))
    return feeds


def _http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) \
            and not any(c.isspace() for c in url)
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        return False

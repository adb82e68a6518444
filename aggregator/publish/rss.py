"""The RSS 2.0 alternate of a section's feed: the same entries, ids (as non-permalink
guids) and HTML as the Atom document, for readers that prefer RSS. Pure, like render.py.

Written with lxml (the head) and as text (the items, publish/xmltext.py) rather than
feedgen so that the guid, dc:creator, <source url> and the atom:link rel="self" the W3C
validator asks for come out exactly as intended. RSS cannot say whether a title is text or
HTML, so every text element carries plain text (clean.plain), and
"<" and "&" are written as hexadecimal character references, as the RSS Advisory Board's
profile asks (the validator's CharacterData warning).
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import format_datetime

from lxml import etree

from aggregator import HOME_PAGE, __version__
from aggregator.config import SectionConfig
from aggregator.publish import xmltext
from aggregator.publish.clean import person_name, plain
from aggregator.publish.dates import EntryDates, document_dates
from aggregator.publish.language import language_tag
from aggregator.publish.render import (
    Outlined,
    RenderContext,
    entry_html,
    main_language,
    unique_stories,
)
from aggregator.publish.uri import normal_uri, web_uri
from aggregator.publish.urls import FORMATS, feed_url, section_url
from aggregator.store import StoryView

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
NSMAP = {"atom": ATOM_NS, "dc": DC_NS}
RSS_END = b"  </channel>\n</rss>\n"  # how the pretty-printed document ends, after the items


def render_rss(section: SectionConfig, stories: Sequence[StoryView], ctx: RenderContext) -> bytes:
    stories = unique_stories(stories)
    dates = document_dates(stories)
    return (rss_head(section, stories, dates, ctx)
            + rss_items(stories, dates, [entry_html(story, ctx) for story in stories], ctx)
            + RSS_END)


def rss_head(section: SectionConfig, outlines: Sequence[Outlined], dates: Sequence[EntryDates],
             ctx: RenderContext) -> bytes:
    """The document up to its first item (the stories once each, made XML-safe)."""
    rss = etree.Element("rss", version="2.0", nsmap=NSMAP)
    channel = etree.SubElement(rss, "channel")
    title = plain(section.title) or section.id
    _text(channel, "title", title)
    _text(channel, "link", section_url(ctx.base_url, section.id))
    _text(channel, "description", plain(section.description or "") or title)
    if language := language_tag(main_language(outlines, section)):
        _text(channel, "language", language)
    updated = max((d.updated for d in dates), default=ctx.empty_updated)
    _text(channel, "lastBuildDate", format_datetime(updated, usegmt=True))
    _text(channel, "generator", f"aggregator {__version__} ({HOME_PAGE})")
    etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel="self", type=FORMATS["rss"][1],
                     href=feed_url(ctx.base_url, section.id, "rss"))
    if ctx.hub:  # WebSub discovery, as in the Atom feed
        etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel="hub", href=ctx.hub)
    document = _serialize(rss, xml_declaration=True)
    assert document.endswith(RSS_END)
    return document[:-len(RSS_END)]


def rss_items(stories: Sequence[StoryView], dates: Sequence[EntryDates], htmls: Sequence[str],
              ctx: RenderContext) -> bytes:
    """These items as they are written in the document, pretty-printed at depth 2 (written as
    text, publish/xmltext.py: what lxml wrote of the same elements)."""
    text = "".join(_item(story, story_dates, ctx, content)
                   for story, story_dates, content in zip(stories, dates, htmls, strict=True))
    return _references(text.encode("utf-8"))


def _serialize(rss: etree._Element, *, xml_declaration: bool) -> bytes:
    data = etree.tostring(rss, xml_declaration=xml_declaration, encoding="UTF-8",
                          pretty_print=True)
    return _references(bytes(data))


def _references(data: bytes) -> bytes:
    return data.replace(b"&lt;", b"&#x3C;").replace(b"&amp;", b"&#x26;")


def _item(story: StoryView, dates: EntryDates, ctx: RenderContext, content: str) -> str:
    first = story.items[0]
    link = web_uri(first.link)
    parts = ["    <item>\n", xmltext.element("      ", "title",
                                              plain(first.title) or link or "Untitled")]
    if link:
        parts.append(xmltext.element("      ", "link", link))
    parts.append(xmltext.element("      ", "description", content))  # entry_html(story, ctx)
    if author := person_name(first.author):
        parts.append(xmltext.element("      ", "dc:creator", author))
    for topic in sorted({t for i in story.items for t in i.topics}):
        parts.append(xmltext.element("      ", "category",
                                     plain(ctx.topic_titles.get(topic, topic)) or topic))
    parts.append(xmltext.element("      ", "guid", f"urn:uuid:{story.uid}",
                                 (("isPermaLink", "false"),)))
    parts.append(f"      <pubDate>{format_datetime(dates.published, usegmt=True)}</pubDate>\n")
    outlet = ctx.outlets.get(first.source_id)
    url = normal_uri(outlet.feed_url) if outlet and outlet.feed_url else None
    if outlet and url:  # RSS 2.0 <source> needs the outlet feed's url
        parts.append(xmltext.element("      ", "source", plain(outlet.title) or first.source_id,
                                     (("url", url),)))
    parts.append("    </item>\n")
    return "".join(parts)


def _text(parent: etree._Element, tag: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.text = text
    return element

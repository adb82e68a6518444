"""The RSS 2.0 alternate of a section's feed: the same entries, ids (as non-permalink
guids) and HTML as the Atom document, for readers that prefer RSS. Pure, like render.py.

Written with lxml rather than feedgen so that the guid, dc:creator, <source url> and the
atom:link rel="self" the W3C validator asks for come out exactly as intended.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import format_datetime

from lxml import etree

from aggregator import HOME_PAGE, __version__
from aggregator.config import SectionConfig
from aggregator.publish.clean import clean_story, xml_text
from aggregator.publish.render import (
    UNDETERMINED,
    RenderContext,
    entry_html,
    main_language,
)
from aggregator.publish.urls import FORMATS, feed_url, section_url
from aggregator.store import StoryView

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"


def render_rss(section: SectionConfig, stories: Sequence[StoryView], ctx: RenderContext) -> bytes:
    stories = [clean_story(s) for s in stories]
    rss = etree.Element("rss", version="2.0", nsmap={"atom": ATOM_NS, "dc": DC_NS})
    channel = etree.SubElement(rss, "channel")
    _text(channel, "title", xml_text(section.title))
    _text(channel, "link", section_url(ctx.base_url, section.id))
    _text(channel, "description", xml_text(section.description or section.title))
    language = main_language(stories, section)
    if language and language != UNDETERMINED:
        _text(channel, "language", language)
    updated = max((s.updated for s in stories), default=ctx.empty_updated)
    _text(channel, "lastBuildDate", format_datetime(updated, usegmt=True))
    _text(channel, "generator", f"aggregator {__version__} ({HOME_PAGE})")
    etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel="self", type=FORMATS["rss"][1],
                     href=feed_url(ctx.base_url, section.id, "rss"))
    if ctx.hub:  # WebSub discovery, as in the Atom feed
        etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel="hub", href=ctx.hub)
    for story in stories:
        _item(etree.SubElement(channel, "item"), story, ctx)
    return bytes(etree.tostring(rss, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _item(item: etree._Element, story: StoryView, ctx: RenderContext) -> None:
    first = story.items[0]
    _text(item, "title", first.title or first.link or "Untitled")
    if first.link:
        _text(item, "link", first.link)
    _text(item, "description", entry_html(story, ctx))
    if first.author:
        _text(item, f"{{{DC_NS}}}creator", first.author)
    for topic in sorted({t for i in story.items for t in i.topics}):
        _text(item, "category", ctx.topic_titles.get(topic, topic))
    guid = _text(item, "guid", f"urn:uuid:{story.uid}")
    guid.set("isPermaLink", "false")
    _text(item, "pubDate", format_datetime(first.published, usegmt=True))
    outlet = ctx.outlets.get(first.source_id)
    if outlet and outlet.feed_url:  # RSS 2.0 <source> needs the outlet feed's url
        _text(item, "source", xml_text(outlet.title)).set("url", outlet.feed_url)


def _text(parent: etree._Element, tag: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.text = text
    return element

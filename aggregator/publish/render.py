"""Render one section as an Atom 1.0 document. feedgen is used only here.

Pure: the same stories give the same bytes, so an unchanged poll rewrites nothing.
feedgen 1.0 drops rel/type/hreflang/title on entry links and keeps only a title and one
link in atom:source, so an entry extension writes those elements itself.
"""

from __future__ import annotations

import html
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator import HOME_PAGE, __version__
from aggregator.config import SectionConfig
from aggregator.store import ItemView, StoryView

# feedgen builds un-namespaced elements under a literal xmlns attribute on <feed>, so the
# extension does the same: a Clark-notation name would serialize with an "ns0:" prefix.
ATOM = ""
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi", "dv", "sd", "ug"})
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM_TYPE = "application/atom+xml"


@dataclass(frozen=True, slots=True)
class Outlet:
    """How a source is named and linked in the output."""

    title: str  # the source's title (config, else the feed's own, else its id)
    link: str | None  # the source's home page, when known


@dataclass(frozen=True, slots=True)
class RenderContext:
    """Everything besides the stories that a section's document depends on."""

    base_url: str  # public address of the outputs, ending in "/"
    outlets: Mapping[str, Outlet]  # by source id
    topic_titles: Mapping[str, str]  # by topic id
    empty_updated: datetime  # the feed's <updated> when it has no entries
    extra: dict[str, Any] = field(default_factory=dict)


def feed_url(base_url: str, section_id: str) -> str:
    return f"{base_url}feeds/{section_id}.atom"


def feed_id(base_url: str, section_id: str) -> str:
    """A permanent URN derived from the public address and the section id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, feed_url(base_url, section_id)).urn


def render_atom(section: SectionConfig, stories: Sequence[StoryView], ctx: RenderContext) -> bytes:
    fg = FeedGenerator()
    fg.register_extension("aggregator", _FeedExt, _EntryExt, atom=True, rss=False)
    fg.id(feed_id(ctx.base_url, section.id))
    fg.title(section.title)
    if section.description:
        fg.subtitle(section.description)
    fg.link(href=feed_url(ctx.base_url, section.id), rel="self", type=ATOM_TYPE)
    fg.link(href=ctx.base_url, rel="alternate", type="text/html")
    fg.author({"name": section.title})  # RFC 4287 §4.1.1: entries without an author inherit it
    fg.generator("aggregator", version=__version__, uri=HOME_PAGE)
    fg.updated(max((s.updated for s in stories), default=ctx.empty_updated))
    language = _main_language(stories, section)
    if language:
        fg.language(language)
    for story in stories:
        _entry(fg.add_entry(order="append"), story, ctx)
    return bytes(fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True))


def _entry(fe: Any, story: StoryView, ctx: RenderContext) -> None:
    first = story.items[0]
    fe.id(f"urn:uuid:{story.uid}")
    fe.title(first.title or _fallback_title(first))
    fe.updated(story.updated)
    fe.published(first.published)
    if first.author:
        fe.author({"name": first.author})
    # RFC 4287 §4.1.1.1 wants content or an alternate link; feedgen checks for its own
    # links before the extension adds ours, so an item with no text shows its title.
    text = first.content_html or first.summary_html or html.escape(fe.title(), quote=False)
    fe.content(_directed(text, first.language) + _also_reported(story, ctx), type="html")
    if first.content_html and first.summary_html:
        fe.summary(first.summary_html, type="html")
    for topic in sorted({t for item in story.items for t in item.topics}):
        fe.category(term=topic, label=ctx.topic_titles.get(topic, topic))
    ext: _EntryExt = fe.aggregator
    ext.language = first.language
    ext.links = [_link(item, ctx, "alternate" if i == 0 else "related")
                 for i, item in enumerate(story.items) if item.link]
    outlet = ctx.outlets.get(first.source_id)
    ext.source = (outlet.title if outlet else first.source_id, outlet.link if outlet else None)


def _link(item: ItemView, ctx: RenderContext, rel: str) -> dict[str, str]:
    outlet = ctx.outlets.get(item.source_id)
    attrs = {"rel": rel, "type": "text/html", "href": item.link or "",
             "title": f"{outlet.title if outlet else item.source_id}: {item.title}"}
    if item.language:
        attrs["hreflang"] = item.language
    return attrs


def _directed(fragment: str, language: str | None) -> str:
    """Wrap content so readers lay out right-to-left text right to left."""
    if not fragment:
        return ""
    if language in RTL_LANGUAGES:
        return f'<div dir="rtl" lang="{language}">{fragment}</div>'
    return f'<div dir="auto">{fragment}</div>'


def _also_reported(story: StoryView, ctx: RenderContext) -> str:
    others = [i for i in story.items[1:] if i.link]
    if not others:
        return ""
    entries = "".join(
        f'<li><a href="{html.escape(i.link or "")}"'
        f'{f" hreflang={chr(34)}{i.language}{chr(34)}" if i.language else ""} dir="auto">'
        f"{html.escape(_outlet_title(i, ctx))}: {html.escape(i.title)}</a></li>"
        for i in others)
    return f'<p dir="auto">Also reported by:</p><ul dir="auto">{entries}</ul>'


def _outlet_title(item: ItemView, ctx: RenderContext) -> str:
    outlet = ctx.outlets.get(item.source_id)
    return outlet.title if outlet else item.source_id


def _fallback_title(item: ItemView) -> str:
    return item.link or "Untitled"


def _main_language(stories: Sequence[StoryView], section: SectionConfig) -> str | None:
    if len(section.languages) == 1:
        return section.languages[0]
    counts = Counter(s.items[0].language for s in stories if s.items[0].language)
    return min(counts, key=lambda lang: (-counts[lang], lang)) if counts else None


class _FeedExt(BaseExtension):
    """Feed-level half of the extension: nothing to add."""


class _EntryExt(BaseEntryExtension):
    """Writes xml:lang, the outlet links and atom:source that feedgen cannot."""

    def __init__(self) -> None:
        self.language: str | None = None
        self.links: list[dict[str, str]] = []
        self.source: tuple[str, str | None] | None = None

    def extend_atom(self, entry: Any) -> Any:
        if self.language:
            entry.set(XML_LANG, self.language)
        anchor = entry.find(f"{ATOM}content")
        position = list(entry).index(anchor) if anchor is not None else len(entry)
        for attrs in self.links:
            link = etree.Element(f"{ATOM}link", attrib=attrs)
            entry.insert(position, link)
            position += 1
        if self.source:
            title, href = self.source
            source = etree.SubElement(entry, f"{ATOM}source")
            etree.SubElement(source, f"{ATOM}title").text = title
            if href:
                etree.SubElement(source, f"{ATOM}link", rel="alternate", type="text/html",
                                 href=href)
        return entry

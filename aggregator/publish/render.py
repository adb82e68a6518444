"""Render one section as an Atom 1.0 document. feedgen is used only here.

Pure: the same stories give the same bytes, so an unchanged poll rewrites nothing.
feedgen 1.0 drops rel/type/hreflang/title on entry links and keeps only a title and one
link in atom:source, so an entry extension writes those elements itself.

Paging is RFC 5005 "archived feeds": the subscription document holds the newest stories and
links rel="prev-archive" to the archive of the newest UTC day; each archive document holds
every story first reported that day, marked <fh:archive/>, links rel="current" back to the
subscription document and rel="prev-archive" to the next older day (see publish/archive.py).
"""

from __future__ import annotations

import html
import re
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
from aggregator.publish.clean import clean_story, xml_text
from aggregator.publish.urls import FORMATS, archive_url, feed_url, section_url
from aggregator.store import ItemView, StoryView

# feedgen builds un-namespaced elements under a literal xmlns attribute on <feed>, so the
# extension does the same: a Clark-notation name would serialize with an "ns0:" prefix.
ATOM = ""
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi", "dv", "sd", "ug"})
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM_TYPE = "application/atom+xml"
HISTORY = "http://purl.org/syndication/history/1.0"  # RFC 5005's namespace
_MARKUP = re.compile(r"<[A-Za-z/!?]|&[A-Za-z#][A-Za-z0-9]*;")  # what a reader may take for HTML
UNDETERMINED = "und"  # BCP 47 "undetermined": a feed whose language nothing tells


@dataclass(frozen=True, slots=True)
class Outlet:
    """How a source is named and linked in the output."""

    title: str  # the source's title (config, else the feed's own, else its id)
    link: str | None  # the source's home page, when known
    feed_url: str | None = None  # the address we poll: atom:source's id and self link


@dataclass(frozen=True, slots=True)
class RenderContext:
    """Everything besides the stories that a section's document depends on."""

    base_url: str  # public address of the outputs, ending in "/"
    outlets: Mapping[str, Outlet]  # by source id
    topic_titles: Mapping[str, str]  # by topic id
    empty_updated: datetime  # the feed's <updated> when it has no entries
    extra: dict[str, Any] = field(default_factory=dict)
    hub: str | None = None  # settings.websub_hub


@dataclass(frozen=True, slots=True)
class Page:
    """Which document of a section's feed is rendered (RFC 5005 archived feeds)."""

    day: str | None = None  # the UTC day of an archive document; None: the subscription one
    prev_archive: str | None = None  # the day of the next older archive document, if any


def feed_id(base_url: str, section_id: str) -> str:
    """A permanent URN derived from the public address and the section id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, feed_url(base_url, section_id)).urn


def render_atom(section: SectionConfig, stories: Sequence[StoryView], ctx: RenderContext,
                page: Page | None = None) -> bytes:
    page = page or Page()
    stories = [clean_story(s) for s in stories]
    base, sid = ctx.base_url, section.id
    fg = FeedGenerator()
    fg.register_extension("aggregator", _FeedExt, _EntryExt, atom=True, rss=False)
    fg.id(feed_id(base, sid))  # one feed: its archive documents share the id (RFC 5005 §4)
    fg.title(xml_text(section.title))
    if section.description:
        fg.subtitle(xml_text(section.description))
    subscription = feed_url(base, sid)
    fg.link(href=archive_url(base, sid, page.day) if page.day else subscription, rel="self",
            type=ATOM_TYPE)
    fg.link(href=section_url(base, sid), rel="alternate", type="text/html")
    if page.day:
        fg.link(href=subscription, rel="current", type=ATOM_TYPE)
    else:  # the same entries in the other formats; one alternate per type (RFC 4287 §4.2.7.2)
        for fmt in ("rss", "json"):
            fg.link(href=feed_url(base, sid, fmt), rel="alternate", type=FORMATS[fmt][1])
    if page.prev_archive:
        fg.link(href=archive_url(base, sid, page.prev_archive), rel="prev-archive",
                type=ATOM_TYPE)
    if ctx.hub and not page.day:  # WebSub: where subscribers of this feed get pushed updates
        fg.link(href=ctx.hub, rel="hub")
    fg.author({"name": xml_text(section.title)})  # RFC 4287 §4.1.1: entries inherit it
    fg.generator("aggregator", version=__version__, uri=HOME_PAGE)
    fg.updated(max((s.updated for s in stories), default=ctx.empty_updated))
    fg.language(main_language(stories, section) or _script_language(section.title))
    fg.aggregator.archive = page.day is not None
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
    fe.content(entry_html(story, ctx), type="html")
    if first.content_html and first.summary_html:
        fe.summary(first.summary_html, type="html")
    for topic in sorted({t for item in story.items for t in item.topics}):
        fe.category(term=topic, label=ctx.topic_titles.get(topic, topic))
    ext: _EntryExt = fe.aggregator
    ext.language = first.language or ""  # xml:lang="" says "unknown" (XML 1.0 §2.12)
    ext.links = [_link(item, ctx, "alternate" if i == 0 else "related")
                 for i, item in enumerate(story.items) if item.link]
    outlet = ctx.outlets.get(first.source_id)
    ext.source = _Source(title=xml_text(outlet.title) if outlet else first.source_id,
                         link=outlet.link if outlet else None,
                         feed=outlet.feed_url if outlet else None, updated=first.updated)


def entry_html(story: StoryView, ctx: RenderContext) -> str:
    """An entry's HTML content: the first report's text, directed, then the other outlets.
    The RSS and JSON Feed alternates carry the same HTML."""
    first = story.items[0]
    title = first.title or _fallback_title(first)
    text = first.content_html or first.summary_html or html.escape(title, quote=False)
    return _directed(text, first.language) + _also_reported(story, ctx)


def _link(item: ItemView, ctx: RenderContext, rel: str) -> dict[str, str]:
    attrs = {"rel": rel, "type": "text/html", "href": item.link or "",
             "title": f"{_outlet_title(item, ctx)}: {item.title}"}
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
    return xml_text(outlet.title) if outlet else item.source_id


def _fallback_title(item: ItemView) -> str:
    return item.link or "Untitled"


def main_language(stories: Sequence[StoryView], section: SectionConfig) -> str | None:
    if len(section.languages) == 1:
        return section.languages[0]
    counts = Counter(s.items[0].language for s in stories if s.items[0].language)
    return min(counts, key=lambda lang: (-counts[lang], lang)) if counts else None


def _script_language(title: str) -> str:
    """The language of a feed with no stories and no configured language: Arabic when its
    title is written in Arabic script, else undetermined."""
    return "ar" if any("\u0600" <= c <= "\u06ff" for c in title) else UNDETERMINED


def _declare_markup(element: Any) -> None:
    """A text construct whose plain text looks like markup ("a <b> tag") is sent as
    type="html", escaped, so readers show the characters instead of guessing (the W3C
    validator warns about undeclared HTML in type="text")."""
    if element is not None and element.text and _MARKUP.search(element.text):
        element.set("type", "html")
        element.text = html.escape(element.text, quote=False)


@dataclass(frozen=True, slots=True)
class _Source:
    """atom:source of an entry: the outlet's feed (RFC 4287 §4.2.11)."""

    title: str
    link: str | None  # the outlet's home page
    feed: str | None  # the feed we poll: its id and self link
    updated: datetime  # the newest time we know the outlet's feed had: the item's update


class _FeedExt(BaseExtension):
    """Feed-level half of the extension: marks archive documents (RFC 5005 §4)."""

    def __init__(self) -> None:
        self.archive = False

    def extend_atom(self, feed: Any) -> Any:
        for tag in ("title", "subtitle"):
            _declare_markup(feed.find(f"{ATOM}{tag}"))
        if self.archive:
            etree.SubElement(feed, f"{{{HISTORY}}}archive", nsmap={"fh": HISTORY})
        return feed


class _EntryExt(BaseEntryExtension):
    """Writes xml:lang, the outlet links and atom:source that feedgen cannot."""

    def __init__(self) -> None:
        self.language: str | None = None
        self.links: list[dict[str, str]] = []
        self.source: _Source | None = None

    def extend_atom(self, entry: Any) -> Any:
        if self.language is not None:
            entry.set(XML_LANG, self.language)
        _declare_markup(entry.find(f"{ATOM}title"))
        anchor = entry.find(f"{ATOM}content")
        position = list(entry).index(anchor) if anchor is not None else len(entry)
        for attrs in self.links:
            link = etree.Element(f"{ATOM}link", attrib=attrs)
            entry.insert(position, link)
            position += 1
        if self.source:
            src = self.source
            source = etree.SubElement(entry, f"{ATOM}source")
            if src.feed:  # the W3C validator wants id and updated in atom:source
                etree.SubElement(source, f"{ATOM}id").text = src.feed
            etree.SubElement(source, f"{ATOM}title").text = src.title
            etree.SubElement(source, f"{ATOM}updated").text = src.updated.isoformat()
            if src.link:
                etree.SubElement(source, f"{ATOM}link", rel="alternate", type="text/html",
                                 href=src.link)
            if src.feed:
                etree.SubElement(source, f"{ATOM}link", rel="self", href=src.feed)
        return entry

"""Render one section as an Atom 1.0 document. feedgen is used only here.

Pure: the same stories give the same bytes, so an unchanged poll rewrites nothing.
feedgen writes a document's head; the entries are written as text (publish/xmltext.py), in
the layout feedgen and its entry extension gave them (feedgen 1.0 drops rel/type/hreflang/
title on entry links and keeps only a title and one link in atom:source).

Every value is made what the W3C Feed Validation Service accepts without a warning (see
tests/feedcheck/messages.py): plain text where markup cannot be declared (clean.plain), HTML
the validator calls safe (html.safe_html), normal URIs (uri.py), ISO 639-1 language tags
(language.py) and plausible, distinct dates (dates.py).

Paging is RFC 5005 "archived feeds" (publish/archive.py): the subscription document links
rel="prev-archive" to the newest archive document; each archive document holds the stories of
one closed UTC day, is marked <fh:archive/>, and links rel="current" to the subscription
document and rel="prev-archive"/"next-archive" to the days around it.
"""

from __future__ import annotations

import html
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator import HOME_PAGE, __version__
from aggregator.config import SectionConfig
from aggregator.publish import xmltext
from aggregator.publish.clean import clean_story, person_name, plain, xml_text
from aggregator.publish.dates import EntryDates, document_dates, plausible
from aggregator.publish.html import safe_html
from aggregator.publish.language import RTL_LANGUAGES, UNDETERMINED, language_tag
from aggregator.publish.uri import normal_uri, web_uri
from aggregator.publish.urls import FORMATS, archive_url, feed_url, section_url
from aggregator.store import ItemView, StoryOutline, StoryView

__all__ = ["ATOM_END", "RTL_LANGUAGES", "UNDETERMINED", "Outlet", "Outlined", "Page",
           "RenderContext", "atom_entries", "atom_head", "atom_parts", "entry_html", "feed_id",
           "main_language", "render_atom", "unique_stories"]

# What a document's head is rendered from: a story's dates and languages, not its text.
Outlined = StoryView | StoryOutline
_S = TypeVar("_S", StoryView, StoryOutline)

# feedgen builds un-namespaced elements under a literal xmlns attribute on <feed>, so the
# extension does the same: a Clark-notation name would serialize with an "ns0:" prefix.
ATOM = ""
ATOM_END = b"</feed>\n"  # how the pretty-printed document ends, after the entries
ATOM_TYPE = "application/atom+xml"
HISTORY = "http://purl.org/syndication/history/1.0"  # RFC 5005's namespace
# What the validator may read as HTML in a type="text" construct: a tag, or "&name" / "&#".
_MARKUP = re.compile(r"<[A-Za-z/!?]|&#?\w")


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
    empty_updated: datetime  # the subscription document's <updated> when it has no entries
    extra: dict[str, Any] = field(default_factory=dict)
    hub: str | None = None  # settings.websub_hub


@dataclass(frozen=True, slots=True)
class Page:
    """Which document of a section's feed is rendered (RFC 5005 archived feeds)."""

    day: str | None = None  # the UTC day of an archive document; None: the subscription one
    prev_archive: str | None = None  # the day of the next older archive document, if any
    next_archive: str | None = None  # the day of the next newer archive document, if any


def feed_id(base_url: str, section_id: str) -> str:
    """A permanent URN derived from the public address and the section id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, feed_url(base_url, section_id)).urn


def unique_stories(stories: Sequence[_S]) -> list[_S]:
    """The stories once each (the first occurrence), made XML-safe."""
    seen: set[str] = set()
    unique = []
    for story in stories:
        if story.uid not in seen:
            seen.add(story.uid)
            unique.append(clean_story(story))
    return unique


def render_atom(section: SectionConfig, stories: Sequence[StoryView], ctx: RenderContext,
                page: Page | None = None) -> bytes:
    stories = unique_stories(stories)
    return b"".join(atom_parts(section, stories, [stories], ctx, page))


def atom_parts(section: SectionConfig, outlines: Sequence[Outlined],
               batches: Iterable[Sequence[StoryView]], ctx: RenderContext,
               page: Page | None = None) -> Iterator[bytes]:
    """The document in parts, as render_atom's bytes: its head (from the outlines), the entries
    of each batch, its end. The batches hold the outlined stories in full, in the same order;
    both are once each and made XML-safe (unique_stories, clean_story)."""
    page = page or Page()
    dates = document_dates(outlines)
    yield atom_head(section, outlines, dates, ctx, page)
    done = 0
    for batch in batches:
        yield atom_entries(batch, dates[done:done + len(batch)],
                           [entry_html(story, ctx) for story in batch], ctx)
        done += len(batch)
    yield ATOM_END


def _generator() -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension("aggregator", _FeedExt, atom=True, rss=False)
    return fg


def atom_head(section: SectionConfig, outlines: Sequence[Outlined],
              dates: Sequence[EntryDates], ctx: RenderContext, page: Page) -> bytes:
    """The document up to its first entry."""
    base, sid = ctx.base_url, section.id
    fg = _generator()
    fg.id(feed_id(base, sid))  # one feed: its archive documents share the id (RFC 5005 §4)
    fg.title(xml_text(section.title))
    if section.description:
        fg.subtitle(xml_text(section.description))
    _feed_links(fg, page, ctx, sid)
    fg.author({"name": plain(section.title) or sid})  # RFC 4287 §4.1.1: entries inherit it
    fg.generator("aggregator", version=__version__, uri=HOME_PAGE)
    fg.updated(max((d.updated for d in dates), default=_empty_updated(page, ctx)))
    fg.language(feed_language(outlines, section))
    fg.aggregator.archive = page.day is not None
    document = bytes(fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True))
    assert document.endswith(ATOM_END)
    return document[:-len(ATOM_END)]


def atom_entries(stories: Sequence[StoryView], dates: Sequence[EntryDates],
                 htmls: Sequence[str], ctx: RenderContext) -> bytes:
    """These entries as they are written in the document: each <entry> pretty-printed at
    depth 1 (publish/xmltext.py writes what lxml would of feedgen's entry elements)."""
    return "".join(_entry(story, story_dates, ctx, content)
                   for story, story_dates, content in zip(stories, dates, htmls, strict=True)
                   ).encode("utf-8")


def _feed_links(fg: FeedGenerator, page: Page, ctx: RenderContext, sid: str) -> None:
    base = ctx.base_url
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
    if page.next_archive:
        fg.link(href=archive_url(base, sid, page.next_archive), rel="next-archive",
                type=ATOM_TYPE)
    if ctx.hub and not page.day:  # WebSub: where subscribers of this feed get pushed updates
        fg.link(href=ctx.hub, rel="hub")


def _empty_updated(page: Page, ctx: RenderContext) -> datetime:
    """An empty archive document was last changed when its day ended."""
    if page.day:
        return datetime.fromisoformat(page.day).replace(tzinfo=UTC) + timedelta(days=1,
                                                                                 seconds=-1)
    return ctx.empty_updated


def _entry(story: StoryView, dates: EntryDates, ctx: RenderContext, content: str) -> str:
    """One <entry>, its elements in feedgen's order (id, title, updated, author, content,
    summary, categories, published) with the outlet links before the content and
    atom:source last, as the entry extension placed them."""
    first = story.items[0]
    # "" says "unknown" (XML 1.0 §2.12)
    parts = [f'  <entry xml:lang="{xmltext.attribute(language_tag(first.language) or "")}">\n',
             f"    <id>urn:uuid:{xmltext.text(story.uid)}</id>\n",
             _text_construct("    ", "title", first.title.strip() or _fallback_title(first)),
             f"    <updated>{dates.updated.isoformat()}</updated>\n"]
    if author := person_name(first.author):
        parts.append(f"    <author>\n      <name>{xmltext.text(author)}</name>\n    </author>\n")
    for i, item in enumerate(story.items):
        if link := _link(item, ctx, "alternate" if i == 0 else "related"):
            parts.append(xmltext.element("    ", "link", None, link.items()))
    # RFC 4287 §4.1.1.1 wants content or an alternate link: an item with no text shows its
    # title (entry_html(story, ctx)); an empty one is written as feedgen does, without text.
    parts.append(xmltext.element("    ", "content", content or None, (("type", "html"),)))
    if first.content_html and first.summary_html and (summary := safe_html(first.summary_html)):
        parts.append(xmltext.element("    ", "summary", summary, (("type", "html"),)))
    for topic in sorted({t for item in story.items for t in item.topics}):
        label = _plain(ctx.topic_titles.get(topic, topic)) or topic
        parts.append(xmltext.element("    ", "category", None,
                                     (("term", topic), ("label", label))))
    parts.append(f"    <published>{dates.published.isoformat()}</published>\n")
    outlet = ctx.outlets.get(first.source_id)
    source_id = normal_uri(outlet.feed_url) if outlet and outlet.feed_url else None
    if outlet and source_id:  # the validator wants id, title and updated in atom:source
        parts.append(_source(source_id, xml_text(outlet.title) or first.source_id,
                             web_uri(outlet.link), plausible(first.updated, first)))
    parts.append("  </entry>\n")
    return "".join(parts)


@lru_cache(maxsize=256)
def _plain(title: str) -> str:
    """plain() of a topic's title, asked for by every entry."""
    return plain(title)


def _text_construct(indent: str, tag: str, value: str) -> str:
    """A text construct whose plain text looks like markup ("a <b> tag") is sent as
    type="html", escaped, so readers show the characters instead of guessing (the W3C
    validator warns about undeclared HTML in type="text")."""
    if _MARKUP.search(value):
        return xmltext.element(indent, tag, html.escape(value, quote=False),
                               (("type", "html"),))
    return xmltext.element(indent, tag, value)


def _source(feed: str, title: str, link: str | None, updated: datetime) -> str:
    """atom:source of an entry: the outlet's feed we poll (its id and self link, as a normal
    URI), its title, its home page and the newest time we know the feed had (the item's
    update; RFC 4287 §4.2.11)."""
    parts = ["    <source>\n", xmltext.element("      ", "id", feed),
             _text_construct("      ", "title", title),
             f"      <updated>{updated.isoformat()}</updated>\n"]
    if link:
        parts.append(xmltext.element("      ", "link", None, (
            ("rel", "alternate"), ("type", "text/html"), ("href", link))))
    parts.append(xmltext.element("      ", "link", None, (("rel", "self"), ("href", feed))))
    parts.append("    </source>\n")
    return "".join(parts)


def entry_html(story: StoryView, ctx: RenderContext) -> str:
    """An entry's HTML content: the first report's text, directed, then the other outlets.
    The RSS and JSON Feed alternates carry the same HTML."""
    first = story.items[0]
    title = first.title.strip() or _fallback_title(first)
    text = first.content_html or first.summary_html or html.escape(title, quote=False)
    return safe_html(_directed(text, first.language) + _also_reported(story, ctx))


def _link(item: ItemView, ctx: RenderContext, rel: str) -> dict[str, str] | None:
    href = web_uri(item.link)
    if href is None:
        return None
    attrs = {"rel": rel, "type": "text/html", "href": href,
             "title": plain(f"{_outlet_title(item, ctx)}: {item.title}")}
    if language := language_tag(item.language):
        attrs["hreflang"] = language
    return attrs


def _directed(fragment: str, language: str | None) -> str:
    """Wrap content so readers lay out right-to-left text right to left."""
    if not fragment:
        return ""
    tag = language_tag(language)
    lang = f' lang="{tag}"' if tag else ""
    if language in RTL_LANGUAGES:
        return f'<div dir="rtl"{lang}>{fragment}</div>'
    return f'<div dir="auto">{fragment}</div>'


def _also_reported(story: StoryView, ctx: RenderContext) -> str:
    others = [(i, href) for i in story.items[1:] if (href := web_uri(i.link))]
    if not others:
        return ""
    entries = "".join(
        f'<li><a href="{html.escape(href)}"'
        f'{f" hreflang={chr(34)}{tag}{chr(34)}" if (tag := language_tag(i.language)) else ""}'
        f' dir="auto">{html.escape(_outlet_title(i, ctx))}: {html.escape(i.title)}</a></li>'
        for i, href in others)
    return f'<p dir="auto">Also reported by:</p><ul dir="auto">{entries}</ul>'


def _outlet_title(item: ItemView, ctx: RenderContext) -> str:
    outlet = ctx.outlets.get(item.source_id)
    return xml_text(outlet.title) if outlet else item.source_id


def _fallback_title(item: ItemView) -> str:
    return web_uri(item.link) or "Untitled"


def main_language(stories: Sequence[Outlined], section: SectionConfig) -> str | None:
    """The section's language: the configured one, else the commonest first report's."""
    if len(section.languages) == 1:
        return section.languages[0]
    counts = Counter(s.items[0].language for s in stories if s.items[0].language)
    return min(counts, key=lambda lang: (-counts[lang], lang)) if counts else None


def feed_language(stories: Sequence[Outlined], section: SectionConfig) -> str:
    """The feed's xml:lang: the main language as ISO 639-1, Arabic when the title is written
    in Arabic script, else undetermined."""
    if tag := language_tag(main_language(stories, section)):
        return tag
    return "ar" if any("\u0600" <= c <= "\u06ff" for c in section.title) else UNDETERMINED


def _declare_markup(element: Any) -> None:
    """_text_construct's rule, on an element feedgen built."""
    if element is not None and element.text and _MARKUP.search(element.text):
        element.set("type", "html")
        element.text = html.escape(element.text, quote=False)


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

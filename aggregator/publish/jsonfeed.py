"""The JSON Feed 1.1 alternate of a section's feed: the same entries, ids, dates and HTML as
the Atom document (https://jsonfeed.org/version/1.1). Pure; the same stories give the same
bytes.

Every outlet that reported a story is listed under the item's `_aggregator` extension
object (JSON Feed §"Extensions"): JSON Feed has no place for related links of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring as _string  # type: ignore[attr-defined]
from typing import Any

from aggregator import HOME_PAGE
from aggregator.config import SectionConfig
from aggregator.publish.clean import person_name, xml_text
from aggregator.publish.dates import EntryDates, document_dates, plausible
from aggregator.publish.language import language_tag
from aggregator.publish.render import (
    Outlined,
    RenderContext,
    entry_html,
    main_language,
    unique_stories,
)
from aggregator.publish.uri import web_uri
from aggregator.publish.urls import feed_url, section_url
from aggregator.store import ItemView, StoryView

VERSION = "https://jsonfeed.org/version/1.1"
JSON_END = b"\n  ]\n}\n"  # how the document ends after its last item
_NO_ITEMS = '[]\n}\n'  # how json.dumps(indent=2) ends one without items


def render_json(section: SectionConfig, stories: Sequence[StoryView],
                ctx: RenderContext) -> bytes:
    stories = unique_stories(stories)
    if not stories:
        return json_head(section, stories, ctx)
    dates = document_dates(stories)
    return (json_head(section, stories, ctx)
            + json_items(stories, dates, [entry_html(story, ctx) for story in stories], ctx,
                         first=True)
            + JSON_END)


def json_head(section: SectionConfig, outlines: Sequence[Outlined],
              ctx: RenderContext) -> bytes:
    """The document up to its first item: json.dumps(indent=2) of the feed object, its items
    written apart (json_items, then JSON_END). Without stories, the whole document."""
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": xml_text(section.title),
        "home_page_url": section_url(ctx.base_url, section.id),
        "feed_url": feed_url(ctx.base_url, section.id, "json"),
    }
    if section.description:
        feed["description"] = xml_text(section.description)
    if language := language_tag(main_language(outlines, section)):
        feed["language"] = language
    feed["authors"] = [{"name": xml_text(section.title)}]
    if ctx.hub:  # JSON Feed 1.1 "hubs": WebSub discovery
        feed["hubs"] = [{"type": "WebSub", "url": ctx.hub}]
    feed["items"] = []
    text = json.dumps(feed, ensure_ascii=False, indent=2) + "\n"
    if outlines:
        assert text.endswith(_NO_ITEMS)
        text = text[:-len(_NO_ITEMS)] + "[\n"
    return text.encode("utf-8")


def json_items(stories: Sequence[StoryView], dates: Sequence[EntryDates], htmls: Sequence[str],
               ctx: RenderContext, *, first: bool) -> bytes:
    """These items as json.dumps(indent=2) writes them in the "items" list (two levels deep),
    after a separator unless they are the `first`."""
    if not stories:
        return b""
    text = ",\n".join(
        "    " + _indented(_item(story, story_dates, ctx, content), "    ")
        for story, story_dates, content in zip(stories, dates, htmls, strict=True))
    return (text if first else ",\n" + text).encode("utf-8")


def _indented(value: object, indent: str) -> str:
    """json.dumps(value, ensure_ascii=False, indent=2) at this indentation, for the types an
    item holds: with an indent the json module encodes in Python, several times slower than
    its C string encoder used here."""
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = indent + "  "
        return "{\n" + ",\n".join(f"{inner}{_string(k)}: {_indented(v, inner)}"
                                   for k, v in value.items()) + f"\n{indent}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _indented(v, inner) for v in value) + f"\n{indent}]"
    if value is None or isinstance(value, bool | int):
        return json.dumps(value)
    raise TypeError(f"not in a JSON Feed item: {type(value).__name__}")


def _item(story: StoryView, dates: EntryDates, ctx: RenderContext,
          content: str) -> dict[str, Any]:
    first = story.items[0]
    item: dict[str, Any] = {"id": f"urn:uuid:{story.uid}"}
    if url := web_uri(first.link):
        item["url"] = url
    item["title"] = first.title.strip() or url or "Untitled"
    item["content_html"] = content  # entry_html(story, ctx)
    item["date_published"] = dates.published.isoformat()
    item["date_modified"] = dates.updated.isoformat()
    topics = sorted({t for i in story.items for t in i.topics})
    if topics:
        item["tags"] = [ctx.topic_titles.get(t, t) for t in topics]
    if language := language_tag(first.language):
        item["language"] = language
    if author := person_name(first.author):
        item["authors"] = [{"name": author}]
    item["_aggregator"] = {"about": HOME_PAGE, "topics": topics,
                           "reports": [_report(i, ctx) for i in story.items]}
    return item


def _report(item: ItemView, ctx: RenderContext) -> dict[str, Any]:
    outlet = ctx.outlets.get(item.source_id)
    return {"outlet": xml_text(outlet.title) if outlet else item.source_id,
            "source_id": item.source_id, "title": item.title, "url": web_uri(item.link),
            "language": language_tag(item.language),
            "date_published": plausible(item.published, item).isoformat()}

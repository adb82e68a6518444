"""View models of the pages: plain data built from the store's views and the config, so the
templates only lay out what is given. Pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.config import SectionConfig
from aggregator.publish.clean import xml_text
from aggregator.publish.render import RTL_LANGUAGES, Outlet
from aggregator.publish.urls import FORMATS
from aggregator.store import SourceStatus, StoryView
from aggregator.text.html import plain_text

EXCERPT = 280  # characters of a story's text shown under its title
FEED_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}


def direction(language: str | None) -> str:
    """dir= for text in `language`: rtl or ltr when it is known, else auto (the browser
    decides from the first strong character)."""
    if not language:
        return "auto"
    return "rtl" if language.split("-")[0] in RTL_LANGUAGES else "ltr"


@dataclass(frozen=True, slots=True)
class FeedLink:
    label: str  # Atom, RSS, JSON Feed
    href: str  # relative to the site's root
    type: str  # media type, for <link rel="alternate"> and <a type>


@dataclass(frozen=True, slots=True)
class SectionCard:
    """A section as the index and its own page show it."""

    id: str
    title: str
    description: str | None
    href: str  # its page, relative to the site's root
    feeds: tuple[FeedLink, ...]
    language: str | None  # the feed's main language
    dir: str
    updated: datetime | None  # newest change of a story in the feed; None when empty
    stories: int  # in the feed
    archived: int  # in the archives: the whole retention window
    days: int  # archive documents


@dataclass(frozen=True, slots=True)
class Report:
    """One outlet's report of a story."""

    outlet: str
    title: str
    url: str | None
    lang: str | None
    dir: str


@dataclass(frozen=True, slots=True)
class StoryCard:
    uid: str
    title: str
    url: str | None
    lang: str | None
    dir: str
    published: datetime  # first report
    updated: datetime
    excerpt: str  # plain text, cut at a word
    topics: tuple[str, ...]  # titles
    reports: tuple[Report, ...]  # earliest first


def section_card(section: SectionConfig, stories: Sequence[StoryView], *, language: str | None,
                 archived: int, days: int) -> SectionCard:
    feeds = tuple(FeedLink(FEED_LABELS[fmt], f"feeds/{section.id}.{ext}", media)
                  for fmt, (ext, media) in FORMATS.items())
    return SectionCard(
        id=section.id, title=xml_text(section.title),
        description=xml_text(section.description) if section.description else None,
        href=f"sections/{section.id}", feeds=feeds, language=language,
        dir=direction(language), updated=max((s.updated for s in stories), default=None),
        stories=len(stories), archived=archived, days=days)


def story_card(story: StoryView, outlets: Mapping[str, Outlet],
               topic_titles: Mapping[str, str]) -> StoryCard:
    first = story.items[0]
    text = plain_text(first.summary_html or first.content_html)
    reports = tuple(Report(outlet=xml_text(outlets[i.source_id].title) if i.source_id in outlets
                           else i.source_id, title=i.title, url=i.link, lang=i.language,
                           dir=direction(i.language)) for i in story.items)
    topics = sorted({t for i in story.items for t in i.topics})
    return StoryCard(uid=story.uid, title=first.title or first.link or "Untitled",
                     url=first.link, lang=first.language, dir=direction(first.language),
                     published=first.published, updated=story.updated, excerpt=_cut(text),
                     topics=tuple(topic_titles.get(t, t) for t in topics), reports=reports)


def _cut(text: str) -> str:
    if len(text) <= EXCERPT:
        return text
    cut = text[:EXCERPT].rsplit(" ", 1)[0]
    return cut.rstrip(" ,.،؛:;") + "…"


@dataclass(frozen=True, slots=True)
class SourceLine:
    """A row of the status page."""

    id: str
    title: str | None
    url: str
    state: str  # healthy, failing, waiting, retired, moved, disabled, new
    last_poll: datetime | None
    outcome: str | None
    errors: int
    items: int
    next_check: datetime | None  # None when it will not be polled (retired, disabled)
    last_error: str | None
    error_since: datetime | None
    moved_to: str | None  # adopted permanent redirect: update feeds.yaml
    redirect_url: str | None  # permanent redirect seen, not yet adopted


def source_line(status: SourceStatus, *, enabled: bool, title: str | None) -> SourceLine:
    state = status.state(enabled)
    return SourceLine(
        id=status.id, title=title or status.feed_title, url=status.url, state=state,
        last_poll=status.last_poll_at, outcome=status.last_outcome,
        errors=status.consecutive_errors, items=status.items,
        next_check=None if state in ("retired", "disabled") else status.next_check_at,
        last_error=status.last_error, error_since=status.error_since,
        moved_to=status.moved_to, redirect_url=status.redirect_url)

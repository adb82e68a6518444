"""The site's static pages, written at publish time beside the feeds: the index of sections
and one page per section with its latest stories.

Written as files rather than rendered per request because they change exactly when the feeds
do: every node serving the same output folder (or nginx alone) then serves the same bytes
with the same ETag. The status page changes with every poll instead, so the web server
renders that one from the database (aggregator.web.status).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aggregator import site
from aggregator.config import SectionConfig
from aggregator.publish.clean import clean_story
from aggregator.publish.render import RenderContext, main_language
from aggregator.publish.urls import index_file, section_file
from aggregator.publish.write import write_atomic
from aggregator.site.views import SectionCard, section_card, story_card
from aggregator.store import StoryView


@dataclass(frozen=True, slots=True)
class SectionPage:
    """What the pages need to know of one published section."""

    section: SectionConfig
    stories: Sequence[StoryView]  # the feed's, newest first
    archived: int  # stories in its archive documents
    days: int  # archive documents


def card(page: SectionPage) -> SectionCard:
    return section_card(page.section, page.stories,
                        language=main_language(page.stories, page.section),
                        archived=page.archived, days=page.days)


def write_section_page(output_dir: Path, page: SectionPage, ctx: RenderContext) -> bool:
    stories = [story_card(clean_story(s), ctx.outlets, ctx.topic_titles) for s in page.stories]
    html = site.section_page(card(page), stories)
    return write_atomic(section_file(output_dir, page.section.id), html.encode("utf-8"))


def write_index(output_dir: Path, pages: Sequence[SectionPage]) -> bool:
    html = site.index_page([card(page) for page in pages])
    return write_atomic(index_file(output_dir), html.encode("utf-8"))

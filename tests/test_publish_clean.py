"""clean_story looks at all of a story's text at once: whatever field holds a character XML
cannot carry (or mojibake), that field is cleaned; a clean story is returned as it is."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from aggregator.publish.clean import clean_story
from aggregator.store import ItemOutline, ItemView, StoryOutline, StoryView

WHEN = datetime(2026, 11, 24, tzinfo=UTC)
ITEM = ItemView(source_id="a", title="Title", link="https://a.example/1", summary_html="<p>s</p>",
                content_html="", author="Ann", language="en", published=WHEN, updated=WHEN,
                topics=("war",), first_seen=WHEN)


def test_a_clean_story_is_the_same_object() -> None:
    story = StoryView("u", (ITEM, dataclasses.replace(ITEM, title="Café, Ã")))
    assert clean_story(story) is story
    outline = StoryOutline("u", (ItemOutline(1, "a", "en", WHEN, WHEN, None, "ab12", ("x",)),))
    assert clean_story(outline) is outline


@pytest.mark.parametrize(("field", "dirty", "clean"), [
    ("title", "a\x07b", "ab"), ("author", "Caf\u00c3\u00a9", "Café"), ("link", "x\ufffe", "x"),
    ("topics", ("war", "b\x00"), ("war", "b")), ("content_html", "<p>\x1b</p>", "<p></p>"),
])
def test_a_dirty_field_of_a_later_item_is_cleaned(field: str, dirty: object,
                                                  clean: object) -> None:
    story = StoryView("u", (ITEM, dataclasses.replace(ITEM, **{field: dirty})))
    cleaned = clean_story(story)
    assert cleaned.items[0] is ITEM
    assert cleaned.items[1] == dataclasses.replace(ITEM, **{field: clean})


def test_a_mojibake_pair_is_not_made_of_two_fields() -> None:
    story = StoryView("u", (dataclasses.replace(ITEM, title="x\u00c3", author="\u00a9y"),))
    assert clean_story(story) is story

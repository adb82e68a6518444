"""The word views the story clusterer compares are worked out in the parse workers (normalize's
Entry.text_key) and cut into the title's and the summary's there (stories.views_of): they
must be exactly what the clusterer would work out itself from the item it is given."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.models import Entry, ParsedEntry, ParsedFeed
from aggregator.pipeline.normalize import normalize
from aggregator.pipeline.parse import parse
from aggregator.pipeline.stories import item_of, views_of
from aggregator.text.arabic import title_key

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def slow_views(entry: Entry) -> tuple[str, str]:
    """What the clusterer works out from item_of(entry) without help."""
    item = item_of(entry)
    return title_key(item.title), title_key(item.summary_text) if item.summary_text else ""


def entries(titles_and_summaries: list[tuple[str, str]]) -> tuple[Entry, ...]:
    feed = ParsedFeed("t", "https://news.example/", None, "https://news.example/", tuple(
        ParsedEntry(f"g{i}", f"https://news.example/{i}", title, summary, "", None, None,
                    NOW, None) for i, (title, summary) in enumerate(titles_and_summaries)))
    return normalize(feed, source_id="s", source_language="ar", now=NOW)


def eval_set() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in
            (DATA / "stories_eval.jsonl").read_text(encoding="utf-8").splitlines()]
    return [(row["title"], row["summary"]) for row in rows]


AWKWARD = [
    ("", "A summary under no title at all."),
    ("Only a title", ""),
    ("!!! ؟؟ ...", "Punctuation was the whole headline; the summary has words."),
    ("عاجل:", "عاجل: نص الخبر يبدأ بكلمة العنوان نفسها"),
    ("× ترامب يلتقي بوتين", "التقى الرئيس الأميركي نظيره الروسي في هلسنكي ×"),
    ("الرئيـــس يعلن", "أعلن الرَّئِيسُ اليوم عن خطة جديدة بقيمة ١٢٫٥ مليار"),
    ("Title with <b>markup</b> &amp; entities", "<p>Summary <i>with</i> markup.</p>"),
    ("Same text", "Same text"),
    ("Ends with a dash -", "- and the summary starts with one"),
    ("ﻻ ﷲ presentation forms", "ﺍﻟﻘﺎﻫﺮﺓ in presentation forms\u00a0with NBSP"),
    ("zero\u200bwidth", "joiner\u200dinside words and a soft\u00adhyphen"),
]


@pytest.mark.parametrize("source", ["eval", "awkward"])
def test_views_are_what_the_clusterer_works_out(source: str) -> None:
    got = entries(eval_set() if source == "eval" else AWKWARD)
    assert got
    for entry in got:
        fast = views_of(entry)
        assert fast is not None, entry.title
        assert fast == slow_views(entry), entry.title


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "feeds").glob("*.xml")
                                        if "hostile" not in p.name and "malformed" not in p.name
                                        and "empty" not in p.name))
def test_views_of_the_fixture_feeds(name: str) -> None:
    feed = parse((DATA / "feeds" / name).read_bytes(), url="https://news.example/feed.xml")
    for entry in normalize(feed, source_id="s", source_language=None, now=NOW):
        fast = views_of(entry)
        assert fast is None or fast == slow_views(entry), entry.title


def test_entries_read_back_have_no_views() -> None:
    [entry] = entries([("A title", "A summary")])
    assert views_of(entry) is not None
    assert views_of(replace(entry, text_key=None)) is None

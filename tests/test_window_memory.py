"""What the clusterer's window keeps per item and per story: less than the items it was given,
with the same answers (aggregator/pipeline/cluster/window.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.pipeline.cluster import Clusterer, ClusterItem
from aggregator.pipeline.cluster.figures import _figure_text, _figures

T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


def item(key: int, source: str, title: str, summary: str = "", *, hours: float = 0.0,
         topics: tuple[str, ...] = (), image: str | None = None) -> ClusterItem:
    return ClusterItem(key=key, source_id=source, identity=f"guid:{key}",
                       published=T0 + timedelta(hours=hours), title=title, summary_text=summary,
                       canonical_link=f"https://{source}.test/{key}", image=image, topics=topics)


# --- the text an item's figures are read from ------------------------------------------------

@pytest.mark.parametrize(("title", "summary"), [
    ("1,000 injured", "and 6,2 magnitude"),
    ("أصيب ١٢٠ شخصا", "بزلزال قوته ٦٫٢"),
    ("Brent at $62.50,", "budget 2026, 3 dead"),
    ("فاز المغرب 5", "-0 على النيجر"),  # a score across the title and the summary
    ("v.12", "x"), ("12.", ".5"), ("٫5 and 7٬", "000"),  # separators just outside the digits
    ("لا أرقام هنا", "ولا هنا"),
])
def test_the_figure_text_has_the_whole_text_s_figures(title: str, summary: str) -> None:
    assert _figures(_figure_text(title, summary)) == _figures(f"{title} {summary}")


def test_the_figure_text_has_the_whole_text_s_figures_on_random_texts() -> None:
    rng = random.Random(7)
    alphabet = [*"0123456789", *"٠٣٩۰۵", "\u066b", "\u066c", *".,-\u2013", " ", " ", *"abع"]
    for _ in range(20_000):
        title, summary = ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
                          for _ in range(2))
        assert _figures(_figure_text(title, summary)) == _figures(f"{title} {summary}"), \
            (title, summary)


def test_the_figure_text_is_empty_without_a_digit_and_short_with_a_few() -> None:
    assert _figure_text("Putin and Trump discuss a ceasefire", "in a phone call") == ""
    assert _figure_text("Quake of magnitude 6.2", "hits the coast, 120 injured") == \
        " 6.2 hits the coast, 120 "


# --- a placed item ---------------------------------------------------------------------------

def test_a_placed_item_keeps_neither_its_cluster_item_nor_level_3_s_clues() -> None:
    c = Clusterer(embedder=None)
    c.add(item(1, "a", "Gold price today in the local markets", topics=("gold",),
               image="https://a.test/gold.jpg"))
    rec = c._recs[1]
    assert rec.item is None and rec.clues is None
    assert (rec.key, rec.source_id, rec.identity, rec.published) == (1, "a", "guid:1", T0)


def test_figures_read_after_the_item_went_still_veto_a_title_match() -> None:
    c = Clusterer(embedder=None)
    first = c.add(item(1, "a", "Gold price today in the local markets", "a gram at 120 dinars"))
    assert c._recs[1].item is None and c._recs[1].facts == " 120 "  # not read yet
    other = c.add(item(2, "b", "Gold price today in the local markets", "a gram at 131 dinars"))
    same = c.add(item(3, "c", "Gold price today in the local markets", "120 dinars a gram"))
    assert other.created and (same.story_id, same.rule) == (first.story_id, "title")

"""What the clusterer's window keeps per item and per story: less than the items it was given,
with the same answers (aggregator/pipeline/cluster/window.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aggregator.pipeline.cluster import Clusterer, ClusterItem, Decision, window
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


# --- a story: its member without a container while it has one -------------------------------

class DictStory:
    """The story as it was before one-member stories held their member alone: a dict of
    members by key and a dict of sources, updated the same way."""

    def __init__(self, story_id: int) -> None:
        self.names = (story_id,)
        self.members: dict[Any, window._Rec] = {}
        self.sources: dict[str, str] = {}

    def add(self, rec: window._Rec) -> None:
        self.members[rec.key] = rec
        self.sources[rec.source_id] = rec.identity

    def remove(self, rec: window._Rec, keep_source: bool) -> None:
        self.members.pop(rec.key, None)
        if not keep_source and self.sources.get(rec.source_id) == rec.identity and not any(
                m.source_id == rec.source_id for m in self.members.values()):
            del self.sources[rec.source_id]

    def absorb(self, other: DictStory) -> None:
        self.members.update(other.members)
        self.sources.update(other.sources)
        self.names += other.names

    def accepts(self, rec: window._Rec) -> bool:
        return self.sources.get(rec.source_id, rec.identity) == rec.identity


def test_a_story_answers_as_its_dicts_did_through_random_joins_leaves_and_merges() -> None:
    """Members join, leave, are replaced by a new version (of the same or, with the same key,
    of another source) and stories merge: the story's members, sources, names and answers are
    at every step those of the dicts it replaced."""
    rng = random.Random(3)
    keys = iter(range(10**9))
    for _ in range(300):
        pairs: list[tuple[window._Story, DictStory]] = []
        for step in range(rng.randint(1, 40)):
            action = rng.random()
            live = [(s, d) for s, d in pairs if d.members]
            if action < 0.3 or not live:
                pairs.append((window._Story(step, step, T0), DictStory(step)))
                story, model = pairs[-1]
            else:
                story, model = rng.choice(live)
            source = rng.choice("abc")
            if action < 0.6 or not story.recs():  # a new member (a source's other identity
                # too, as warm() may give)
                rec = window._Rec(item(next(keys), source, "t"), "t", "t", None)
                rec.identity = rng.choice(["x", "y", rec.identity])
                story.add(rec)
                model.add(rec)
            elif action < 0.8:
                old = rng.choice(story.recs())
                story.remove(old)
                model.remove(old, keep_source=False)
            elif action < 0.9:  # replaced by its new version (same key: maybe another source)
                old = rng.choice(story.recs())
                new = window._Rec(item(old.key, rng.choice([old.source_id, source]), "t"),
                                  "t", "t", None)
                story.remove(old, keep_source=True)
                model.remove(old, keep_source=True)
                story.add(new)
                model.add(new)
            else:
                other, other_model = rng.choice(live)
                if other is not story:
                    story.absorb(other)
                    model.absorb(other_model)
                    pairs.remove((other, other_model))
            for s, d in pairs:
                assert [r.key for r in s.recs()] == list(d.members)
                assert s.source_map() == d.sources and s.all_names() == d.names
                assert s.sources is None or len(s.recs()) != 1 or len(s.sources) > 1 \
                    or next(iter(s.sources.items())) != (s.recs()[0].source_id,
                                                          s.recs()[0].identity)
                for probe_source in "abc":
                    for identity in ("x", "y", "z"):
                        probe = window._Rec(item(-1, probe_source, "t"), "t", "t", None)
                        probe.identity = identity
                        assert s.accepts(probe) == d.accepts(probe)


# --- an item's title key: a slice of its word view --------------------------------------------

def test_the_title_key_is_a_slice_of_the_text_unless_the_text_does_not_start_with_it() -> None:
    rec = window._Rec(item(1, "a", "t"), "trump meets putin", "trump meets putin in alaska", None)
    assert (rec.head, rec.title_key) == (17, "trump meets putin")
    odd = window._Rec(item(2, "a", "t"), " trump ", "trump in alaska", None)  # a stray space
    assert (odd.head, odd.title_key) == (" trump ", " trump ")


def test_items_whose_title_keys_share_a_hash_are_told_apart_by_the_key() -> None:
    c = Clusterer(embedder=None)
    c.add(item(1, "a", "Trump and Putin meet in Alaska on Friday"))
    other = "Gold prices rise again in the local markets"
    c._titles[hash(other)] = c._titles.pop(hash(c._recs[1].title_key))  # a collision
    second = c.add(item(2, "b", other))
    third = c.add(item(3, "c", other))
    assert second.created and (third.story_id, third.rule, third.matched_key) == \
        (second.story_id, "title", 2)


# --- the decisions the window keeps ----------------------------------------------------------

def test_new_and_stored_items_share_one_kept_decision_and_explain_gives_theirs_back() -> None:
    c = Clusterer(embedder=None)
    c.warm([(item(1, "a", "Trump and Putin meet in Alaska on Friday"), "s-1")])
    made = [c.add(item(key, "b", f"An unrelated headline number {word} for the test"))
            for key, word in ((2, "one"), (3, "two"))]
    assert c._recs[2].decision is c._recs[3].decision
    assert [c.explain(2), c.explain(3)] == made and made[0].created
    assert c.explain(1) == Decision(1, "s-1", False, 0, "stored", 1.0)


def test_a_key_that_is_the_source_and_identity_pair_indexes_the_identities_too() -> None:
    c = Clusterer(embedder=None)
    pair = ClusterItem(key=("a", "guid:1"), source_id="a", identity="guid:1", published=T0,
                       title="Trump and Putin meet in Alaska on Friday")
    first = c.add(pair)
    assert [key is pair.key for key in c._identities] == [True]
    again = c.add(ClusterItem(key=7, source_id="a", identity="guid:1", published=T0,
                              title="Trump and Putin meet in Alaska on Friday (updated)"))
    assert (again.story_id, again.rule, again.matched_key) == (first.story_id, "identity",
                                                               ("a", "guid:1"))
    assert list(c._identities) == [("a", "guid:1")] and len(c) == 1

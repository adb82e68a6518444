"""The story clustering engine (aggregator.pipeline.cluster): pure, incremental, windowed.

Level-3 tests use a table embedder (vectors chosen by the test), so they need numpy but not the
model; the real model is measured in test_stories_eval.py.
"""

from __future__ import annotations

import itertools
import random
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aggregator.models import Entry
from aggregator.pipeline.cluster import (
    Clusterer,
    ClusterItem,
    Decision,
    Thresholds,
    buckets,
    minhash,
    window,
)
from aggregator.pipeline.cluster import clusterer as clusterer_module
from aggregator.pipeline.cluster.figures import _figures, _Footers

T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
_keys = itertools.count()

WIRE = ("أعلنت وزارة المالية السعودية الميزانية العامة للدولة لعام 2026، بنفقات تقدر بنحو 1.31 "
        "تريليون ريال وإيرادات بنحو 1.147 تريليون ريال، ما يعني عجزا متوقعا يبلغ 165 مليار ريال.")
EDIT = ("كشفت وزارة المالية السعودية عن ميزانية عام 2026 بنفقات تقدر بنحو 1.31 تريليون ريال "
        "مقابل إيرادات تقارب 1.147 تريليون ريال، مع عجز متوقع يبلغ 165 مليار ريال، وفق بيان رسمي.")
OTHER = ("قتل 4 أشخاص وأصيب 20 آخرون في هجوم واسع بالطائرات المسيرة والصواريخ شنته روسيا على "
         "العاصمة الأوكرانية كييف ليلا، بحسب رئيس الإدارة العسكرية للمدينة.")


def item(source: str = "a", title: str = "عنوان خبر عن موضوع ما", summary: str = "", *,
         hours: float = 0.0, link: str | None = None, identity: str | None = None,
         topics: tuple[str, ...] = (), image: str | None = None, key: Any = None) -> ClusterItem:
    key = next(_keys) if key is None else key
    return ClusterItem(key=key, source_id=source, identity=identity or f"guid:{key}",
                       published=T0 + timedelta(hours=hours), title=title,
                       summary_text=summary, canonical_link=link or f"https://{source}.test/{key}",
                       image=image, topics=topics)


def cheap(**kwargs: Any) -> Clusterer:
    return Clusterer(embedder=None, **kwargs)


# --- level 1 ---------------------------------------------------------------------------------

def test_the_same_canonical_link_from_another_source_joins_at_level_1() -> None:
    c = cheap()
    first = c.add(item("guardian-world", "Trump announces tariffs", link="https://g.test/a/1"))
    second = c.add(item("guardian-us", "Tariffs: what we know", link="https://g.test/a/1"))
    assert first.created and first.rule == "new" and first.level == 0
    assert (second.story_id, second.level, second.rule, second.score) == \
        (first.story_id, 1, "link", 1.0)
    assert second.matched_key == first.key


def test_a_home_page_link_or_a_generic_title_joins_nothing() -> None:
    c = cheap()
    c.add(item("a", "عاجل", link="https://site.test/"))
    assert c.add(item("b", "عاجل", link="https://site.test/")).created


def test_the_same_title_key_despite_spelling_joins_at_level_1() -> None:
    c = cheap()
    first = c.add(item("a", "بوتين وترامب يبحثان هاتفيا وقف إطلاق النار"))
    second = c.add(item("b", "بوتين وترامب يبحثان هاتفياً: وقف إطلاق النار!"))
    assert (second.story_id, second.rule) == (first.story_id, "title")


# --- level 2 ---------------------------------------------------------------------------------

def test_a_wire_copy_and_a_light_edit_join_at_level_2_with_their_jaccard() -> None:
    c = cheap()
    first = c.add(item("aawsat", "السعودية تعلن ميزانية 2026", WIRE))
    copy = c.add(item("alarabiya", "ميزانية السعودية: عجز 165 مليار ريال", WIRE, hours=1))
    edit = c.add(item("independent", "عجز متوقع في ميزانية السعودية لعام 2026", EDIT, hours=2))
    assert copy.story_id == edit.story_id == first.story_id
    assert copy.level == edit.level == 2 and copy.rule == "near_duplicate"
    assert 0.75 <= copy.score <= 1.0 and 0.40 <= edit.score < copy.score


def test_a_copied_body_under_a_new_headline_joins() -> None:
    c = cheap()
    body = WIRE.split("،")[0] + "."
    first = c.add(item("aawsat", "السعودية تعلن ميزانية العام المقبل بإنفاق قياسي", body))
    copy = c.add(item("skynews", "الرياض تكشف أرقام موازنتها: كم ستنفق الحكومة؟", body, hours=1))
    assert copy.story_id == first.story_id and copy.score < 0.75


def test_unrelated_texts_stay_apart() -> None:
    c = cheap()
    c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE))
    assert c.add(item("b", "هجوم روسي بالمسيرات على كييف", OTHER)).created


def test_within_one_source_nothing_merges_without_the_same_identity() -> None:
    c = cheap()
    first = c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE, link="https://a.test/x"))
    twin = c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE, link="https://a.test/x"))
    assert twin.created and twin.story_id != first.story_id
    again = c.add(item("a", "السعودية تعلن ميزانية 2026 (محدث)", EDIT,
                       identity=f"guid:{first.key}"))
    assert (again.story_id, again.rule, again.matched_key) == \
        (first.story_id, "identity", first.key)


def test_a_story_takes_one_item_per_source() -> None:
    c = cheap()
    first = c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE))
    second = c.add(item("b", "السعودية تعلن ميزانية 2026", WIRE, hours=1))
    # b already tells this story with another item: its second copy cannot join it
    third = c.add(item("b", "ميزانية السعودية لعام 2026", EDIT, hours=2))
    assert second.story_id == first.story_id and third.story_id != first.story_id


TEMPLATE = ("سجل سعر صرف الدولار الأمريكي مقابل الجنيه المصري في البنك الأهلي المصري وبنك مصر "
            "اليوم {} جنيه للشراء و{} جنيه للبيع، وسط استقرار في حركة التداول.")


def test_a_daily_template_with_other_figures_is_another_story() -> None:
    c = cheap()
    c.add(item("a", "سعر الدولار اليوم مقابل الجنيه", TEMPLATE.format("49.55", "49.65")))
    later = c.add(item("b", "سعر الدولار اليوم مقابل الجنيه المصري",
                       TEMPLATE.format("49.38", "49.48"), hours=24))
    assert later.created
    same = c.add(item("c", "سعر الدولار مقابل الجنيه في البنوك",
                      TEMPLATE.format("49.38", "49.48"), hours=25))
    assert same.story_id == later.story_id


def test_a_warmed_item_keeps_its_figures_once_its_text_is_let_go() -> None:
    """The window keeps a stored item's figures, not its title and summary (memory): the
    daily template's veto must still hold against it, and its own figures still join."""
    c = cheap()
    stored = item("a", "سعر الدولار اليوم مقابل الجنيه", TEMPLATE.format("49.55", "49.65"))
    c.warm([(stored, 7)])
    other_day = c.add(item("b", "سعر الدولار اليوم مقابل الجنيه",
                           TEMPLATE.format("49.38", "49.48"), hours=24))
    assert other_day.created
    same_day = c.add(item("c", "سعر الدولار اليوم مقابل الجنيه",
                          TEMPLATE.format("49.55", "49.65"), hours=1))
    assert (same_day.story_id, same_day.rule) == (7, "title")


def test_weekdays_that_disagree_keep_a_weather_template_apart() -> None:
    c = cheap()
    text = ("توقعت الهيئة العامة للأرصاد الجوية أن يكون الطقس يوم {} حارا نهارا على معظم المناطق، "
            "مع رياح نشطة مثيرة للأتربة على المناطق الشرقية.")
    c.add(item("a", "طقس الثلاثاء: أجواء حارة", text.format("الثلاثاء")))
    assert c.add(item("b", "طقس الأربعاء: أجواء حارة", text.format("الأربعاء"), hours=24)).created


def test_shared_boilerplate_does_not_make_a_story() -> None:
    footer = (" للمزيد من أخبار كرة القدم العربية والعالمية تابعوا تغطيتنا المستمرة على مدار "
              "الساعة عبر موقعنا وحساباتنا على مواقع التواصل الاجتماعي.")
    c = cheap()
    c.add(item("a", "بايرن ميونيخ يحسم لقب الدوري الألماني",
               "حسم فريق بايرن ميونيخ لقب الدوري الألماني بعد تعادل منافسه." + footer))
    assert c.add(item("b", "ليفربول بطلا للدوري الإنجليزي",
                      "توج ليفربول بلقب الدوري الإنجليزي الممتاز للمرة العشرين." + footer,
                      hours=2)).created


def test_a_sources_repeated_footer_is_learned_and_cut() -> None:
    footers = _Footers()
    tail = "the post appeared first on example news, read more on our site"
    assert footers.strip("s", f"a quake hit the east {tail}") == f"a quake hit the east {tail}"
    assert footers.strip("s", f"talks resumed in oman {tail}") == "talks resumed in oman"
    assert footers.strip("s", f"third one {tail}") == "third one"
    assert footers.strip("t", f"other source {tail}") == f"other source {tail}"


# --- the window --------------------------------------------------------------------------

def test_items_further_apart_than_the_window_never_join() -> None:
    c = cheap(window=timedelta(hours=72))
    c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE))
    assert c.add(item("b", "السعودية تعلن ميزانية 2026", WIRE, hours=73)).created
    c2 = cheap(window=timedelta(hours=24))
    c2.add(item("a", "السعودية تعلن ميزانية 2026", WIRE))
    assert c2.add(item("b", "السعودية تعلن ميزانية 2026", WIRE, hours=25)).created


def test_the_index_keeps_only_the_window() -> None:
    c = cheap(window=timedelta(hours=10))
    rng = random.Random(1)
    words = OTHER.split() + WIRE.split()
    for n in range(300):
        c.add(item(f"s{n % 7}", " ".join(rng.sample(words, 8)), " ".join(rng.sample(words, 25)),
                   hours=n * 0.5))
    assert len(c) <= 21  # the items of the last 10 hours
    c._buckets.compact()  # the pairs of items that left go at a compaction (with numpy)
    assert len(c._buckets) == 42 * len(c) and len(c._titles) <= 21 and len(c._links) <= 21
    assert len(c._stories) <= 21 * 2


def test_a_late_item_is_decided_but_not_kept() -> None:
    c = cheap(window=timedelta(hours=24))
    c.add(item("a", "خبر جديد", hours=100))
    late = c.add(item("b", "خبر قديم وصل متأخرا", hours=10))
    assert late.created and c.story_of(late.key) is None and c.explain(late.key) is None


def test_an_item_whose_buckets_a_later_copy_took_still_expires() -> None:
    c = cheap(window=timedelta(hours=24))
    first = c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE))
    copy = c.add(item("b", "السعودية تعلن ميزانية 2026", WIRE, hours=1))  # takes the buckets
    c.add(item("b", "تحديث: ميزانية السعودية", OTHER, identity=f"guid:{copy.key}",
               hours=2))  # the copy is replaced first, its buckets go with it
    c.add_many([], now=T0 + timedelta(hours=30))
    c._buckets.compact()
    assert len(c) == 0 and c.story_of(first.key) is None and not len(c._buckets)


def test_warm_takes_the_stored_items_in_any_order() -> None:
    c = cheap(window=timedelta(hours=24))
    old, new = item("a", "خبر أول عن موضوع ما", hours=0), item("b", "خبر ثان عن موضوع آخر", hours=5)
    c.warm([(new, 2), (old, 1)])
    assert len(c) == 2


def test_items_leave_the_window_oldest_first_whatever_their_arrival() -> None:
    """The expiry heap holds the items themselves, ordered by published time and then by
    arrival: items that came out of order, and items of one instant, leave exactly when
    the window has moved past them."""
    c = cheap(window=timedelta(hours=24))
    rng = random.Random(5)
    words = OTHER.split() + WIRE.split()
    hours = [rng.choice([1, 2, 3, 4, 5]) + rng.choice([0.0, 0.5]) for _ in range(40)]
    keys = [c.add(item(f"s{n}", " ".join(rng.sample(words, 8)), hours=h)).key
            for n, h in enumerate(hours)]
    for cut in (2.0, 3.5, 5.5):
        c.add_many([], now=T0 + timedelta(hours=24 + cut))
        kept = {k for k, h in zip(keys, hours, strict=True) if h >= cut}
        assert {k for k in keys if c.story_of(k) is not None} == kept
    assert all(a <= b for a, b in itertools.pairwise(
        (r.published, r.seq) for r in sorted(c._expiry)))  # the order the heap keeps


def test_now_moves_the_window_without_an_item() -> None:
    c = cheap(window=timedelta(hours=24))
    first = c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE))
    c.add_many([], now=T0 + timedelta(hours=30))
    assert len(c) == 0 and c.story_of(first.key) is None


# --- merges, ids, explain, warm ---------------------------------------------------------------

def test_an_item_bridging_two_stories_merges_them_into_the_older() -> None:
    c = cheap()
    older = c.add(item("a", "Trump announces tariffs on all imported cars",
                       link="https://x.test/cars"))
    newer = c.add(item("b", "Car tariffs: Trump sets 25 percent levy from next month", hours=1))
    assert newer.created
    bridge = c.add(item("c", "Car tariffs: Trump sets 25 percent levy from next month",
                        link="https://x.test/cars", hours=2))
    assert bridge.story_id == older.story_id and bridge.merged == (newer.story_id,)
    assert c.resolve(newer.story_id) == older.story_id
    assert c.story_of(newer.key) == older.story_id
    assert set(c.members(older.story_id)) == {older.key, newer.key, bridge.key}
    assert c.explain(newer.key) == Decision(newer.key, older.story_id, True, 0, "new", 0.0)


def test_stories_holding_the_same_source_twice_do_not_merge() -> None:
    c = cheap()
    one = c.add(item("a", "Trump announces tariffs on all imported cars",
                     link="https://x.test/cars"))
    c.add(item("b", "Trump announces tariffs on all imported cars", hours=0.5))  # joins one
    other = c.add(item("b", "Car tariffs: Trump sets 25 percent levy from next month", hours=1))
    bridge = c.add(item("c", "Car tariffs: Trump sets 25 percent levy from next month",
                        link="https://x.test/cars", hours=2))
    assert bridge.merged == () and bridge.story_id in (one.story_id, other.story_id)
    assert c.resolve(other.story_id) == other.story_id


def test_story_ids_come_from_the_injected_factory() -> None:
    minted: list[ClusterItem] = []

    def new_id(it: ClusterItem) -> str:
        minted.append(it)
        return f"story-{len(minted)}"

    c = Clusterer(embedder=None, new_story_id=new_id)
    first = c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE))
    c.add(item("b", "السعودية تعلن ميزانية 2026", WIRE, hours=1))
    assert first.story_id == "story-1" and [m.key for m in minted] == [first.key]


def test_warm_loads_the_stored_window_and_new_items_join_stored_stories() -> None:
    before = cheap()
    stored = [item("a", "السعودية تعلن ميزانية 2026", WIRE),
              item("b", "هجوم روسي بالمسيرات على كييف", OTHER, hours=1)]
    ids = [before.add(s).story_id for s in stored]
    after = cheap()
    after.warm([(stored[0], 501), (stored[1], 502)])
    assert len(after) == 2 and after.story_of(stored[0].key) == 501
    assert after.explain(stored[1].key) == Decision(stored[1].key, 502, False, 0, "stored", 1.0)
    copy = item("c", "ميزانية السعودية: عجز 165 مليار ريال", WIRE, hours=2)
    assert after.add(copy).story_id == 501 and before.add(copy).story_id == ids[0]


def test_add_many_decides_as_add_one_by_one() -> None:
    rng = random.Random(7)
    texts = [WIRE, EDIT, OTHER, TEMPLATE.format("49.55", "49.65")]
    items = [item(f"s{rng.randrange(6)}", rng.choice(["عنوان أول للخبر", "عنوان ثان مختلف"]),
                  rng.choice(texts), hours=n * 0.3) for n in range(60)]
    one, many = cheap(), cheap()
    singles = [one.add(i) for i in items]
    batched = [d for start in range(0, 60, 7) for d in many.add_many(items[start:start + 7])]
    assert singles == batched


def test_entries_become_items() -> None:
    entry = Entry(source_id="a", guid="g1", link="https://a.test/1?utm=x",
                  canonical_link="https://a.test/1", title="Title here",
                  summary_html="<p>Body</p>", content_html="", text="Title here Body text",
                  title_key="title here", author=None, language="en", published=T0,
                  updated=T0, content_hash="h", identity="guid:g1", topics=("iran",),
                  image="https://a.test/i.jpg")
    it = ClusterItem.from_entry(entry, key=7)
    assert (it.key, it.identity, it.summary_text, it.topics, it.image) == \
        (7, "guid:g1", "Body text", ("iran",), "https://a.test/i.jpg")


# --- MinHash and figures -----------------------------------------------------------------

def test_signatures_are_the_same_with_and_without_numpy() -> None:
    if minhash._NUMPY is None:
        pytest.skip("numpy is not installed: only the pure-Python path exists")
    rng = random.Random(3)
    words = (WIRE + " " + OTHER + " Trump tariffs Zelensky Ukraine").split()
    texts = [" ".join(rng.sample(words, rng.randint(1, 30))) for _ in range(80)]
    texts += ["", "abc", "abcd", "a" * 400]
    assert minhash._sign(texts) == minhash._sign(texts, fast=False)


def test_verification_is_the_same_with_and_without_numpy() -> None:
    if minhash._NUMPY is None:
        pytest.skip("numpy is not installed: only the pure-Python path exists")
    rng = random.Random(11)
    words = (WIRE + " " + EDIT + " " + OTHER).split()
    for n in range(60):
        a = " ".join(rng.sample(words, rng.randint(3, 30)))
        b = " ".join(rng.sample(words, rng.randint(3, 30))) if n % 3 else f"{a} {words[n]}"
        one, two = window._Rec(item(), a[:10], a, None), window._Rec(item(), b[:10], b, None)
        sets = minhash._shingles(a), minhash._shingles(b)
        arrays = minhash._gram_set(a), minhash._gram_set(b)
        units = minhash._units(a)  # the text is in the BMP: one UTF-16 unit per character
        assert minhash._gram_words(a).tolist() == [units[p % 4][p // 4] for p in range(len(a) - 3)]
        assert sorted(sets[0]) == arrays[0].tolist()
        assert minhash._jaccard(*sets) == minhash._jaccard(*arrays)
        assert minhash._passage_jaccard(one, two, *sets) == \
            minhash._passage_jaccard(one, two, *arrays)
        probe = minhash._Probe(a, arrays[0])  # level 2's, once for an item's candidates
        shared = probe.shared(arrays[1])
        assert int(shared.sum()) == minhash._common(*arrays)
        assert minhash._passage_jaccard(one, two, *arrays, passage=probe.longest_passage(shared)) \
            == minhash._passage_jaccard(one, two, *sets)


def test_the_sketch_estimates_the_exact_jaccard() -> None:
    rng = random.Random(5)
    words = (WIRE + " " + EDIT + " " + OTHER).split()
    for _ in range(40):
        a = " ".join(rng.sample(words, 30))
        b = " ".join(rng.sample(words, 30)) if rng.random() < 0.5 else a + " " + words[0]
        (sa, sb) = minhash._sign([a, b])
        assert sa is not None and sb is not None
        rec = window._Rec(item(), "", "", sb)
        same = minhash._same_slots(sa.sketch, [rec] * 6)[0]
        estimate = (same / 128 - 1 / 256) / (1 - 1 / 256)
        exact = minhash._jaccard(minhash._shingles(a), minhash._shingles(b))
        assert abs(estimate - exact) < 0.2


@pytest.mark.parametrize(("text", "figures"), [
    ("1,000 injured and 6,2 magnitude", {"1000", "6.2"}),
    ("أصيب ١٢٠ شخصا بزلزال قوته ٦٫٢", {"120", "6.2"}),
    ("Brent at $62.50, budget 2026, 3 dead", {"62.5"}),  # a year and one digit say little
    ("فاز المغرب 5-0 على النيجر", {"score:0-5"}),
    ("لا أرقام هنا", set()),
])
def test_figures_have_one_spelling_per_value(text: str, figures: set[str]) -> None:
    assert _figures(text) == figures


# --- level 2's buckets: the sorted arrays (numpy) and the dict (without) -----------------------

BUCKETS = ["sorted", "dict"]


def new_buckets(kind: str) -> Any:
    if kind == "dict":
        return buckets._DictBuckets()
    if minhash._NUMPY is None:
        pytest.skip("numpy is not installed: only the dict buckets exist")
    return buckets._SortedBuckets(minhash._NUMPY)


class Driven:
    """Buckets driven as the Clusterer drives them, over items that carry only band keys."""

    def __init__(self, kind: str) -> None:
        self.buckets = new_buckets(kind)
        self.seq = itertools.count(1)
        self.keys = itertools.count()  # item keys: the same in two Driven fed the same calls
        self.placed: list[window._Rec] = []

    def rec(self, *keys: int) -> window._Rec:
        return window._Rec(item(key=next(self.keys)), "", "",
                           minhash._Signed(array("I", keys), 0) if keys else None)

    def story(self) -> window._Story:
        return window._Story(next(self.seq), next(self.seq), T0)

    def place(self, rec: window._Rec, story: window._Story) -> None:
        rec.story, rec.seq = story, next(self.seq)
        story.add(rec)
        if rec.bands:
            self.buckets.put(rec)
        self.placed.append(rec)

    def drop(self, rec: window._Rec) -> None:
        rec.alive = False
        self.buckets.drop(rec)
        if rec.story is not None:
            rec.story.remove(rec)

    def merge(self, survivor: window._Story, absorbed: window._Story) -> None:
        survivor.absorb(absorbed)

    def batch(self, *placing: tuple[window._Rec, window._Story | None]) -> list[set[Any]]:
        """Place each rec in its story (None: not placed) after asking what it finds."""
        self.buckets.begin([rec for rec, _ in placing])
        found = []
        for position, (rec, story) in enumerate(placing):
            found.append({other.item.key for other in self.buckets.candidates(position)})
            if story is not None:
                self.place(rec, story)
        self.buckets.end()
        return found


@pytest.mark.parametrize("kind", BUCKETS)
def test_buckets_find_the_batch_s_earlier_items_and_earlier_batches(kind: str) -> None:
    d = Driven(kind)
    a, b, c = d.rec(5, 6), d.rec(6, 7), d.rec(7, 8)
    assert d.batch((a, d.story()), (b, d.story()), (c, d.story())) == [set(), {a.item.key},
                                                                        {b.item.key}]
    e, f = d.rec(5, 8), d.rec(9, 5)
    assert d.batch((e, d.story()), (f, None)) == [{a.item.key, c.item.key},
                                                  {a.item.key, e.item.key}]
    assert d.batch((d.rec(9, 1), d.story())) == [set()]  # f was not placed
    d.buckets.compact()
    assert d.batch((d.rec(5), None)) == [{a.item.key, e.item.key}]


@pytest.mark.parametrize("kind", BUCKETS)
def test_a_bucket_offers_the_newest_item_of_each_story(kind: str) -> None:
    d = Driven(kind)
    story = d.story()
    old, new = d.rec(3, 4), d.rec(3, 4)
    d.batch((old, story))
    assert d.batch((new, story), (d.rec(3), None)) == [{old.item.key}, {new.item.key}]
    assert d.batch((d.rec(4), None)) == [{new.item.key}]
    d.drop(new)  # the older item of the story is the newest still there
    assert d.batch((d.rec(4), None)) == [{old.item.key}]


@pytest.mark.parametrize("kind", BUCKETS)
def test_a_bucket_that_eight_stories_share_offers_nothing(kind: str) -> None:
    d = Driven(kind)
    common = [d.rec(7, 100 + n) for n in range(8)]
    first = d.batch(*((rec, d.story()) for rec in common[:4]))
    assert first[3] == {rec.item.key for rec in common[:3]}
    d.batch(*((rec, d.story()) for rec in common[4:7]))
    seven = {rec.item.key for rec in common[:7]}
    assert d.batch((d.rec(7), None)) == [seven]
    assert d.batch((common[7], d.story()), (d.rec(7, 104), None)) == [seven,
                                                                      {common[4].item.key}]
    d.drop(common[0])  # seven stories again
    assert d.batch((d.rec(7), None)) == [{rec.item.key for rec in common[1:]}]
    d.batch((d.rec(7), d.story()))  # eight
    assert d.batch((d.rec(7, 101), None)) == [{common[1].item.key}]


@pytest.mark.parametrize("kind", BUCKETS)
def test_items_leaving_during_a_batch_and_merges_are_seen_at_once(kind: str) -> None:
    d = Driven(kind)
    one, two = d.story(), d.story()
    a, b, c = d.rec(1, 2), d.rec(1, 2), d.rec(2, 3)
    d.batch((a, one), (b, one), (c, two))
    probes = [d.rec(1), d.rec(2), d.rec(2, 3), d.rec(3)]
    d.buckets.begin(probes)
    assert {r.item.key for r in d.buckets.candidates(0)} == {b.item.key}
    d.drop(b)
    assert {r.item.key for r in d.buckets.candidates(1)} == {a.item.key, c.item.key}
    d.merge(one, two)  # a and c: one story now, c its newest in bucket 2
    assert {r.item.key for r in d.buckets.candidates(2)} == {c.item.key}
    d.drop(c)
    assert d.buckets.candidates(3) == []
    d.buckets.end()


@pytest.mark.parametrize("kind", BUCKETS)
def test_compaction_drops_the_pairs_of_items_that_left_and_reuses_their_slots(kind: str) -> None:
    d = Driven(kind)
    gone = [d.rec(10 + n, 50) for n in range(30)]
    d.batch(*((rec, d.story()) for rec in gone))
    for rec in gone:
        d.drop(rec)
    d.buckets.compact()
    assert len(d.buckets) == 0
    fresh = [d.rec(200 + n, 51) for n in range(30)]  # their slots are the gone items'
    d.batch(*((rec, d.story()) for rec in fresh))
    assert d.batch((d.rec(*range(10, 40), 50), None)) == [set()]
    assert d.batch((d.rec(215), None)) == [{fresh[15].item.key}]
    d.buckets.compact()
    assert len(d.buckets) == 2 * 30


def test_a_compaction_holds_little_beside_the_pairs_it_keeps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A compaction is made where the big level was: at no moment does it hold much more
    than the window's pairs (numpy's buffers are traced). Written beside the old level
    with 64-bit range counts, it had held the old level, the new one and the counts at
    once, the peak of a first poll's memory. Its answers stay the same."""
    import tracemalloc

    # Slices of 4,096 pairs (not 65,536): what they hold is then small beside this test's
    # 231,000 pairs, as the 65,536 are beside a first poll's 840,000.
    monkeypatch.setattr(buckets, "_SLICE", 1 << 12)
    tracemalloc.start()  # from the start: the big level's array is traced as it is freed
    d = Driven("sorted")
    rng = random.Random(3)
    bands = [[rng.randrange(1 << 30) for _ in range(minhash._BANDS)] for _ in range(7000)]
    recs = [d.rec(*keys) for keys in bands]
    old, fresh = recs[:6000], recs[6000:]
    for start in range(0, len(old), 500):
        d.batch(*((rec, d.story()) for rec in old[start:start + 500]))
    for rec in old[::4]:
        d.drop(rec)
    d.buckets.compact()  # one array, as at a first poll's last compaction
    d.batch(*((rec, d.story()) for rec in fresh))  # into the small level
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        d.buckets.compact()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = len(old) - len(old[::4]) + len(fresh)
    assert len(d.buckets) == kept * minhash._BANDS
    assert peak - before < 0.5 * 8 * len(d.buckets), (peak - before, 8 * len(d.buckets))
    assert d.batch((d.rec(*bands[1]), None)) == [{recs[1].item.key}]  # kept
    assert d.batch((d.rec(*bands[6001]), None)) == [{recs[6001].item.key}]  # newer
    assert d.batch((d.rec(*bands[4]), None)) == [set()]  # dropped


@pytest.mark.parametrize("levels", ["as shipped", "tiny"])
def test_both_buckets_answer_the_same_to_random_batches(levels: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Random puts, drops (during batches too), merges and compactions over a few keys, so
    that buckets fill, crowd and empty again: the two implementations agree at every step
    (with tiny levels, the sorted arrays' pairs move through all of them many times)."""
    if minhash._NUMPY is None:
        pytest.skip("numpy is not installed: only the dict buckets exist")
    if levels == "tiny":
        monkeypatch.setattr(buckets, "_RECENT", 24)
        monkeypatch.setattr(buckets, "_SMALL_MIN", 64)
    rng = random.Random(17)
    keys = [rng.getrandbits(30) for _ in range(100)]
    both = [Driven("sorted"), Driven("dict")]
    stories: list[list[window._Story]] = [[], []]
    for _ in range(150):
        size = rng.randint(1, 12)
        plan = [(rng.sample(keys, rng.randint(0, 6)), rng.random() < 0.85,
                 rng.randrange(len(stories[0]) + 1)) for _ in range(size)]
        events = [(rng.random() < 0.25, rng.random(), rng.random() < 0.05, rng.random(),
                   rng.random()) for _ in range(size)]
        compact = rng.random() < 0.1
        answers = []
        for d, mine in zip(both, stories, strict=True):
            recs = [d.rec(*ks) for ks, _, _ in plan]
            d.buckets.begin(recs)
            found = []
            for position, (rec, (_, placed, pick), (drop, which, merge, x, y)) in enumerate(
                    zip(recs, plan, events, strict=True)):
                found.append({o.item.key for o in d.buckets.candidates(position)})
                if placed:
                    if pick == len(mine):
                        mine.append(d.story())
                    d.place(rec, mine[min(pick, len(mine) - 1)])
                alive = [r for r in d.placed if r.alive]
                if drop and alive:
                    d.drop(alive[int(which * len(alive))])
                if merge and len(mine) > 1:
                    survivor, absorbed = mine[int(x * len(mine))], mine[int(y * len(mine))]
                    if survivor is not absorbed:
                        d.merge(survivor, absorbed)
            d.buckets.end()
            if compact:
                d.buckets.compact()
            answers.append(found)
        assert answers[0] == answers[1]


def test_without_numpy_the_decisions_on_a_stream_are_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole path without numpy (signatures, 4-gram sets, the dict buckets) against the
    one with it, on copies and light edits of a few dozen stories, in batches of 1 to 40."""
    if minhash._NUMPY is None:
        pytest.skip("numpy is not installed: only the path without it exists")
    rng = random.Random(23)
    words = (WIRE + " " + EDIT + " " + OTHER + " " + TEMPLATE.format("49.55", "49.65")).split()
    stories = [" ".join(rng.sample(words, 30)) for _ in range(40)]
    items = []
    for n in range(600):
        text = rng.choice(stories).split()
        text[rng.randrange(len(text))] = rng.choice(words)  # light edits
        items.append(item(f"s{rng.randrange(12)}", " ".join(text[:8]), " ".join(text[8:]),
                          hours=n * 0.1))
    cuts = sorted(rng.sample(range(1, len(items)), 30))
    batches = [items[a:b] for a, b in itertools.pairwise([0, *cuts, len(items)])]

    def decide() -> list[Decision]:
        c = cheap(window=timedelta(hours=12))
        return [d for batch in batches for d in c.add_many(batch)]

    with_numpy = decide()
    for module in (minhash, clusterer_module, buckets):
        monkeypatch.setattr(module, "_NUMPY", None)
    assert type(cheap()._buckets) is buckets._DictBuckets
    assert decide() == with_numpy
    assert sum(d.rule == "near_duplicate" for d in with_numpy) > 100


# --- level 3, with vectors chosen by the test ------------------------------------------------

class TableEmbedder:
    """Vectors looked up by text; unknown texts get a vector orthogonal to every other."""

    name = "table"
    dim = 16

    def __init__(self, table: dict[str, Sequence[float]]) -> None:
        self.np = pytest.importorskip("numpy")
        self.table = table
        self.calls = 0
        self._spare = itertools.count(8)

    def embed(self, texts: Sequence[str]) -> Any:
        self.calls += len(texts)
        rows = []
        for text in texts:
            if text not in self.table:
                self.table[text] = [0.0] * self.dim
                self.table[text][next(self._spare) % self.dim] = 1.0
            v = self.np.asarray(self.table[text], dtype=self.np.float32)
            rows.append(v / self.np.linalg.norm(v))
        return self.np.stack(rows) if rows else self.np.zeros((0, self.dim), self.np.float32)


def angle(cos: float, axis: int = 1) -> list[float]:
    """A unit vector at `cos` from BASE, leaning towards its own `axis` (orthogonal to others)."""
    out = [0.0] * 16
    out[0], out[axis] = cos, (1 - cos * cos) ** 0.5
    return out


BASE = [1.0] + [0.0] * 15


def test_level_3_joins_a_translation_on_cosine_alone_above_the_threshold() -> None:
    emb = TableEmbedder({"بوتين وترامب يبحثان وقف إطلاق النار": BASE,
                         "Putin and Trump discuss a ceasefire": angle(0.65),
                         "Poutine et Trump discutent": angle(0.50, axis=2)})
    c = Clusterer(embedder=emb)
    first = c.add(item("rt", "بوتين وترامب يبحثان وقف إطلاق النار"))
    en = c.add(item("bbc", "Putin and Trump discuss a ceasefire", hours=1))
    fr = c.add(item("f24", "Poutine et Trump discutent", hours=1))
    assert (en.story_id, en.level, en.rule, en.score) == (first.story_id, 3, "embedding", 0.65)
    assert fr.created  # 0.50 and no evidence


def test_level_3_takes_a_lower_cosine_with_evidence() -> None:
    emb = TableEmbedder({"زلزال بقوة 6.2 درجة يضرب ملاطية": BASE,
                         "Magnitude 6.2 quake strikes Malatya": angle(0.50),
                         "Quake hits eastern Turkey": angle(0.50, axis=2),
                         "Séisme en Turquie": angle(0.50, axis=3)})
    c = Clusterer(embedder=emb)
    first = c.add(item("aa", "زلزال بقوة 6.2 درجة يضرب ملاطية", topics=("turkey",),
                       image="https://img.test/q.jpg"))
    number = c.add(item("aj", "Magnitude 6.2 quake strikes Malatya", hours=1))
    image = c.add(item("f24", "Séisme en Turquie", image="https://img.test/q.jpg", hours=1))
    topic = c.add(item("bbc", "Quake hits eastern Turkey", topics=("turkey",), hours=1))
    assert number.story_id == image.story_id == first.story_id
    assert number.evidence == ("number:6.2",) and image.evidence == ("image",)
    assert topic.created  # a topic alone asks for 0.55


def test_level_3_is_vetoed_by_figures_that_disagree() -> None:
    emb = TableEmbedder({"سعر الدولار اليوم 49.55 جنيه": BASE,
                         "Dollar at 49.38 pounds today": angle(0.95)})
    c = Clusterer(embedder=emb)
    c.add(item("a", "سعر الدولار اليوم 49.55 جنيه"))
    assert c.add(item("b", "Dollar at 49.38 pounds today", hours=20)).created


def test_items_placed_by_levels_1_2_are_not_embedded() -> None:
    emb = TableEmbedder({})
    c = Clusterer(embedder=emb)
    c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE))
    c.add(item("b", "ميزانية السعودية: عجز 165 مليار ريال", WIRE, hours=1))
    assert emb.calls == 1 and c._vectors is not None and c._vectors.used == 1


def test_level_3_batches_decide_as_one_by_one() -> None:
    table = {f"t{n}": angle(0.3 + 0.05 * (n % 12), axis=1 + n % 3) for n in range(40)}
    items = [item(f"s{n % 9}", f"t{n}", hours=n * 0.2) for n in range(40)]
    one, many = Clusterer(embedder=TableEmbedder(dict(table))), \
        Clusterer(embedder=TableEmbedder(dict(table)))
    singles = [one.add(i) for i in items]
    batched = [d for start in range(0, 40, 6) for d in many.add_many(items[start:start + 6])]
    assert singles == batched and any(d.level == 3 for d in singles)


def test_warm_embeds_the_stored_items() -> None:
    emb = TableEmbedder({"Putin and Trump discuss a ceasefire": angle(0.7),
                         "بوتين وترامب يبحثان وقف إطلاق النار": BASE})
    c = Clusterer(embedder=emb)
    c.warm([(item("rt", "بوتين وترامب يبحثان وقف إطلاق النار"), "s-1")])
    assert c.add(item("bbc", "Putin and Trump discuss a ceasefire", hours=1)).story_id == "s-1"


def test_kept_vectors_spare_the_encoder_at_warm() -> None:
    table = {"بوتين وترامب يبحثان وقف إطلاق النار": BASE,
             "Putin and Trump discuss a ceasefire": angle(0.7)}
    first = Clusterer(embedder=TableEmbedder(dict(table)))
    stored = item("rt", "بوتين وترامب يبحثان وقف إطلاق النار")
    first.add(stored)
    kept = first.vector(stored.key)
    assert kept is not None and first.vector("unknown") is None
    emb = TableEmbedder(dict(table))
    again = Clusterer(embedder=emb)
    again.warm([(stored, "s-1")], {stored.key: kept})
    assert emb.calls == 0
    assert again.add(item("bbc", "Putin and Trump discuss a ceasefire", hours=1)).story_id == "s-1"


def test_thresholds_can_be_tightened() -> None:
    emb = TableEmbedder({"a first headline here": BASE, "a second headline here": angle(0.7)})
    c = Clusterer(embedder=emb, thresholds=Thresholds(embedding=0.9))
    c.add(item("a", "a first headline here"))
    assert c.add(item("b", "a second headline here", hours=1)).created


# --- learn: items another poller decided -----------------------------------------------------

def test_an_item_learned_between_adds_is_joined_by_a_later_copy() -> None:
    c = cheap()
    c.add(item("a", "هجوم روسي بالمسيرات على كييف", OTHER))
    stored = item("b", "السعودية تعلن ميزانية 2026", WIRE, hours=1)
    assert c.learn([(stored, "s-9")]) == 1
    assert c.explain(stored.key) == Decision(stored.key, "s-9", False, 0, "stored", 1.0)
    copy = c.add(item("c", "ميزانية السعودية: عجز 165 مليار ريال", WIRE, hours=2))
    assert (copy.story_id, copy.rule, copy.matched_key) == ("s-9", "near_duplicate", stored.key)
    assert set(c.members("s-9")) == {stored.key, copy.key}


def test_learning_an_item_already_held_changes_nothing() -> None:
    c = cheap()
    placed = c.add(item("a", "السعودية تعلن ميزانية 2026", WIRE))
    held = item("a", "السعودية تعلن ميزانية 2026", WIRE, key=placed.key)
    assert c.learn([(held, "s-other")]) == 0
    assert len(c) == 1 and c.story_of(placed.key) == placed.story_id
    assert c.members("s-other") == ()
    again = item("b", "هجوم روسي بالمسيرات على كييف", OTHER, hours=1)
    assert c.learn([(again, "s-2"), (again, "s-3")]) == 1 and c.story_of(again.key) == "s-2"


def test_a_learned_item_joins_a_known_story_under_its_id_or_an_alias() -> None:
    c = cheap()
    older = c.add(item("a", "Trump announces tariffs on all imported cars",
                       link="https://x.test/cars"))
    newer = c.add(item("b", "Car tariffs: Trump sets 25 percent levy from next month", hours=1))
    c.add(item("c", "Car tariffs: Trump sets 25 percent levy from next month",
               link="https://x.test/cars", hours=2))  # merges newer into older
    learned = item("d", "Autos: Zölle ab nächstem Monat", hours=3)
    assert c.learn([(learned, newer.story_id)]) == 1
    assert c.story_of(learned.key) == older.story_id


def test_an_item_older_than_the_kept_window_is_not_learned() -> None:
    c = cheap(window=timedelta(hours=24))
    c.add(item("a", "هجوم روسي بالمسيرات على كييف", OTHER, hours=30))
    old = item("b", "السعودية تعلن ميزانية 2026", WIRE, hours=1)
    assert c.learn([(old, "s-old")]) == 0
    assert len(c) == 1 and c.story_of(old.key) is None and c.members("s-old") == ()


def test_learned_items_are_embedded_unless_their_vector_is_given() -> None:
    table = {"بوتين وترامب يبحثان وقف إطلاق النار": BASE,
             "Putin and Trump discuss a ceasefire": angle(0.7),
             "Poutine et Trump discutent d'un cessez-le-feu": angle(0.7, axis=2)}
    emb = TableEmbedder(dict(table))
    c = Clusterer(embedder=emb)
    c.add(item("x", "عنوان خبر عن موضوع آخر تماما"))
    calls = emb.calls
    rt = item("rt", "بوتين وترامب يبحثان وقف إطلاق النار", hours=1)
    c.learn([(rt, "s-1")])
    assert emb.calls == calls + 1
    assert c.add(item("bbc", "Putin and Trump discuss a ceasefire", hours=2)).story_id == "s-1"
    spare = TableEmbedder(dict(table))
    given = Clusterer(embedder=spare)
    given.learn([(rt, "s-1")], {rt.key: c.vector(rt.key)})
    assert spare.calls == 0
    fr = item("f24", "Poutine et Trump discutent d'un cessez-le-feu", hours=2)
    assert given.add(fr).story_id == "s-1"

"""Story clustering: which story each new item joins, decided incrementally. Pure: no database,
no network, no clock (time comes with the items, or as `now`).

A story is the items of *different* sources about one event, published within `window` of each
other. A new item is compared only with the items inside the window, cheapest level first:

    1  link / title    the same canonical link, or the same title key (dedupe's usable rules)
    2  near-duplicate  MinHash of the character 4-grams of title + summary in the word view;
                       LSH bands find candidates in constant time, the exact Jaccard verifies
    3  embedding       multilingual sentence vectors (aggregator.text.embed; optional) for
                       rewrites and translations: cosine, corroborated by evidence that no
                       language changes (a shared number, topic, image or link)

Figures that disagree veto a title match, level 2 and level 3: a daily template (gold, exchange
rate, weather) or the next strike or quake shares its headline or most words, but not its
numbers or weekday. Within one source, two items never share a story unless they have the same
identity. When a new item bridges two stories they merge, and the older story's id survives.

    Clusterer(window, new_story_id=..., embedder=...)
        .warm([(item, story_id), ...], vectors)   after a restart: the stored window, and
                                         the vectors kept from .vector(key); before any add
        .learn([(item, story_id), ...], vectors)  between adds: items another poller placed
                                         and stored, so later items can join them
        .add(item) -> Decision           one item;  .add_many(items) -> [Decision]  a poll's items
        .explain(key) -> Decision        how an item still in the window joined its story
        .resolve(story_id) -> story_id   the surviving id of a story merged into another

How the poller drives it (aggregator/pipeline/stories.py): one Clusterer per process whose
story ids are the stories' permanent uids (uuid4); before the first decision, `warm()` with
the items stored within the window (ClusterItem.from_entry(entry, key=(source_id, identity)),
their story uids) and the vectors kept from `vector(key)` (embed.to_bytes), so the window is
not encoded again; per group of feeds stored together, `add_many(new items, views=...)`
before they are inserted (`views`: the word views the parse workers worked out), and the store
writes each Decision (story, level, rule, score, matched item) on the item and moves the
stories in `merged` into story_id. Nothing here needs the database.

    model.py      ClusterItem, Decision, Thresholds: what goes in and out
    clusterer.py  the Clusterer: the levels, the decision, the window's bookkeeping
    window.py     what the window keeps per item (_Rec) and per story (_Story)
    minhash.py    level 2: signatures, sketches, 4-gram sets, Jaccard and passage checks
    buckets.py    level 2's LSH buckets: which window items share a band key with a new one
    figures.py    the figures that veto a match, and the footers cut before shingling
    evidence.py   level 3's prefilter: which vector rows a rule could accept, in numpy
"""

from aggregator.pipeline.cluster.clusterer import Clusterer
from aggregator.pipeline.cluster.model import AUTO, ClusterItem, Decision, Rule, StoryId, Thresholds

__all__ = ["AUTO", "ClusterItem", "Clusterer", "Decision", "Rule", "StoryId", "Thresholds"]

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
not encoded again; per source, `add_many(new items)` before they are inserted, and the store
writes each Decision (story, level, rule, score, matched item) on the item and moves the
stories in `merged` into story_id. Nothing here needs the database.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import re
from array import array
from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from aggregator.models import Entry
from aggregator.pipeline.dedupe import usable_link, usable_title_key
from aggregator.text import embed
from aggregator.text.arabic import title_key

__all__ = ["ClusterItem", "Clusterer", "Decision", "Thresholds"]

StoryId = Hashable
Rule = Literal["new", "identity", "stored", "link", "title", "near_duplicate", "embedding"]
AUTO: Any = "auto"  # Clusterer(embedder=AUTO): the bundled model when its extra is installed


@dataclass(frozen=True, slots=True)
class ClusterItem:
    """What the clusterer needs to know about one item."""

    key: Hashable  # the store's id of the item
    source_id: str  # which source carried it
    identity: str  # its identity inside the source (dedupe)
    published: datetime  # UTC; the window is measured on it
    title: str  # plain-text title
    summary_text: str = ""  # plain text of the summary (or content), without the title
    canonical_link: str | None = None  # link without tracking parameters
    image: str | None = None  # absolute image URL
    topics: tuple[str, ...] = ()  # topic ids from the tag stage
    language: str | None = None  # e.g. "ar", "en"

    @classmethod
    def from_entry(cls, entry: Entry, key: Hashable) -> ClusterItem:
        summary = entry.text[len(entry.title):] if entry.text.startswith(entry.title) \
            else entry.text
        return cls(key=key, source_id=entry.source_id, identity=entry.identity,
                   published=entry.published, title=entry.title, summary_text=summary.strip(),
                   canonical_link=entry.canonical_link, image=entry.image, topics=entry.topics,
                   language=entry.language)


@dataclass(frozen=True, slots=True)
class Decision:
    """Where an item went and why: the store writes it, `explain` shows it again."""

    key: Hashable  # the item
    story_id: StoryId  # its story (the surviving id when this item caused merges)
    created: bool  # True when a new story was minted for it
    level: int  # 0 (new story, same identity, stored), 1 link/title, 2 near-dup, 3 embedding
    rule: Rule  # the rule behind the level
    score: float  # 1.0 for link/title/identity, Jaccard at level 2, cosine at level 3
    matched_key: Hashable | None = None  # the item in the story that it matched
    evidence: tuple[str, ...] = ()  # level 3 corroboration, e.g. ("number:165", "topic:iran")
    merged: tuple[StoryId, ...] = ()  # stories absorbed into story_id because of this item


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Acceptance thresholds, each picked in the middle of the range where the labelled set
    (tests/data/stories_eval.jsonl) keeps its precision and recall; see tests/test_stories_eval.py.

    Level 2 plateaus: near_duplicate 0.30-0.45 (light edits start at 0.46; below 0.30 shared
    boilerplate starts to join), passage 0.15-0.30 (shared boilerplate leaves 0.12, light
    edits keep 0.33 or more), copy 0.60-0.85 (the boilerplate pair has 0.50 in all, wire
    copies 0.78 or more). Level 3, with 160 characters embedded: cosine 0.55-0.60 alone and
    0.50-0.55 with a topic keep precision at 0.97 and recall at 0.95 or more; the remaining
    false pairs are near misses no threshold separates (another product taxed at the same
    rate by the same president the same day).
    """

    near_duplicate: float = 0.40  # Jaccard of 4-gram sets that joins at level 2
    copy: float = 0.75  # Jaccard from which the passage check is skipped
    passage: float = 0.20  # Jaccard left without the longest shared passage, below `copy`
    embedding: float = 0.60  # cosine that joins at level 3 on its own
    embedding_topic: float = 0.55  # ... with a shared topic (broad: weak evidence)
    embedding_evidence: float = 0.45  # ... with a shared number, image or link
    merge_on_embedding: bool = True  # may a level-3 match bridge (merge) two stories


# --- level 2: MinHash by one-permutation hashing. A 4-gram is four UTF-16 units read as one
# 64-bit word x, hashed once: h = ((x ^ x >> 29) * M) mod 2^64. Its top 7 bits pick one of 128
# slots, a slot keeps its smallest h, and an empty slot borrows from the next filled one plus
# BORROW per slot of distance ("densification", Shrivastava 2017). 42 bands of 3 slots: a pair
# at Jaccard 0.40 becomes a candidate with p = 0.94, at 0.46 with p = 0.99, at 0.10 (same
# topic) with p = 0.04, at 0.02 (unrelated) with p = 0.0003. One byte per slot (b-bit MinHash,
# Li & Koenig 2010), kept as one 1024-bit int, estimates a candidate's Jaccard with one XOR
# before the exact 4-gram sets are compared. A poll's texts are hashed together with numpy when
# it is installed (~10 µs an item instead of ~200); the pure-Python path gives the same numbers,
# bit for bit. With numpy, an item's distinct 4-grams are also kept while it is in the window,
# as a sorted array (~2 KB; a Python set would cost ~25 KB), so verifying a candidate does not
# rebuild its set from its text.
_SLOTS, _ROWS, _BANDS = 128, 3, 42
_MASK = (1 << 64) - 1
_MULT = 0x9E3779B97F4A7C15
_BORROW = 0x5851F42D4C957F2D
_ROW_MULTS = (0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)
# Band keys keep 30 bits: one-digit Python ints, cheap to make, hash and store; a chance
# collision among ~300,000 keys costs a candidate that the sketch then rejects.
_MIN_TEXT = 32  # characters of word view below which a text ("عاجل") is too generic to match
_MARGIN = 0.12  # how far below the threshold an estimate may fall and still be verified
_VERIFY = 24  # candidates verified per item at most, the best estimates first
# A bucket holds one item per story (its newest): a big story's copies never crowd it. A bucket
# that _CROWD stories share is a band of common 4-grams (" ال", "the "): lookups skip it, and
# it keeps its newest _CROWD items only. A near-duplicate pair shares ~3 bands at Jaccard 0.40
# and ~6 at 0.50, seldom all of them crowded.
_CROWD = 8


class _Signed(NamedTuple):
    """What level 2 keeps of a text: its LSH band keys and its 1-byte-per-slot sketch."""

    bands: tuple[int, ...]
    sketch: int  # one byte per slot, slot i in bits 8i..8i+7


def _units(text: str) -> list[array]:
    """4-grams as 64-bit words, by start offset mod 4: the 4-gram at unit p is
    `_units(text)[p % 4][p // 4]`."""
    raw = text.encode("utf-16-le")
    return [array("Q", raw[o:o + (len(raw) - o) // 8 * 8]) for o in (0, 2, 4, 6)]


def _shingles(text: str) -> set[int]:
    out: set[int] = set()
    for part in _units(text):
        out.update(part)
    return out


def _finish(sig: list[int]) -> _Signed:
    bands = []
    for band in range(_BANDS):
        a, b, c = sig[band * _ROWS:band * _ROWS + _ROWS]
        key = (a * _ROW_MULTS[0] + b * _ROW_MULTS[1] + c * _ROW_MULTS[2] + band) & _MASK
        bands.append((((key ^ key >> 29) * _MULT) & _MASK) >> 34)
    return _Signed(tuple(bands), int.from_bytes(bytes((h >> 49) & 0xFF for h in sig), "little"))


def _sign_python(text: str) -> _Signed | None:
    slots: dict[int, int] = {}
    for x in _shingles(text):
        h = ((x ^ x >> 29) * _MULT) & _MASK
        slot = h >> 57
        if h < slots.get(slot, _MASK + 1):
            slots[slot] = h
    if not slots:
        return None
    filled = sorted(slots)
    sig = []
    for i in range(_SLOTS):
        value = slots.get(i)
        if value is None:
            j = filled[bisect_left(filled, i) % len(filled)]
            value = (slots[j] + (j - i) % _SLOTS * _BORROW) & _MASK
        sig.append(value)
    return _finish(sig)


def _sign_numpy(texts: Sequence[str], np: Any) -> list[_Signed | None]:
    u64 = np.uint64
    raws = [t.encode("utf-16-le") for t in texts]
    lengths = np.fromiter((len(r) // 2 for r in raws), dtype=np.int64, count=len(raws))
    units = np.frombuffer(b"".join(raws), dtype="<u2").astype(u64)
    if len(units) < 4:
        return [None] * len(texts)
    x = (units[:-3] | units[1:-2] << u64(16) | units[2:-1] << u64(32) | units[3:] << u64(48))
    owner = np.repeat(np.arange(len(texts)), lengths)
    inside = owner[:-3] == owner[3:]  # a 4-gram may not run into the next text
    x, owner = x[inside], owner[:-3][inside]
    h = (x ^ x >> u64(29)) * u64(_MULT)
    flat = np.full(len(texts) * _SLOTS, _MASK, dtype=u64)
    np.minimum.at(flat, owner * _SLOTS + (h >> u64(57)).astype(np.int64), h)
    sig = flat.reshape(len(texts), _SLOTS)
    filled = sig != u64(_MASK)  # a true minimum of MASK itself is 2^-64 likely: ignored
    if not filled.all():  # borrow: the next filled slot j >= i (circularly), at j - i slots
        at = np.where(filled, np.arange(_SLOTS), 4 * _SLOTS)
        nearest = np.minimum.accumulate(np.concatenate([at, at + _SLOTS], axis=1)[:, ::-1],
                                        axis=1)[:, ::-1][:, :_SLOTS]
        distance = nearest - np.arange(_SLOTS)
        source = np.take_along_axis(sig, nearest % _SLOTS, axis=1)
        sig = np.where(filled, sig, source + distance.astype(u64) * u64(_BORROW))
    rows = sig[:, :_BANDS * _ROWS].reshape(len(texts), _BANDS, _ROWS)
    keys = (rows[:, :, 0] * u64(_ROW_MULTS[0]) + rows[:, :, 1] * u64(_ROW_MULTS[1])
            + rows[:, :, 2] * u64(_ROW_MULTS[2]) + np.arange(_BANDS, dtype=u64))
    keys = ((keys ^ keys >> u64(29)) * u64(_MULT)) >> u64(34)
    sketches = ((sig >> u64(49)) & u64(0xFF)).astype(np.uint8).tobytes()
    return [_Signed(tuple(k), int.from_bytes(sketches[i * _SLOTS:(i + 1) * _SLOTS], "little"))
            if ok else None
            for i, (k, ok) in enumerate(zip(keys.tolist(), filled.any(axis=1).tolist(),
                                            strict=True))]


def _numpy() -> Any:
    try:
        import numpy  # optional: only speeds up hashing; installed with the `embed` extra
    except ImportError:  # pragma: no cover - depends on the installation
        return None
    return numpy


_NUMPY = _numpy()


def _sign(texts: Sequence[str], *, fast: bool = True) -> list[_Signed | None]:
    """Band keys and sketches of many texts (a text under 4 units has none)."""
    if fast and _NUMPY is not None and texts:
        with _NUMPY.errstate(over="ignore"):  # uint64 arithmetic wraps, as intended
            return [s for start in range(0, len(texts), 32)
                    for s in _sign_numpy(texts[start:start + 32], _NUMPY)]
    return [_sign_python(text) for text in texts]


def _same_slots(mine: int, others: Sequence[_Rec]) -> list[int]:
    """How many sketch bytes each candidate shares with `mine`: the Jaccard estimate is
    (same / 128 - 1/256) / (1 - 1/256), the 1/256 being chance matches of a byte. An XOR and a
    count of zero bytes per candidate: half the time of numpy for the ~9 an item has."""
    return [(mine ^ o.sketch).to_bytes(_SLOTS, "little").count(0) for o in others]


def _gram_words(text: str) -> Any:
    """The 4-grams of a text in text order as a numpy array (the words of `_units`): the
    little-endian 64-bit word at every 2-byte step of its UTF-16, read in place."""
    raw = text.encode("utf-16-le")
    count = max(len(raw) // 2 - 3, 0)
    return _NUMPY.ndarray((count,), dtype="<u8", buffer=raw, strides=(2,)).copy() if count \
        else _NUMPY.zeros(0, dtype="<u8")


def _gram_set(text: str) -> Any:
    """A text's distinct 4-grams: a sorted numpy array, or a set without numpy."""
    return _shingles(text) if _NUMPY is None else _distinct(_gram_words(text))


def _distinct(words: Any) -> Any:
    """numpy.unique without its overhead (a third of the time on a news item's 4-grams)."""
    words = _NUMPY.sort(words)
    if len(words) < 2:
        return words
    keep = _NUMPY.empty(len(words), dtype=bool)
    keep[0] = True
    _NUMPY.not_equal(words[1:], words[:-1], out=keep[1:])
    return words[keep]


def _members(values: Any, table: Any) -> Any:
    """Which of `values` the sorted array `table` holds (a numpy bool per value)."""
    if not len(table):
        return _NUMPY.zeros(len(values), dtype=bool)
    at = _NUMPY.searchsorted(table, values)
    at[at == len(table)] = 0
    return table[at] == values


def _common(a: Any, b: Any) -> int:
    """How many 4-grams two sets (from `_gram_set`) share."""
    if isinstance(a, set):
        return len(a & b)
    return int(_NUMPY.count_nonzero(_members(a, b)))


def _jaccard(a: Any, b: Any, common: int | None = None) -> float:
    inter = _common(a, b) if common is None else common
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def _passage_jaccard(rec: _Rec, other: _Rec, mine: Any, theirs: Any,
                     common: int | None = None) -> float:
    """Jaccard once the longest passage of `rec` whose 4-grams `other` all has is left out of
    both; 1.0 when that passage is (90 % of) the shorter body, which is then copied whole
    under a new headline. Boilerplate (a syndication footer, a disclaimer) is one long shared
    passage beside bodies that differ; a light edit shares many shorter passages."""
    inter = _common(mine, theirs) if common is None else common
    if isinstance(theirs, set):
        best, passage = _longest_shared_passage_py(rec.text, theirs)
    else:
        best, passage = _longest_shared_passage_np(rec.text, theirs)
    body = min(len(rec.text) - len(rec.title_key), len(other.text) - len(other.title_key)) - 4
    if best >= 0.9 * body:
        return 1.0
    return (inter - passage) / (len(mine) + len(theirs) - inter - passage or 1)


def _longest_shared_passage_np(text: str, theirs: Any) -> tuple[int, int]:
    """(4-grams in the first longest run of shared 4-grams of `text`, distinct ones in it)."""
    np = _NUMPY
    words = _gram_words(text)
    flags = np.zeros(len(words) + 2, dtype=np.int8)
    flags[1:-1] = _members(words, theirs)
    edges = np.flatnonzero(np.diff(flags))  # run starts and ends, alternately
    if not len(edges):
        return 0, 0
    lengths = edges[1::2] - edges[::2]
    first = int(lengths.argmax())  # the first of the longest
    start, best = int(edges[2 * first]), int(lengths[first])
    return best, len(_distinct(words[start:start + best]))


def _longest_shared_passage_py(text: str, theirs: set[int]) -> tuple[int, int]:
    parts = _units(text)
    flags = [bytes([x in theirs for x in part]) for part in parts]  # shared 4-gram at unit p?
    order = bytearray(sum(map(len, parts)))  # interleave: unit p is parts[p % 4][p // 4]
    for offset, flag in enumerate(flags):
        order[offset::4] = flag
    runs = bytes(order).split(b"\x00")  # C-speed: runs of shared 4-grams, in text order
    lengths = list(map(len, runs))
    best = max(lengths)
    first = lengths.index(best)
    start = sum(lengths[:first]) + first  # the separators before the first longest run
    return best, len({parts[p & 3][p >> 2] for p in range(start, start + best)})


# --- figures: numbers (two or more digits, decimals, scores; years left out) and weekdays
_DIGITS = str.maketrans({**{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic
                         **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian
                         "\u066b": ".", "\u066c": ","})  # Arabic decimal, thousands separators
_ANY_DIGIT = re.compile(r"[0-9\u0660-\u0669\u06f0-\u06f9]")
_NON_ASCII_DIGIT = re.compile(r"[\u0660-\u066c\u06f0-\u06f9]")  # translate() is slow: only then
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*")
_SCORE = re.compile(r"(?<![0-9.,])([0-9]{1,2}) ?[-\u2013] ?([0-9]{1,2})(?![0-9.,])")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_WEEKDAYS = {word: day for day, words in enumerate((
    ("الاثنين", "monday", "lundi", "понедельник"), ("الثلاثاء", "tuesday", "mardi", "вторник"),
    ("الاربعاء", "wednesday", "mercredi", "среда"), ("الخميس", "thursday", "jeudi", "четверг"),
    ("الجمعه", "friday", "vendredi", "пятница"), ("السبت", "saturday", "samedi", "суббота"),
    ("الاحد", "sunday", "dimanche", "воскресенье"))) for word in words}
_ANY_WEEKDAY = re.compile("|".join(_WEEKDAYS))


def _number(token: str) -> str | None:
    """One spelling per value: 1,000 = 1000; 6,2 = 6.2; 62.50 = 62.5. None: too weak to use."""
    if "," in token:
        token = token.replace(",", "" if _THOUSANDS.fullmatch(token) else ".")
    whole, _, fraction = token.partition(".")
    fraction = fraction.replace(".", "").rstrip("0")
    whole = whole.lstrip("0") or "0"
    if fraction:
        return f"{whole}.{fraction}"
    if len(whole) < 2 or (len(whole) == 4 and whole[:2] in ("19", "20")):
        return None  # one digit says little; a year is shared by unrelated stories
    return whole


# The one empty set every item without figures shares: fewer objects for the cyclic GC, which
# costs more than a tenth of levels 1-2 when each item keeps several small containers.
_NONE: frozenset[Any] = frozenset()


def _figures(text: str) -> frozenset[str]:
    if _ANY_DIGIT.search(text) is None:
        return _NONE
    if _NON_ASCII_DIGIT.search(text) is not None:
        text = text.translate(_DIGITS)
    scores = {"-".join(sorted(m.groups())) for m in _SCORE.finditer(text)}
    if scores:
        text = _SCORE.sub(" ", text)
    numbers = {n for n in map(_number, _NUMBER.findall(text)) if n}
    return frozenset(numbers | {f"score:{s}" for s in scores}) if numbers or scores else _NONE


class _Footers:
    """The tail each source repeats under its summaries (a sign-off, "appeared first on ..."):
    learned from two consecutive items of a source, cut before shingling. Without it, every
    item of a source shares its footer's shingles, and its LSH buckets fill with them."""

    MIN = 32  # characters of common tail that count as a footer, not a coincidence
    KEEP = 4  # footers remembered per source

    def __init__(self) -> None:
        self._last: dict[str, str] = {}
        self._known: dict[str, list[str]] = {}

    def strip(self, source_id: str, words: str) -> str:
        previous, self._last[source_id] = self._last.get(source_id), words
        known = self._known.setdefault(source_id, [])
        for tail in known:
            if words.endswith(tail):
                return words[:-len(tail)].rstrip()
        if previous is None:
            return words
        size = _common_tail(previous, words)
        if size < self.MIN or size >= len(words):
            return words
        tail = words[-size:]
        tail = tail[tail.find(" ") + 1:] if words[-size - 1:-size] not in ("", " ") else tail
        if len(tail) < self.MIN:
            return words
        known.insert(0, tail)
        del known[self.KEEP:]
        return words[:-len(tail)].rstrip()


def _common_tail(a: str, b: str) -> int:
    """Length of the longest common suffix (binary search over C-speed comparisons)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[-mid:] == b[-mid:]:
            low = mid
        else:
            high = mid - 1
    return low


# scheme://host/x...: a path longer than "/" for sure, without urlsplit (~8 µs an item)
_PLAIN_LINK = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*/[^?#]")


def _usable_link(link: str | None) -> bool:
    if not link:
        return False
    return _PLAIN_LINK.match(link) is not None or usable_link(link)


class _Story:
    __slots__ = ("id", "seq", "first", "members", "sources", "names")

    def __init__(self, story_id: StoryId, seq: int, first: datetime) -> None:
        self.id = story_id
        self.seq = seq  # creation order, for ties on `first`
        self.first = first  # earliest published of its items: the older story survives
        self.members: dict[Hashable, _Rec] = {}
        self.sources: dict[str, str] = {}  # source id -> the one identity it has here
        self.names: set[StoryId] = {story_id}  # its own id and those of stories merged into it

    def accepts(self, item: ClusterItem) -> bool:
        return self.sources.get(item.source_id, item.identity) == item.identity

    def older_than(self, other: _Story) -> bool:
        return (self.first, self.seq) < (other.first, other.seq)


class _Rec:
    """One item inside the window, with the views every level compares."""

    __slots__ = ("item", "story", "decision", "title_key", "text", "link", "own", "bands",
                 "sketch", "facts", "row", "alive", "seq")

    def __init__(self, item: ClusterItem, key: str, text: str, signed: _Signed | None) -> None:
        self.item = item
        self.story: _Story | None = None
        self.decision: Decision | None = None
        self.title_key = key  # word view of the title: level 1's title key
        self.text = text  # word view of title + summary, the source's footer cut off
        self.link = item.canonical_link if _usable_link(item.canonical_link) else None
        self.own: Any = None  # its distinct 4-grams (_gram_set), see shingles()
        self.bands = signed.bands if signed else ()
        self.sketch = signed.sketch if signed else 0
        self.facts: tuple[frozenset[str], frozenset[int]] | None = None  # see figures()
        self.row = -1  # its row in the vector index, -1 when it has no vector
        self.alive = True
        self.seq = 0  # arrival order, set when indexed: breaks ties the same way every run

    def shingles(self) -> Any:
        """Its distinct 4-grams, made the first time a comparison needs them. A numpy array is
        kept while the item is in the window; a set (no numpy) only while it is being placed."""
        if self.own is None:
            self.own = _gram_set(self.text)
        return self.own

    def conflicts(self, other: _Rec) -> bool:
        """Figures that disagree: both state some, and they share none."""
        numbers, days = self.figures()
        their_numbers, their_days = other.figures()
        return bool(numbers and their_numbers and numbers.isdisjoint(their_numbers)
                    or days and their_days and days.isdisjoint(their_days))

    def figures(self) -> tuple[frozenset[str], frozenset[int]]:
        """Its numbers and weekdays, worked out the first time a comparison needs them."""
        if self.facts is None:
            days = frozenset(_WEEKDAYS[w] for w in self.text.split() if w in _WEEKDAYS) \
                if _ANY_WEEKDAY.search(self.text) else _NONE
            self.facts = (_figures(f"{self.item.title} {self.item.summary_text}"), days)
        return self.facts


@dataclass(slots=True)
class _Match:
    level: int
    score: float
    rule: Rule
    other: _Rec
    evidence: tuple[str, ...] = ()

    def better_than(self, other: _Match) -> bool:
        return (self.level, -self.score) < (other.level, -other.score)


@dataclass(slots=True)
class _Batch:
    """Level-3 vectors of the items being added together, and their scores to the window."""

    vectors: Any = None  # (n, dim) rows, one per position that needed a vector
    where: dict[int, int] = field(default_factory=dict)  # batch position -> row of `vectors`
    window: Any = None  # (index rows, n) cosines to the index as it was before the batch
    placed: list[tuple[Any, _Rec]] = field(default_factory=list)  # (vector, rec) added since
    late: dict[int, Any] = field(default_factory=dict)  # position -> vector made on demand


class Clusterer:
    """Incremental story clustering over a sliding window; see the module docstring."""

    def __init__(self, window: timedelta = timedelta(hours=72), *,
                 new_story_id: Callable[[ClusterItem], StoryId] | None = None,
                 embedder: embed.Embedder | None = AUTO,
                 thresholds: Thresholds = Thresholds(),
                 embed_chars: int = embed.MAX_CHARS, keep: timedelta | None = None) -> None:
        counter = itertools.count(1)
        self.window = window
        # How far behind the newest item an item is still kept (default: the window). More
        # than the window lets a late, older report (a backfilling feed, a pass whose newest
        # feed came first) still meet the items of its own time.
        self.keep = max(keep or window, window)
        self.thresholds = thresholds
        self.embed_chars = embed_chars  # title + lead characters embedded (speed vs recall)
        self._mint = new_story_id or (lambda item: next(counter))
        self.embedder: embed.Embedder | None = (
            embed.default_embedder() if embedder is AUTO else embedder)
        self._vectors = embed.VectorIndex(self.embedder.dim) if self.embedder else None
        self._owners: list[_Rec | None] = []  # vector row -> rec
        self._recs: dict[Hashable, _Rec] = {}  # key -> rec, items inside the window
        self._identities: dict[tuple[str, str], _Rec] = {}
        self._links: dict[str, Any] = {}  # link -> _Rec, or a list of them (see _enlist)
        self._titles: dict[str, Any] = {}  # title key -> _Rec, or a list of them
        self._buckets: dict[int, Any] = {}  # LSH band key -> _Rec, or a list of them
        self._stories: dict[StoryId, _Story] = {}  # every live name (own or absorbed) -> story
        self._expiry: list[tuple[datetime, int, _Rec]] = []
        self._seq = itertools.count()
        self._watermark: datetime | None = None
        self._footers = _Footers()

    # --- public API -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._recs)

    def add(self, item: ClusterItem, *, now: datetime | None = None) -> Decision:
        """Place one item; `now` (default: its published time) moves the window forward."""
        return self.add_many((item,), now=now)[0]

    def add_many(self, items: Iterable[ClusterItem], *,
                 now: datetime | None = None) -> list[Decision]:
        """Place items in order, as `add` would one by one; level 3 is batched."""
        recs = self._prepare(items)
        if now is not None:
            self._advance(now)
        batch = self._embed_batch(recs) if self.embedder else None
        out = []
        for position, rec in enumerate(recs):
            self._advance(rec.item.published)
            out.append(self._place(rec, position, batch))
        if self._vectors is not None:
            self._vectors.release()
        return out

    def warm(self, stored: Iterable[tuple[ClusterItem, StoryId]],
             vectors: Mapping[Hashable, Any] | None = None) -> None:
        """Load items with the story ids the store gave them (after a restart), unjudged: the
        store's window (items published within `window` of now); call it before any add.
        `vectors`: level-3 vectors the store kept, by item key; only the others are embedded."""
        self.learn(stored, vectors)

    def learn(self, stored: Iterable[tuple[ClusterItem, StoryId]],
              vectors: Mapping[Hashable, Any] | None = None) -> int:
        """Load items that another process decided and stored, with their story ids, at any
        time between adds: several pollers share one store, and an item one of them placed
        must be there for the next item of the others to join. Unjudged, like `warm`.

        An item already held (its key, or its source and identity) is skipped: this process
        placed it or learned it before. An unknown story id becomes a story (a known one, or
        an alias of a merged one, is joined); an item older than the kept window is ignored.
        `vectors` are used where given, the other items are embedded. Returns how many items
        were taken."""
        pairs = []
        seen: set[Hashable] = set()
        for item, story_id in sorted(stored, key=lambda pair: pair[0].published):
            if item.key in seen or self._holds(item):
                continue
            seen.add(item.key)
            pairs.append((item, story_id))
        taken = []
        for rec, (item, story_id) in zip(self._prepare([item for item, _ in pairs]), pairs,
                                         strict=True):
            self._advance(item.published)
            if self._too_old(item):
                continue
            story = self._stories.get(story_id)
            if story is None:
                story = self._stories[story_id] = _Story(story_id, next(self._seq),
                                                         item.published)
            story.first = min(story.first, item.published)
            rec.decision = Decision(item.key, story_id, False, 0, "stored", 1.0)
            self._index(rec, story)
            taken.append(rec)
        if self.embedder is not None:
            self._embed_stored(taken, vectors or {})
        return len(taken)

    def story_of(self, key: Hashable) -> StoryId | None:
        rec = self._recs.get(key)
        return rec.story.id if rec and rec.story else None

    def resolve(self, story_id: StoryId) -> StoryId:
        """The id a story lives on under (itself unless merged); unknown ids come back as is."""
        story = self._stories.get(story_id)
        return story.id if story else story_id

    def vector(self, key: Hashable) -> Any:
        """The level-3 vector kept for an item in the window, or None (none kept: levels 1-2
        placed it, or there is no embedder)."""
        rec = self._recs.get(key)
        if rec is None or rec.row < 0 or self._vectors is None:
            return None
        return self._vectors.vector(rec.row)

    def explain(self, key: Hashable) -> Decision | None:
        rec = self._recs.get(key)
        if rec is None or rec.decision is None or rec.story is None:
            return None
        return replace(rec.decision, story_id=rec.story.id)

    def members(self, story_id: StoryId) -> tuple[Hashable, ...]:
        story = self._stories.get(story_id)
        return tuple(story.members) if story else ()

    # --- the decision -------------------------------------------------------------------

    def _prepare(self, items: Iterable[ClusterItem]) -> list[_Rec]:
        items = list(items)
        keys, texts = [], []
        for item in items:
            key = title_key(item.title)
            words = title_key(item.summary_text) if item.summary_text else ""
            if words:
                words = self._footers.strip(item.source_id, words)
            keys.append(key)
            texts.append(f"{key} {words}".strip())
        return [_Rec(item, key, text, signed) for item, key, text, signed
                in zip(items, keys, texts, _sign(texts), strict=True)]

    def _place(self, rec: _Rec, position: int, batch: _Batch | None) -> Decision:
        item = rec.item
        old = self._recs.get(item.key) or self._identities.get((item.source_id, item.identity))
        if old is not None and old.story is not None:  # the same item again (maybe edited)
            story = old.story
            self._remove(old, keep_story=True)
            decision = Decision(item.key, story.id, False, 0, "identity", 1.0, old.item.key)
            rec.decision = decision
            self._index(rec, story)
            self._keep_vector(rec, position, batch)
            return decision
        found: dict[_Story, _Match] = {}
        # one pass over the buckets finds the candidates and takes the empty ones for this item
        shared = self._claim(rec) if rec.bands and not self._too_old(item) else None
        self._level1(rec, found)
        self._level2(rec, found, shared)
        if not found and batch is not None:
            self._level3(rec, position, batch, found)
        ranked = sorted(found.items(), key=lambda sm: (sm[1].level, -sm[1].score, sm[0].first,
                                                       sm[0].seq))
        primary = next(((s, m) for s, m in ranked if s.accepts(item)), None)
        if primary is None:
            story = _Story(self._mint(item), next(self._seq), item.published)
            self._stories[story.id] = story
            decision = Decision(item.key, story.id, True, 0, "new", 0.0)
        else:
            story, match = primary
            merged = []
            for other, m in ranked:
                if other is story or not other.accepts(item) or not self._mergeable(story, other):
                    continue
                if m.level == 3 and not self.thresholds.merge_on_embedding:
                    continue
                survivor, absorbed = (story, other) if story.older_than(other) else (other, story)
                self._merge(survivor, absorbed)
                merged.append(absorbed.id)
                story = survivor
            decision = Decision(item.key, story.id, False, match.level, match.rule,
                                round(match.score, 4), match.other.item.key, match.evidence,
                                tuple(merged))
        rec.decision = decision
        story.first = min(story.first, item.published)
        self._index(rec, story, shared)
        self._keep_vector(rec, position, batch)
        return decision

    def _near(self, rec: _Rec, other: _Rec) -> bool:
        """Another source's item within the window of this one."""
        return (other.item.source_id != rec.item.source_id and other.story is not None
                and abs(other.item.published - rec.item.published) <= self.window)

    @staticmethod
    def _offer(found: dict[_Story, _Match], story: _Story | None, match: _Match) -> None:
        if story is None:  # _near() lets only placed items through: never the case
            return
        best = found.get(story)
        if best is None or match.better_than(best):
            found[story] = match

    def _level1(self, rec: _Rec, found: dict[_Story, _Match]) -> None:
        if rec.link:
            for other in _listed(self._links, rec.link):
                if self._near(rec, other):
                    self._offer(found, other.story, _Match(1, 1.0, "link", other))
        if usable_title_key(rec.title_key):
            for other in _listed(self._titles, rec.title_key):
                # a daily template keeps its headline ("the dollar today"), not its figures
                if self._near(rec, other) and not rec.conflicts(other):
                    self._offer(found, other.story, _Match(1, 1.0, "title", other))

    def _level2(self, rec: _Rec, found: dict[_Story, _Match],
                shared: list[tuple[int, Any]] | None = None) -> None:
        """`shared`: the buckets of `_claim(rec)`; None looks them up without taking any."""
        if len(rec.text) < _MIN_TEXT:
            return
        if shared is None:
            hits: Iterable[Any] = filter(None, map(self._buckets.get, rec.bands))  # C loops
        else:
            hits = (hit for _, hit in shared)
        pool: list[_Rec] = []
        for hit in hits:
            if type(hit) is not list:
                pool.append(hit)
            elif len(hit) < _CROWD:  # a full bucket is a band of common 4-grams: skipped
                pool.extend(hit)
        if not pool:
            return
        limits = self.thresholds
        # equal sketch bytes needed for an estimate of near_duplicate - _MARGIN
        need = ((limits.near_duplicate - _MARGIN) * (1 - 1 / 256) + 1 / 256) * _SLOTS
        source = rec.item.source_id
        others = list(set(pool))  # each candidate once; a C-speed estimate before anything else
        candidates: list[tuple[int, _Rec]] = []
        for same, other in zip(_same_slots(rec.sketch, others), others, strict=True):
            if same < need or other.item.source_id == source or not self._near(rec, other):
                continue
            match = found.get(other.story) if other.story else None
            if match is None or match.level > 1:
                candidates.append((same, other))
        candidates.sort(key=lambda c: (-c[0], c[1].seq))  # sets iterate in address order
        mine = rec.shingles() if candidates else None
        for _, other in candidates[:_VERIFY]:
            theirs = other.own if other.own is not None else _gram_set(other.text)
            if _NUMPY is not None:
                other.own = theirs
            common = _common(mine, theirs)
            score = _jaccard(mine, theirs, common)
            if score < limits.near_duplicate or rec.conflicts(other):
                continue
            if score < limits.copy and (
                    _passage_jaccard(rec, other, mine, theirs, common) < limits.passage):
                continue
            self._offer(found, other.story, _Match(2, score, "near_duplicate", other))

    def _level3(self, rec: _Rec, position: int, batch: _Batch,
                found: dict[_Story, _Match]) -> None:
        limits = self.thresholds
        low = min(limits.embedding, limits.embedding_topic, limits.embedding_evidence)
        candidates: list[tuple[float, _Rec]] = []
        vector_row = batch.where.get(position)
        if vector_row is None:  # levels 1-2 were expected to place it and did not
            assert self.embedder is not None and self._vectors is not None
            vector = self.embedder.embed([self._embedding_text(rec)])[0]
            batch.late[position] = vector
            candidates += self._owned(self._vectors.scores(vector[None, :])[:, 0], low)
        else:
            vector = batch.vectors[vector_row]
            if batch.window is not None:  # the index as it was when the batch began
                candidates += self._owned(batch.window[:, vector_row], low)
            for placed, other in batch.placed:  # and what the batch added since
                score = float(vector @ placed)
                if score >= low and other.alive:
                    candidates.append((score, other))
        for score, other in candidates:
            if not self._near(rec, other) or rec.conflicts(other):
                continue
            evidence = self._evidence(rec, other)
            strong = any(not e.startswith("topic:") for e in evidence)
            if (score >= limits.embedding or strong and score >= limits.embedding_evidence
                    or evidence and score >= limits.embedding_topic):
                self._offer(found, other.story, _Match(3, score, "embedding", other, evidence))

    def _owned(self, column: Any, low: float) -> list[tuple[float, _Rec]]:
        out = []
        for row in (column >= low).nonzero()[0].tolist():
            other = self._owners[row] if row < len(self._owners) else None
            if other is not None:
                out.append((float(column[row]), other))
        return out

    @staticmethod
    def _evidence(rec: _Rec, other: _Rec) -> tuple[str, ...]:
        a, b = rec.item, other.item
        out = [n if n.startswith("score:") else f"number:{n}"
               for n in sorted(rec.figures()[0] & other.figures()[0])]
        out += [f"topic:{t}" for t in sorted(set(a.topics) & set(b.topics))]
        if a.image and a.image == b.image:
            out.append("image")
        if a.canonical_link and a.canonical_link == b.canonical_link:
            out.append("link")
        return tuple(out)

    # --- level 3 vectors ----------------------------------------------------------------

    def _embed_batch(self, recs: Sequence[_Rec]) -> _Batch:
        """Vectors for the items that levels 1-2 will not place, scored in one product."""
        assert self.embedder is not None and self._vectors is not None
        batch = _Batch()
        need = [i for i, rec in enumerate(recs) if not self._cheap_match(rec)]
        if need:
            vectors = self.embedder.embed([self._embedding_text(recs[i]) for i in need])
            batch.where = {position: row for row, position in enumerate(need)}
            batch.vectors = vectors
            batch.window = self._vectors.scores(vectors) if self._vectors.used else None
        return batch

    def _embedding_text(self, rec: _Rec) -> str:
        return embed.embedding_text(rec.item.title, rec.item.summary_text, self.embed_chars)

    def _cheap_match(self, rec: _Rec) -> bool:
        found: dict[_Story, _Match] = {}
        self._level1(rec, found)
        self._level2(rec, found)
        return any(story.accepts(rec.item) for story in found)

    def _keep_vector(self, rec: _Rec, position: int, batch: _Batch | None) -> None:
        """Keep the item's vector unless levels 1-2 placed it: its story already has the vector
        of the item it copies, and skipping the encoder there is most of level 3's saving."""
        if batch is None or not rec.alive or rec.decision is None or rec.decision.level in (1, 2):
            return
        if position in batch.where:
            vector = batch.vectors[batch.where[position]]
        else:
            vector = batch.late.pop(position, None)
            if vector is None:  # placed by its identity, never embedded in this batch
                assert self.embedder is not None
                vector = self.embedder.embed([self._embedding_text(rec)])[0]
        self._put_vector(rec, vector)
        batch.placed.append((vector, rec))

    def _embed_stored(self, recs: Sequence[_Rec], vectors: Mapping[Hashable, Any]) -> None:
        """Vectors for stored items still in the window: the kept ones, else the encoder's."""
        assert self.embedder is not None
        missing = []
        for rec in recs:
            if not rec.alive:
                continue
            vector = vectors.get(rec.item.key)
            if vector is not None and len(vector) == self.embedder.dim:
                self._put_vector(rec, vector)
            else:
                missing.append(rec)
        for start in range(0, len(missing), 256):
            chunk = missing[start:start + 256]
            rows = self.embedder.embed([self._embedding_text(r) for r in chunk])
            for rec, vector in zip(chunk, rows, strict=True):
                self._put_vector(rec, vector)

    def _put_vector(self, rec: _Rec, vector: Any) -> None:
        assert self._vectors is not None
        rec.row = self._vectors.put(vector)
        if rec.row == len(self._owners):
            self._owners.append(rec)
        else:
            self._owners[rec.row] = rec

    # --- window bookkeeping -------------------------------------------------------------

    def _advance(self, now: datetime) -> None:
        if self._watermark is None or now > self._watermark:
            self._watermark = now
        cutoff = self._watermark - self.keep
        while self._expiry and self._expiry[0][0] < cutoff:
            rec = heapq.heappop(self._expiry)[2]
            if rec.alive:
                self._remove(rec)

    def _holds(self, item: ClusterItem) -> bool:
        return item.key in self._recs or (item.source_id, item.identity) in self._identities

    def _too_old(self, item: ClusterItem) -> bool:
        """Published before the kept window: decided, never kept."""
        return self._watermark is not None and item.published < self._watermark - self.keep

    def _index(self, rec: _Rec, story: _Story,
               shared: list[tuple[int, Any]] | None = None) -> None:
        """Put a placed item in the window's indexes; `shared`: what `_claim(rec)` found (its
        empty buckets are this item's already)."""
        item = rec.item
        rec.story = story
        story.members[item.key] = rec
        story.sources[item.source_id] = item.identity
        if self._too_old(item):
            rec.alive = False  # already outside the window: decided, not kept
            self._drop_member(rec)
            return
        self._recs[item.key] = rec
        self._identities[(item.source_id, item.identity)] = rec
        if rec.link:
            _enlist(self._links, rec.link, rec)
        if usable_title_key(rec.title_key):
            _enlist(self._titles, rec.title_key, rec)
        if rec.bands:
            self._bucket(rec, self._claim(rec) if shared is None else shared)
        rec.seq = next(self._seq)
        heapq.heappush(self._expiry, (item.published, rec.seq, rec))
        if isinstance(rec.own, set):
            rec.own = None  # the text gives them back; a set costs ~25 KB per item

    def _claim(self, rec: _Rec) -> list[tuple[int, Any]]:
        """Take every empty bucket of the item's bands; the others, (band, what it holds), are
        its level-2 candidates and are shared by `_bucket` once its story is known. Both loops
        run in C: only shared bands (a dozen of 42 on average) cost Python steps later."""
        held = list(map(self._buckets.setdefault, rec.bands, itertools.repeat(rec)))
        return list(itertools.compress(zip(rec.bands, held, strict=True),
                                       map(operator.is_not, held, itertools.repeat(rec))))

    def _bucket(self, rec: _Rec, shared: list[tuple[int, Any]]) -> None:
        """Share the claimed bands' buckets: one item per story (its newest), _CROWD at most."""
        buckets = self._buckets
        story = rec.story
        for band, hit in shared:
            if type(hit) is list:
                for i, other in enumerate(hit):  # one item per story: its newest
                    if other.story is story:
                        hit[i] = rec
                        break
                else:
                    hit.append(rec)
                    if len(hit) > _CROWD:
                        del hit[0]
            elif hit.story is story:
                buckets[band] = rec
            else:
                buckets[band] = [hit, rec]

    def _unbucket(self, rec: _Rec) -> None:
        buckets = self._buckets
        # one C loop; what was not this item's alone is put back below (a key can be gone:
        # the newer item of its story that took its place left first, or a band repeated)
        held = list(map(buckets.pop, rec.bands, itertools.repeat(None)))
        for band, hit in itertools.compress(zip(rec.bands, held, strict=True),
                                            map(operator.is_not, held, itertools.repeat(rec))):
            if type(hit) is list:
                if rec in hit:
                    hit.remove(rec)
                if hit:
                    buckets[band] = hit if len(hit) > 1 else hit[0]
            elif hit is not None:  # another item took its place
                buckets[band] = hit

    def _remove(self, rec: _Rec, *, keep_story: bool = False) -> None:
        item = rec.item
        rec.alive = False
        if self._recs.get(item.key) is rec:
            del self._recs[item.key]
        if self._identities.get((item.source_id, item.identity)) is rec:
            del self._identities[(item.source_id, item.identity)]
        _unlist(self._links, rec.link, rec)
        _unlist(self._titles, rec.title_key, rec)
        self._unbucket(rec)
        if rec.row >= 0 and self._vectors is not None:
            self._vectors.free(rec.row)
            self._owners[rec.row] = None
            rec.row = -1
        if keep_story and rec.story is not None:
            rec.story.members.pop(item.key, None)
        else:
            self._drop_member(rec)

    def _drop_member(self, rec: _Rec) -> None:
        story = rec.story
        if story is None:
            return
        story.members.pop(rec.item.key, None)
        if story.sources.get(rec.item.source_id) == rec.item.identity and not any(
                m.item.source_id == rec.item.source_id for m in story.members.values()):
            del story.sources[rec.item.source_id]
        if not story.members:
            for name in story.names:
                if self._stories.get(name) is story:
                    del self._stories[name]

    @staticmethod
    def _mergeable(a: _Story, b: _Story) -> bool:
        small, big = (a, b) if len(a.sources) <= len(b.sources) else (b, a)
        return all(big.sources.get(s, i) == i for s, i in small.sources.items())

    def _merge(self, survivor: _Story, absorbed: _Story) -> None:
        for key, rec in absorbed.members.items():
            rec.story = survivor
            survivor.members[key] = rec
        survivor.sources.update(absorbed.sources)
        survivor.first = min(survivor.first, absorbed.first)
        survivor.names |= absorbed.names
        for name in absorbed.names:
            self._stories[name] = survivor


def _enlist(index: dict[Any, Any], key: Any, rec: _Rec) -> None:
    """Index `rec` under `key`: the rec itself while it is alone there (most links and titles
    are), a list once others share the key; one container less per item for the GC."""
    held = index.setdefault(key, rec)
    if held is rec:
        return
    if type(held) is list:
        held.append(rec)
    else:
        index[key] = [held, rec]


def _listed(index: dict[Any, Any], key: Any) -> Sequence[_Rec]:
    held = index.get(key)
    if held is None:
        return ()
    return held if type(held) is list else (held,)


def _unlist(index: dict[Any, Any], key: Any, rec: _Rec) -> None:
    held = index.get(key)
    if held is rec:
        del index[key]
    elif type(held) is list and rec in held:
        held.remove(rec)
        if len(held) == 1:
            index[key] = held[0]

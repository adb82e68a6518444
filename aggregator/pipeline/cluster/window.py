"""What the window holds: a story (its members and sources), an item with the views every level
compares, and the small index helpers that keep one object per key while a key is unshared."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aggregator.pipeline.cluster.figures import (
    _ANY_WEEKDAY,
    _NONE,
    _WEEKDAYS,
    _figure_text,
    _figures,
)
from aggregator.pipeline.cluster.minhash import _gram_set, _Signed
from aggregator.pipeline.cluster.model import ClusterItem, Decision, StoryId
from aggregator.pipeline.dedupe import usable_link

# scheme://host/x...: a path longer than "/" for sure, without urlsplit (~8 µs an item)
_PLAIN_LINK = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*/[^?#]")


def _usable_link(link: str | None) -> bool:
    if not link:
        return False
    return _PLAIN_LINK.match(link) is not None or usable_link(link)


class _Story:
    """A story in the window: its members and the one identity each source has in it. Most
    stories have one member: the story then holds it with no container (two dicts and a tuple
    were ~500 of a one-member story's ~600 bytes), and its sources are that member's."""

    __slots__ = ("id", "seq", "first", "members", "sources", "names")

    def __init__(self, story_id: StoryId, seq: int, first: datetime) -> None:
        self.id = story_id
        self.seq = seq  # creation order, for ties on `first`
        self.first = first  # earliest published of its items: the older story survives
        # its member while it has one (None: none yet), else a list of them in arrival order
        self.members: _Rec | list[_Rec] | None = None
        # source id -> the one identity it has here; None while that is just its one member's
        # (a dict stays while it says more: a replaced member leaves its source, see remove)
        self.sources: dict[str, str] | None = None
        # its own id and those of stories merged into it; None while none was
        self.names: tuple[StoryId, ...] | None = None

    def recs(self) -> Sequence[_Rec]:
        """Its members in arrival order."""
        members = self.members
        if members is None:
            return ()
        return members if type(members) is list else (members,)  # type: ignore[return-value]

    def all_names(self) -> tuple[StoryId, ...]:
        return self.names or (self.id,)

    def source_map(self) -> dict[str, str]:
        """source id -> its identity here (a new dict while `sources` is None)."""
        if self.sources is not None:
            return self.sources
        lone = self.members
        return {lone.source_id: lone.identity} if isinstance(lone, _Rec) else {}

    def accepts(self, rec: _Rec) -> bool:
        sources = self.sources
        if sources is None:
            lone = self.members
            return (not isinstance(lone, _Rec) or lone.source_id != rec.source_id
                    or lone.identity == rec.identity)
        return sources.get(rec.source_id, rec.identity) == rec.identity

    def add(self, rec: _Rec) -> None:
        """A member joins, its identity its source's here."""
        members = self.members
        if members is None:
            self.members = rec
            sources = self.sources
            if sources is not None:  # left behind by a replaced member (see remove)
                sources[rec.source_id] = rec.identity
                if len(sources) == 1:
                    self.sources = None  # the new member's
            return
        self.sources = self.source_map()
        self.sources[rec.source_id] = rec.identity
        if type(members) is list:
            members.append(rec)
        else:
            self.members = [members, rec]  # type: ignore[list-item]

    def remove(self, rec: _Rec, *, keep_source: bool = False) -> None:
        """A member leaves; its source's identity goes too unless `keep_source` (the member is
        replaced by its new version, which may come from another source: the old source then
        stays, as before) or another member of its source stays."""
        members = self.members
        if members is rec:
            if keep_source and self.sources is None:
                self.sources = {rec.source_id: rec.identity}
            self.members = None
        elif type(members) is list and rec in members:
            members.remove(rec)
            if len(members) == 1:
                self.members = members[0]
        else:
            return
        sources = self.sources
        if keep_source or sources is None:
            return
        if sources.get(rec.source_id) == rec.identity and not any(
                m.source_id == rec.source_id for m in self.recs()):
            del sources[rec.source_id]
        lone = self.members
        if isinstance(lone, _Rec) and len(sources) == 1 \
                and sources.get(lone.source_id) == lone.identity:
            self.sources = None  # the lone member's again
        elif lone is None and not sources:
            self.sources = None

    def absorb(self, other: _Story) -> None:
        """Take the members, sources and names of `other`, merged into this story."""
        recs = other.recs()
        for rec in recs:
            rec.story = self
        sources = self.source_map()
        sources.update(other.source_map())
        members = [*self.recs(), *recs]
        self.members = members if len(members) > 1 else (members[0] if members else None)
        self.sources = sources
        self.first = min(self.first, other.first)
        self.names = self.all_names() + other.all_names()

    def older_than(self, other: _Story) -> bool:
        return (self.first, self.seq) < (other.first, other.seq)


class _Rec:
    """One item inside the window, with the views every level compares. Once placed it keeps
    only what later comparisons read: its ClusterItem goes (with its title and summary, a
    quarter of what the window held per item), the part of its text that states figures stays."""

    __slots__ = ("item", "key", "source_id", "identity", "published", "link", "clues", "story",
                 "decision", "head", "text", "own", "bands", "sketch", "facts", "row",
                 "slot", "alive", "seq")

    def __init__(self, item: ClusterItem, key: str, text: str, signed: _Signed | None) -> None:
        self.item: ClusterItem | None = item  # while it is being placed (level 3 embeds it)
        self.key = item.key
        self.source_id = item.source_id
        self.identity = item.identity
        self.published = item.published
        self.link = item.canonical_link if _usable_link(item.canonical_link) else None
        # what level 3 compares besides the vectors; kept after placing only when it runs
        self.clues: tuple[tuple[str, ...], str | None, str | None] | None = (
            item.topics, item.image, item.canonical_link)
        self.story: _Story | None = None
        self.decision: Decision | None = None
        self.text = text  # word view of title + summary, the source's footer cut off
        # its title key (see title_key): how many characters of `text` it is; the key itself
        # when the text does not start with it (a given view whose key has stray spaces)
        self.head: int | str = len(key) if text.startswith(key) else key
        self.own: Any = None  # its distinct 4-grams (_gram_set), see shingles()
        # its LSH band keys until the buckets hold them (with numpy: see buckets.py)
        self.bands: Any = signed.bands if signed else ()
        self.sketch = signed.sketch if signed else 0
        # its numbers and weekdays once a comparison needed them (see figures()); until then
        # the part of its title and summary that the numbers are read from (_figure_text)
        self.facts: tuple[frozenset[str], frozenset[int]] | str = _figure_text(
            item.title, item.summary_text)
        self.row = -1  # its row in the vector index, -1 when it has no vector
        self.slot = -1  # its slot in the buckets (with numpy), -1 when it has none
        self.alive = True
        self.seq = 0  # arrival order, set when indexed: breaks ties the same way every run

    def __lt__(self, other: _Rec) -> bool:
        """The clusterer's expiry order: published, then arrival (seq, set when indexed)."""
        if self.published != other.published:
            return self.published < other.published
        return self.seq < other.seq

    @property
    def title_key(self) -> str:
        """Word view of the title: level 1's title key (a slice of `text`: keeping both cost
        ~200 bytes an item)."""
        head = self.head
        return self.text[:head] if type(head) is int else head  # type: ignore[return-value]

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

    def settle(self, *, level3: bool) -> None:
        """Let the item go once it is placed: later comparisons read the fields copied from it,
        its word view and the text of its figures; level 3 (`level3`) its clues too."""
        self.item = None
        if not level3:
            self.clues = None

    def figures(self) -> tuple[frozenset[str], frozenset[int]]:
        """Its numbers and weekdays, worked out the first time a comparison needs them."""
        facts = self.facts
        if type(facts) is str:
            days = frozenset(_WEEKDAYS[w] for w in self.text.split() if w in _WEEKDAYS) \
                if _ANY_WEEKDAY.search(self.text) else _NONE
            facts = self.facts = (_figures(facts), days)
        return facts  # type: ignore[return-value]  # a tuple now



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

"""The Clusterer: where each new item goes, level by level, and the window's bookkeeping (see the
package docstring for the levels and how the poller drives it)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aggregator.pipeline.cluster.buckets import _new_buckets
from aggregator.pipeline.cluster.evidence import RowFacts
from aggregator.pipeline.cluster.figures import _Footers
from aggregator.pipeline.cluster.minhash import (
    _NUMPY,
    _SLOTS,
    _common,
    _gram_set,
    _jaccard,
    _passage_jaccard,
    _Probe,
    _same_slots,
    _sign,
)
from aggregator.pipeline.cluster.model import AUTO, ClusterItem, Decision, Rule, StoryId, Thresholds
from aggregator.pipeline.cluster.window import _enlist, _listed, _Rec, _Story, _unlist
from aggregator.pipeline.dedupe import usable_title_key
from aggregator.text import embed
from aggregator.text.arabic import title_key

_MIN_TEXT = 32  # characters of word view below which a text ("عاجل") is too generic to match
_MARGIN = 0.12  # how far below the threshold an estimate may fall and still be verified
_VERIFY = 24  # candidates verified per item at most, the best estimates first
_DEFAULTS = Thresholds()  # frozen: one instance serves every Clusterer
# What the window keeps of the commonest decisions, one instance each (~100 bytes an item
# less): explain() puts the item's key and story id back.
_NEW = Decision(None, None, True, 0, "new", 0.0)
_STORED = Decision(None, None, False, 0, "stored", 1.0)


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
    given: Sequence[Any] | None = None  # per position, a vector the caller embedded, or None

    def vector_of(self, position: int) -> Any:
        """The vector the caller gave for this position, or None."""
        return self.given[position] if self.given is not None else None


class Clusterer:
    """Incremental story clustering over a sliding window; see the module docstring."""

    def __init__(self, window: timedelta = timedelta(hours=72), *,
                 new_story_id: Callable[[ClusterItem], StoryId] | None = None,
                 embedder: embed.Embedder | None = AUTO,
                 thresholds: Thresholds = _DEFAULTS,
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
        # what each vector row's item could offer level 3 as evidence, in numpy columns
        self._facts = RowFacts(_NUMPY) if self._vectors is not None else None
        self._owners: list[_Rec | None] = []  # vector row -> rec
        self._recs: dict[Hashable, _Rec] = {}  # key -> rec, items inside the window
        self._identities: dict[tuple[str, str], _Rec] = {}
        self._links: dict[str, Any] = {}  # link -> _Rec, or a list of them (see _enlist)
        # hash of a title key -> _Rec, or a list of them: the items keep their title key only
        # as a slice of their text, and a match is checked on the key itself
        self._titles: dict[int, Any] = {}
        self._buckets = _new_buckets()  # LSH band key -> items: level 2's candidates
        self._stories: dict[StoryId, _Story] = {}  # every live name (own or absorbed) -> story
        # the window's items as a heap, oldest first (_Rec orders by published, then
        # arrival): (published, seq, item) tuples cost 64 bytes an item more (1.3 MiB)
        self._expiry: list[_Rec] = []
        self._seq = itertools.count()
        self._watermark: datetime | None = None
        self._footers = _Footers()

    # --- public API -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._recs)

    def add(self, item: ClusterItem, *, now: datetime | None = None) -> Decision:
        """Place one item; `now` (default: its published time) moves the window forward."""
        return self.add_many((item,), now=now)[0]

    def add_many(self, items: Iterable[ClusterItem], *, now: datetime | None = None,
                 views: Sequence[tuple[str, str] | None] | None = None,
                 vectors: Sequence[Any] | None = None) -> list[Decision]:
        """Place items in order, as `add` would one by one; level 3 is batched. `views`:
        per item, title_key() of its title and of its summary text when the caller has
        them already (the parse workers work them out), else None. `vectors`: per item, its
        level-3 vector when the caller embedded it already (`embedding_text()` of it, by
        this clusterer's embedder), else None."""
        recs = self._prepare(items, views)
        if now is not None:
            self._advance(now)
        self._buckets.begin(recs)  # level 2's buckets, searched for the whole batch at once
        try:
            batch = self._embed_batch(recs, vectors) if self.embedder else None
            out = []
            for position, rec in enumerate(recs):
                self._advance(rec.published)
                out.append(self._place(rec, position, batch))
        finally:
            self._buckets.end()
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
        try:
            for rec, (item, story_id) in zip(self._prepare([item for item, _ in pairs]), pairs,
                                             strict=True):
                self._advance(item.published)
                if self._too_old(item.published):
                    continue
                story = self._stories.get(story_id)
                if story is None:
                    story = self._stories[story_id] = _Story(story_id, next(self._seq),
                                                             item.published)
                story.first = min(story.first, item.published)
                rec.decision = _STORED
                self._index(rec, story)
                taken.append(rec)
        finally:
            self._buckets.end()
        if self.embedder is not None:
            self._embed_stored(taken, vectors or {})
        for rec in taken:
            if rec.alive:
                rec.settle(level3=self.embedder is not None)
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
        return replace(rec.decision, key=rec.key, story_id=rec.story.id)

    def members(self, story_id: StoryId) -> tuple[Hashable, ...]:
        story = self._stories.get(story_id)
        return tuple(rec.key for rec in story.recs()) if story else ()

    # --- the decision -------------------------------------------------------------------

    def _prepare(self, items: Iterable[ClusterItem],
                 views: Sequence[tuple[str, str] | None] | None = None) -> list[_Rec]:
        items = list(items)
        keys, texts = [], []
        for item, view in zip(items, views or itertools.repeat(None), strict=views is not None):
            if view is not None:
                key, words = view
            else:
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
        assert item is not None  # until it is settled, below
        old = self._recs.get(rec.key) or self._identities.get((rec.source_id, rec.identity))
        if old is not None and old.story is not None:  # the same item again (maybe edited)
            story = old.story
            self._remove(old, keep_story=True)
            decision = Decision(rec.key, story.id, False, 0, "identity", 1.0, old.key)
            rec.decision = decision
            self._index(rec, story)
            self._keep_vector(rec, position, batch)
            if rec.alive:
                rec.settle(level3=batch is not None)
            return decision
        found: dict[_Story, _Match] = {}
        self._level1(rec, found)
        self._level2(rec, position, found)
        if not found and batch is not None:
            self._level3(rec, position, batch, found)
        ranked = sorted(found.items(), key=lambda sm: (sm[1].level, -sm[1].score, sm[0].first,
                                                       sm[0].seq))
        primary = next(((s, m) for s, m in ranked if s.accepts(rec)), None)
        if primary is None:
            story = _Story(self._mint(item), next(self._seq), rec.published)
            self._stories[story.id] = story
            decision = Decision(rec.key, story.id, True, 0, "new", 0.0)  # _NEW's fields
        else:
            story, match = primary
            merged = []
            for other, m in ranked:
                if other is story or not other.accepts(rec) or not self._mergeable(story, other):
                    continue
                if m.level == 3 and not self.thresholds.merge_on_embedding:
                    continue
                survivor, absorbed = (story, other) if story.older_than(other) else (other, story)
                self._merge(survivor, absorbed)
                merged.append(absorbed.id)
                story = survivor
            decision = Decision(rec.key, story.id, False, match.level, match.rule,
                                round(match.score, 4), match.other.key, match.evidence,
                                tuple(merged))
        rec.decision = _NEW if decision.created else decision
        story.first = min(story.first, rec.published)
        self._index(rec, story)
        self._keep_vector(rec, position, batch)
        if rec.alive:
            rec.settle(level3=batch is not None)
        return decision

    def _near(self, rec: _Rec, other: _Rec) -> bool:
        """Another source's item within the window of this one."""
        return (other.source_id != rec.source_id and other.story is not None
                and abs(other.published - rec.published) <= self.window)

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
        key = rec.title_key
        if usable_title_key(key):
            for other in _listed(self._titles, hash(key)):
                # a daily template keeps its headline ("the dollar today"), not its figures
                if other.title_key == key and self._near(rec, other) \
                        and not rec.conflicts(other):
                    self._offer(found, other.story, _Match(1, 1.0, "title", other))

    def _level2(self, rec: _Rec, position: int, found: dict[_Story, _Match]) -> None:
        """`position`: the item's place in the batch the buckets began with."""
        if len(rec.text) < _MIN_TEXT:
            return
        pool = self._buckets.candidates(position)
        if not pool:
            return
        limits = self.thresholds
        # equal sketch bytes needed for an estimate of near_duplicate - _MARGIN
        need = ((limits.near_duplicate - _MARGIN) * (1 - 1 / 256) + 1 / 256) * _SLOTS
        source = rec.source_id
        others = list(set(pool))  # each candidate once; a C-speed estimate before anything else
        candidates: list[tuple[int, _Rec]] = []
        for same, other in zip(_same_slots(rec.sketch, others), others, strict=True):
            if same < need or other.source_id == source or not self._near(rec, other):
                continue
            match = found.get(other.story) if other.story else None
            if match is None or match.level > 1:
                candidates.append((same, other))
        candidates.sort(key=lambda c: (-c[0], c[1].seq))  # sets iterate in address order
        if not candidates:
            return
        mine = rec.shingles()
        probe = _Probe(rec.text, mine) if _NUMPY is not None else None
        for _, other in candidates[:_VERIFY]:
            theirs = other.own if other.own is not None else _gram_set(other.text)
            if probe is not None:
                other.own = theirs
                inside = probe.shared(theirs)  # which of mine they have
                common = int(_NUMPY.count_nonzero(inside))
            else:
                common = _common(mine, theirs)
            score = _jaccard(mine, theirs, common)
            if score < limits.near_duplicate or rec.conflicts(other):
                continue
            if score < limits.copy and _passage_jaccard(
                    rec, other, mine, theirs, common,
                    probe.longest_passage(inside) if probe is not None else None,
            ) < limits.passage:
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
            vector = batch.vector_of(position)
            if vector is None:
                vector = self.embedder.embed([self._embedding_text(rec)])[0]
            batch.late[position] = vector
            candidates += self._owned(self._vectors.scores(vector[None, :])[:, 0], rec)
        else:
            vector = batch.vectors[vector_row]
            if batch.window is not None:  # the index as it was when the batch began
                candidates += self._owned(batch.window[:, vector_row], rec)
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

    def _owned(self, column: Any, rec: _Rec) -> list[tuple[float, _Rec]]:
        """(cosine, item) of the rows of `column` that a level-3 rule might accept for `rec`
        (RowFacts drops the others in numpy: most rows above the lowest threshold have no
        evidence that could let them in)."""
        assert self._facts is not None
        out = []
        for row in self._facts.candidates(column, rec, self.thresholds, self.window).tolist():
            other = self._owners[row] if row < len(self._owners) else None
            if other is not None:
                out.append((float(column[row]), other))
        return out

    @staticmethod
    def _evidence(rec: _Rec, other: _Rec) -> tuple[str, ...]:
        assert rec.clues is not None and other.clues is not None  # kept while level 3 runs
        (topics, image, link), (their_topics, their_image, their_link) = rec.clues, other.clues
        out = [n if n.startswith("score:") else f"number:{n}"
               for n in sorted(rec.figures()[0] & other.figures()[0])]
        out += [f"topic:{t}" for t in sorted(set(topics) & set(their_topics))]
        if image and image == their_image:
            out.append("image")
        if link and link == their_link:
            out.append("link")
        return tuple(out)

    # --- level 3 vectors ----------------------------------------------------------------

    def _embed_batch(self, recs: Sequence[_Rec], given: Sequence[Any] | None = None) -> _Batch:
        """Vectors for the items that levels 1-2 will not place (the `given` ones, else the
        encoder's), scored in one product."""
        assert self.embedder is not None and self._vectors is not None
        batch = _Batch(given=given)
        need = [i for i, rec in enumerate(recs) if not self._cheap_match(rec, i)]
        if need:
            missing = [i for i in need if given is None or given[i] is None]
            if len(missing) == len(need):
                vectors = self.embedder.embed([self._embedding_text(recs[i]) for i in need])
            else:
                assert given is not None
                made = dict(zip(missing, self.embedder.embed(
                    [self._embedding_text(recs[i]) for i in missing]), strict=True)) \
                    if missing else {}
                vectors = _NUMPY.asarray([made[i] if i in made else given[i] for i in need],
                                         dtype=_NUMPY.float32)
            batch.where = {position: row for row, position in enumerate(need)}
            batch.vectors = vectors
            batch.window = self._vectors.scores(vectors) if self._vectors.used else None
        return batch

    def _embedding_text(self, rec: _Rec) -> str:
        assert rec.item is not None  # embedded only while it is being placed
        return embed.embedding_text(rec.item.title, rec.item.summary_text, self.embed_chars)

    def _cheap_match(self, rec: _Rec, position: int) -> bool:
        found: dict[_Story, _Match] = {}
        self._level1(rec, found)
        self._level2(rec, position, found)
        return any(story.accepts(rec) for story in found)

    def _keep_vector(self, rec: _Rec, position: int, batch: _Batch | None) -> None:
        """Keep the item's vector unless levels 1-2 placed it: its story already has the vector
        of the item it copies, and skipping the encoder there is most of level 3's saving."""
        if batch is None or not rec.alive or rec.decision is None or rec.decision.level in (1, 2):
            return
        if position in batch.where:
            vector = batch.vectors[batch.where[position]]
        else:
            vector = batch.late.pop(position, None)
            if vector is None:
                vector = batch.vector_of(position)
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
            vector = vectors.get(rec.key)
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
        assert self._vectors is not None and self._facts is not None
        rec.row = self._vectors.put(vector)
        self._facts.put(rec.row, rec)
        if rec.row == len(self._owners):
            self._owners.append(rec)
        else:
            self._owners[rec.row] = rec

    # --- window bookkeeping -------------------------------------------------------------

    def _advance(self, now: datetime) -> None:
        if self._watermark is None or now > self._watermark:
            self._watermark = now
        cutoff = self._watermark - self.keep
        while self._expiry and self._expiry[0].published < cutoff:
            rec = heapq.heappop(self._expiry)
            if rec.alive:
                self._remove(rec)

    def _holds(self, item: ClusterItem) -> bool:
        return item.key in self._recs or (item.source_id, item.identity) in self._identities

    def _too_old(self, published: datetime) -> bool:
        """Published before the kept window: decided, never kept."""
        return self._watermark is not None and published < self._watermark - self.keep

    def _index(self, rec: _Rec, story: _Story) -> None:
        """Put a placed item in the window's indexes."""
        rec.story = story
        story.add(rec)
        if self._too_old(rec.published):
            rec.alive = False  # already outside the window: decided, not kept
            self._drop_member(rec)
            return
        self._recs[rec.key] = rec
        pair = (rec.source_id, rec.identity)
        # the poller's keys are these pairs already (stories.item_of): one tuple, not two
        self._identities[rec.key if type(rec.key) is tuple and rec.key == pair else pair] = rec
        if rec.link:
            _enlist(self._links, rec.link, rec)
        key = rec.title_key
        if usable_title_key(key):
            _enlist(self._titles, hash(key), rec)
        rec.seq = next(self._seq)  # before the buckets: the newest of a story there is its last
        if rec.bands:
            self._buckets.put(rec)
        heapq.heappush(self._expiry, rec)  # its seq is set: its place never moves
        if isinstance(rec.own, set):
            rec.own = None  # the text gives them back; a set costs ~25 KB per item

    def _remove(self, rec: _Rec, *, keep_story: bool = False) -> None:
        rec.alive = False
        if self._recs.get(rec.key) is rec:
            del self._recs[rec.key]
        if self._identities.get((rec.source_id, rec.identity)) is rec:
            del self._identities[(rec.source_id, rec.identity)]
        _unlist(self._links, rec.link, rec)
        _unlist(self._titles, hash(rec.title_key), rec)
        self._buckets.drop(rec)
        if rec.row >= 0 and self._vectors is not None:
            self._vectors.free(rec.row)
            assert self._facts is not None
            self._facts.free(rec.row)
            self._owners[rec.row] = None
            rec.row = -1
        if keep_story and rec.story is not None:
            rec.story.remove(rec, keep_source=True)
        else:
            self._drop_member(rec)

    def _drop_member(self, rec: _Rec) -> None:
        story = rec.story
        if story is None:
            return
        story.remove(rec)
        if story.members is None:
            for name in story.all_names():
                if self._stories.get(name) is story:
                    del self._stories[name]

    @staticmethod
    def _mergeable(a: _Story, b: _Story) -> bool:
        a_sources, b_sources = a.source_map(), b.source_map()
        small, big = (a_sources, b_sources) if len(a_sources) <= len(b_sources) \
            else (b_sources, a_sources)
        return all(big.get(s, i) == i for s, i in small.items())

    def _merge(self, survivor: _Story, absorbed: _Story) -> None:
        survivor.absorb(absorbed)
        for name in absorbed.all_names():
            self._stories[name] = survivor

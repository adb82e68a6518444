"""Level 2's LSH buckets: which items of the window share a band key with a new item. Two
implementations of one interface, with the same answers: sorted arrays searched once per batch
(numpy), and a dict (without numpy). Nothing here decides; the Clusterer asks and verifies.

A bucket (the items whose band keys include one key) offers the newest item of each story in it
(the last placed): a big story's copies never crowd it. A bucket that _CROWD stories share is a
band of common 4-grams (" ال", "the "): it offers none. A near-duplicate pair shares ~3 bands at
Jaccard 0.40 and ~6 at 0.50, seldom all of them crowded. Both are worked out when a bucket is
read, from the items in it then, so an item only has to be put in and taken out.

    begin(recs)              a batch's items, before any of them is placed
    candidates(position)     what the buckets of the batch's item at `position` offer now
    put(rec), drop(rec)      a placed item enters the window; an item leaves it
    end()                    the batch is placed
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from aggregator.pipeline.cluster.minhash import _BANDS, _NUMPY
from aggregator.pipeline.cluster.window import _Rec

_CROWD = 8  # stories sharing a bucket that make it a band of common 4-grams
_LOW = 0xFFFFFFFF  # a pair's slot: its low 32 bits
# The pairs of small batches (a few items) are kept apart, and searched by bisection, until
# there are _RECENT; a batch's pairs are then merged into the small level, which holds up to a
# quarter of the big one's pairs (between _SMALL_MIN and _SMALL_MAX) before a compaction merges
# it into the big one. A merge costs its level's size: each level spares the next one merges.
_RECENT = 4096
_SMALL_MIN, _SMALL_MAX = 1 << 14, 1 << 17


_SLICE = 1 << 16  # pairs masked or counted at a time when a level is rebuilt (512 KiB)


def _slices(pairs: Any) -> Iterable[Any]:
    return (pairs[start:start + _SLICE] for start in range(0, len(pairs), _SLICE))


def _new_buckets() -> _SortedBuckets | _DictBuckets:
    return _SortedBuckets(_NUMPY) if _NUMPY is not None else _DictBuckets()


def _newest(held: Iterable[_Rec | None], pool: list[_Rec]) -> None:
    """Add the newest item of each story in one bucket to `pool`, unless _CROWD stories share
    the bucket (`None`: a slot whose item left)."""
    newest: dict[Any, _Rec] = {}
    for rec in held:
        if rec is None:
            continue
        other = newest.get(rec.story)
        if other is None:
            if len(newest) == _CROWD - 1:  # the eighth story: a crowd, read no further
                return
            newest[rec.story] = rec
        elif rec.seq > other.seq:
            newest[rec.story] = rec
    pool += newest.values()


class _DictBuckets:
    """Without numpy: band key -> the item holding it, or a list once several do."""

    def __init__(self) -> None:
        self._keys: dict[int, Any] = {}
        self._batch: Sequence[_Rec] = ()

    def __len__(self) -> int:
        """(band key, item) pairs held."""
        return sum(len(held) if type(held) is list else 1 for held in self._keys.values())

    def begin(self, recs: Sequence[_Rec]) -> None:
        self._batch = recs

    def end(self) -> None:
        self._batch = ()

    def compact(self) -> None:
        """Nothing to do: a leaving item's keys go with it."""

    def candidates(self, position: int) -> list[_Rec]:
        pool: list[_Rec] = []
        for held in filter(None, map(self._keys.get, self._batch[position].bands)):  # C loops
            if type(held) is list:
                _newest(held, pool)
            else:
                pool.append(held)
        return pool

    def put(self, rec: _Rec) -> None:
        keys = self._keys
        held = list(map(keys.setdefault, rec.bands, itertools.repeat(rec)))
        for band, other in itertools.compress(zip(rec.bands, held, strict=True),
                                              map(operator.is_not, held, itertools.repeat(rec))):
            if type(other) is list:
                other.append(rec)
            else:
                keys[band] = [other, rec]

    def drop(self, rec: _Rec) -> None:
        keys = self._keys
        # one C loop; what others hold too is put back (a key repeated in one item's bands
        # is held once when alone, so its second pop finds nothing)
        held = list(map(keys.pop, rec.bands, itertools.repeat(None)))
        for band, other in itertools.compress(zip(rec.bands, held, strict=True),
                                              map(operator.is_not, held, itertools.repeat(rec))):
            if type(other) is list:
                if rec in other:
                    other.remove(rec)
                keys[band] = other if len(other) > 1 else other[0]
            elif other is not None:
                keys[band] = other


class _SortedBuckets:
    """With numpy: every (band key, slot) pair of the window's items, key << 32 | slot, sorted,
    in levels (see _RECENT): `_big`, rebuilt by `compact`, a small one, the pairs of the
    batches since, merged into its buffer at each `end` (timsort's merge of two runs, in
    place), and `_recent`, small batches' pairs. The first two know where every range of keys
    starts (by the keys' top bits, ~2 pairs a range in the big one): a key costs two reads,
    not a binary search's ~18 dependent ones.

    `begin` searches the levels for all of a batch's keys at once (numpy's cost is per call:
    one item at a time made it slower than the dict), and pairs the batch's own keys, so that
    an item finds those the batch placed before it; `candidates` reads the slots found, whose
    items may have left since. An item that leaves empties its slot; its pairs stay, skipped,
    until a compaction drops them. ~10 bytes a pair, where the dict costs ~60 a key and ~30 an
    int, and the item lets its own array of keys go."""

    def __init__(self, np: Any) -> None:
        self._np = np
        self._big = np.zeros(0, dtype=np.uint64)
        self._big_starts, self._big_bits = np.zeros(2, dtype=np.int32), 0
        self._buffer = np.zeros(0, dtype=np.uint64)  # the small level: its first _filled
        self._filled = 0
        self._recent = np.zeros(0, dtype=np.uint64)  # the last batches' pairs, no ranges
        self._small_starts, self._small_bits = self._big_starts, 0
        self._limit = 0  # pairs in the small level that start a compaction
        self._table: list[_Rec | None] = []  # slot -> the item it holds, None once it left
        self._live = bytearray()  # slot -> 1 while its written pairs count (read as numpy)
        self._free: list[int] = []  # slots no pair names: for new items
        self._dying: list[int] = []  # slots whose items left: free after the next compaction
        self._dead = 0  # about how many pairs those slots have
        self._fresh: list[_Rec] = []  # items given a slot since the last `end`
        # the batch's buckets: item j's are _sizes[_groups[j]:_groups[j + 1]], their slots
        # one after the other in _slots from _firsts[j]
        self._slots: list[int] = []
        self._sizes: list[int] = []
        self._groups: list[int] = []
        self._firsts: list[int] = []
        self.compact()

    def __len__(self) -> int:
        """(band key, item) pairs held, those of items that left included until compacted."""
        fresh = sum(len(r.bands) for r in self._fresh if self._table[r.slot] is r)
        return len(self._big) + self._filled + len(self._recent) + fresh

    def begin(self, recs: Sequence[_Rec]) -> None:
        np = self._np
        for rec in recs:
            if rec.bands and rec.slot < 0:
                self._reserve(rec)
        keys = np.frombuffer(b"".join([rec.bands for rec in recs if rec.bands]),
                             dtype=np.uint32).astype(np.uint64)
        owner = np.repeat(np.arange(len(recs)), [len(rec.bands) for rec in recs])
        found = [self._find(self._big, self._big_starts, self._big_bits, keys),
                 self._find(self._buffer[:self._filled], self._small_starts, self._small_bits,
                            keys),
                 self._search(self._recent, keys)]
        query, slot = (np.concatenate([f[i] for f in found]) for i in (0, 1))
        keep = np.flatnonzero(np.frombuffer(self._live, dtype=bool)[slot])
        query, slot = query[keep], slot[keep]  # the pairs of items gone before the batch: out
        if len(recs) > 1:
            near_query, near_slot = self._within(recs, keys, owner)
            query, slot = np.concatenate((query, near_query)), np.concatenate((slot, near_slot))
        order = np.argsort(query, kind="stable")  # by bucket: each level's are already
        query, slot = query[order], slot[order]
        starts = np.flatnonzero(np.concatenate(([True], query[1:] != query[:-1])))
        bounds = np.append(starts, len(query))
        groups = np.searchsorted(owner[query[starts]] if len(query) else query,
                                 np.arange(len(recs) + 1))
        self._groups, self._firsts = groups.tolist(), bounds[groups].tolist()
        self._sizes, self._slots = np.diff(bounds).tolist(), slot.tolist()

    def _find(self, pairs: Any, starts: Any, bits: int, keys: Any) -> tuple[Any, Any]:
        """The pairs of one level that have one of `keys`: (key's index, slot) arrays."""
        np = self._np
        if not len(pairs) or not len(keys):
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        top = (keys >> np.uint64(30 - bits)).astype(np.intp)
        low = starts[top]
        counts = starts[top + 1] - low  # pairs in each key's range
        ends = np.cumsum(counts)
        query = np.repeat(np.arange(len(keys)), counts)
        found = pairs[np.arange(ends[-1]) + np.repeat(low - (ends - counts), counts)]
        same = np.flatnonzero((found >> np.uint64(32)) == keys[query])
        return query[same], (found[same] & np.uint64(_LOW)).astype(np.intp)

    def _search(self, pairs: Any, keys: Any) -> tuple[Any, Any]:
        """`_find` in a few pairs: a binary search of each key's, in cache."""
        np = self._np
        if not len(pairs) or not len(keys):
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        wide = keys << np.uint64(32)
        at = pairs.searchsorted(np.concatenate((wide, wide + np.uint64(1 << 32))))
        low, counts = at[:len(keys)], at[len(keys):] - at[:len(keys)]
        ends = np.cumsum(counts)
        found = pairs[np.arange(ends[-1]) + np.repeat(low - (ends - counts), counts)]
        return (np.repeat(np.arange(len(keys)), counts),
                (found & np.uint64(_LOW)).astype(np.intp))

    def _within(self, recs: Sequence[_Rec], keys: Any, owner: Any) -> tuple[Any, Any]:
        """Each key of the batch paired with the earlier items of the batch that have it too
        (a copy in the same poll, a common band: ~5 keys a batch of 20)."""
        np = self._np
        ordered = np.sort(keys)
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        later, slots = [], []
        for key in dict.fromkeys(repeated.tolist()):  # a few: one numpy call each
            where = np.flatnonzero(keys == key)  # in batch order
            items = owner[where].tolist()
            for n, query in enumerate(where.tolist()):
                for other in items[:n]:
                    if other < items[n]:  # not a band the item itself repeats
                        later.append(query)
                        slots.append(recs[other].slot)
        return np.array(later, dtype=np.intp), np.array(slots, dtype=np.intp)

    def candidates(self, position: int) -> list[_Rec]:
        pool: list[_Rec] = []
        first, last = self._groups[position], self._groups[position + 1]
        table, slots = self._table, self._slots
        at = self._firsts[position]
        for size in self._sizes[first:last]:
            if size == 1:
                rec = table[slots[at]]
                if rec is not None:
                    pool.append(rec)
            else:
                _newest(map(table.__getitem__, slots[at:at + size]), pool)
            at += size
        return pool

    def _reserve(self, rec: _Rec) -> None:
        """A slot for an item of the batch (its pairs are written at `end`, once placed)."""
        if self._free:
            rec.slot = self._free.pop()
        else:
            rec.slot = len(self._table)
            self._table.append(None)
        self._fresh.append(rec)

    def put(self, rec: _Rec) -> None:
        if rec.slot < 0:
            self._reserve(rec)
        self._table[rec.slot] = rec

    def drop(self, rec: _Rec) -> None:
        if rec.slot < 0 or self._table[rec.slot] is not rec:
            return
        self._table[rec.slot] = None
        if not rec.bands:  # its pairs were written (see `end`): they stay until compacted
            self._live[rec.slot] = 0
            self._dying.append(rec.slot)
            self._dead += _BANDS
            rec.slot = -1

    def end(self) -> None:
        """Write the pairs of the items placed since `begin`, free the other slots given."""
        np, table = self._np, self._table
        placed = []
        for rec in self._fresh:
            if table[rec.slot] is rec:
                placed.append(rec)
            else:  # not placed (too old), or gone already: no pair names its slot
                self._free.append(rec.slot)
                rec.slot = -1
        self._fresh = []
        self._groups, self._firsts, self._sizes, self._slots = [], [], [], []
        if not placed:
            return
        if len(table) > len(self._live):
            self._live += bytes(max(len(self._live), len(table) - len(self._live), 1024))
        slots = [rec.slot for rec in placed]
        for at in slots:
            self._live[at] = 1
        pairs = np.frombuffer(b"".join([rec.bands for rec in placed]), dtype=np.uint32)
        pairs = pairs.astype(np.uint64) << np.uint64(32)
        pairs |= np.repeat(np.array(slots, dtype=np.uint64), [len(rec.bands) for rec in placed])
        pairs.sort()
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]  # a band repeated
        for rec in placed:
            rec.bands = ()  # the pairs hold them now: 232 bytes less per item
        if 8 * len(pairs) < _RECENT and len(self._recent) + len(pairs) <= _RECENT:
            # a small batch: its merge into the small level would cost that level's size
            self._recent = np.concatenate((self._recent, pairs))
            self._recent.sort(kind="stable")
            return
        if len(self._recent):
            pairs = np.concatenate((self._recent, pairs))
            pairs.sort(kind="stable")
            self._recent = np.zeros(0, dtype=np.uint64)
        filled = self._filled + len(pairs)
        if filled > self._limit or self._dead > len(self._big) >> 2:
            self.compact(pairs)
            return
        if filled > len(self._buffer):
            grown = np.empty(min(max(2 * len(self._buffer), filled), self._limit),
                             dtype=np.uint64)
            grown[:self._filled] = self._buffer[:self._filled]
            self._buffer = grown
        self._buffer[self._filled:filled] = pairs
        self._buffer[:filled].sort(kind="stable")  # two sorted runs: one merge, in place
        self._filled = filled
        self._small_starts[1:] += np.cumsum(np.bincount(
            (pairs >> np.uint64(62 - self._small_bits)).view(np.int64),
            minlength=1 << self._small_bits))

    def compact(self, pairs: Any = None) -> None:
        """One sorted array of the pairs of the items still in the window (and `pairs`),
        made where the big level was: its pairs still counted are moved down a slice at a
        time, the array is grown in place (realloc: pages move, none is copied), the other
        levels' pairs are written after them, and the sorted runs are merged. A new array
        written beside the old one, with the ranges' counts, had held the old level and
        twice its size more at once: the peak of a first poll's memory, at its last
        compaction. (No view of the big level's array is kept: it is reallocated.)"""
        np = self._np
        live = np.frombuffer(self._live, dtype=bool)
        big, self._big = self._big, np.zeros(0, dtype=np.uint64)
        self._big_starts = self._small_starts = None  # their memory first, for the new ones
        at = 0
        for part in _slices(big):
            kept = part[self._alive(live, part)]  # a copy: written back below where it was
            big[at:at + len(kept)] = kept
            at += len(kept)
        others = [level for level in (self._buffer[:self._filled], self._recent,
                                      () if pairs is None else pairs) if len(level)]
        total = at + sum(int(np.count_nonzero(self._alive(live, part)))
                         for level in others for part in _slices(level))
        big.resize(total, refcheck=False)  # it owns its memory, and nothing else refers to it
        for level in others:
            for part in _slices(level):
                kept = part[self._alive(live, part)]
                big[at:at + len(kept)] = kept
                at += len(kept)
        del others
        big.sort(kind="stable")  # sorted runs: merges, each with a buffer of the smaller
        self._big, (self._big_starts, self._big_bits) = big, self._ranges(big, len(big) // 2)
        self._limit = min(max(len(big) >> 2, _SMALL_MIN), _SMALL_MAX)
        self._small_starts, self._small_bits = self._ranges(big[:0], self._limit // 4)
        self._filled = 0
        self._recent = np.zeros(0, dtype=np.uint64)
        self._free += self._dying
        self._dying, self._dead = [], 0

    def _alive(self, live: Any, pairs: Any) -> Any:
        """Which of these pairs belong to an item still in the window."""
        return live[(pairs & self._np.uint64(_LOW)).view(self._np.int64)]

    def _ranges(self, pairs: Any, size: int) -> tuple[Any, int]:
        """Where each range of keys starts in `pairs` (sorted): ~`size` ranges, by the keys'
        top bits. Counted a slice at a time, each slice's counts covering only the ranges
        its pairs are in (they are sorted): no array of 64-bit counts beside the starts."""
        np = self._np
        bits = min(max(size.bit_length() - 1, 8), 28)
        starts = np.zeros((1 << bits) + 1, dtype=np.int32)
        for part in _slices(pairs):
            tops = (part >> np.uint64(62 - bits)).view(np.int64)
            low = int(tops[0])
            counts = np.bincount(tops - low)
            starts[low + 1:low + 1 + len(counts)] += counts.astype(np.int32)
        np.cumsum(starts, out=starts)
        return starts, bits

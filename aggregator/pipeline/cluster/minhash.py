"""Level 2's arithmetic: MinHash signatures of a text's character 4-grams (LSH band keys and a
1-byte-per-slot sketch), the exact 4-gram sets and the Jaccard checks that verify a candidate.
Pure functions over strings; nothing here knows the window."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from aggregator.pipeline.cluster.window import _Rec

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
# Band keys keep 30 bits: an item keeps its 42 in one array of 32-bit ints (232 bytes; a tuple
# of Python ints costs 1.6 KB) until the buckets hold them (with numpy, as key << 32 | slot in
# sorted arrays, and the item lets its array go; see buckets.py); a chance collision among
# ~300,000 keys costs a candidate that the sketch then rejects.


class _Signed(NamedTuple):
    """What level 2 keeps of a text: its LSH band keys and its 1-byte-per-slot sketch."""

    bands: array  # 42 unsigned 32-bit band keys: 232 bytes, where a tuple of ints costs 1.6 KB
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
    return _Signed(array("I", bands),
                   int.from_bytes(bytes((h >> 49) & 0xFF for h in sig), "little"))


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
    lengths = np.array(list(map(len, raws)), dtype=np.int64) >> 1
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
        rows_at = np.arange(0, len(texts) * _SLOTS, _SLOTS)[:, None]
        source = sig.ravel()[nearest % _SLOTS + rows_at]  # take_along_axis, without its checks
        sig = np.where(filled, sig, source + distance.astype(u64) * u64(_BORROW))
    rows = sig[:, :_BANDS * _ROWS].reshape(len(texts), _BANDS, _ROWS)
    keys = (rows[:, :, 0] * u64(_ROW_MULTS[0]) + rows[:, :, 1] * u64(_ROW_MULTS[1])
            + rows[:, :, 2] * u64(_ROW_MULTS[2]) + np.arange(_BANDS, dtype=u64))
    keys = ((keys ^ keys >> u64(29)) * u64(_MULT)) >> u64(34)
    sketches = ((sig >> u64(49)) & u64(0xFF)).astype(np.uint8).tobytes()
    bands = keys.astype(np.uint32).tobytes()  # 30-bit keys: nothing is lost
    step = 4 * _BANDS
    return [_Signed(array("I", bands[i * step:(i + 1) * step]),
                    int.from_bytes(sketches[i * _SLOTS:(i + 1) * _SLOTS], "little"))
            if ok else None
            for i, ok in enumerate(filled.any(axis=1).tolist())]


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
                     common: int | None = None,
                     passage: tuple[int, int] | None = None) -> float:
    """Jaccard once the longest passage of `rec` whose 4-grams `other` all has is left out of
    both; 1.0 when that passage is (90 % of) the shorter body, which is then copied whole
    under a new headline. Boilerplate (a syndication footer, a disclaimer) is one long shared
    passage beside bodies that differ; a light edit shares many shorter passages. `passage`:
    that run as `_Probe.longest_passage` found it, when the caller has one."""
    inter = _common(mine, theirs) if common is None else common
    if passage is not None:
        best, passage_grams = passage
    elif isinstance(theirs, set):
        best, passage_grams = _longest_shared_passage_py(rec.text, theirs)
    else:
        best, passage_grams = _longest_shared_passage_np(rec.text, theirs)
    body = min(len(rec.text) - len(rec.title_key), len(other.text) - len(other.title_key)) - 4
    if best >= 0.9 * body:
        return 1.0
    return (inter - passage_grams) / (len(mine) + len(theirs) - inter - passage_grams or 1)


def _longest_shared_passage_np(text: str, theirs: Any) -> tuple[int, int]:
    """(4-grams in the first longest run of shared 4-grams of `text`, distinct ones in it)."""
    words = _gram_words(text)
    start, best = _longest_run(_members(words, theirs))
    return best, len(_distinct(words[start:start + best]))


def _longest_run(shared: Any) -> tuple[int, int]:
    """(start, length) of the first longest run of True in a numpy bool array; (0, 0): none."""
    flags = _NUMPY.zeros(len(shared) + 2, dtype=_NUMPY.int8)
    flags[1:-1] = shared
    edges = _NUMPY.flatnonzero(_NUMPY.diff(flags))  # run starts and ends, alternately
    if not len(edges):
        return 0, 0
    lengths = edges[1::2] - edges[::2]
    first = int(lengths.argmax())  # the first of the longest
    return int(edges[2 * first]), int(lengths[first])


class _Probe:
    """A new item's 4-grams set up for the candidates it is verified against (numpy only):
    `own`, its distinct 4-grams (`_gram_set`), and, from the first passage check on, where
    each 4-gram of the text, in text order, sits among them. A candidate then costs one search
    of the distinct 4-grams, which gives both the shared count and the longest passage."""

    __slots__ = ("text", "own", "_at")

    def __init__(self, text: str, own: Any) -> None:
        self.text = text
        self.own = own
        self._at: Any = None

    def shared(self, theirs: Any) -> Any:
        """Which of `own` the sorted array `theirs` holds."""
        return _members(self.own, theirs)

    def longest_passage(self, shared: Any) -> tuple[int, int]:
        """What `_longest_shared_passage_np` finds, from `shared(theirs)`."""
        if self._at is None:  # every 4-gram is in `own`: its place there is exact
            self._at = _NUMPY.searchsorted(self.own, _gram_words(self.text))
        start, best = _longest_run(shared[self._at])
        return best, len(_distinct(self._at[start:start + best]))


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


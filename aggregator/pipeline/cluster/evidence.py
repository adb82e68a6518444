"""Level 3's cheap side: what each vector row's item could offer as evidence, in numpy columns,
so the candidates that no rule could accept are dropped in one pass over a column of cosines
instead of one Python step each.

A candidate at or above the lowest level-3 threshold is accepted only if it is near (another
source, published within the window), its figures do not conflict, and its cosine reaches the
threshold its evidence allows: `embedding` alone, `embedding_topic` with a shared topic,
`embedding_evidence` with a shared number, image or link. The columns keep what each of those
needs to be possible at all (source, date, topic bits, whether it states figures, image and
link hashes): a row they rule out could not be accepted, so dropping it changes no decision;
a row they let through (a hash or topic bit shared by chance, figures that turn out not to be
shared) is judged by the clusterer as before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aggregator.pipeline.cluster.model import Thresholds

if TYPE_CHECKING:
    from aggregator.pipeline.cluster.window import _Rec

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(when: datetime) -> int:
    """Microseconds since the epoch: exact, as comparing the datetimes would be."""
    return (when - _EPOCH) // _MICROSECOND


def _hash(value: str | None) -> int:
    """A 64-bit hash of a non-empty string, never 0 (0 stands for none)."""
    return (hash(value) or 1) if value else 0


def _topic_bits(topics: tuple[str, ...]) -> int:
    bits = 0
    for topic in topics:
        bits |= 1 << (hash(topic) & 63)
    return bits


class RowFacts:
    """Per vector row (the rows of embed.VectorIndex): the item's source, date and evidence."""

    def __init__(self, np: Any, capacity: int = 1024) -> None:
        self._np = np
        self._sources: dict[str, int] = {}  # source id -> small code
        self.source = np.full(capacity, -1, dtype=np.int32)
        self.time = np.zeros(capacity, dtype=np.int64)
        self.topics = np.zeros(capacity, dtype=np.uint64)
        self.numbers = np.zeros(capacity, dtype=bool)
        self.image = np.zeros(capacity, dtype=np.int64)
        self.link = np.zeros(capacity, dtype=np.int64)

    def put(self, row: int, rec: _Rec) -> None:
        if row >= len(self.source):
            self._grow(max(2 * len(self.source), row + 1))
        assert rec.clues is not None  # kept while level 3 runs
        topics, image, link = rec.clues
        self.source[row] = self._code(rec.source_id)
        self.time[row] = _micros(rec.published)
        self.topics[row] = _topic_bits(topics)
        self.numbers[row] = bool(rec.figures()[0])
        self.image[row] = _hash(image)
        self.link[row] = _hash(link)

    def free(self, row: int) -> None:
        self.source[row] = -1  # no item's code: never near again

    def candidates(self, column: Any, rec: _Rec, limits: Thresholds,
                   window: timedelta) -> Any:
        """The rows of `column` (cosines of `rec` to rows 0..len(column)-1) that might be
        accepted: every row a level-3 rule could accept, and maybe a few more."""
        np = self._np
        assert rec.clues is not None  # kept while level 3 runs
        topics, image, link = rec.clues
        low = min(limits.embedding, limits.embedding_topic, limits.embedding_evidence)
        rows = np.flatnonzero(column >= low)
        if not len(rows):
            return rows
        score = column[rows]
        source = self.source[rows]
        near = (source != self._sources.get(rec.source_id, -2)) & (source >= 0)
        near &= np.abs(self.time[rows] - _micros(rec.published)) <= window // _MICROSECOND
        strong = np.zeros(len(rows), dtype=bool)
        if rec.figures()[0]:
            strong |= self.numbers[rows]
        if (image_hash := _hash(image)) != 0:
            strong |= self.image[rows] == image_hash
        if (link_hash := _hash(link)) != 0:
            strong |= self.link[rows] == link_hash
        topic = (self.topics[rows] & np.uint64(_topic_bits(topics))) != 0
        keep = near & ((score >= limits.embedding)
                       | (score >= limits.embedding_topic) & (strong | topic)
                       | (score >= limits.embedding_evidence) & strong)
        return rows[keep]

    def _code(self, source_id: str) -> int:
        code = self._sources.get(source_id)
        if code is None:
            code = self._sources[source_id] = len(self._sources)
        return code

    def _grow(self, size: int) -> None:
        np = self._np
        for name in ("source", "time", "topics", "numbers", "image", "link"):
            old = getattr(self, name)
            new = np.full(size, -1, dtype=old.dtype) if name == "source" \
                else np.zeros(size, dtype=old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)

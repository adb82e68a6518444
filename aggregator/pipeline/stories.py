"""The Poller's story decider: one Clusterer per process, warmed from the store's window the
first time a feed brings something new. Decides only; the store writes what it says."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aggregator.config import Settings
from aggregator.models import Entry
from aggregator.pipeline.cluster import AUTO, Clusterer, ClusterItem, Decision
from aggregator.text import embed

if TYPE_CHECKING:
    from aggregator.store import Store


def new_story_id(_item: ClusterItem) -> str:
    """A story's permanent uid (its Atom entry id), minted once."""
    return str(uuid.uuid4())


def item_of(entry: Entry) -> ClusterItem:
    """An entry as the clusterer sees it; its key is (source_id, identity), known before the
    store gives it a row id."""
    return ClusterItem.from_entry(entry, key=(entry.source_id, entry.identity))


def views_of(entry: Entry) -> tuple[str, str] | None:
    """The clusterer's word views of `item_of(entry)`: title_key() of its title and of its
    summary text, cut from the entry's `text_key`, which normalize worked out in the parse
    worker; None (the clusterer works them out) for an entry read back from the store.

    title_key() maps character by character and then splits on spaces, and the text is the
    title, a space and the summary: so the text's key is the title's key, a space and the
    summary's (tests/test_cluster_views.py checks it on real and generated items)."""
    if entry.text_key is None:
        return None
    if not entry.text.startswith(entry.title):  # ClusterItem.from_entry's summary: the text
        return entry.title_key, entry.text_key
    if entry.title_key and not entry.text_key.startswith(entry.title_key):
        return None
    return entry.title_key, entry.text_key[len(entry.title_key):].strip()


class Stories:
    """Implements the store's StoryDecider over one Clusterer that outlives a pass (`run`
    keeps one across ticks, so it warms once)."""

    @classmethod
    def for_settings(cls, settings: Settings) -> Stories:
        """The window and level 3 as feeds.yaml sets them (`story_embeddings: false` turns
        the encoder off even when its package is installed)."""
        return cls(settings.story_window, embedder=AUTO if settings.story_embeddings else None)

    def __init__(self, window: timedelta, *, embedder: Any = AUTO) -> None:
        self.settings = (window, embedder is not None)  # what `run` compares on reload
        self.embedder: embed.Embedder | None = (
            embed.shared_embedder() if embedder is AUTO else embedder)
        # The window moves with the items' dates, and one pass stores its feeds in whatever
        # order they arrive: twice the window keeps an older feed's items matchable after a
        # newer feed was stored (tests/test_e2e.py polls fixture feeds a week apart).
        self.clusterer = Clusterer(window, new_story_id=new_story_id, embedder=self.embedder,
                                   keep=2 * window)
        self.warmed = False
        self._seen: int | None = None  # the highest stored item id the clusterer knows
        self._ahead: dict[Hashable, Any] = {}  # item key -> its vector, made by embed_ahead

    def warm(self, store: Store, now: datetime) -> None:
        """Load the stored window (and its kept vectors) once, before the first decision."""
        if self.warmed:
            return
        since = now - self.clusterer.window
        # Read first: items stored meanwhile by another poller come back in the catch-up.
        self._seen = store.last_item_id()
        stored = [(item_of(entry), uid) for entry, uid in store.window_items(since)]
        vectors: dict[Hashable, Any] | None = None
        if self.embedder is not None:
            vectors = {key: embed.from_bytes(data) for key, data
                       in store.window_vectors(since, self.embedder.name).items()}
        self.clusterer.warm(stored, vectors)
        self.warmed = True

    def decide(self, entries: Sequence[Entry]) -> list[Decision]:
        # The window moves with the items' own dates, not the clock: a feed republishing
        # last week's reports still groups them.
        ahead = [self._ahead.pop((e.source_id, e.identity), None) for e in entries] \
            if self._ahead else None
        return self.clusterer.add_many([item_of(e) for e in entries],
                                       views=[views_of(e) for e in entries], vectors=ahead)

    def embed_ahead(self, entries: Sequence[Entry]) -> None:
        """Embed these entries' level-3 texts now, in the calling thread, for `decide` to use
        instead of the encoder. The poller runs it in threads beside the store thread, for
        the entries of sources polled for the first time (all new, so none is wasted): the
        encoder's numpy work releases the GIL, so the second core does it meanwhile."""
        if self.embedder is None or not entries:
            return
        texts = [embed.embedding_text(item.title, item.summary_text, self.clusterer.embed_chars)
                 for item in map(item_of, entries)]
        for entry, vector in zip(entries, self.embedder.embed(texts), strict=True):
            self._ahead[(entry.source_id, entry.identity)] = vector

    def forget_ahead(self) -> None:
        """Drop the vectors embedded ahead that no decision used (entries already stored,
        feeds that failed): at the end of a pass."""
        self._ahead.clear()

    def vectors(self, keys: Sequence[Hashable]) -> tuple[str, dict[Hashable, bytes]] | None:
        if self.embedder is None:
            return None
        found = {key: self.clusterer.vector(key) for key in keys}
        return self.embedder.name, {k: embed.to_bytes(v) for k, v in found.items()
                                    if v is not None}

    # -- several pollers: what the others stored (the store calls these under its lock) --------

    @property
    def seen_item(self) -> int | None:
        return self._seen

    @property
    def vector_model(self) -> str | None:
        return self.embedder.name if self.embedder is not None else None

    def learn(self, stored: Sequence[tuple[Entry, str]], seen_item: int,
              vectors: Mapping[Hashable, bytes]) -> None:
        if stored:  # decided already, kept as decided
            self.clusterer.learn([(item_of(entry), uid) for entry, uid in stored],
                                 {key: embed.from_bytes(data) for key, data in vectors.items()})
        self._seen = seen_item

"""Re-applying the topic rules to stored items: `aggregator retag`, and `run` after a
reload that changed the topics."""

from __future__ import annotations

from aggregator.config import Config
from aggregator.explain import Retagged, retag, retag_summary
from aggregator.pipeline.tag import TopicMatcher
from aggregator.store import Store

BATCH = 2000  # topic changes written per transaction


def retag_store(config: Config, store: Store) -> str:
    """Store the topics the current rules give; return a one-line summary."""
    matcher = TopicMatcher(config.topics)
    changes: list[Retagged] = []
    pending: list[tuple[int, tuple[str, ...]]] = []
    for item_id, entry in store.stored_entries():
        for change in retag([entry], matcher):
            changes.append(change)
            pending.append((item_id, change.topics))
        if len(pending) >= BATCH:
            store.set_topics(pending)
            pending = []
    store.set_topics(pending)
    return retag_summary(changes)

"""What goes in and out of the clusterer: the item it places, the decision it returns and the
thresholds it decides by. Data only."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aggregator.models import Entry

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

"""The SQL tables (SQLModel). Only the store package imports this module.

Dates are stored as UTC; SQLite hands them back naive, so UTCDateTime re-attaches UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Index, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        value = _utc(value)
        # SQLite keeps no zone: store naive UTC there, aware elsewhere.
        return value.replace(tzinfo=None) if getattr(dialect, "name", "") == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else _read_utc(value)

    # SQLite: one call per value each way instead of three (ours, then SQLAlchemy's string
    # formatting or parsing); the text is the one SQLAlchemy's DATETIME writes and reads.
    # A first poll binds ~100,000 dates.

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_datetime


def _sqlite_text(value: datetime | None) -> str | None:
    """A UTC datetime as SQLite's DATETIME text: 2026-11-29 13:51:28.309761. %-formatting:
    1.0 µs, where isoformat(" ", "microseconds") and an f-string with format specs took 2;
    a first poll writes 80,000 dates."""
    if value is None:
        return None
    value = _utc(value)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 (twice as fast)
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond)


def _utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is refused (its zone is unknown)."""
    if value.tzinfo is UTC:  # most are already: astimezone() costs a call more
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return value.astimezone(UTC)


def _sqlite_datetime(value: str | None) -> datetime | None:
    """SQLite's DATETIME text (with or without microseconds) as an aware UTC datetime: read
    with the zone appended, one call (replace(tzinfo=UTC) afterwards cost four times the
    parse); a text written elsewhere that names its own zone is that instant, in UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value + "+00:00")
    except ValueError:  # a zone of its own
        parsed = datetime.fromisoformat(value)
    # a date alone comes back naive ("2026-11-29+00:00" is read without its zone)
    return parsed if parsed.tzinfo is UTC else _read_utc(parsed)


def _read_utc(value: datetime) -> datetime:
    """A stored datetime in UTC: a naive one is UTC already (SQLite keeps no zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dt(*, index: bool = False, nullable: bool = True) -> object:
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


def _text(nullable: bool = True) -> object:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


class SourceRow(SQLModel, table=True):
    """A source and its polling state."""

    __tablename__ = "sources"
    id: str = Field(primary_key=True, max_length=100)
    url: str = Field(sa_column=Column(Text, nullable=False))  # as in feeds.yaml
    fetch_url: str | None = _text()  # confirmed permanent redirect target, polled instead
    feed_title: str | None = _text()  # the feed's own title
    feed_link: str | None = _text()  # the feed's home page
    feed_language: str | None = Field(default=None, max_length=20)
    etag: str | None = _text()
    last_modified: str | None = _text()
    body_hash: str | None = Field(default=None, max_length=64)
    last_poll_at: datetime | None = _dt()
    last_success_at: datetime | None = _dt()
    last_outcome: str | None = Field(default=None, max_length=20)
    last_status: int | None = None
    last_error: str | None = _text()
    error_since: datetime | None = _dt()
    consecutive_errors: int = 0
    next_check_at: datetime | None = _dt(index=True)
    retired: bool = False  # 410 Gone: not polled until the operator edits its entry
    config_hash: str | None = Field(default=None, max_length=64)  # of its feeds.yaml entry
    redirect_url: str | None = _text()  # where the last polls were permanently redirected
    redirect_count: int = 0  # polls in a row that ended at redirect_url
    # Shared polling: which poller holds the source, and until when (a lease it renews while
    # the pass runs; a poller killed mid-pass lets it expire and another takes the source).
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = _dt()


class StoryRow(SQLModel, table=True):
    """One story: the same event told by one or more outlets."""

    __tablename__ = "stories"
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=64, unique=True)  # minted once: the published entry id
    created_at: datetime = _dt(nullable=False)  # type: ignore[assignment]


class ItemRow(SQLModel, table=True):
    """One item of one source, updated in place when its content changes."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_id", "identity", name="uq_items_source_identity"),
        Index("ix_items_title_key", "title_key"),
        Index("ix_items_canonical_link", "canonical_link"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(foreign_key="sources.id", max_length=100)
    identity: str = Field(sa_column=Column(Text, nullable=False))
    story_id: int = Field(foreign_key="stories.id", index=True)
    guid: str | None = _text()
    link: str | None = _text()
    canonical_link: str | None = _text()
    title: str = Field(sa_column=Column(Text, nullable=False))
    title_key: str = Field(sa_column=Column(Text, nullable=False))
    summary_html: str = Field(sa_column=Column(Text, nullable=False))
    content_html: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    author: str | None = _text()
    language: str | None = Field(default=None, max_length=20)
    image: str | None = _text()
    published: datetime = _dt(index=True, nullable=False)  # type: ignore[assignment]
    updated: datetime = _dt(nullable=False)  # type: ignore[assignment]
    first_seen: datetime = _dt(nullable=False)  # type: ignore[assignment]
    content_hash: str = Field(max_length=64)
    # How the clusterer placed it (aggregator explain-story); NULL for items stored before.
    join_level: int | None = None  # 0 new story / same identity, 1 link or title, 2, 3
    join_rule: str | None = Field(default=None, max_length=20)  # Decision.rule
    join_score: float | None = None  # 1.0, Jaccard (level 2) or cosine (level 3)
    join_match: int | None = None  # the item it matched, when still stored


class StoryAliasRow(SQLModel, table=True):
    """A story merged into another: its uid (an entry id readers saw) still resolves."""

    __tablename__ = "story_aliases"
    alias_uid: str = Field(primary_key=True, max_length=64)  # the absorbed story's uid
    story_id: int = Field(foreign_key="stories.id", index=True)  # the surviving story


class ItemVectorRow(SQLModel, table=True):
    """An item's level-3 sentence vector, so warming the clusterer does not re-embed it."""

    __tablename__ = "item_vectors"
    item_id: int = Field(foreign_key="items.id", primary_key=True)
    model: str = Field(max_length=64)  # Embedder.name
    vector: bytes  # little-endian float32


class ItemTopicRow(SQLModel, table=True):
    """Which topics an item has."""

    __tablename__ = "item_topics"
    item_id: int = Field(foreign_key="items.id", primary_key=True)
    topic: str = Field(primary_key=True, max_length=100, index=True)


class PollRow(SQLModel, table=True):
    """The poll log: one row per source per pass."""

    __tablename__ = "polls"
    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(max_length=100, index=True)
    started_at: datetime = _dt(index=True, nullable=False)  # type: ignore[assignment]
    duration: float = 0.0
    outcome: str = Field(max_length=20)
    status: int | None = None
    new: int = 0
    updated: int = 0
    error: str | None = _text()


class TombstoneRow(SQLModel, table=True):
    """An item removed by retention: its identity stays so it does not come back."""

    __tablename__ = "tombstones"
    source_id: str = Field(primary_key=True, max_length=100)
    identity: str = Field(sa_column=Column(Text, primary_key=True))
    removed_at: datetime = _dt(nullable=False)  # type: ignore[assignment]

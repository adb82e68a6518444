"""The first released schema: every table as it shipped before migrations existed.

Written out column by column, never from the tables module, so that later edits of tables.py
leave this revision alone. A database made before migrations (by `create_all`) is adopted:
tables it already has are kept, and the story-join columns the releases before story
clustering lacked are added to its items.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "items" in existing:
        _add_join_columns()
    for name, create in _TABLES:
        if name not in existing:
            create()


def downgrade() -> None:
    for name, _create in reversed(_TABLES):
        op.drop_table(name)


def _add_join_columns() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("items")}
    for column in _join_columns():
        if column.name not in have:
            op.add_column("items", column)


def _join_columns() -> list[sa.Column]:
    """Columns of items added by story clustering (the pre-migration code added them on start
    to the items of older releases)."""
    return [
        sa.Column("join_level", sa.Integer(), nullable=True),
        sa.Column("join_rule", sa.String(20), nullable=True),
        sa.Column("join_score", sa.Float(), nullable=True),
        sa.Column("join_match", sa.Integer(), nullable=True),
    ]


def _utc(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _sources() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetch_url", sa.Text(), nullable=True),
        sa.Column("feed_title", sa.Text(), nullable=True),
        sa.Column("feed_link", sa.Text(), nullable=True),
        sa.Column("feed_language", sa.String(20), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("body_hash", sa.String(64), nullable=True),
        _utc("last_poll_at"),
        _utc("last_success_at"),
        sa.Column("last_outcome", sa.String(20), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _utc("error_since"),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False),
        _utc("next_check_at"),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=True),
        sa.Column("redirect_url", sa.Text(), nullable=True),
        sa.Column("redirect_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sources_next_check_at", "sources", ["next_check_at"])


def _stories() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(64), nullable=False),
        _utc("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
    )


def _polls() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(100), nullable=False),
        _utc("started_at", nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_polls_source_id", "polls", ["source_id"])
    op.create_index("ix_polls_started_at", "polls", ["started_at"])


def _tombstones() -> None:
    op.create_table(
        "tombstones",
        sa.Column("source_id", sa.String(100), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        _utc("removed_at", nullable=False),
        sa.PrimaryKeyConstraint("source_id", "identity"),
    )


def _items() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(100), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("canonical_link", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_key", sa.Text(), nullable=False),
        sa.Column("summary_html", sa.Text(), nullable=False),
        sa.Column("content_html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("language", sa.String(20), nullable=True),
        sa.Column("image", sa.Text(), nullable=True),
        _utc("published", nullable=False),
        _utc("updated", nullable=False),
        _utc("first_seen", nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        *_join_columns(),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "identity", name="uq_items_source_identity"),
    )
    op.create_index("ix_items_canonical_link", "items", ["canonical_link"])
    op.create_index("ix_items_published", "items", ["published"])
    op.create_index("ix_items_story_id", "items", ["story_id"])
    op.create_index("ix_items_title_key", "items", ["title_key"])


def _story_aliases() -> None:
    op.create_table(
        "story_aliases",
        sa.Column("alias_uid", sa.String(64), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"]),
        sa.PrimaryKeyConstraint("alias_uid"),
    )
    op.create_index("ix_story_aliases_story_id", "story_aliases", ["story_id"])


def _item_vectors() -> None:
    op.create_table(
        "item_vectors",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"]),
        sa.PrimaryKeyConstraint("item_id"),
    )


def _item_topics() -> None:
    op.create_table(
        "item_topics",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"]),
        sa.PrimaryKeyConstraint("item_id", "topic"),
    )
    op.create_index("ix_item_topics_topic", "item_topics", ["topic"])


# In dependency order (foreign keys point backwards); downgrade drops them in reverse.
_TABLES = (
    ("sources", _sources),
    ("stories", _stories),
    ("polls", _polls),
    ("tombstones", _tombstones),
    ("items", _items),
    ("story_aliases", _story_aliases),
    ("item_vectors", _item_vectors),
    ("item_topics", _item_topics),
)

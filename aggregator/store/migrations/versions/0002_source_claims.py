"""Shared polling: a source's claim (which poller holds it, and until when).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("claimed_by", sa.String(100), nullable=True))
    op.add_column("sources", sa.Column("claimed_until", sa.DateTime(timezone=True),
                                       nullable=True))


def downgrade() -> None:
    op.drop_column("sources", "claimed_until")  # SQLite 3.35+ drops columns in place
    op.drop_column("sources", "claimed_by")

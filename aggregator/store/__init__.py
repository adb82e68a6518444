"""The store: SQL tables (SQLModel, SQLite by default, PostgreSQL too) behind one API.

SQLModel and SQLAlchemy are imported only inside this package.
"""

from aggregator.store.repository import (
    ItemOutline,
    ItemView,
    SourceStatus,
    Store,
    StoryOutline,
    StoryView,
)
from aggregator.store.schema import SchemaState, Upgrade, database_state, upgrade_database

__all__ = ["ItemOutline", "ItemView", "SchemaState", "SourceStatus", "Store", "StoryOutline",
           "StoryView", "Upgrade", "database_state", "upgrade_database"]

"""The store: SQL tables (SQLModel, SQLite by default, PostgreSQL too) behind one API.

SQLModel and SQLAlchemy are imported only inside this package.
"""

from aggregator.store.repository import ItemView, SourceStatus, Store, StoryView
from aggregator.store.schema import SchemaState, Upgrade, database_state, upgrade_database

__all__ = ["ItemView", "SchemaState", "SourceStatus", "Store", "StoryView", "Upgrade",
           "database_state", "upgrade_database"]

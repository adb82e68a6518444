"""The store: SQL tables (SQLModel, SQLite by default, PostgreSQL too) behind one API.

SQLModel and SQLAlchemy are imported only inside this package.
"""

from aggregator.store.repository import ItemView, SourceStatus, Store, StoryView

__all__ = ["ItemView", "SourceStatus", "Store", "StoryView"]

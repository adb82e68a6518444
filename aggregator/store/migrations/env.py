"""Alembic's entry point, run by aggregator.store.schema (there is no alembic.ini).

Migrations run on the connection schema.py opened and locked, inside the transaction it
holds: schema.py commits, so a failed migration leaves the database as it was (PostgreSQL and
SQLite both roll DDL back).
"""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()

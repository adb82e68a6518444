"""The database schema's revision: Alembic migrations, driven from here (no alembic.ini).

Every open of the store checks the revision: a fresh database gets the schema at once (so
`aggregator run` works on a fresh checkout); an older one is refused until the operator runs
`aggregator db upgrade`, because a schema changing under a cron job is a surprise nobody wants.
Alembic is imported only here and in migrations/, and only off the common path: a database
at HEAD costs two small queries and no Alembic import (which alone takes ~0.1 s).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import aggregator.store.tables  # noqa: F401  (registers the tables in SQLModel.metadata)
from aggregator.errors import SchemaOutOfDate, SchemaTooNew, StoreError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

HEAD = "0002"  # the newest revision in migrations/versions (tests/test_migrations.py checks it)
MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # Alembic's default, where it records the revision
SCHEMA_LOCK_KEY = 0x61677363  # "agsc": PostgreSQL advisory lock held while migrating
TABLES = frozenset(SQLModel.metadata.tables)  # the program's tables, by name

ONE_AT_A_TIME = threading.Lock()  # Alembic's `op` and `context` are module globals
log = logging.getLogger(__name__)
# Our own lines say what ran; Alembic's INFO lines (plugins set up on import, each revision
# run) would repeat them on every command that opens a fresh database.
logging.getLogger("alembic").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class SchemaState:
    """What a database holds, as far as its schema goes."""

    empty: bool  # none of the program's tables: a fresh database
    revision: str | None  # recorded by Alembic; None on a fresh or pre-migration database

    @property
    def up_to_date(self) -> bool:
        return not self.empty and self.revision == HEAD

    @property
    def usable(self) -> bool:
        """The store opens it: at HEAD, or empty (the first open creates the schema)."""
        return self.up_to_date or self.empty

    def describe(self) -> str:
        """One line for `aggregator db current`."""
        if self.up_to_date:
            return f"revision {HEAD} (up to date)"
        if self.revision not in (None, HEAD) and self.revision not in _known_revisions():
            return (f"revision {self.revision}, newer than this version of aggregator knows "
                    f"({HEAD}): upgrade aggregator")
        if self.empty:
            return f"no schema yet (empty database); the first open creates revision {HEAD}"
        have = f"revision {self.revision}" if self.revision else "made before schema migrations"
        return f"{have}; this version needs {HEAD}: run `aggregator db upgrade`"


@dataclass(frozen=True, slots=True)
class Upgrade:
    """What `aggregator db upgrade` did."""

    before: SchemaState  # the database as found
    applied: tuple[str, ...]  # "0002: what it does", oldest first; empty when up to date

    def report(self) -> list[str]:
        """What was done, one line each."""
        if not self.applied:
            return [f"nothing to do: the database is at revision {HEAD} (up to date)"]
        if self.before.empty:
            lines = ["empty database: creating the schema"]
        elif self.before.revision is None:
            lines = ["a database made before schema migrations: adopted by revision 0001, "
                     "its tables and rows kept"]
        else:
            lines = [f"upgrading from revision {self.before.revision}"]
        return [*lines, *(f"applied {step}" for step in self.applied),
                f"the database is at revision {HEAD} (up to date)"]


def ensure_schema(engine: Engine) -> None:
    """Create the schema of an empty database; raise SchemaError unless it is at HEAD."""
    with engine.connect() as conn:
        state = read_state(conn)
    if state.up_to_date:
        return
    _refuse_newer(state)
    if not state.empty:
        raise SchemaOutOfDate(current=state.revision, needed=HEAD)
    if _migrate(engine, create_only=True).applied:
        log.info("empty database: created the schema at revision %s", HEAD)


def upgrade_schema(engine: Engine) -> Upgrade:
    """Apply the pending migrations (`aggregator db upgrade`). A database made before migrations
    is adopted by revision 0001, which keeps its tables and adds what they lack."""
    return _migrate(engine, create_only=False)


def read_state(conn: Connection) -> SchemaState:
    """The database's schema state: two small queries, no Alembic."""
    tables = set(inspect(conn).get_table_names())
    revision = None
    if VERSION_TABLE in tables:
        revision = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    # Only the version table left (the program's tables dropped): nothing to keep, a fresh start.
    return SchemaState(empty=not tables & TABLES, revision=revision)


def database_state(url: str) -> SchemaState:
    """The schema state of the database at `url` (`aggregator db current`)."""
    with _opened(url) as engine, engine.connect() as conn:
        return read_state(conn)


def upgrade_database(url: str) -> Upgrade:
    """Upgrade the database at `url` to HEAD (`aggregator db upgrade`)."""
    with _opened(url) as engine:
        return upgrade_schema(engine)


def _migrate(engine: Engine, *, create_only: bool) -> Upgrade:
    """Under the schema lock, look again (another process may have migrated meanwhile) and
    run the migrations up to HEAD; `create_only` refuses anything but an empty database."""
    with _locked(engine) as conn:
        before = read_state(conn)
        if before.up_to_date:
            return Upgrade(before=before, applied=())
        _refuse_newer(before)
        if create_only and not before.empty:
            raise SchemaOutOfDate(current=before.revision, needed=HEAD)
        if before.empty and before.revision:  # a version left behind by dropped tables
            conn.execute(text(f"DELETE FROM {VERSION_TABLE}"))
            before = SchemaState(empty=True, revision=None)
        if create_only:  # empty: HEAD's tables at once, without loading Alembic
            _create_at_head(conn)
            return Upgrade(before=before, applied=(f"{HEAD}: created",))
        applied = _pending(before.revision)
        try:
            _run_alembic(conn)
        except Exception as exc:  # the lock's transaction rolls every step back
            raise StoreError(f"the schema migration failed and changed nothing: {exc}") from exc
        return Upgrade(before=before, applied=applied)


def _create_at_head(conn: Connection) -> None:
    """The tables of HEAD in an empty database, stamped with HEAD: what running every
    migration makes (tests/test_migrations.py compares the two), as Alembic's own recipe for
    a new database does (create_all, then stamp), without importing Alembic: a few MiB and
    ~0.1 s that a first poll into a fresh database would otherwise spend."""
    SQLModel.metadata.create_all(conn)
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version_num VARCHAR(32) "
                      f"NOT NULL, CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"))
    conn.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:head)"),
                 {"head": HEAD})


def _refuse_newer(state: SchemaState) -> None:
    if state.revision not in (None, HEAD) and state.revision not in _known_revisions():
        raise SchemaTooNew(current=state.revision, needed=HEAD)


@contextlib.contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection holding the schema lock, in a transaction committed when the block ends.

    PostgreSQL: a session advisory lock, so processes starting together on an empty database
    migrate once. SQLite: BEGIN IMMEDIATE takes the database's write lock (pysqlite would
    otherwise run DDL outside any transaction); others wait on the busy timeout.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
            conn.commit()
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})
                conn.commit()
        else:
            with conn.begin():
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn


def _run_alembic(conn: Connection) -> None:
    """Alembic's upgrade to HEAD on `conn`; migrations/env.py uses the connection as is."""
    from alembic import command

    with ONE_AT_A_TIME:  # two threads migrating two databases would mix their operations
        command.upgrade(_config(conn), "head")


def _config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def _known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def _pending(current: str | None) -> tuple[str, ...]:
    """The revisions from `current` (excluded) up to HEAD, oldest first, with what each does."""
    scripts = _scripts().iterate_revisions(HEAD, current or "base")
    return tuple(f"{s.revision}: {s.doc}" for s in reversed(list(scripts)))


@contextlib.contextmanager
def _opened(url: str) -> Iterator[Engine]:
    """An engine for `url` as the store makes it; connection failures become StoreError."""
    from aggregator.store.repository import _engine, _safe  # repository imports this module

    engine = _engine(url, echo=False)
    try:
        yield engine
    except StoreError:
        raise
    except Exception as exc:  # connection refused, bad URL, permissions…
        raise StoreError(f"cannot open database {_safe(url)}: {exc}") from exc
    finally:
        engine.dispose()

"""Shared pytest fixtures."""

import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer

# Validated configs are cached in the user's cache folder: the tests (and the processes they
# start) keep theirs in a folder of this run's own, never in the developer's home.
os.environ["AGGREGATOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="aggregator-test-cache-")


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A real HTTP server on 127.0.0.1, closed after the test."""
    server = FeedServer()
    try:
        yield server
    finally:
        server.close()


POSTGRES_URL = os.environ.get("AGGREGATOR_TEST_POSTGRES",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test run's own on the real PostgreSQL server, dropped at the
    end: concurrent runs on one machine (and their advisory locks) never meet."""
    if not _postgres_up():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not running at 127.0.0.1:5432 (CI needs it)")
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
    import uuid

    import psycopg

    name = f"aggregator_test_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, then the real PostgreSQL server (emptied first)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    import aggregator.store.tables  # noqa: F401  (registers the tables)

    engine = create_engine(url)
    SQLModel.metadata.drop_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def scratch_engine(database_url: str) -> Iterator[Callable[[Any], Any]]:
    """Gives an engine on `database_url` with a MetaData's tables created empty (dropped
    first, should a failed run have left them); drops them and disposes of the engine after
    the test."""
    from sqlalchemy import create_engine

    made: list[tuple[Any, Any]] = []

    def make(meta: Any) -> Any:
        engine = create_engine(database_url)
        meta.drop_all(engine)
        meta.create_all(engine)
        made.append((engine, meta))
        return engine

    yield make
    for engine, meta in made:
        meta.drop_all(engine)
        engine.dispose()

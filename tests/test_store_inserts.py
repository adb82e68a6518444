"""repository._insert_rows: the store's bulk INSERTs. On SQLite the rows go to the driver
through a statement and bind processors prepared once; what lands must be what SQLAlchemy's
own executemany writes, to the byte, since dates are compared as text there. Elsewhere the
rows go through SQLAlchemy (insertmanyvalues)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session

from aggregator.store.repository import _driver_insert, _insert_rows
from aggregator.store.tables import UTCDateTime

ROWS = [{"name": "أ" * 3, "at": datetime(2026, 11, 29, 13, 51, 28, 309761, tzinfo=UTC),
         "blob": b"\x00\x01", "n": 1},
        {"name": None, "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "blob": None, "n": 2},
        {"name": "x", "at": datetime(2026, 5, 5, 23, 0, 0, 5, tzinfo=timezone(timedelta(hours=3))),
         "blob": b"", "n": 3},
        {"name": "y", "at": None, "blob": b"z" * 10, "n": 4}]


@pytest.fixture
def tables(scratch_engine):  # type: ignore[no-untyped-def]
    meta = MetaData()
    made = [Table(name, meta, Column("id", Integer, primary_key=True), Column("name", Text),
                  Column("at", UTCDateTime()), Column("blob", LargeBinary), Column("n", Integer))
            for name in ("inserts_ours", "inserts_sqlalchemy")]
    return scratch_engine(meta), made


def test_rows_land_as_sqlalchemy_writes_them(tables) -> None:  # type: ignore[no-untyped-def]
    engine, (ours, theirs) = tables
    with Session(engine) as s, s.begin():
        _insert_rows(s, ours, ROWS)
        _insert_rows(s, ours, [])  # nothing to do
        s.execute(insert(theirs), ROWS)
    with engine.connect() as conn:  # the stored values as the database holds them
        raw = [conn.execute(text(f"SELECT id, name, at, blob, n FROM {t.name} ORDER BY id"))
               .all() for t in (ours, theirs)]
        typed = conn.execute(select(ours.c.at).order_by(ours.c.id)).scalars().all()
    assert raw[0] == raw[1]
    assert [bytes(r.blob) if r.blob is not None else None for r in raw[0]] == \
        [r["blob"] for r in ROWS]
    assert typed == [r["at"] for r in ROWS]  # the same instants, aware UTC
    assert all(at.tzinfo is UTC for at in typed if at is not None)


def test_driver_path_on_sqlite_only(tables) -> None:  # type: ignore[no-untyped-def]
    engine, (ours, _) = tables
    prepared = _driver_insert(ours, tuple(ROWS[0]), engine.dialect)
    if engine.dialect.name != "sqlite":
        assert prepared is None
        return
    assert prepared is not None
    sql, order, processed = prepared
    assert sql.startswith("INSERT INTO inserts_ours") and sql.count("?") == len(ROWS[0])
    assert sorted(order) == sorted(ROWS[0])
    # the dates (our text) and the bytes (the driver's Binary) need a processor: not the rest
    assert sorted(order[at] for at, _ in processed) == ["at", "blob"]


def test_a_naive_date_is_refused(tables) -> None:  # type: ignore[no-untyped-def]
    engine, (ours, _) = tables
    with pytest.raises(Exception, match="naive datetime"), Session(engine) as s, s.begin():
        _insert_rows(s, ours, [dict(ROWS[0], at=datetime(2026, 1, 1))])
    with engine.connect() as conn:
        assert conn.execute(select(ours.c.id)).all() == []


def test_a_pass_s_checkpoints_run_in_a_thread_of_their_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Store.checkpointing: while a pass writes, the write-ahead log is copied into the
    database file by a thread of its own, not by the commits (here a writer that never
    checkpoints: without the thread, the file would not grow). The thread ends with the
    block; in memory there is none."""
    import sqlite3
    import threading
    import time

    from aggregator.store import Store

    path = tmp_path / "db.sqlite"
    with Store(f"sqlite:///{path}") as store:
        writer = sqlite3.connect(path)
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("CREATE TABLE filler (x BLOB)")
        writer.commit()
        before = path.stat().st_size
        with store.checkpointing(every=0.01):
            for _ in range(20):
                writer.execute("INSERT INTO filler VALUES (?)", (b"x" * 50_000,))
                writer.commit()
            deadline = time.monotonic() + 10  # a bound, left as soon as the file has grown
            while path.stat().st_size < before + 900_000 and time.monotonic() < deadline:
                time.sleep(0.01)
            grown = path.stat().st_size
        writer.close()
        assert grown >= before + 900_000, (before, grown)
        assert "checkpoint" not in {t.name for t in threading.enumerate()}
    with Store("sqlite://") as memory, memory.checkpointing(every=0.01):
        assert "checkpoint" not in {t.name for t in threading.enumerate()}

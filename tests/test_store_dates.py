"""Dates through the store: aware UTC in, aware UTC out, on SQLite as the text SQLAlchemy's
own DATETIME type writes (tables.UTCDateTime handles it in one step there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.dialects.sqlite.base import DATETIME

from aggregator.store.tables import UTCDateTime

DATES = [datetime(2026, 11, 29, 13, 51, 28, 309761, tzinfo=UTC),
         datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds
         datetime(2026, 5, 5, 23, 0, 0, 5, tzinfo=timezone(timedelta(hours=3))),  # not UTC
         datetime(1, 1, 1, tzinfo=UTC)]


@pytest.fixture
def table(scratch_engine):  # type: ignore[no-untyped-def]
    meta = MetaData()
    dates = Table("dates_probe", meta, Column("id", Integer, primary_key=True),
                  Column("at", UTCDateTime()))
    return scratch_engine(meta), dates


def test_dates_round_trip_as_aware_utc(table) -> None:  # type: ignore[no-untyped-def]
    engine, dates = table
    with engine.begin() as conn:
        conn.execute(insert(dates), [{"id": n, "at": d} for n, d in enumerate(DATES)])
        conn.execute(insert(dates), [{"id": 99, "at": None}])
        back = dict(conn.execute(select(dates.c.id, dates.c.at)).all())
    assert [back[n] for n in range(len(DATES))] == DATES  # equal instants
    assert all(back[n].tzinfo is UTC for n in range(len(DATES)))
    assert back[99] is None
    if engine.dialect.name == "sqlite":  # the text SQLAlchemy's DATETIME would have written
        with engine.connect() as conn:
            stored = dict(conn.execute(text("SELECT id, at FROM dates_probe")).all())
        sqlalchemy_text = DATETIME().bind_processor(engine.dialect)
        assert [stored[n] for n in range(len(DATES))] == [
            sqlalchemy_text(d.astimezone(UTC).replace(tzinfo=None)) for d in DATES]


def test_rows_written_by_sqlite_itself_read_back(table) -> None:  # type: ignore[no-untyped-def]
    engine, dates = table
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own date text")
    with engine.begin() as conn:  # CURRENT_TIMESTAMP has no fraction of a second
        conn.execute(text("INSERT INTO dates_probe (id, at) VALUES (1, '2026-11-29 13:51:28')"))
        assert conn.execute(select(dates.c.at)).scalar_one() == datetime(
            2026, 11, 29, 13, 51, 28, tzinfo=UTC)
        # another tool's text naming its zone: that instant, in UTC
        conn.execute(text("UPDATE dates_probe SET at = '2026-11-29 16:51:28.5+03:00'"))
        at = conn.execute(select(dates.c.at)).scalar_one()
        assert at == datetime(2026, 11, 29, 13, 51, 28, 500000, tzinfo=UTC) and at.tzinfo is UTC
        conn.execute(text("UPDATE dates_probe SET at = '2026-11-29'"))  # a date alone: midnight
        assert conn.execute(select(dates.c.at)).scalar_one() == datetime(2026, 11, 29, tzinfo=UTC)


def test_a_naive_date_is_refused(table) -> None:  # type: ignore[no-untyped-def]
    engine, dates = table
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(dates), [{"id": 1, "at": datetime(2026, 1, 1)}])

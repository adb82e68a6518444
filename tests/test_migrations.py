"""Schema migrations (Alembic) on SQLite and the real PostgreSQL: a database of the first
released schema, with data in it, upgraded by `aggregator db upgrade`; every command refusing
an out-of-date schema; a fresh database created at HEAD, once, however many processes start
together; and the migrations agreeing with tables.py."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from feedserver import FeedServer
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from aggregator.cli import COMMANDS, main
from aggregator.errors import SchemaOutOfDate, SchemaTooNew
from aggregator.store import Store
from aggregator.store import schema as store_schema

ROOT = Path(__file__).resolve().parent.parent
FROZEN = Path(__file__).parent / "data" / "schema"
NOW = datetime.now(UTC).replace(microsecond=0)
# Story uids are minted UUIDs (the Atom entry ids readers keep).
UID_ONE, UID_TWO, UID_ABSORBED = ("6d1c0a52-4f3e-4c1b-9a8e-2b7d5e9f0a11",
                                  "b3e4f5a6-0718-4c29-8d3a-4b5c6d7e8f90",
                                  "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")
NEW_COLUMNS = {"sources": {"claimed_by", "claimed_until"}}  # added by revisions after 0001
JOIN_COLUMNS = {"join_level", "join_rule", "join_score", "join_match"}
ALL_TABLES = ("sources", "stories", "story_aliases", "items", "item_topics", "item_vectors",
              "polls", "tombstones")
KEYS = {"sources": "id", "stories": "id", "story_aliases": "alias_uid", "items": "id",
        "item_topics": "item_id, topic", "item_vectors": "item_id", "polls": "id",
        "tombstones": "source_id, identity"}

# Every command that opens the store, with arguments that get it there; the others never do.
OPENING = {
    "poll": ["poll", "--all"], "publish": ["publish"], "status": ["status"],
    "stories": ["stories", "--since", "7d"], "explain": ["explain", "1"],
    "explain-story": ["explain-story", UID_ONE], "retag": ["retag"],
    "export-opml": ["export-opml", "-o", "sources.opml"],
    "run": ["run", "--no-serve", "--tick", "1"],
    "serve": ["serve", "--port", "0"],  # reads it for /status only, but checks it first
}
SERVING = {"run", "serve"}  # would serve forever if they did not refuse: processes of their own
NOT_OPENING = {"check", "import-opml", "demo",  # demo brings its own database
               "db"}  # reports and upgrades the schema instead of refusing


# -- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def url(database_url: str) -> Iterator[str]:
    """An empty database; on PostgreSQL also without the version table a test left."""
    _drop_version_table(database_url)
    yield database_url
    _drop_version_table(database_url)


def _drop_version_table(url: str) -> None:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    """A plain engine for looking at the database behind the program's back."""
    engine = create_engine(url)
    yield engine
    engine.dispose()


def _config(url: str, tmp_path: Path, feed_server: FeedServer) -> Path:
    feed_server.serve_file("/en.xml", "rss20_en.xml")
    feed_server.serve_file("/ar.xml", "rss20_ar.xml")
    path = tmp_path / "feeds.yaml"
    path.write_text(f"""\
settings:
  database: {url}
  output_dir: {tmp_path / "public"}
  base_url: https://news.example/
  default_interval: 30m
sources:
  - {{id: old-en, url: '{feed_server.url("/en.xml")}'}}
  - {{id: old-ar, url: '{feed_server.url("/ar.xml")}'}}
topics:
  ukraine: {{terms: [Kyiv, كييف, Ukraine, أوكرانيا, Zelensky, زيلينسكي]}}
  iran: {{terms: [Iran, إيران]}}
sections:
  - {{id: ukraine, title: Ukraine, topics: [ukraine]}}
  - {{id: iran, title: Iran, topics: [iran]}}
""", encoding="utf-8")
    return path


def _migrate_to(url: str, revision: str) -> None:
    """Run the package's migrations up to `revision` only, as an older release would have."""
    config = Config()
    config.set_main_option("script_location", str(store_schema.MIGRATIONS))
    config.set_main_option("path_separator", "os")
    engine = create_engine(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


def _run_frozen(engine: Engine, name: str) -> None:
    """Create a schema from the DDL frozen in tests/data/schema (made before migrations)."""
    sql = (FROZEN / f"{name}.{engine.dialect.name}.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    with engine.begin() as conn:
        for statement in filter(None, (s.strip() for s in body.split(";"))):
            conn.exec_driver_sql(statement)


def _when(conn: Connection, hours_ago: float) -> Any:
    """A stored date as the UTCDateTime column writes it: naive UTC text on SQLite."""
    value = NOW - timedelta(hours=hours_ago)
    if conn.dialect.name == "sqlite":
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _insert(conn: Connection, table: str, **row: Any) -> None:
    names = ", ".join(f'"{n}"' for n in row)
    values = ", ".join(f":{n}" for n in row)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({values})"), row)


def _item(conn: Connection, item_id: int, source: str, story: int, title: str, language: str,
          hours_ago: float, **extra: Any) -> None:
    link = f"https://{source}.example/{item_id}"
    _insert(conn, "items", id=item_id, source_id=source, identity=link, story_id=story,
            guid=link, link=link, canonical_link=link, title=title, title_key=title.lower(),
            summary_html=f"<p>{title}</p>", content_html="", text=title, author=None,
            language=language, image=None, published=_when(conn, hours_ago),
            updated=_when(conn, hours_ago), first_seen=_when(conn, hours_ago),
            content_hash=f"{item_id:064x}", **extra)


def _seed(engine: Engine, *, stories_schema: bool) -> None:
    """Rows of every table, as the first release wrote them (`stories_schema`: the release
    with story clustering, its aliases, vectors and join columns)."""
    with engine.begin() as conn:
        _insert(conn, "sources", id="old-en", url="https://old.example/en.xml",
                fetch_url=None, feed_title="Old Wire", feed_link="https://old.example/",
                feed_language="en", etag='"v1"', last_modified="Mon, 23 Nov 2026 08:00:00 GMT",
                body_hash="ab" * 32, last_poll_at=_when(conn, 2), last_success_at=_when(conn, 2),
                last_outcome="new", last_status=200, last_error=None, error_since=None,
                consecutive_errors=0, next_check_at=_when(conn, 1), retired=False,
                config_hash=None, redirect_url=None, redirect_count=0)
        _insert(conn, "sources", id="old-ar", url="https://old.example/ar.xml",
                fetch_url="https://new.example/ar.xml", feed_title="المرصد",
                feed_link="https://old.example/ar/", feed_language="ar", etag=None,
                last_modified=None, body_hash=None, last_poll_at=_when(conn, 1),
                last_success_at=_when(conn, 5), last_outcome="error", last_status=500,
                last_error="HTTP 500", error_since=_when(conn, 3), consecutive_errors=2,
                next_check_at=_when(conn, 0.5), retired=False, config_hash=None,
                redirect_url="https://new.example/ar.xml", redirect_count=3)
        _insert(conn, "stories", id=1, uid=UID_ONE, created_at=_when(conn, 6))
        _insert(conn, "stories", id=2, uid=UID_TWO, created_at=_when(conn, 4))
        joins = ({"join_level": 0, "join_rule": "new", "join_score": 1.0, "join_match": None},
                 {"join_level": 3, "join_rule": "embedding", "join_score": 0.875,
                  "join_match": 1},
                 {})  # item 3: stored before decisions were recorded
        titles = (("old-en", 1, "Zelensky says Kyiv is ready for talks", "en", 6),
                  ("old-ar", 1, "زيلينسكي: كييف مستعدة للمحادثات", "ar", 5.5),
                  ("old-en", 2, "Iran agrees to new round of talks", "en", 4))
        for number, ((source, story, title, language, hours), join) in enumerate(
                zip(titles, joins, strict=True), start=1):
            _item(conn, number, source, story, title, language, hours,
                  **(join if stories_schema else {}))
        for item_id, topic in ((1, "ukraine"), (2, "ukraine"), (3, "iran")):
            _insert(conn, "item_topics", item_id=item_id, topic=topic)
        if stories_schema:
            # a story merged into story 1: its row gone, its uid an alias
            _insert(conn, "story_aliases", alias_uid=UID_ABSORBED, story_id=1)
            _insert(conn, "item_vectors", item_id=1, model="old-model",
                    vector=bytes(range(16)))
        for poll_id, (source, outcome) in enumerate((("old-en", "new"), ("old-ar", "error")),
                                                    start=1):
            _insert(conn, "polls", id=poll_id, source_id=source, started_at=_when(conn, 2),
                    duration=0.25, outcome=outcome, status=200 if outcome == "new" else 500,
                    new=2 if outcome == "new" else 0, updated=0,
                    error=None if outcome == "new" else "HTTP 500")
        _insert(conn, "tombstones", source_id="old-en", identity="https://old-en.example/0",
                removed_at=_when(conn, 30))
        if conn.dialect.name == "postgresql":  # ids given explicitly: move the sequences on
            for table in ("stories", "items", "polls"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))


def _dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table there is, in key order."""
    with engine.connect() as conn:
        have = set(inspect(conn).get_table_names())
        return {table: [dict(r._mapping) for r in conn.execute(text(
                    f"SELECT * FROM {table} ORDER BY {KEYS[table]}"))]
                for table in ALL_TABLES if table in have}


def _revision(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return []
        return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]


def _differences(engine: Engine) -> list[Any]:
    """What autogenerate would write to bring the database to tables.py: nothing, always."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))


def _make_old(engine: Engine, url: str, origin: str) -> None:
    """A database of an older release, with data: from the DDL create_all ran before migrations
    existed ('first-release', 'pre-stories'), or from the migrations up to revision 0001."""
    if origin == "revision 0001":
        _migrate_to(url, "0001")
    else:
        _run_frozen(engine, origin)
    _seed(engine, stories_schema=origin != "pre-stories")


# -- (a) upgrading a database of the first released schema, with data -------------------------


@pytest.mark.parametrize("origin", ["first-release", "pre-stories", "revision 0001"])
def test_db_upgrade_keeps_every_row(origin: str, url: str, engine: Engine, tmp_path: Path,
                                    feed_server: FeedServer,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _make_old(engine, url, origin)
    before = _dump(engine)
    with pytest.raises(SchemaOutOfDate) as refused:
        Store(url)
    assert refused.value.current == ("0001" if origin == "revision 0001" else None)
    assert refused.value.needed == store_schema.HEAD

    config = _config(url, tmp_path, feed_server)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert f"the database is at revision {store_schema.HEAD} (up to date)" in out
    assert "applied 0002: Shared polling" in out
    assert ("adopted by revision 0001" in out) == (origin != "revision 0001")

    after = _dump(engine)
    assert _revision(engine) == [store_schema.HEAD]
    assert _differences(engine) == []
    assert set(after) == set(ALL_TABLES)
    for table, rows in before.items():
        added = NEW_COLUMNS.get(table, set()) | (JOIN_COLUMNS if table == "items" else set())
        assert [{k: v for k, v in r.items() if k in rows[0]} for r in after[table]] == rows
        assert all(r[k] is None for r in after[table] for k in added - set(rows[0]))

    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["--config", str(config), "db", "current"]) == 0
    assert capsys.readouterr().out == f"revision {store_schema.HEAD} (up to date)\n"
    assert _dump(engine) == after


def test_upgraded_database_works(url: str, engine: Engine, tmp_path: Path,
                                 feed_server: FeedServer,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """After the upgrade every command works on the old rows and the new ones alike."""
    _make_old(engine, url, "first-release")
    config = _config(url, tmp_path, feed_server)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert main(["--config", str(config), "status"]) == 0
    status = capsys.readouterr().out
    assert "HTTP 500" in status and "2 sources" in status
    assert main(["--config", str(config), "explain-story", UID_ABSORBED]) == 0
    joins = capsys.readouterr().out
    assert f"{UID_ABSORBED} was merged into {UID_ONE}" in joins
    assert "level 3, rule embedding, score 0.875, matched item 1" in joins

    assert main(["--config", str(config), "poll", "--all"]) == 0
    polled = capsys.readouterr().out
    assert "old-en: new" in polled and "old-ar: new" in polled
    with Store(url) as store:
        assert store.count("items") > 3 and store.count("polls") == 4
    assert main(["--config", str(config), "stories", "--since", "7d"]) == 0
    stories = capsys.readouterr().out
    assert UID_TWO in stories and "Iran agrees to new round of talks" in stories
    assert (tmp_path / "public" / "ukraine.atom").exists()


def test_db_upgrade_as_a_process(tmp_path: Path, feed_server: FeedServer) -> None:
    """The entry point as cron runs it (SQLite only: the tests above cover both engines):
    status refuses, db upgrade upgrades, status then works."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    _make_old(engine, url, "first-release")
    config = str(_config(url, tmp_path, feed_server))

    def aggregator(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aggregator", "--config", config, *args],
                              capture_output=True, text=True, timeout=120, check=False)

    refused = aggregator("status")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        "error: the database schema is out of date (created before schema migrations, this "
        f"version needs {store_schema.HEAD}); run `aggregator db upgrade` first — "
        "`aggregator status` did not run"]
    upgraded = aggregator("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stderr == ""  # Alembic's own INFO lines stay quiet
    assert aggregator("status").returncode == 0
    assert _revision(engine) == [store_schema.HEAD]
    engine.dispose()


def test_failed_migration_changes_nothing(url: str, engine: Engine) -> None:
    """A migration that fails halfway leaves the database as it was (transactional DDL)."""
    _migrate_to(url, "0001")
    with engine.begin() as conn:  # 0002's second column is there already: its step fails
        conn.execute(text("ALTER TABLE sources ADD COLUMN claimed_until TIMESTAMP"))
    with pytest.raises(Exception, match="migration failed and changed nothing"):
        store_schema.upgrade_schema(engine)
    assert _revision(engine) == ["0001"]
    with engine.connect() as conn:
        assert "claimed_by" not in {c["name"] for c in inspect(conn).get_columns("sources")}


# -- (b) every command refuses an out-of-date schema --------------------------------------------


def test_every_command_is_classified() -> None:
    """A new command must say whether it opens the store, so (b) covers it."""
    assert set(OPENING) | NOT_OPENING == set(COMMANDS)


@pytest.mark.parametrize("origin", ["revision 0001", "first-release"])
def test_every_command_refuses_an_old_schema(origin: str, url: str, engine: Engine,
                                             tmp_path: Path, feed_server: FeedServer,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _make_old(engine, url, origin)
    before, revision = _dump(engine), _revision(engine)
    config = _config(url, tmp_path, feed_server)
    have = "revision 0001" if origin == "revision 0001" else "created before schema migrations"
    for name, args in OPENING.items():
        if name in SERVING:
            continue
        assert main(["--config", str(config), *args]) == 1, name
        captured = capsys.readouterr()
        assert captured.err.strip().splitlines()[-1] == (
            f"error: the database schema is out of date ({have}, this version needs "
            f"{store_schema.HEAD}); run `aggregator db upgrade` first — "
            f"`aggregator {name}` did not run")
        assert captured.out == "", name
    for name in SERVING:
        run = subprocess.run([sys.executable, "-m", "aggregator", "--config", str(config),
                              *OPENING[name]], capture_output=True, text=True, timeout=120,
                             check=False)
        assert run.returncode == 1 and f"`aggregator {name}` did not run" in run.stderr
    assert _dump(engine) == before and _revision(engine) == revision
    assert not (tmp_path / "public").exists() and not (tmp_path / "sources.opml").exists()
    assert feed_server.hits("/en.xml") == feed_server.hits("/ar.xml") == 0  # nothing fetched


def test_a_newer_schema_is_refused(url: str, engine: Engine, tmp_path: Path,
                                   feed_server: FeedServer,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    Store(url).close()
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(SchemaTooNew):
        Store(url)
    config = _config(url, tmp_path, feed_server)
    for args in (["poll"], ["db", "upgrade"]):
        assert main(["--config", str(config), *args]) == 1
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            "error: the database schema is at revision 0099, newer than this version of "
            f"aggregator knows ({store_schema.HEAD}); upgrade aggregator — "
            f"`aggregator {' '.join(args)}` did not run")
    assert main(["--config", str(config), "db", "current"]) == 1
    assert "revision 0099, newer than" in capsys.readouterr().out
    assert _revision(engine) == ["0099"]


# -- (c) a fresh database is created at HEAD ----------------------------------------------------


def test_fresh_database_is_created_at_head(url: str, engine: Engine, tmp_path: Path,
                                           feed_server: FeedServer,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(url, tmp_path, feed_server)
    assert main(["--config", str(config), "db", "current"]) == 0
    assert "no schema yet" in capsys.readouterr().out
    assert main(["--config", str(config), "status"]) == 0
    assert _revision(engine) == [store_schema.HEAD]
    assert _differences(engine) == []


def test_a_fresh_database_does_not_load_alembic(url: str, engine: Engine) -> None:
    """The first open of an empty database (a first poll) makes HEAD's tables directly, as
    every migration would have, and stamps HEAD: the same schema, and `db upgrade` finds
    nothing to do."""
    probe = ("import sys; from aggregator.store import Store; Store(sys.argv[1]).close(); "
             "print('alembic' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "False"
    assert _revision(engine) == [store_schema.HEAD] and _differences(engine) == []
    assert store_schema.upgrade_database(url).applied == ()
    if engine.dialect.name == "sqlite":  # index and constraint names too, beside migrations'
        migrated = url.replace(".db", "-migrated.db")
        assert migrated != url
        _migrate_to(migrated, "head")
        assert _names(create_engine(url)) == _names(create_engine(migrated))


def _names(engine: Engine) -> dict[str, list[Any]]:
    try:
        found = inspect(engine)
        return {table: sorted([*(i["name"] for i in found.get_indexes(table)),
                               *(u["name"] or "" for u in found.get_unique_constraints(table)),
                               *(c["name"] for c in found.get_columns(table))])
                for table in found.get_table_names()}
    finally:
        engine.dispose()


def test_version_left_behind_by_dropped_tables(url: str, engine: Engine) -> None:
    """Tables dropped but Alembic's version row kept (drop_all does that): a fresh start."""
    Store(url).close()
    SQLModel.metadata.drop_all(engine)
    assert _revision(engine) == [store_schema.HEAD]
    Store(url).close()
    assert _revision(engine) == [store_schema.HEAD] and _differences(engine) == []


def test_opening_at_head_is_cheap(url: str, engine: Engine) -> None:
    """`poll` runs from cron: at HEAD, a check is two small queries and no Alembic import."""
    Store(url).close()
    statements: list[str] = []
    with engine.connect() as conn:  # the dialect's first-connect queries are not ours
        conn.execute(text("SELECT 1"))
    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    store_schema.ensure_schema(engine)
    assert len(statements) == 2, statements
    probe = ("import sys; from aggregator.store import Store; Store(sys.argv[1]).close(); "
             "print('alembic' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "False"


# -- (d) the migrations agree with tables.py ----------------------------------------------------


def test_migrations_match_the_tables(url: str, engine: Engine) -> None:
    """Run every migration: the schema equals SQLModel.metadata, so a tables.py edit without a
    migration fails here. Revision 0001 alone differs (the comparison can fail)."""
    _migrate_to(url, "0001")
    missing = {(d[0], d[3].name) for d in _differences(engine) if d[0] == "add_column"}
    assert missing == {("add_column", "claimed_by"), ("add_column", "claimed_until")}
    _migrate_to(url, "head")
    assert _differences(engine) == []


def test_downgrades_undo_the_upgrades(url: str, engine: Engine) -> None:
    _migrate_to(url, "head")
    config = Config()
    config.set_main_option("script_location", str(store_schema.MIGRATIONS))
    config.set_main_option("path_separator", "os")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    _migrate_to(url, "head")
    assert _differences(engine) == []


def test_head_constant_is_the_newest_revision() -> None:
    config = Config()
    config.set_main_option("script_location", str(store_schema.MIGRATIONS))
    config.set_main_option("path_separator", "os")
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [store_schema.HEAD]
    assert [s.revision for s in scripts.walk_revisions()] == ["0002", "0001"]


def test_migrations_ship_in_the_package() -> None:
    """Every file of migrations/ matches a package-data pattern of pyproject.toml."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["aggregator"]
    package = ROOT / "aggregator"
    files = [p.relative_to(package).as_posix() for p in store_schema.MIGRATIONS.rglob("*.py")]
    assert len(files) >= 3
    assert all(any(fnmatch(f, pattern) for pattern in patterns) for f in files), files


# -- (e) processes starting together on an empty database ---------------------------------------


def test_concurrent_first_open(url: str, engine: Engine, tmp_path: Path) -> None:
    """Three processes opening one empty database at the same moment: one creates the schema,
    the others wait for it (PostgreSQL: advisory lock; SQLite: its write lock) and find it
    done. Without the lock two of them fail (duplicate tables or columns)."""
    go = tmp_path / "go"
    child = ("import os, sys, time\n"
             "from aggregator.store import Store, schema\n"
             "import alembic.command\n"  # loaded before the start: the race is the database's
             "print('ready', flush=True)\n"
             "while not os.path.exists(sys.argv[2]):\n"
             "    time.sleep(0.002)\n"
             "Store(sys.argv[1]).close()\n"
             "print('opened')\n")
    processes = [subprocess.Popen([sys.executable, "-c", child, url, str(go)], text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(3)]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        go.touch()
        results = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [(p.returncode, out) for p, (out, _err) in zip(processes, results, strict=True)] == \
        [(0, "opened\n")] * 3, [err for _out, err in results]
    assert _revision(engine) == [store_schema.HEAD]
    assert _differences(engine) == []


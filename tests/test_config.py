"""load_config: the shipped feeds.yaml, every error with its exact `file:line: path: message`,
value parsing, path resolution, the AGGREGATOR_DATABASE override, and plain picklable output."""

from __future__ import annotations

import ast
import dataclasses
import pickle
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.config import Config, load_config
from aggregator.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = """\
sources:
  - id: bbc-arabic
    url: https://feeds.bbci.co.uk/arabic/rss.xml
topics:
  iran:
    terms: [إيران, Iran]
sections:
  - id: iran
    title: إيران
    topics: [iran]
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Errors then read `feeds.yaml:LINE: ...` as an operator sees them, and a developer's
    # own AGGREGATOR_DATABASE cannot leak into the results.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGGREGATOR_DATABASE", raising=False)
    monkeypatch.delenv("AGGREGATOR_DATABASE_FILE", raising=False)


def load(text: str, name: str = "feeds.yaml") -> Config:
    Path(name).write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(name)


def error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(text)
    return str(caught.value)


# --- the shipped file --------------------------------------------------------------------------

def test_shipped_feeds_yaml_is_a_useful_configuration() -> None:
    config = load_config(ROOT / "feeds.yaml")

    assert len(config.sources) >= 12
    assert {s.language for s in config.sources} == {"ar", "en"}
    topic_ids = {t.id for t in config.topics}
    source_ids = {s.id for s in config.sources}
    assert {"russia-ukraine", "iran", "us-politics"} <= topic_ids
    section_ids = {s.id for s in config.sections}
    assert {"russia-ukraine", "iran", "middle-east", "us-politics"} <= section_ids
    for section in config.sections:
        assert section.topics and set(section.topics) <= topic_ids
        assert set(section.sources) <= source_ids
    assert any(section.languages == ("ar",) for section in config.sections)
    terms = {t.id: t.terms for t in config.topics}
    assert {"ترامب", "ترمب"} <= set(terms["us-politics"])  # both common spellings
    assert {"زيلينسكي", "زيلنسكي"} <= set(terms["russia-ukraine"])


def test_shipped_settings_are_the_documented_defaults() -> None:
    settings = load_config(ROOT / "feeds.yaml").settings

    assert settings.database == f"sqlite:///{ROOT / 'data' / 'aggregator.db'}"
    assert settings.output_dir == ROOT / "public"
    assert settings.base_url == "http://localhost:8080/"
    assert settings.default_interval == timedelta(minutes=30)


# --- a valid file ------------------------------------------------------------------------------

def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    config = load(MINIMAL)

    assert config.path == tmp_path / "feeds.yaml"
    assert config.settings.database == f"sqlite:///{tmp_path}/data/aggregator.db"
    assert config.settings.output_dir == tmp_path / "public"
    assert config.settings.base_url == "http://localhost:8080/"
    assert config.settings.default_interval == timedelta(minutes=30)
    assert config.settings.min_interval == timedelta(minutes=5)
    assert config.settings.max_body_bytes == 10 * 1024 * 1024
    assert config.sources[0].interval is None and config.sources[0].enabled is True
    assert config.topics[0].title == "iran"  # the id when no title is given
    assert config.sections[0].max_items == 50


@pytest.mark.parametrize("text", ["{}\n", "sources:\ntopics:\nsections: []\n"])
def test_every_part_may_be_empty_or_left_out(text: str) -> None:
    config = load(text)

    assert (config.sources, config.topics, config.sections) == ((), (), ())


def test_every_field_is_read() -> None:
    config = load("""\
        settings:
          database: postgresql+psycopg://aggregator@db.internal/news
          output_dir: /srv/feeds
          base_url: https://news.example.org/feeds
          default_interval: 20m
          min_interval: 2m
          max_interval: 12h
          max_concurrency: 8
          per_host_concurrency: 1
          timeout: 45s
          max_body_bytes: 512KiB
          retention: 7d
          story_window: 1d
        sources:
          - id: rt-arabic
            url: https://arabic.rt.com/rss/
            title: آر تي عربي
            language: AR
            interval: 10m
            enabled: false
        topics:
          iran:
            title: إيران
            terms: [إيران, ايران]
            exclude: [كرة القدم]
        sections:
          - id: iran-ar
            title: إيران بالعربية
            topics: [iran]
            sources: [rt-arabic]
            languages: [ar, en-US]
            max_items: 20
            description: كل ما يخص إيران
        """)

    s = config.settings
    assert s.database == "postgresql+psycopg://aggregator@db.internal/news"
    assert s.output_dir == Path("/srv/feeds")
    assert s.base_url == "https://news.example.org/feeds/"  # always ends with "/"
    assert (s.default_interval, s.min_interval, s.max_interval) == (
        timedelta(minutes=20), timedelta(minutes=2), timedelta(hours=12))
    assert (s.max_concurrency, s.per_host_concurrency) == (8, 1)
    assert (s.timeout, s.max_body_bytes) == (timedelta(seconds=45), 512 * 1024)
    assert (s.retention, s.story_window) == (timedelta(days=7), timedelta(days=1))
    source = config.sources[0]
    assert (source.title, source.language, source.interval, source.enabled) == (
        "آر تي عربي", "ar", timedelta(minutes=10), False)
    topic = config.topics[0]
    assert (topic.title, topic.terms) == ("إيران", ("إيران", "ايران"))
    assert topic.exclude == ("كرة القدم",)
    section = config.sections[0]
    assert section.sources == ("rt-arabic",)
    assert section.languages == ("ar", "en-us")  # language tags are stored lower-case
    assert (section.max_items, section.description) == (20, "كل ما يخص إيران")


def test_topic_terms_grouped_by_language_and_the_other_rules() -> None:
    config = load("""\
        topics:
          us-politics:
            terms:
              ar: [ترامب, ترمب]
              en: [White House]
              fr:
              ru: [Трамп]
            case_sensitive: [Trump, Vance]
            with: {en: [election], ar: [انتخابات]}
            exclude: [trump card]
            regex: ['\\bgop\\b']
          ai:
            case_sensitive: [AI]
        """)

    topic, ai = config.topics
    assert topic.terms == ("ترامب", "ترمب", "White House", "Трамп")  # in file order
    assert topic.terms_by_language == (
        ("ar", ("ترامب", "ترمب")), ("en", ("White House",)), ("fr", ()), ("ru", ("Трамп",)))
    assert topic.case_sensitive == ("Trump", "Vance")
    assert topic.with_terms == ("election", "انتخابات")
    assert topic.exclude == ("trump card",)
    assert topic.regex == (r"\bgop\b",)
    # `terms` may be left out when case_sensitive or regex terms are given.
    assert (ai.terms, ai.case_sensitive, ai.terms_by_language) == ((), ("AI",), ())


def test_a_plain_term_list_keeps_working() -> None:
    topic = load(MINIMAL).topics[0]
    assert (topic.terms, topic.terms_by_language, topic.with_terms, topic.regex) == (
        ("إيران", "Iran"), (), (), ())


def test_a_null_optional_value_counts_as_absent() -> None:
    config = load("""\
        sources:
          - id: a
            url: https://a.example/rss
            title:
            interval:
        """)

    assert (config.sources[0].title, config.sources[0].interval) == (None, None)


def test_merge_keys_share_fields_between_sources() -> None:
    config = load("""\
        sources:
          - &bbc
            id: bbc-arabic
            url: https://feeds.bbci.co.uk/arabic/rss.xml
            interval: 15m
          - <<: *bbc
            id: bbc-arabic-middle-east
            url: https://feeds.bbci.co.uk/arabic/middleeast/rss.xml
        """)

    assert config.sources[1].url == "https://feeds.bbci.co.uk/arabic/middleeast/rss.xml"
    assert config.sources[1].interval == timedelta(minutes=15)


@pytest.mark.parametrize(("first", "second"), [
    ("https://news.example/feed.xml", "https://news.example/feed.xml"),
    ("https://news.example/feed.xml", "HTTPS://News.Example/feed.xml"),  # case-insensitive
    ("https://news.example/feed.xml", "https://news.example:443/feed.xml"),  # default port
    ("http://news.example/feed.xml", "http://news.example:80/feed.xml#latest"),  # fragment
    ("https://news.example", "https://news.example/"),  # an empty path is "/"
    ("https://news.example/feed/", "https://news.example/feed"),  # a trailing slash
])
def test_one_feed_under_two_ids_is_refused(first: str, second: str) -> None:
    """Fetched twice per interval, and its items counted as two outlets reporting each
    story: Miniflux and reader refuse a feed added twice too."""
    with pytest.raises(ConfigError) as info:
        load(f"""\
            sources:
              - id: first
                url: {first}
              - id: second
                url: {second}
            """)
    assert str(info.value) == ("feeds.yaml:5: sources[1].url: the same feed as source 'first' "
                               "(line 3): list each feed once")


@pytest.mark.parametrize(("first", "second"), [
    ("https://news.example/feed.xml", "https://news.example/Feed.xml"),  # paths are not
    ("https://news.example/feed?section=world", "https://news.example/feed?section=sport"),
    ("http://news.example/feed.xml", "https://news.example/feed.xml"),  # another server maybe
    ("https://news.example/feed.xml", "https://news.example:8443/feed.xml"),
    ("https://ana:s3cret@news.example/private", "https://omar:s3cret@news.example/private"),
])
def test_feeds_that_differ_are_two_sources(first: str, second: str) -> None:
    config = load(f"""\
        sources:
          - id: first
            url: {first}
          - id: second
            url: {second}
        """)
    assert [s.url for s in config.sources] == [first, second]


# --- values ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("90s", timedelta(seconds=90)),
    ("15m", timedelta(minutes=15)),
    ("1h", timedelta(hours=1)),
    ("1d", timedelta(days=1)),
    ("45", timedelta(seconds=45)),  # a bare integer means seconds
    (45, timedelta(seconds=45)),
])
def test_durations(value: object, expected: timedelta) -> None:
    config = load(f"settings:\n  default_interval: {value}\n")

    assert config.settings.default_interval == expected


@pytest.mark.parametrize("value", [
    "0", "0m", "-5", "-5m", "1.5h", "15 m", "15M", "15min", "1w", "m", "true", '""', "'٥m'",
    "99999999999d", "[15m]",
])
def test_bad_durations(value: str) -> None:
    assert error(f"settings:\n  timeout: {value}\n") == (
        "feeds.yaml:2: settings.timeout: not a duration like 90s, 15m, 1h or 1d")


@pytest.mark.parametrize(("value", "expected"), [
    ("1000", 1000), ("512KiB", 512 * 1024), ("10MiB", 10 * 1024**2), ("1GiB", 1024**3),
    ("2MB", 2_000_000), ("64KB", 64_000), ("300B", 300),
])
def test_sizes(value: str, expected: int) -> None:
    assert load(f"settings:\n  max_body_bytes: {value}\n").settings.max_body_bytes == expected


@pytest.mark.parametrize("value", ["0", "10mb", "10 MiBs", "1.5MB", "-1", "big"])
def test_bad_sizes(value: str) -> None:
    assert error(f"settings:\n  max_body_bytes: {value}\n") == (
        "feeds.yaml:2: settings.max_body_bytes: not a size like 10MiB, 512KiB or 2MB")


def test_base_url_gets_a_trailing_slash_once() -> None:
    assert load("settings:\n  base_url: https://x.org/a\n").settings.base_url == "https://x.org/a/"
    assert load("settings:\n  base_url: https://x.org/a/\n").settings.base_url == "https://x.org/a/"


# --- paths and the database --------------------------------------------------------------------

def test_relative_paths_are_taken_from_the_config_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "etc" / "aggregator"
    folder.mkdir(parents=True)
    (folder / "feeds.yaml").write_text(
        "settings:\n  database: sqlite:///state/news.db\n  output_dir: ../../www\n")
    monkeypatch.chdir("/")  # the working directory must not matter

    config = load_config(folder / "feeds.yaml")

    assert config.path == folder / "feeds.yaml"
    assert config.settings.database == f"sqlite:///{folder}/state/news.db"
    assert config.settings.database.startswith("sqlite:////")
    assert config.settings.output_dir == tmp_path / "www"


def test_config_path_is_made_absolute(tmp_path: Path) -> None:
    config = load("{}\n", name="feeds.yaml")

    assert config.path.is_absolute()
    assert config.path == tmp_path / "feeds.yaml"


@pytest.mark.parametrize("url", [
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:////var/lib/aggregator/news.db",
    "postgresql+psycopg://aggregator:secret@127.0.0.1:5432/aggregator",
])
def test_other_database_urls_stay_as_written(url: str) -> None:
    assert load(f"settings:\n  database: '{url}'\n").settings.database == url


def test_sqlite_driver_and_query_are_kept(tmp_path: Path) -> None:
    config = load("settings:\n  database: sqlite+pysqlite:///news.db?timeout=5\n")

    assert config.settings.database == f"sqlite+pysqlite:///{tmp_path}/news.db?timeout=5"


def test_aggregator_database_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://aggregator:secret@127.0.0.1:5432/aggregator"
    monkeypatch.setenv("AGGREGATOR_DATABASE", url)

    assert load("settings:\n  database: sqlite:///data/x.db\n").settings.database == url


def test_the_database_url_can_come_from_a_secret_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://aggregator:s3cret@db:5432/aggregator"
    (tmp_path / "database-url").write_text(f"{url}\n", encoding="utf-8")
    monkeypatch.setenv("AGGREGATOR_DATABASE_FILE", str(tmp_path / "database-url"))
    assert load("settings:\n  database: sqlite:///x.db\n").settings.database == url
    monkeypatch.setenv("AGGREGATOR_DATABASE", "sqlite:///env.db")  # the variable wins
    assert load("{}\n").settings.database == f"sqlite:///{tmp_path}/env.db"


def test_an_unreadable_secret_file_is_a_clear_error(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_DATABASE_FILE", str(tmp_path / "missing"))
    assert "cannot read the database URL (named by $AGGREGATOR_DATABASE_FILE)" in error("{}\n")
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    monkeypatch.setenv("AGGREGATOR_DATABASE_FILE", str(tmp_path / "empty"))
    assert error("{}\n").endswith("it is empty")


def test_a_validated_config_is_cached_until_anything_it_depends_on_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aggregator import config as config_module

    monkeypatch.setenv("AGGREGATOR_CACHE_DIR", str(tmp_path / "cache"))
    parsed: list[str] = []
    real = config_module._parse
    monkeypatch.setattr(config_module, "_parse", lambda text, name: parsed.append(name)
                        or real(text, name))
    first = load(MINIMAL)
    again = load(MINIMAL)
    assert again == first and len(parsed) == 1  # the second load came from the cache
    assert len(list((tmp_path / "cache").glob("config-*.pickle"))) == 1
    load(MINIMAL + "\n# an edit, even a comment\n")
    monkeypatch.setenv("AGGREGATOR_DATABASE", "sqlite:///elsewhere.db")
    assert load(MINIMAL).settings.database.endswith("/elsewhere.db")  # not the cached one
    assert len(parsed) == 3
    (tmp_path / "cache" / next(p.name for p in (tmp_path / "cache").iterdir())).write_bytes(
        b"garbage")
    monkeypatch.delenv("AGGREGATOR_DATABASE")
    assert load(MINIMAL) == first and len(parsed) == 4  # a broken cache file is ignored
    with pytest.raises(ConfigError):
        load("sources: 3\n")
    assert len(parsed) == 5 and load(MINIMAL) == first and len(parsed) == 5  # errors not cached


def test_no_cache_when_its_folder_cannot_be_written(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    monkeypatch.setenv("AGGREGATOR_CACHE_DIR", str(blocked / "cache"))
    assert load(MINIMAL) == load(MINIMAL)
    monkeypatch.setenv("AGGREGATOR_CACHE_DIR", "")  # off
    assert load(MINIMAL).sources


def test_claim_lease_is_bounded() -> None:
    assert load("settings:\n  claim_lease: 90s\n").settings.claim_lease.total_seconds() == 90
    assert error("settings:\n  claim_lease: 1h\n") == (
        "feeds.yaml:2: settings.claim_lease: claim_lease must be between 10s and 10m")


def test_a_relative_sqlite_override_is_taken_from_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "feeds.yaml").write_text("{}\n")
    monkeypatch.setenv("AGGREGATOR_DATABASE", "sqlite:///override.db")

    config = load_config("conf/feeds.yaml")

    assert config.settings.database == f"sqlite:///{tmp_path}/override.db"


def test_an_empty_override_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_DATABASE", "")

    assert load("{}\n").settings.database == f"sqlite:///{tmp_path}/data/aggregator.db"


# --- the result is plain data ------------------------------------------------------------------

def test_config_is_picklable_and_frozen() -> None:
    config = load_config(ROOT / "feeds.yaml")

    assert pickle.loads(pickle.dumps(config)) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sources[0].url = "https://elsewhere.example/"  # type: ignore[misc]
    assert all(type(part) is tuple for part in (
        config.sources, config.topics, config.sections, config.topics[0].terms,
        config.sections[0].topics))


def test_strings_are_plain_str_even_with_anchors_quotes_and_blocks() -> None:
    # ruamel returns str subclasses for anchored, quoted and block scalars, and an int
    # subclass for anchored booleans; none of them may leak into Config.
    config = load("""\
        settings:
          base_url: &site "https://news.example.org"
        sources:
          - id: &sid bbc-arabic
            url: 'https://feeds.bbci.co.uk/arabic/rss.xml'
            title: &t بي بي سي
            language: &lang ar
            enabled: &on true
        topics:
          iran:
            title: *t
            terms: [&term إيران, "Iran"]
        sections:
          - id: iran
            title: *t
            topics: [iran]
            sources: [*sid]
            languages: [*lang]
            description: |
              إيران
        """)

    source, topic, section = config.sources[0], config.topics[0], config.sections[0]
    strings = [config.settings.base_url, config.settings.database, source.id, source.url,
               source.title, source.language, topic.id, topic.title, *topic.terms, section.id,
               section.title, section.description, *section.topics, *section.sources,
               *section.languages]
    assert [type(s) for s in strings] == [str] * len(strings)
    assert type(source.enabled) is bool
    assert section.description == "إيران\n"


def test_ruamel_is_imported_only_by_config() -> None:
    importers = set()
    for path in (ROOT / "aggregator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] == "ruamel" for name in names):
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"aggregator/config.py"}


# --- errors: `file:line: key.path: message` ----------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(
        """\
        sources:
          - id: bbc-arabic
            url: https://feeds.bbci.co.uk/arabic/rss.xml
            intervall: 15m
        """,
        "feeds.yaml:4: sources[0]: unknown key 'intervall' "
        "(expected one of: id, url, title, language, interval, enabled)",
        id="unknown-source-key"),
    pytest.param(
        """\
        settings:
          output_dir: public
        source: []
        """,
        "feeds.yaml:3: unknown key 'source' (expected one of: settings, sources, topics, sections)",
        id="unknown-top-level-key"),
    pytest.param(
        """\
        topics:
          iran:
            terms: [Iran]
            excludes: [football]
        """,
        "feeds.yaml:4: topics.iran: unknown key 'excludes' "
        "(expected one of: title, terms, exclude, with, case_sensitive, regex)",
        id="unknown-topic-key"),
    pytest.param(
        """\
        sources:
          - id: a
            url: https://a.example/rss
          - id: b
            url: https://b.example/rss
          - id: c
            url: https://c.example/rss
          - id: d
            url: ftp://d.example/rss
        """,
        "feeds.yaml:9: sources[3].url: not an http(s) URL",
        id="ftp-url"),
    pytest.param(
        "sources:\n  - id: a\n    url: https:///no-host\n",
        "feeds.yaml:3: sources[0].url: not an http(s) URL",
        id="url-without-host"),
    pytest.param(
        "sources:\n  - id: a\n    url: feeds.bbci.co.uk/arabic/rss.xml\n",
        "feeds.yaml:3: sources[0].url: not an http(s) URL",
        id="url-without-scheme"),
    pytest.param(
        "sources:\n  - id: a\n    url: http://a.example:port/\n",
        "feeds.yaml:3: sources[0].url: not an http(s) URL",
        id="url-with-bad-port"),
    pytest.param(
        "sources:\n  - id: a\n    url: https://a.example/my feed.xml\n",
        "feeds.yaml:3: sources[0].url: not an http(s) URL",
        id="url-with-space"),
    pytest.param(
        "settings:\n  base_url: /feeds/\n",
        "feeds.yaml:2: settings.base_url: not an http(s) URL",
        id="relative-base-url"),
    pytest.param(
        """\
        sources:
          - id: bbc-ar
            url: https://feeds.bbci.co.uk/arabic/rss.xml

          - id: bbc-ar
            url: https://feeds.bbci.co.uk/news/world/rss.xml
        """,
        "feeds.yaml:5: sources[1].id: duplicate source id 'bbc-ar' (first defined on line 2)",
        id="duplicate-source-id"),
    pytest.param(
        """\
        topics:
          iran:
            terms: [Iran]
        sections:
          - id: iran
            title: Iran
            topics: [iran]
          - id: iran
            title: Iran again
            topics: [iran]
        """,
        "feeds.yaml:8: sections[1].id: duplicate section id 'iran' (first defined on line 5)",
        id="duplicate-section-id"),
    pytest.param(
        """\
        topics:
          iran:
            terms: [Iran]
        sections:
          - id: iran
            title: Iran
            topics:
              - iran
              - irn
        """,
        "feeds.yaml:9: sections[0].topics[1]: section uses undefined topic 'irn'",
        id="undefined-topic"),
    pytest.param(
        """\
        sections:
          - id: iran
            title: Iran
            topics: [iran]
            sources:
              - bbc-world
              - bbc
        topics:
          iran:
            terms: [Iran]
        sources:
          - id: bbc-world
            url: https://feeds.bbci.co.uk/news/world/rss.xml
        """,
        "feeds.yaml:7: sections[0].sources[1]: section uses undefined source 'bbc'",
        id="undefined-source-defined-later"),
    pytest.param(
        "sources:\n  - id: a\n    title: A\n",
        "feeds.yaml:2: sources[0]: missing required key 'url'",
        id="missing-url"),
    pytest.param(
        "sources:\n  - id: a\n    url:\n",
        "feeds.yaml:2: sources[0]: missing required key 'url'",
        id="null-url"),
    pytest.param(
        "topics:\n  iran:\n    terms: [Iran]\nsections:\n  - id: iran\n    topics: [iran]\n",
        "feeds.yaml:5: sections[0]: missing required key 'title'",
        id="missing-section-title"),
    pytest.param(
        "topics:\n  iran:\n    title: Iran\n",
        "feeds.yaml:2: topics.iran: missing required key 'terms'",
        id="missing-terms"),
    pytest.param(
        "sources:\n  id: a\n  url: https://a.example/rss\n",
        "feeds.yaml:1: sources: expected a list",
        id="sources-not-a-list"),
    pytest.param(
        "topics:\n  iran:\n    terms: Iran\n",
        "feeds.yaml:3: topics.iran.terms: expected a list",
        id="terms-not-a-list"),
    pytest.param(
        "topics:\n  iran:\n    terms: []\n",
        "feeds.yaml:3: topics.iran.terms: must not be empty",
        id="terms-empty"),
    pytest.param(
        "topics:\n  iran:\n    terms:\n      - Iran\n      - Tehran\n      - ''\n",
        "feeds.yaml:6: topics.iran.terms[2]: must not be empty",
        id="term-empty"),
    pytest.param(
        "topics:\n  iran:\n    terms: [Iran, 1979]\n",
        "feeds.yaml:3: topics.iran.terms[1]: expected a string",
        id="term-not-a-string"),
    pytest.param(
        "topics:\n  iran:\n",
        "feeds.yaml:2: topics.iran: expected a mapping",
        id="topic-without-body"),
    pytest.param(
        "topics:\n  Iran:\n    terms: [Iran]\n",
        "feeds.yaml:2: topics.Iran: must match [a-z0-9-]+",
        id="bad-topic-id"),
    pytest.param(
        "topics:\n  iran:\n    terms: [Iran]\n    regex:\n      - 'iran(ian'\n",
        "feeds.yaml:5: topics.iran.regex[0]: invalid regex: missing ), unterminated subpattern "
        "at position 4",
        id="invalid-regex"),
    pytest.param(
        "topics:\n  iran:\n    regex: ['إيران']\n",
        "feeds.yaml:3: topics.iran.regex[0]: the matching view the regex searches has no 'إ': "
        "write ا for أ إ آ, ه for ة, ي for ى, Western digits and no diacritics",
        id="regex-not-in-the-matching-view"),
    pytest.param(
        "topics:\n  us:\n    terms: [trump, Biden]\n    case_sensitive:\n      - Trump\n",
        "feeds.yaml:5: topics.us.case_sensitive[0]: 'Trump' is also under terms, where it "
        "matches in any case: keep it in one of the two lists",
        id="case-sensitive-term-also-a-term"),
    pytest.param(
        "topics:\n  iran:\n    terms:\n      ar: [إيران]\n      farsi: [ایران]\n",
        "feeds.yaml:5: topics.iran.terms.farsi: not a language tag like ar, en or en-US",
        id="terms-group-not-a-language"),
    pytest.param(
        "topics:\n  iran:\n    terms:\n      en: []\n      fr:\n",
        "feeds.yaml:3: topics.iran.terms: must not be empty",
        id="terms-groups-all-empty"),
    pytest.param(
        "topics:\n  iran:\n    terms: [Iran, «»]\n",
        "feeds.yaml:3: topics.iran.terms[1]: a term needs a letter or digit",
        id="term-without-letters"),
    pytest.param(
        "topics:\n  iran:\n    terms: [Iran]\n    with: nuclear\n",
        "feeds.yaml:4: topics.iran.with: expected a list",
        id="with-not-a-list"),
    pytest.param(
        "topics:\n  iran:\n    exclude: [football]\n",
        "feeds.yaml:2: topics.iran: missing required key 'terms'",
        id="only-exclude-terms"),
    pytest.param(
        "sources:\n  - id: BBC_arabic\n    url: https://feeds.bbci.co.uk/arabic/rss.xml\n",
        "feeds.yaml:2: sources[0].id: must match [a-z0-9-]+",
        id="bad-source-id"),
    pytest.param(
        "topics:\n  iran:\n    terms: [Iran]\nsections:\n  - id: iran\n    title: Iran\n"
        "    topics: []\n",
        "feeds.yaml:7: sections[0].topics: must not be empty",
        id="section-without-topics"),
    pytest.param(
        "topics:\n  iran:\n    terms: [Iran]\nsections:\n  - id: iran\n    title: Iran\n"
        "    topics: [iran]\n    max_items: 0\n",
        "feeds.yaml:8: sections[0].max_items: expected a positive integer",
        id="zero-max-items"),
    pytest.param(
        "topics:\n  iran:\n    terms: [Iran]\nsections:\n  - id: iran\n    title: Iran\n"
        "    topics: [iran]\n    languages: [ar, arabic]\n",
        "feeds.yaml:8: sections[0].languages[1]: not a language tag like ar, en or en-US",
        id="bad-section-language"),
    pytest.param(
        "sources:\n  - id: a\n    url: https://a.example/rss\n    language: en_US\n",
        "feeds.yaml:4: sources[0].language: not a language tag like ar, en or en-US",
        id="bad-source-language"),
    pytest.param(
        "sources:\n  - id: a\n    url: https://a.example/rss\n    enabled: yes\n",
        "feeds.yaml:4: sources[0].enabled: expected true or false",
        id="enabled-yes"),
    pytest.param(
        "settings:\n  max_concurrency: true\n",
        "feeds.yaml:2: settings.max_concurrency: expected a positive integer",
        id="bool-is-not-a-count"),
    pytest.param(
        "settings:\n  database: 42\n",
        "feeds.yaml:2: settings.database: expected a string",
        id="database-not-a-string"),
    pytest.param(
        "settings:\n  min_interval: 2h\n  max_interval: 1h\n",
        "feeds.yaml:2: settings.min_interval: min_interval must not be longer than max_interval",
        id="min-above-max"),
    pytest.param(
        "settings:\n  max_interval: 1m\n",
        "feeds.yaml:2: settings.max_interval: min_interval must not be longer than max_interval",
        id="max-below-default-min"),
    pytest.param(
        "settings:\n  - database: sqlite://\n",
        "feeds.yaml:1: settings: expected a mapping",
        id="settings-not-a-mapping"),
    pytest.param(
        "- sources\n- topics\n",
        "feeds.yaml: expected a mapping of settings, sources, topics and sections",
        id="top-level-list"),
    pytest.param(
        "# nothing yet\n",
        "feeds.yaml: expected a mapping of settings, sources, topics and sections",
        id="empty-file"),
])
def test_errors_name_file_line_and_key_path(text: str, expected: str) -> None:
    assert error(text) == expected


def test_error_carries_its_parts() -> None:
    with pytest.raises(ConfigError) as caught:
        load("sources:\n  - id: a\n    url: gopher://a.example/\n")

    assert (caught.value.file, caught.value.line, caught.value.path, caught.value.message) == (
        "feeds.yaml", 3, "sources[0].url", "not an http(s) URL")


def test_file_is_named_as_the_caller_gave_it(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "news.yaml").write_text("sources: 1\n")

    with pytest.raises(ConfigError) as caught:
        load_config(Path("conf/news.yaml"))

    assert str(caught.value) == "conf/news.yaml:1: sources: expected a list"


def test_yaml_syntax_error_has_the_line() -> None:
    message = error("sources:\n  - id: a\n    url: [https://a.example/rss\n")

    assert message.startswith("feeds.yaml:4: invalid YAML: ")


def test_bad_indentation_has_the_line() -> None:
    message = error("settings:\n  database: x\n   output_dir: y\n")

    assert message.startswith("feeds.yaml:3: invalid YAML: ")


def test_duplicate_yaml_key_has_the_line_of_the_second() -> None:
    message = error("settings:\n  output_dir: a\n  timeout: 5s\n  output_dir: b\n")

    assert message.startswith("feeds.yaml:4: invalid YAML: ")
    assert 'duplicate key "output_dir"' in message


def test_duplicate_topic_is_a_duplicate_yaml_key() -> None:
    message = error("topics:\n  iran:\n    terms: [Iran]\n  iran:\n    terms: [Tehran]\n")

    assert message.startswith("feeds.yaml:4: invalid YAML: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("missing.yaml")

    assert caught.value.line is None
    assert str(caught.value) == (
        f"missing.yaml: cannot read {tmp_path / 'missing.yaml'}: No such file or directory")


def test_file_that_is_not_utf8() -> None:
    Path("feeds.yaml").write_bytes(b"sources: []\n# " + "إيران".encode("cp1256"))

    with pytest.raises(ConfigError, match=r"^feeds\.yaml: not UTF-8 text"):
        load_config("feeds.yaml")

"""feeds.yaml -> a frozen Config. The YAML library (ruamel.yaml) is used only here.

Every problem is reported as a ConfigError carrying the key path and line number.
Loading never writes anything but its own cache: parsing YAML is slow in pure Python (a
quarter of a second for 500 sources, half a quiet cron `poll`), so a validated Config is kept
pickled in the user's cache folder ($AGGREGATOR_CACHE_DIR, else $XDG_CACHE_HOME/aggregator,
else ~/.cache/aggregator), keyed by the file's bytes and everything else the result depends
on. A folder that cannot be written just means no cache; an invalid file is never cached.

Relative paths (`settings.output_dir`, the file of a `sqlite:///relative.db` URL) are taken
from the folder holding feeds.yaml, so the result does not depend on the working directory.
When $AGGREGATOR_DATABASE is set and not empty it replaces `settings.database`: that is how a
database password stays out of feeds.yaml, which is meant to be shared and versioned (a
relative sqlite path in the variable is taken from the working directory, as in any shell).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import tempfile
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from aggregator.errors import ConfigError
from aggregator.text.arabic import matching_view, word_view

DEFAULT_CONFIG = "feeds.yaml"
ENV_VAR = "AGGREGATOR_CONFIG"
DATABASE_ENV_VAR = "AGGREGATOR_DATABASE"  # overrides settings.database, see above
# A file holding the database URL (a Docker or systemd secret): the password stays out of
# feeds.yaml and out of the environment of every child process.
DATABASE_FILE_ENV_VAR = "AGGREGATOR_DATABASE_FILE"
CACHE_ENV_VAR = "AGGREGATOR_CACHE_DIR"  # where validated configs are kept; empty: nowhere
MAX_CLAIM_LEASE = timedelta(minutes=10)

_ID = re.compile(r"[a-z0-9-]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})*", re.IGNORECASE)  # BCP 47, loosely
_AMOUNT = re.compile(r"([0-9]+)([A-Za-z]*)")  # [0-9], not \d: int() takes Arabic-Indic digits
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
_BYTES = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
_SQLITE_FILE = re.compile(r"(sqlite(?:\+\w+)?:///)([^?]+)(.*)", re.DOTALL)
_DURATION_HELP = "not a duration like 90s, 15m, 1h or 1d"
_DEFAULTS: dict[str, Any] = {  # settings without a default in the dataclass
    "database": "sqlite:///data/aggregator.db",
    "output_dir": "public",
    "base_url": "http://localhost:8080/",
    "default_interval": timedelta(minutes=30),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """The `settings:` block, with defaults filled in and paths resolved."""

    database: str  # SQLAlchemy URL; a relative sqlite path is made absolute
    output_dir: Path  # absolute folder for the published files
    base_url: str  # public address of the outputs, always ending in "/"
    default_interval: timedelta  # polling interval of sources that set none
    min_interval: timedelta = timedelta(minutes=5)  # lower clamp of the next check
    max_interval: timedelta = timedelta(hours=24)  # upper clamp, also the error backoff cap
    max_concurrency: int = 20  # requests in flight in all
    per_host_concurrency: int = 2  # requests in flight per host
    timeout: timedelta = timedelta(seconds=30)  # whole-request deadline
    max_body_bytes: int = 10 * 1024 * 1024  # body cap, before and after decompression
    retention: timedelta = timedelta(days=30)  # how long items no section shows are kept
    story_window: timedelta = timedelta(hours=72)  # cross-source story grouping window
    jitter: float = 0.1  # random extra wait, up to this fraction of the interval
    websub_hub: str | None = None  # WebSub hub pinged when a feed changes (rel="hub")
    story_embeddings: bool = True  # story level 3 (when the `embed` extra is installed)
    # Shared polling: how long a poller's claim on a source lasts without being renewed (a
    # running poller renews it; one killed mid-pass lets it lapse and another takes over).
    claim_lease: timedelta = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One entry of `sources:`."""

    id: str  # [a-z0-9-]+, unique
    url: str  # http(s) URL of the feed
    title: str | None = None  # overrides the feed's own title
    language: str | None = None  # used when neither the item nor the feed declares one
    interval: timedelta | None = None  # None: settings.default_interval
    enabled: bool = True  # disabled sources are never polled


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """One entry of `topics:` (keyed by its id). How terms match: aggregator.pipeline.tag.

    The topic applies when one of `terms`, `case_sensitive` or `regex` matches, no `exclude`
    term matches and, when `with_terms` is not empty, one of them matches too.
    """

    id: str  # the key under `topics:`
    title: str  # human title, defaults to the id
    terms: tuple[str, ...]  # any of these makes the topic apply (every language group, in order)
    exclude: tuple[str, ...] = ()  # any of these vetoes the topic
    with_terms: tuple[str, ...] = ()  # `with:`; when given, the topic also needs one of these
    case_sensitive: tuple[str, ...] = ()  # more terms, matched only with exactly this case
    regex: tuple[str, ...] = ()  # more terms: Python regexes searched in the matching view
    terms_by_language: tuple[tuple[str, tuple[str, ...]], ...] = ()  # `terms:` by language,
    # as written (documentation only: every term applies to text in any language)


@dataclass(frozen=True, slots=True)
class SectionConfig:
    """One entry of `sections:`: one published feed."""

    id: str  # [a-z0-9-]+, unique; the feed file is {id}.atom
    title: str  # feed title
    topics: tuple[str, ...]  # an item belongs when it has any of these topics
    sources: tuple[str, ...] = ()  # when non-empty: only items from these sources
    languages: tuple[str, ...] = ()  # when non-empty: only items in these languages
    max_items: int = 50  # newest stories kept in the feed
    description: str | None = None  # feed subtitle


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    path: Path  # absolute path of the file it came from
    settings: Settings
    sources: tuple[SourceConfig, ...]  # in file order
    topics: tuple[TopicConfig, ...]  # in file order
    sections: tuple[SectionConfig, ...]  # in file order

    def source(self, source_id: str) -> SourceConfig:
        return next(s for s in self.sources if s.id == source_id)


def config_path(explicit: str | None) -> Path:
    """--config, else $AGGREGATOR_CONFIG, else ./feeds.yaml."""
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate feeds.yaml; raise ConfigError with file, line and key path."""
    name = str(path)
    absolute = Path(os.path.abspath(path))  # not resolve(): a symlinked file keeps its folder
    text = _text_of(absolute, name)
    key = _cache_key(absolute, name, text)
    if (cached := _cached(absolute, key)) is not None:
        return cached
    config = _validate(absolute, name, text)
    _keep(absolute, key, config)
    return config


def _validate(absolute: Path, name: str, text: str) -> Config:
    root = _Node(_parse(text, name), "", None, name)
    if not isinstance(root.value, CommentedMap):  # also an empty file, which loads as None
        root.fail("expected a mapping of settings, sources, topics and sections")
    parts = root.fields(("settings", "sources", "topics", "sections"))
    settings = _settings(parts.get("settings"), absolute.parent)
    sources = _sources(parts.get("sources"))
    topics = _topics(parts.get("topics"))
    sections = _sections(parts.get("sections"), {t.id for t in topics}, {s.id for s in sources})
    return Config(absolute, settings, sources, topics, sections)


def _text_of(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: some Windows editors add a BOM
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}", file=name) from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text (bad byte at offset {error.start})", file=name) from None


# --- the cache of validated configs ------------------------------------------------------------

def cache_dir() -> Path | None:
    """Where validated configs are kept; None when caching is off ($AGGREGATOR_CACHE_DIR=)."""
    explicit = os.environ.get(CACHE_ENV_VAR)
    if explicit is not None:
        return Path(explicit) if explicit else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aggregator"


def _cache_key(absolute: Path, name: str, text: str) -> str:
    """Everything the Config depends on: this code, the file's bytes, where it is and how it
    was named, the working directory and the database override."""
    from aggregator import __version__

    code = Path(__file__).stat()
    parts = (__version__, str(code.st_mtime_ns), str(code.st_size), str(absolute), name,
             os.getcwd(), _database_override() or "", text)
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _cache_file(absolute: Path) -> Path | None:
    folder = cache_dir()
    digest = hashlib.sha256(str(absolute).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return folder / f"config-{digest}.pickle" if folder else None


def _cached(absolute: Path, key: str) -> Config | None:
    file = _cache_file(absolute)
    try:
        if file is None or not file.exists():
            return None
        found_key, config = pickle.loads(file.read_bytes())
    except Exception:  # unreadable, truncated, from another Python: parse instead
        return None
    return config if found_key == key and isinstance(config, Config) else None


def _keep(absolute: Path, key: str, config: Config) -> None:
    file = _cache_file(absolute)
    if file is None:
        return
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=file.parent, prefix=".config-", delete=False) as f:
            f.write(pickle.dumps((key, config), protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(f.name, file)
    except OSError:  # a read-only home, a full disk: no cache, nothing else changes
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(f.name)


def _parse(text: str, name: str) -> Any:
    try:
        return YAML(typ="rt").load(text)  # round-trip: the loader that keeps line numbers
    except YAMLError as error:  # syntax errors, and duplicate keys, which ruamel refuses
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or getattr(error, "context", None) or error
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {problem}", line=line, file=name) from None


# --- located values --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Node:
    """A YAML value and where it came from, so that any check can point at it."""

    value: Any  # as ruamel loaded it
    path: str  # key path such as "sources[3].url"; "" for the whole file
    line: int | None  # 1-based
    file: str  # the file name as the caller gave it

    def fail(self, message: str) -> NoReturn:
        raise ConfigError(message, path=self.path, line=self.line, file=self.file)

    def entries(self) -> list[tuple[_Node, _Node]]:
        """(key, value) pairs of a mapping, in file order."""
        if not isinstance(self.value, CommentedMap):
            self.fail("expected a mapping")
        lc, pairs = self.value.lc, []
        for key, value in self.value.items():
            path = f"{self.path}.{key}" if self.path else str(key)
            key_line = _line(lc.key, key, self.line)
            # A scalar is blamed where it stands. ruamel places a null or a block collection
            # on the line after its key, which would point at the wrong line: blame the key.
            scalar = value is not None and not isinstance(value, dict | list)
            line = _line(lc.value, key, key_line) if scalar else key_line
            pairs.append((replace(self, value=key, path=path, line=key_line),
                          _Node(value, path, line, self.file)))
        return pairs

    def items(self) -> list[_Node]:
        if not isinstance(self.value, CommentedSeq):
            self.fail("expected a list")
        lc = self.value.lc
        return [_Node(value, f"{self.path}[{i}]", _line(lc.item, i, self.line), self.file)
                for i, value in enumerate(self.value)]

    def fields(self, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, _Node]:
        """Values of a mapping with a fixed set of keys; a null value counts as no key."""
        allowed = tuple(allowed)
        entries = self.entries()
        for key, _ in entries:
            if key.value not in allowed:  # blamed on the mapping: the message names the key
                replace(key, path=self.path).fail(
                    f"unknown key '{key.value}' (expected one of: {', '.join(allowed)})")
        values = {str(key.value): value for key, value in entries if value.value is not None}
        for name in required:
            if name not in values:
                self.fail(f"missing required key '{name}'")
        return values


Parsers = dict[str, Callable[[_Node], Any]]


def _record(node: _Node, parsers: Parsers, required: Iterable[str]) -> dict[str, Any]:
    """A mapping parsed key by key, in file order, so the first error in the file wins."""
    return {key: parsers[key](value) for key, value in node.fields(parsers, required).items()}


def _line(position: Callable[[Any], tuple[int, int]], at: Any, fallback: int | None) -> int | None:
    try:
        return position(at)[0] + 1  # ruamel counts lines from 0, editors from 1
    except (KeyError, IndexError, TypeError):  # keys brought in by a `<<:` merge have no position
        return fallback


# --- values ----------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    # YAML true/false are ints to Python, and so are ruamel's anchored booleans (ScalarBoolean).
    return isinstance(value, int) and not isinstance(value, bool | ScalarBoolean)


def _text(node: _Node) -> str:
    if not isinstance(node.value, str):
        node.fail("expected a string")
    if not node.value.strip():
        node.fail("must not be empty")
    return str(node.value)  # drop ruamel's str subclasses: Config must stay plain data


def _texts(node: _Node, *, non_empty: bool = False) -> tuple[str, ...]:
    items = node.items()
    if non_empty and not items:
        node.fail("must not be empty")
    return tuple(_text(item) for item in items)


def _ident(node: _Node) -> str:
    text = _text(node)
    if not _ID.fullmatch(text):
        node.fail("must match [a-z0-9-]+")
    return text


def _flag(node: _Node) -> bool:
    if not isinstance(node.value, bool | ScalarBoolean):
        node.fail("expected true or false")
    return bool(node.value)


def _count(node: _Node) -> int:
    if not _is_int(node.value) or node.value <= 0:
        node.fail("expected a positive integer")
    return int(node.value)


def _amount(node: _Node, units: dict[str, int], problem: str) -> int:
    """`<digits><unit>` -> digits * units[unit], which must be positive; bare digits: unit ""."""
    value = str(node.value) if _is_int(node.value) else node.value
    match = _AMOUNT.fullmatch(value) if isinstance(value, str) else None
    if match is None or match[2] not in units or int(match[1]) == 0:
        node.fail(problem)
    return int(match[1]) * units[match[2]]


def _duration(node: _Node) -> timedelta:
    seconds = _amount(node, _SECONDS, _DURATION_HELP)
    if seconds >= timedelta.max.total_seconds():  # "9999999999d" would overflow timedelta
        node.fail(_DURATION_HELP)
    return timedelta(seconds=seconds)


def _fraction(node: _Node) -> float:
    """A share of a whole: 0.1 or "10%", between 0 and 1."""
    value = node.value
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            value = float(value.strip()[:-1]) / 100
        except ValueError:
            node.fail("not a fraction like 0.1 or 10%")
    if isinstance(value, bool | ScalarBoolean) or not isinstance(value, int | float) \
            or not 0 <= value <= 1:
        node.fail("not a fraction like 0.1 or 10% (between 0 and 1)")
    return float(value)


def _size(node: _Node) -> int:
    return _amount(node, _BYTES, "not a size like 10MiB, 512KiB or 2MB")


def _http_url(node: _Node) -> str:
    text = _text(node)
    try:
        parts = urlsplit(text)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        valid = False
    if not valid or any(char.isspace() for char in text):
        node.fail("not an http(s) URL")
    return text


def _base_url(node: _Node) -> str:
    url = _http_url(node)
    return url if url.endswith("/") else url + "/"  # output names are appended to it


def _language(node: _Node) -> str:
    text = _text(node)
    if not _LANGUAGE.fullmatch(text):
        node.fail("not a language tag like ar, en or en-US")
    return text.lower()  # tags are case-insensitive (RFC 5646 section 2.1.1)


def _unique(node: _Node, kind: str, seen: dict[str, int | None]) -> str:
    ident = _ident(node)
    if ident in seen:
        node.fail(f"duplicate {kind} id '{ident}' (first defined on line {seen[ident]})")
    seen[ident] = node.line
    return ident


def _references(node: _Node, kind: str, defined: Collection[str], *,
                non_empty: bool = False) -> tuple[str, ...]:
    names = _texts(node, non_empty=non_empty)
    for name, item in zip(names, node.items(), strict=True):
        if name not in defined:
            item.fail(f"section uses undefined {kind} '{name}'")
    return names


def _absolute(path: str, folder: Path) -> Path:
    return Path(os.path.normpath(folder / path))


def _database(url: str, folder: Path) -> str:
    """Make the file of a relative sqlite URL absolute (an absolute one has four slashes)."""
    match = _SQLITE_FILE.fullmatch(url)
    if match is None or match[2] == ":memory:" or match[2].startswith("/"):
        return url
    return f"{match[1]}{_absolute(match[2], folder)}{match[3]}"


# --- the four parts --------------------------------------------------------------------------

_SETTINGS: Parsers = {
    "database": _text, "output_dir": _text, "base_url": _base_url,
    "default_interval": _duration, "min_interval": _duration, "max_interval": _duration,
    "max_concurrency": _count, "per_host_concurrency": _count, "timeout": _duration,
    "max_body_bytes": _size, "retention": _duration, "story_window": _duration,
    "jitter": _fraction, "websub_hub": _http_url,
    "story_embeddings": _flag, "claim_lease": _duration,
}


def _settings(node: _Node | None, folder: Path) -> Settings:
    fields = node.fields(_SETTINGS) if node is not None else {}
    values = _DEFAULTS | {key: _SETTINGS[key](value) for key, value in fields.items()}
    override = _database_override()
    values["database"] = (_database(override, Path.cwd()) if override
                          else _database(values["database"], folder))
    values["output_dir"] = _absolute(values["output_dir"], folder)
    settings = Settings(**values)
    if settings.min_interval > settings.max_interval:
        (fields.get("min_interval") or fields["max_interval"]).fail(
            "min_interval must not be longer than max_interval")
    if not timedelta(seconds=10) <= settings.claim_lease <= MAX_CLAIM_LEASE:
        fields["claim_lease"].fail("claim_lease must be between 10s and 10m")
    return settings


def _database_override() -> str | None:
    """$AGGREGATOR_DATABASE, else the first line of the file $AGGREGATOR_DATABASE_FILE names."""
    if url := os.environ.get(DATABASE_ENV_VAR):
        return url
    path = os.environ.get(DATABASE_FILE_ENV_VAR)
    if not path:
        return None
    try:
        url = Path(path).read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError) as exc:
        reason = "it is empty" if isinstance(exc, IndexError) else exc
        raise ConfigError(f"cannot read the database URL (named by ${DATABASE_FILE_ENV_VAR}): "
                          f"{reason}", file=path) from None
    return url


def _sources(node: _Node | None) -> tuple[SourceConfig, ...]:
    seen: dict[str, int | None] = {}
    feeds: dict[str, tuple[str, int | None]] = {}  # _url_key(url) -> (source id, its line)
    parsers: Parsers = {
        "id": lambda value: _unique(value, "source", seen), "url": _http_url, "title": _text,
        "language": _language, "interval": _duration, "enabled": _flag,
    }
    sources = []
    for item in node.items() if node is not None else []:
        fields = item.fields(parsers, ("id", "url"))
        record = {key: parsers[key](value) for key, value in fields.items()}  # file order
        # One feed under two ids would be fetched twice per interval, and its items would
        # count as two outlets reporting each story.
        key = _url_key(record["url"])
        if key in feeds:
            other, line = feeds[key]
            fields["url"].fail(f"the same feed as source '{other}'"
                               f"{f' (line {line})' if line else ''}: list each feed once")
        feeds[key] = (record["id"], fields["url"].line)
        sources.append(SourceConfig(**record))
    return tuple(sources)


def _topics(node: _Node | None) -> tuple[TopicConfig, ...]:
    return tuple(_topic(key, value) for key, value in (node.entries() if node else []))


_TermList = tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]  # terms, groups


def _topic(key: _Node, node: _Node) -> TopicConfig:
    ident = _ident(key)  # the key is the id: YAML itself refuses duplicates
    parsers: Parsers = {
        "title": _text, "terms": lambda value: _term_list(value, non_empty=True),
        "exclude": _term_list, "with": _term_list, "case_sensitive": _term_list,
        "regex": lambda value: tuple(_regex(item) for item in value.items()),
    }
    fields = node.fields(parsers)
    if not fields.keys() & {"terms", "case_sensitive", "regex"}:
        node.fail("missing required key 'terms'")
    values = {name: parsers[name](value) for name, value in fields.items()}  # in file order
    lists = {name: values.get(name, ((), ())) for name in
             ("terms", "exclude", "with", "case_sensitive")}
    if "case_sensitive" in fields:
        _no_case_duplicates(fields["case_sensitive"], lists["terms"][0])
    return TopicConfig(
        id=ident, title=values.get("title", ident), terms=lists["terms"][0],
        exclude=lists["exclude"][0], with_terms=lists["with"][0],
        case_sensitive=lists["case_sensitive"][0], regex=values.get("regex", ()),
        terms_by_language=lists["terms"][1])


def _term_list(node: _Node, *, non_empty: bool = False) -> _TermList:
    """A list of terms, or a mapping language -> list of terms: (all terms, the groups)."""
    if isinstance(node.value, CommentedMap):
        groups = tuple((_language(key), _terms(value)) for key, value in node.entries())
        terms = tuple(term for _, group in groups for term in group)
    else:
        groups, terms = (), _terms(node)
    if non_empty and not terms:
        node.fail("must not be empty")
    return terms, groups


def _terms(node: _Node) -> tuple[str, ...]:
    if node.value is None:  # `fr:` with nothing after it: a group left for later
        return ()
    terms = _texts(node)
    for term, item in zip(terms, node.items(), strict=True):
        if not word_view(term).split():
            item.fail("a term needs a letter or digit")
    return terms


def _no_case_duplicates(node: _Node, terms: tuple[str, ...]) -> None:
    folded = {" ".join(word_view(term).split()) for term in terms}
    items = node.items() if isinstance(node.value, CommentedSeq) else [
        item for _, group in node.entries() if group.value is not None for item in group.items()]
    for item in items:
        if " ".join(word_view(item.value).split()) in folded:
            item.fail(f"'{item.value}' is also under terms, where it matches in any case: "
                      "keep it in one of the two lists")


def _regex(node: _Node) -> str:
    """A Python regex over the matching view: it must compile and be written in that view."""
    pattern = _text(node)
    try:
        re.compile(pattern)
    except re.error as error:
        node.fail(f"invalid regex: {error.msg} at position {error.pos}")
    for char in pattern:
        if not char.isspace() and matching_view(char) not in (char, char.casefold()):
            node.fail(f"the matching view the regex searches has no '{char}': write ا for "
                      "أ إ آ, ه for ة, ي for ى, Western digits and no diacritics")
    return pattern


def _sections(node: _Node | None, topics: Collection[str],
              sources: Collection[str]) -> tuple[SectionConfig, ...]:
    seen: dict[str, int | None] = {}
    parsers: Parsers = {
        "id": lambda value: _unique(value, "section", seen),
        "title": _text,
        "topics": lambda value: _references(value, "topic", topics, non_empty=True),
        "sources": lambda value: _references(value, "source", sources),
        "languages": lambda value: tuple(_language(item) for item in value.items()),
        "max_items": _count,
        "description": _text,
    }
    items, required = node.items() if node is not None else [], ("id", "title", "topics")
    return tuple(SectionConfig(**_record(item, parsers, required)) for item in items)


# --- editing feeds.yaml: adding sources (`aggregator import-opml`) ---------------------------
# ruamel reads the file round-trip to find where the `sources:` list ends and to write the new
# entries in the style of the existing ones (block or flow); that text is spliced in after
# the last entry, so every other byte of the file (comments, order, flow lists, quoting,
# line endings) stays as it was. The result is validated before it replaces the file.

_SOURCES_LINE = re.compile(r"(\s*sources\s*:)\s*(?:\[\s*\]|~|null)?\s*(#.*)?")


@dataclass(frozen=True, slots=True)
class NewSource:
    """A source to add; its id is derived from its title or host, unique in the file."""

    url: str  # http(s) address of the feed
    title: str | None = None  # becomes `title:` when given
    language: str | None = None  # becomes `language:` when it is a valid tag


def add_sources(path: str | os.PathLike[str], new_sources: Iterable[NewSource]) -> list[str]:
    """Append the sources whose URL the file does not list yet; return the ids they got."""
    import io  # this block's own needs, kept apart from loading

    file = Path(path)
    raw = file.read_bytes()
    root = _parse(_text_of(file, str(path)), str(path))
    if not isinstance(root, CommentedMap):
        raise ConfigError("expected a mapping of settings, sources, topics and sections",
                          file=str(path))
    listed = root.get("sources")
    existing = [s for s in listed if isinstance(s, dict)] if isinstance(listed, list) else []
    urls = {_url_key(str(s.get("url", ""))) for s in existing}
    ids = {str(s.get("id")) for s in existing}
    entries: list[CommentedMap] = []
    for new in new_sources:
        key = _url_key(new.url)
        if key in urls or not key:
            continue
        urls.add(key)
        ident = _fresh_id(_slug(new.title or "") or _slug(_host(new.url)) or "source", ids)
        ids.add(ident)
        entry = CommentedMap(id=ident, url=new.url.strip())
        if new.title and new.title.strip():
            entry["title"] = new.title.strip()
        if new.language and _LANGUAGE.fullmatch(new.language.strip()):
            entry["language"] = new.language.strip().lower()
        entries.append(entry)
    if not entries:
        return []
    text = raw.decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in text else "\n"
    last = existing[-1] if existing else None
    flow = isinstance(last, CommentedMap) and bool(last.fa.flow_style())
    yaml = YAML(typ="rt")
    yaml.width = 4096  # never fold a long title or URL
    yaml.indent(mapping=2, sequence=2, offset=0)
    for entry in entries:
        if flow:
            entry.fa.set_flow_style()
    out = io.StringIO()
    yaml.dump(entries, out)
    edited = _splice(text, root, listed if existing else None, out.getvalue(), str(path))
    bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""
    _replace_checked(file, bom + edited.replace("\n", newline).replace("\r\r\n", "\r\n"))
    return [str(e["id"]) for e in entries]


def _splice(text: str, root: CommentedMap, listed: CommentedSeq | None, block: str,
            name: str) -> str:
    """`text` with the dumped entries (`block`, dash at column 0) inserted as the last items
    of `sources:`, or as a new `sources:` list when it has none."""
    lines = text.splitlines(keepends=True)
    if listed is not None:
        line, col = listed.lc.item(len(listed) - 1)
        dash = lines[line].rfind("-", 0, col)
        end = _item_end(lines, line, dash)
        return "".join(lines[:end + 1]) + _indented(block, dash) + "".join(lines[end + 1:])
    if "sources" not in root:
        tail = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{tail}sources:\n{_indented(block, 2)}"
    key_line = root.lc.key("sources")[0]
    match = _SOURCES_LINE.fullmatch(lines[key_line].rstrip("\r\n"))
    if match is None:
        raise ConfigError("cannot add to `sources:` as it is written; add one source by hand "
                          "first", path="sources", line=key_line + 1, file=name)
    comment = f"  {match[2]}" if match[2] else ""
    head = f"{match[1]}{comment}\n"
    return "".join(lines[:key_line]) + head + _indented(block, 2) + "".join(lines[key_line + 1:])


def _item_end(lines: list[str], start: int, dash: int) -> int:
    """The last line that belongs to the list item starting at `start` (its dash at column
    `dash`): lines indented deeper, up to the next line that is not. Comments and blank
    lines after it stay where they are."""
    end = start
    for number in range(start + 1, len(lines)):
        stripped = lines[number].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(lines[number]) - len(lines[number].lstrip(" ")) <= dash:
            break
        end = number
    return end


def _indented(block: str, columns: int) -> str:
    return "".join(" " * columns + line if line.strip() else line
                   for line in block.splitlines(keepends=True))


def _replace_checked(file: Path, text: str) -> None:
    """Validate the edited text with load_config, then replace the file atomically."""
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8", newline="")
        load_config(temporary)
        os.chmod(temporary, file.stat().st_mode & 0o7777)
        os.replace(temporary, file)
    finally:
        temporary.unlink(missing_ok=True)


def _url_key(url: str) -> str:
    """What makes two feed URLs the same (feeds.yaml lists each once; an OPML import adds
    none twice): scheme and host in any case, the default port or none, a trailing slash or
    none, any fragment; the path and the query as written. "" for a URL that is not
    http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host += f":{port}"
    user = parts.netloc.rpartition("@")[0]  # credentials as written: another user's feed
    return f"{scheme}://{user + '@' if user else ''}{host}{parts.path.rstrip('/')}?{parts.query}"


def _host(url: str) -> str:
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    for prefix in ("www.", "feeds.", "feed.", "rss."):  # feeds.bbci.co.uk -> bbci-co-uk
        host = host.removeprefix(prefix)
    return host


def _slug(text: str) -> str:
    """[a-z0-9-]+ from a title or host: accents dropped, other scripts left out."""
    import unicodedata  # this block's own needs, kept apart from loading

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:48].rstrip("-")


def _fresh_id(base: str, taken: Collection[str]) -> str:
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}-{n}", n + 1
    return ident

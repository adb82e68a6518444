"""The one exception tree of the project.

    AggregatorError
    ├── ConfigError            feeds.yaml is unreadable or invalid (file, line, key path)
    ├── SourceError            one source failed; carries the source id and URL
    │   ├── FetchError         network, HTTP status, size or time limits
    │   └── ParseError         the body is not a feed we can read
    └── StoreError             the database is unusable (schema, connection)
        └── SchemaError        its schema is not the revision this version needs
            ├── SchemaOutOfDate    older, or made before migrations: `aggregator db upgrade`
            └── SchemaTooNew       written by a newer aggregator

A SourceError never stops a pass: the pipeline turns it into an `error` outcome for
that source and goes on with the others.
"""

from __future__ import annotations

import re


class AggregatorError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(AggregatorError):
    """An invalid configuration, located as `file:line: key.path: message`."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None,
                 file: str = "feeds.yaml") -> None:
        self.message = message  # what is wrong, for a human
        self.path = path  # key path such as "sources[3].url"; "" for the whole file
        self.line = line  # 1-based line in the file, when known
        self.file = file  # the file's name as the operator wrote it
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class SourceError(AggregatorError):
    """Something went wrong with one source; the pass goes on without it."""

    def __init__(self, message: str, *, source_id: str = "", url: str = "") -> None:
        self.message = message
        self.source_id = source_id
        self.url = url
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class FetchError(SourceError):
    """The source could not be fetched: connection, HTTP status, or a limit."""

    def __init__(self, message: str, *, source_id: str = "", url: str = "",
                 status: int | None = None, connection: bool = False,
                 retry_after: float | None = None, deferred: bool = False) -> None:
        super().__init__(message, source_id=source_id, url=url)
        self.status = status  # HTTP status when the server answered
        self.connection = connection  # True when no HTTP answer came at all
        self.retry_after = retry_after  # seconds the server asked us to wait
        # Not requested at all: its host had told this pass to wait (Fetcher.fetch)
        self.deferred = deferred


_RETRY_AFTER_NOTE = re.compile(r" \(Retry-After: (\d+)s\)$")


def asks_host_to_wait(status: int | None, retry_after: float | None) -> bool:
    """Whether an answer speaks for its whole host: 429 Too Many Requests, or 503 with a
    Retry-After (a 503 alone is that feed's trouble)."""
    return status == 429 or (status == 503 and retry_after is not None)


def note_retry_after(message: str, seconds: float) -> str:
    """An HTTP error's message with the wait its Retry-After asked for: `poll` prints it,
    `status` keeps it, and a later pass reads it back (`noted_retry_after`)."""
    return f"{message} (Retry-After: {seconds:.0f}s)"


def noted_retry_after(message: str | None) -> int | None:
    """The seconds `note_retry_after` wrote into a stored error message, or None."""
    found = _RETRY_AFTER_NOTE.search(message or "")
    return int(found.group(1)) if found else None


class ParseError(SourceError):
    """The body is not a feed (an HTML page, bytes that are not XML, a broken document)."""


class StoreError(AggregatorError):
    """The database cannot be used as it is."""


class SchemaError(StoreError):
    """The database's schema revision is not the one this version of aggregator needs."""

    def __init__(self, message: str, *, current: str | None, needed: str) -> None:
        self.current = current  # the database's revision; None: made before migrations
        self.needed = needed  # the revision this version needs (the newest migration)
        super().__init__(message)


class SchemaOutOfDate(SchemaError):
    """An older schema: commands refuse it until `aggregator db upgrade` has run, so a new
    version never writes rows an old schema cannot hold (or silently alters it from cron)."""

    def __init__(self, *, current: str | None, needed: str) -> None:
        have = f"revision {current}" if current else "created before schema migrations"
        super().__init__(f"the database schema is out of date ({have}, this version needs "
                         f"{needed}); run `aggregator db upgrade` first",
                         current=current, needed=needed)


class SchemaTooNew(SchemaError):
    """A schema written by a newer aggregator: this version cannot know what it changed."""

    def __init__(self, *, current: str, needed: str) -> None:
        super().__init__(f"the database schema is at revision {current}, newer than this "
                         f"version of aggregator knows ({needed}); upgrade aggregator",
                         current=current, needed=needed)

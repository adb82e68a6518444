"""The status page for operators, rendered per request from the database: it changes with
every poll, and `run` publishes only when items change, so a file would go stale.

A rendered page is kept while the poll log and the item count stay the same (checked at most
once every few seconds); the page shows no clock of its own, so every node reading the same
database serves the same bytes and the same ETag.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from aggregator import site
from aggregator.config import Config
from aggregator.errors import StoreError
from aggregator.site.views import source_line
from aggregator.store import SourceStatus, Store
from aggregator.store.views import PollView
from aggregator.web.http import Resource, resource

HTML_TYPE = "text/html; charset=utf-8"
RECHECK = 5.0  # seconds during which a rendered page is served without asking the database
POLLS_SHOWN = 50
_T = TypeVar("_T")
STATES = ("failing", "moved", "waiting", "retired", "new", "healthy", "disabled")  # urgent first


class StatusPage:
    """Builds the status page from a Store opened (lazily) on the config's database."""

    def __init__(self, store: Store | None = None) -> None:
        self._store = store  # given (tests); else opened on the config's database
        self._own: Store | None = None
        self._lock = threading.Lock()
        self._cached: tuple[Config, object, Resource] | None = None  # config, version, page
        self._checked = 0.0  # monotonic time of the last version check

    def get(self, config: Config, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Resource:
        """The page for `config`; blocking (database reads): call it from a thread."""
        with self._lock:  # one render at a time; the others wait and reuse it
            now, cached = time.monotonic(), self._cached
            if cached and cached[0] is config and now - self._checked < RECHECK:
                return cached[2]
            store = self._open(config)
            version = _reading(store.status_version)
            self._checked = now
            if cached and cached[0] is config and cached[1] == version:
                return cached[2]
            statuses = _reading(store.source_status)
            polls = _reading(lambda: store.recent_polls(POLLS_SHOWN))
            page = _render(config, statuses, polls).encode("utf-8")
            res = resource(page, HTML_TYPE, version[2] or _mtime(config), extra)
            self._cached = (config, version, res)
            return res

    def _open(self, config: Config) -> Store:
        if self._store is not None:
            return self._store
        if self._own is None or self._own.url != config.settings.database:
            if self._own is not None:
                self._own.close()
            self._own = Store(config.settings.database)
        return self._own

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None


def _reading(read: Callable[[], _T]) -> _T:
    """A database read; any failure of the database is a StoreError (a 503 for the app)."""
    try:
        return read()
    except StoreError:
        raise
    except Exception as exc:  # the driver's own errors: the store's library stays inside it
        raise StoreError(f"cannot read the database: {exc}") from exc


def _render(config: Config, statuses: list[SourceStatus], polls: list[PollView]) -> str:
    known = {status.id: status for status in statuses}
    lines = [source_line(known.get(source.id) or _unpolled(source.id, source.url),
                         enabled=source.enabled, title=source.title)
             for source in config.sources]
    lines.sort(key=lambda line: STATES.index(line.state))  # failing first, else file order
    states = Counter(line.state for line in lines)
    counts = [(state, states[state]) for state in STATES if states[state]]
    return site.status_page(lines, polls, counts)


def _unpolled(source_id: str, url: str) -> SourceStatus:
    """A configured source the database does not know yet (added since the last poll)."""
    return SourceStatus(id=source_id, url=url, feed_title=None, last_poll_at=None,
                        last_outcome=None, last_error=None, error_since=None,
                        consecutive_errors=0, next_check_at=None, retired=False, items=0,
                        moved_to=None, redirect_url=None)


def _mtime(config: Config) -> datetime:
    try:
        return datetime.fromtimestamp(int(config.path.stat().st_mtime), UTC)
    except OSError:
        return datetime(2026, 1, 1, tzinfo=UTC)

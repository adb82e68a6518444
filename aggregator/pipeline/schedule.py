"""When to poll a source next: a pure decision from its interval, the feed's and the
server's hints, and its error count (the rule Miniflux and reader use, plus jitter).

    wait = max(interval, RSS ttl, Cache-Control max-age, Expires, Retry-After)
    after n errors in a row: max(wait, interval × 2^(n-1))   — never a permanent stop
    next = now + clamp(wait, min_interval, max_interval) × (1 + jitter × U[0,1))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.I)


@dataclass(frozen=True, slots=True)
class Hints:
    """What the feed and the server said about polling again."""

    ttl_minutes: int | None = None  # RSS <ttl>
    cache_control: str | None = None  # Cache-Control header
    expires: str | None = None  # Expires header
    retry_after: float | None = None  # seconds, from Retry-After


NO_HINTS = Hints()


def utcnow() -> datetime:
    """The clock of polling and publishing (tests inject their own)."""
    return datetime.now(UTC)


def server_wait(hints: Hints, now: datetime) -> timedelta:
    """The longest wait the hints ask for (zero when they ask for none)."""
    waits = [timedelta(0)]
    if hints.ttl_minutes and hints.ttl_minutes > 0:
        waits.append(timedelta(minutes=hints.ttl_minutes))
    if hints.retry_after:
        waits.append(timedelta(seconds=hints.retry_after))
    if hints.cache_control and "no-store" not in hints.cache_control.lower():
        match = _MAX_AGE.search(hints.cache_control)
        if match:
            waits.append(timedelta(seconds=min(int(match[1]), 10**9)))
    if hints.expires:
        try:
            expires = parsedate_to_datetime(hints.expires)
        except (TypeError, ValueError, IndexError):
            expires = None
        if expires is not None and expires.tzinfo is not None:
            waits.append(expires - now)
    return max(waits)


def next_check(now: datetime, *, interval: timedelta, min_interval: timedelta,
               max_interval: timedelta, hints: Hints = NO_HINTS, consecutive_errors: int = 0,
               jitter: float = 0.0, random: Callable[[], float] = lambda: 0.0) -> datetime:
    """When to poll again; `random` returns a float in [0, 1) (injected for tests)."""
    wait = max(interval, server_wait(hints, now))
    if consecutive_errors > 0:
        wait = max(wait, interval * 2 ** min(consecutive_errors - 1, 30))
    wait = min(max(wait, min_interval), max_interval)
    return now + wait * (1 + jitter * random())

"""When to poll a source next: a pure decision from its interval, the feed's hints and errors."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_check(now: datetime, *, interval: timedelta, min_interval: timedelta,
               max_interval: timedelta, ttl_minutes: int | None = None,
               consecutive_errors: int = 0, retry_after: float | None = None) -> datetime:
    """The largest of the interval and the feed's hints, clamped; errors back off
    exponentially from the interval up to max_interval (never a permanent stop)."""
    wait = interval
    if ttl_minutes:
        wait = max(wait, timedelta(minutes=ttl_minutes))
    if retry_after:
        wait = max(wait, timedelta(seconds=retry_after))
    if consecutive_errors:
        factor = 2 ** min(consecutive_errors - 1, 20)
        wait = max(wait, interval * factor)
    return now + min(max(wait, min_interval), max_interval)

"""The pipeline: the one place that knows the order of the stages.

    due sources ─► fetch ─► parse ─► normalize ─► dedupe ─► tag ─► store ─► PollOutcome
                   │ (concurrent: asyncio + aiohttp, bounded in all and per host)
                   ├ 304, or a body identical to the last one: only the polling state moves
                   └ any SourceError: an `error` outcome for that source; the pass goes on

The store asks `stories` (one Clusterer, warmed from the store at the first stored feed) which
story each new item joins, inside the transaction that stores them.

Fetching runs on the event loop; the CPU work (parse … tag) runs in worker processes (or,
for a small pass, in the store thread), and the database writes in one store thread, so
fetches keep flowing meanwhile. Parsed feeds that wait for the store thread are stored
together, in one transaction (a group commit: a busy first poll writes a few dozen
transactions, not one per source); if that fails, one by one.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# The poller and its names are loaded when first asked for: the parse workers import the
# worker side (pipeline.work: parse … tag) through this package, and must not load the
# poller's store, fetcher and clusterer with it.
_LAZY = {"poller": ("Poller", "PARSE_POOL_AFTER", "QUIET_BATCH", "GROUP_MAX"),
         "work": ("process", "configured_languages", "Processed")}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = ["Poller", "process"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)

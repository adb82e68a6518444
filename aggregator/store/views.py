"""Read-only views the store hands to the web pages (the publisher's are in repository.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PollView:
    """One row of the poll log, as the status page shows it."""

    source_id: str
    started_at: datetime
    duration: float  # seconds
    outcome: str  # new, updated, unchanged, not_modified, error
    status: int | None  # HTTP status, when there was a response
    new: int  # items added
    updated: int  # items changed
    error: str | None

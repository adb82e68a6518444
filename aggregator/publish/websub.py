"""WebSub (W3C Recommendation, 2018): tell the hub which feeds changed, so it pushes them
to subscribers at once instead of waiting for their next poll.

A failed ping is logged and remembered in `{output_dir}/.websub-pending`; the next publish
pings those feeds again. Pinging happens after the files are written and never raises.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlencode

from aggregator import USER_AGENT
from aggregator.publish.write import write_atomic

log = logging.getLogger("aggregator.websub")
PENDING = ".websub-pending"
TIMEOUT = 10.0  # seconds per ping: a slow hub must not hold up the poll for long


def notify_hub(hub: str, output_dir: Path, changed: Iterable[str]) -> list[str]:
    """Ping the hub for each changed feed URL and each one still pending; return the URLs
    that failed (kept for the next publish)."""
    pending_file = output_dir / PENDING
    urls = sorted(set(changed) | set(_load(pending_file)))
    failed = [url for url in urls if not _ping(hub, url)]
    if failed or pending_file.exists():
        write_atomic(pending_file, json.dumps(failed).encode())
    return failed


def _ping(hub: str, url: str) -> bool:
    data = urlencode({"hub.mode": "publish", "hub.url": url}).encode()
    request = urllib.request.Request(hub, data=data, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            ok = 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("WebSub hub %s: ping for %s failed: %s (retried at the next publish)",
                    hub, url, exc)
        return False
    if not ok:
        log.warning("WebSub hub %s answered %s for %s", hub, response.status, url)
    return ok


def _load(path: Path) -> list[str]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(url) for url in value] if isinstance(value, list) else []

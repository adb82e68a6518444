"""One timed pass of one tool, run by poll_vs_reader.py in a fresh process of its own.

    python bench/passes.py ours   first|second WORKDIR
    python bench/passes.py reader first|second WORKDIR
    python bench/passes.py floor  first|second WORKDIR

WORKDIR holds feeds.yaml (ours) or urls.txt (reader); the database is kept there between
the two passes. The libraries are imported before the clock starts, the same for both
tools (ours: those `aggregator poll` has imported when its pass begins); the time covers
what the user's command does after that, publishing's imports included. Prints one JSON line:
wall and CPU seconds of the pass (ours: of its own process; poll_vs_reader.py adds the
processes it starts), the peak RSS of this process when the pass ends (getrusage
ru_maxrss, imports included), and what the pass stored (read afterwards).

`floor` is no feed reader: the least any client does against this server, the same
requests as the tools (20 in flight, gzip, the validators of the first pass on the second)
with nothing parsed or stored. Its second pass is the fastest that a quiet poll can be here:
with 20 ms per response, 500 requests, 20 at a time, cannot take less than 0.50 s.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

WORKERS = 20  # both tools: 20 requests in flight


def ours(which: str, work: Path) -> dict[str, Any]:
    """`aggregator --config feeds.yaml poll --all`, in-process: load, sync, poll, publish."""
    imported = time.perf_counter()
    # What `aggregator poll` has imported when its pass begins (cmd_poll imports the
    # pipeline lazily); publishing's modules it imports after the pass, only when there is
    # something to publish, so they are inside the timed pass, as in a user's cron poll.
    from aggregator.cli import main
    from aggregator.config import load_config
    from aggregator.pipeline import Poller  # noqa: F401  (as cmd_poll does)
    from aggregator.store import Store

    imported = time.perf_counter() - imported
    out = io.StringIO()
    started, cpu = time.perf_counter(), _cpu_seconds(own=True)
    with contextlib.redirect_stdout(out):
        status = main(["--config", str(work / "feeds.yaml"), "poll", "--all"])
    seconds, cpu, peak = time.perf_counter() - started, _cpu_seconds(own=True) - cpu, \
        _peak_rss_mib()
    logging.shutdown()
    lines = out.getvalue().splitlines()
    total = next((line for line in lines if line.startswith("total:")), "")
    counts = total.partition("(")[2].partition(")")[0]  # "(30 new, 0 updated, …)"
    kinds = {k: int(n) for n, k in re.findall(r"(\d+) ([a-z ]+)", counts)}
    config = load_config(work / "feeds.yaml")
    with Store(config.settings.database) as store:
        items, stories = store.count("items"), store.count("stories")
    published = config.settings.output_dir / f"{config.sections[0].id}.atom"
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mib": peak,
            "import_seconds": imported, "exit_status": status, "outcomes": kinds,
            "errors": kinds.get("error", 0), "items": items, "stories": stories,
            "published_entries": published.read_text(encoding="utf-8").count("<entry")
            if published.exists() else 0,
            "first_errors": [line for line in lines if ": error" in line][:5]}


def reader(which: str, work: Path) -> dict[str, Any]:
    """lemon24/reader: make_reader, add_feed (first pass only), update_feeds(workers=20)."""
    imported = time.perf_counter()
    import feedparser  # noqa: F401  (reader imports its parser lazily)
    import requests  # noqa: F401
    from reader import make_reader

    imported = time.perf_counter() - imported
    db = str(work / "reader.sqlite")
    urls = (work / "urls.txt").read_text(encoding="utf-8").split()
    setup = 0.0
    if which == "first":  # adding the feeds is set-up, not polling: timed apart
        started = time.perf_counter()
        with contextlib.closing(make_reader(db)) as r:
            for url in urls:
                r.add_feed(url)
        setup = time.perf_counter() - started
    started, cpu = time.perf_counter(), _cpu_seconds()
    r = make_reader(db)
    # scheduled=False: every feed, due or not, as `poll --all` does (reader would otherwise
    # skip them all on the second pass, an hour not having passed).
    r.update_feeds(workers=WORKERS, scheduled=False)
    r.close()
    seconds, cpu, peak = time.perf_counter() - started, _cpu_seconds() - cpu, _peak_rss_mib()
    with contextlib.closing(make_reader(db)) as r:
        feeds = r.get_feed_counts()
        first_errors = [f"{f.url}: {f.last_exception.value_str}"
                        for f in r.get_feeds(broken=True, limit=5) if f.last_exception]
        return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mib": peak,
                "import_seconds": imported, "setup_seconds": setup, "errors": feeds.broken,
                "feeds": feeds.total, "items": r.get_entry_counts().total,
                "first_errors": first_errors}


def floor(which: str, work: Path) -> dict[str, Any]:
    """A bare aiohttp client: every URL of urls.txt, WORKERS at a time, bodies read and
    dropped; the second pass sends the first pass's ETag and Last-Modified."""
    import asyncio

    import aiohttp

    urls = (work / "urls.txt").read_text(encoding="utf-8").split()
    kept = work / "validators.json"
    validators: dict[str, dict[str, str]] = \
        json.loads(kept.read_text(encoding="utf-8")) if which == "second" else {}
    statuses: dict[int, int] = {}

    async def sweep() -> None:
        limit = asyncio.Semaphore(WORKERS)
        connector = aiohttp.TCPConnector(limit=WORKERS)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(url: str) -> None:
                headers = {"Accept-Encoding": "gzip"}
                old = validators.get(url, {})
                if "etag" in old:
                    headers["If-None-Match"] = old["etag"]
                if "modified" in old:
                    headers["If-Modified-Since"] = old["modified"]
                async with limit, session.get(url, headers=headers) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                    found = {"etag": response.headers.get("ETag"),
                             "modified": response.headers.get("Last-Modified")}
                    validators[url] = {k: v for k, v in found.items() if v}

            await asyncio.gather(*(one(url) for url in urls))

    started, cpu = time.perf_counter(), _cpu_seconds()
    asyncio.run(sweep())
    seconds, cpu, peak = time.perf_counter() - started, _cpu_seconds() - cpu, _peak_rss_mib()
    if which == "first":
        kept.write_text(json.dumps(validators), encoding="utf-8")
    errors = len(urls) - statuses.get(200 if which == "first" else 304, 0)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mib": peak,
            "import_seconds": 0.0, "errors": errors,
            "statuses": {str(k): v for k, v in statuses.items()}}


def _cpu_seconds(own: bool = False) -> float:
    """User + system CPU time of this process (all its threads) and of its finished child
    processes so far; `own`: of this process only (poll_vs_reader.py reads the time of the
    processes ours starts from /proc: the forkserver's parse workers are not our children,
    and a thread here sampling them would keep publishing from forking)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF,) if own else (resource.RUSAGE_SELF,
                                                      resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _peak_rss_mib() -> float:
    """Peak resident set of this whole process so far; Linux reports ru_maxrss in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    tool, which, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if which not in ("first", "second") or tool not in ("ours", "reader", "floor"):
        sys.exit(__doc__)
    result = {"ours": ours, "reader": reader, "floor": floor}[tool](which, work)
    if tool == "ours":  # which copy of the code ran: poll_vs_reader.py puts a snapshot first
        result["aggregator_path"] = str(Path(sys.modules["aggregator"].__file__ or "").parent)
    result.update(tool=tool, which=which)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

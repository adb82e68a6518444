"""What storing a first poll costs, without the network and the parse workers: the
benchmark's corpus parsed in this process first, then every feed saved (`Store.save_feed`,
stories decided by levels 1-2) into a new SQLite database, timed alone.

    .venv/bin/python bench/store_cost.py [--feeds 500] [--group N] [--profile] [--against DIR]

`--group N` saves N feeds per transaction (`Store.save_feeds`), as the poller does with the
feeds waiting for its store thread (1: one transaction per feed; a tree without save_feeds is
always measured one feed at a time).

Prints CPU seconds (this process) and wall seconds of the saving; with --profile, the
functions holding most of it (cProfile, cumulative). `--against DIR` runs the same in a
fresh process with another tree's `aggregator` package (a `git worktree` of an older
commit), alternating, `--repeats` times, and prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import corpus

HERE = Path(__file__).resolve().parent


def measure(feeds: int, profile: bool, group: int = 1) -> dict[str, float]:
    from aggregator import models
    from aggregator.config import SourceConfig
    from aggregator.models import FetchResult
    from aggregator.pipeline import process
    from aggregator.pipeline.stories import Stories
    from aggregator.pipeline.tag import TopicMatcher
    from aggregator.store import Store

    generated = corpus.generate(feeds, 1)
    now = corpus.ANCHOR + timedelta(hours=1)
    matcher = TopicMatcher(())
    parsed = []
    for feed in generated:
        source = SourceConfig(id=feed.id, url=f"http://127.0.0.1{feed.path}")
        body = corpus.render(feed)
        fetched = FetchResult(source_id=feed.id, url=source.url, final_url=source.url,
                              status=200, body=body, content_type=corpus.CONTENT_TYPE[feed.format],
                              body_hash=str(hash(body)))
        parsed.append((source, fetched, *process(fetched, source, matcher, now)))
    with tempfile.TemporaryDirectory() as tmp, Store(f"sqlite:///{tmp}/store.db") as store:
        store.sync_sources([source for source, *_ in parsed])
        stories = Stories(timedelta(hours=72), embedder=None)
        stories.warm(store, now)
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        due = now + timedelta(minutes=15)
        if group > 1 and hasattr(store, "save_feeds"):
            changed = [models.Changed(source.id, fetched, feed, entries, now, due)
                       for source, fetched, feed, entries in parsed]
            for start in range(0, len(changed), group):
                store.save_feeds(changed[start:start + group], stories)
        else:
            for source, fetched, feed, entries in parsed:
                store.save_feed(source.id, fetched=fetched, feed=feed, entries=entries,
                                now=now, next_check_at=due, decider=stories)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        items = store.count("items")
    if profiler:
        profiler.dump_stats(str(HERE / "out" / "store_cost.prof"))
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return {"items": items, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--group", type=int, default=1, help="feeds per transaction (1)")
    parser.add_argument("--against", type=Path, help="another tree holding `aggregator`")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or not args.against:
        print(json.dumps(measure(args.feeds, args.profile, args.group)), flush=True)
        return 0
    trees = {"this": HERE.parent, "against": args.against.resolve()}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            done = subprocess.run([sys.executable, __file__, "--child", "--feeds",
                                   str(args.feeds), "--group", str(args.group)], env=env,
                                  check=True,
                                  capture_output=True, text=True)
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(name, runs[name][-1], flush=True)
    cpu = {name: statistics.median(r["cpu_s"] for r in rs) for name, rs in runs.items()}
    print(json.dumps({"median_cpu_s": cpu, "against_over_this": round(
        cpu["against"] / cpu["this"], 2), "at": datetime.now(UTC).isoformat(timespec="seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

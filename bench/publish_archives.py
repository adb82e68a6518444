"""Benchmark: publishing a section with 30 days of RFC 5005 archives, before and after
incremental archive rendering.

    .venv/bin/python bench/publish_archives.py [--before REV] [--days 30] [--per-day 40]
                                               [--repeats 5] [--overlay]

    for each version (REV's aggregator/ from git, and this checkout's):
        a fresh process ─► local feeds on 127.0.0.1 (one story every --per-day-th of a day,
        --days back from now) ─► `aggregator poll --all` ─► publish_all timed:
          cold         the output folder emptied first
          unchanged    nothing changed since the last publish (repeated)
          one new      one new story polled just before (repeated)
    ─► medians of wall and CPU time (this process's; steadier on a loaded machine),
        before/after ratios: a table on stdout, JSON in bench/out/

Both versions get the same feeds; each builds its own database with its own code (they may
differ in schema). Story level 3 (embeddings) is off: only publishing is measured.
"after" is this checkout's aggregator/; with --overlay it is REV's with only this checkout's
aggregator/publish/ and aggregator/site/ on top, to measure a publishing change alone while
other parts of the tree have uncommitted work.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.server
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FEEDS = 10  # sources; stories are spread over them round-robin
WORDS = 6  # made-up words per title and per summary, unique to the story


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="HEAD", help="git revision measured as 'before'")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=40, help="stories per day")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--overlay", action="store_true",
                        help="after = REV + this checkout's publish/ and site/ only")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.days, args.per_day, args.repeats)))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="aggregator-publish-bench-"))
    try:
        _export(args.before, tmp / "before")
        if args.overlay:
            _export(args.before, tmp / "after")
            for part in ("publish", "site"):
                shutil.rmtree(tmp / "after" / "aggregator" / part)
                shutil.copytree(HERE.parent / "aggregator" / part,
                                tmp / "after" / "aggregator" / part,
                                ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copytree(HERE.parent / "aggregator", tmp / "after" / "aggregator",
                            ignore=shutil.ignore_patterns("__pycache__"))
        results = {version: _run(tmp / version, args) for version in ("before", "after")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = _report(results, args)
    out = HERE / "out" / f"publish_archives-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {out.relative_to(HERE.parent)}")
    return 0


def _export(revision: str, folder: Path) -> None:
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", revision, "aggregator"], cwd=HERE.parent,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)


def _run(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(folder), "AGGREGATOR_PARSE_WORKERS": "0"}
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(folder),
               "--days", str(args.days), "--per-day", str(args.per_day),
               "--repeats", str(args.repeats)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder,
                          timeout=3600, check=False)
    if proc.returncode != 0:
        sys.exit(f"{folder.name} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {folder.name}: cold {_median(result['cold']):.2f} s, unchanged "
          f"{_median(result['unchanged']):.3f} s, one new "
          f"{_median(result['one_new']):.3f} s", file=sys.stderr)
    return result


def _median(runs: list[list[float]], which: int = 0) -> float:
    """The median wall (which=0) or CPU (which=1) time of some runs."""
    return statistics.median(run[which] for run in runs)


def _report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    rows = {}
    after = f"{args.before} + this checkout's publish/ and site/" if args.overlay \
        else "this checkout"
    print(f"\n{args.days} days x {args.per_day} stories/day, {args.repeats} repeats "
          f"(medians); 'before' is {args.before}, 'after' {after}\n")
    print("| publish | before wall | after wall | ratio | before CPU | after CPU | ratio |\n"
          "|---|---|---|---|---|---|---|")
    for key, label in (("cold", "cold (empty output folder)"),
                       ("unchanged", "nothing changed"), ("one_new", "one new story")):
        wall = [_median(results[v][key]) for v in ("before", "after")]
        cpu = [_median(results[v][key], 1) for v in ("before", "after")]
        rows[key] = {"before_s": wall[0], "after_s": wall[1], "ratio": wall[0] / wall[1],
                     "before_cpu_s": cpu[0], "after_cpu_s": cpu[1], "cpu_ratio": cpu[0] / cpu[1]}
        print(f"| {label} | {wall[0]:.3f} s | {wall[1]:.3f} s | {wall[0] / wall[1]:.1f}x "
              f"| {cpu[0]:.3f} s | {cpu[1]:.3f} s | {cpu[0] / cpu[1]:.1f}x |")
    for version in ("before", "after"):
        r = results[version]
        print(f"\n{version}: {r['stories']} stories, {r['archives']} archive documents, "
              f"files written by 'one new story': {r['files_written_one_new']}")
    return {"args": vars(args) | {"worker": None}, "medians": rows, "runs": results,
            "loadavg": os.getloadavg()}


# -- the worker: one version, in its own process --------------------------------------------

def _worker(folder: Path, days: int, per_day: int, repeats: int) -> dict[str, Any]:
    from aggregator.cli import main as cli
    from aggregator.config import load_config
    from aggregator.pipeline import Poller
    from aggregator.publish import publish_all
    from aggregator.store import Store

    now = datetime.now(UTC)
    stories = [(n, now - timedelta(days=days) + timedelta(days=days) * (n + 0.5) /
                (days * per_day)) for n in range(days * per_day)]
    feeds: dict[str, list[tuple[int, datetime]]] = {f"/f{k}.xml": [] for k in range(FEEDS)}
    for n, when in stories:
        feeds[f"/f{n % FEEDS}.xml"].append((n, when))
    with _serve(feeds) as url:
        config_path = _config(folder, url)
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli(["--config", str(config_path), "poll", "--all"]) == 0
        config = load_config(config_path)
        public = config.settings.output_dir
        with Store(config.settings.database) as store:
            shutil.rmtree(public)
            cold = [_timed(lambda: publish_all(config, store))]
            unchanged = [_timed(lambda: publish_all(config, store)) for _ in range(repeats)]
            one_new: list[tuple[float, float]] = []
            written = 0
            for r in range(repeats):
                n = len(stories) + r
                feeds["/f0.xml"].append((n, datetime.now(UTC) - timedelta(minutes=1)))
                poller = Poller(config, store, clock=lambda: datetime.now(UTC))
                poller.run(poller.due(all_sources=True))
                before = _mtimes(public)
                one_new.append(_timed(lambda: publish_all(config, store)))
                written = sum(1 for p, m in _mtimes(public).items() if before.get(p) != m)
            archives = len(list(public.glob("archive/*/*.atom")))
            total = store.count("stories")
    return {"cold": cold, "unchanged": unchanged, "one_new": one_new, "stories": total,
            "archives": archives, "files_written_one_new": written}


def _timed(work: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def _mtimes(public: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in public.rglob("*") if p.is_file()}


def _config(folder: Path, url: str) -> Path:
    path = folder / "feeds.yaml"
    sources = "".join(f"  - {{id: s{k}, url: '{url}/f{k}.xml'}}\n" for k in range(FEEDS))
    path.write_text(
        f"settings:\n  database: 'sqlite:///{folder}/db.sqlite'\n  output_dir: public\n"
        "  base_url: https://news.example/\n  retention: 60d\n  story_embeddings: false\n"
        f"sources:\n{sources}topics:\n  ukraine: {{terms: [Ukraine]}}\n"
        "sections:\n  - {id: war, title: War, topics: [ukraine], max_items: 50}\n",
        encoding="utf-8")
    return path


def _words(n: int, salt: str) -> str:
    """Words no other story shares, so the clusterer groups no two stories."""
    return " ".join(hashlib.blake2b(f"{salt}{n}.{i}".encode(), digest_size=5).hexdigest()
                    for i in range(WORDS))


def _feed(items: list[tuple[int, datetime]]) -> bytes:
    body = "".join(
        f"<item><title>Ukraine {_words(n, 't')}</title>"
        f"<link>https://bench.example/{n}</link><guid>b-{n}</guid>"
        f"<description>&lt;p&gt;Kyiv report: {_words(n, 'd')}.&lt;/p&gt;</description>"
        f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate></item>" for n, when in items)
    return ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>B"
            "</title><link>https://bench.example/</link><description>d</description>"
            f"{body}</channel></rss>").encode()


@contextlib.contextmanager
def _serve(feeds: dict[str, list[tuple[int, datetime]]]) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = _feed(feeds.get(self.path, []))
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())

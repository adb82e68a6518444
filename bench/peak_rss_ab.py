"""Our poll's peak RSS and time, two versions of the code side by side in one run.

    .venv/bin/python bench/peak_rss_ab.py --before DIR_A --after DIR_B [--repeats 3]
        [--feeds 500] [--no-embeddings] [--undeclared] [--languages ar,en] [--workers N]
        [--json FILE]

Each DIR holds an `aggregator` package (e.g. `git archive COMMIT aggregator | tar -x -C DIR`).
Same corpus, server, feeds.yaml and pass processes (passes.py) as poll_vs_reader.py, without
reader: per repeat, each version polls a fresh database twice (first poll, then all 304s),
the order of the versions alternating between repeats, so that both see the same load on a
shared machine. Reports medians of the peak RSS (ru_maxrss of the pass's process, as the
benchmark does: the parse workers are not counted; memory_ours.py measures them) and of the
wall and CPU seconds, and after / before ratios. --undeclared strips the feeds' language
declarations (see memory_ours.py); --workers 0 keeps parsing (and language detection) in the
pass's own process, as a poll of fewer than 8 sources does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import corpus
import poll_vs_reader
from memory_ours import _section_languages, _undeclare
from poll_vs_reader import _prepare, _run_pass, _server, _snapshot

KEYS = ("peak_rss_mib", "seconds", "cpu_seconds")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--no-embeddings", action="store_true")
    parser.add_argument("--languages", help="e.g. ar,en: the section's languages, which "
                        "language detection then chooses among (none by default, as in "
                        "poll_vs_reader.py: every language py3langid knows)")
    parser.add_argument("--undeclared", action="store_true")
    parser.add_argument("--workers", type=int, help="AGGREGATOR_PARSE_WORKERS for the passes")
    parser.add_argument("--json", type=Path, help="write every run here")
    args = parser.parse_args()
    poll_vs_reader.NO_EMBEDDINGS = args.no_embeddings
    if args.workers is not None:  # _run_pass hands this environment to the pass
        os.environ["AGGREGATOR_PARSE_WORKERS"] = str(args.workers)
    tmp = Path(tempfile.mkdtemp(prefix="aggregator-ab-"))
    runs: list[dict[str, Any]] = []
    try:
        codes = {name: _snapshot(tmp / name, folder)
                 for name, folder in (("before", args.before), ("after", args.after))}
        feeds = corpus.generate(args.feeds, args.seed)
        corpus.write(feeds, tmp / "corpus")
        if args.undeclared:
            _undeclare(tmp / "corpus")
        with _server(tmp / "corpus", args.latency_ms) as (port, _stats):
            urls = [f"http://127.0.0.1:{port}{f.path}" for f in feeds]
            for repeat in range(args.repeats):
                order = ("before", "after") if repeat % 2 == 0 else ("after", "before")
                for name in order:
                    work = tmp / f"run{repeat}-{name}"
                    _prepare("ours", work, urls)
                    _section_languages(work / "feeds.yaml", args.languages)
                    for which in ("first", "second"):
                        result = _run_pass("ours", which, work, tmp / name)
                        result.update(version=name, repeat=repeat)
                        runs.append(result)
                        print(f"  {repeat + 1}/{args.repeats} {name:6} {which:6} "
                              f"{result['seconds']:6.2f} s {result['peak_rss_mib']:5.0f} MiB "
                              f"{result['outcomes']}", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(table(runs, args))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "code": codes, "runs": runs}, indent=1) + "\n",
                             encoding="utf-8")
    return 0


def table(runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    def median(name: str, which: str, key: str) -> float | None:
        values = [r[key] for r in runs if r["version"] == name and r["which"] == which
                  and r.get(key) is not None]
        return statistics.median(values) if values else None

    lines = [f"{args.feeds} feeds, {args.repeats} repeats, "
             f"{'no embeddings' if args.no_embeddings else 'embeddings on'}"
             f"{', languages undeclared' if args.undeclared else ''}"
             f"{f', section languages {args.languages}' if args.languages else ''}"
             f"{f', {args.workers} parse workers' if args.workers is not None else ''}; medians",
             f"{'pass':7} {'measure':16} {'before':>9} {'after':>9} {'after/before':>13}"]
    for which in ("first", "second"):
        for key in KEYS:
            a, b = median("before", which, key), median("after", which, key)
            if a is None or b is None:
                continue
            lines.append(f"{which:7} {key:16} {a:9.2f} {b:9.2f} {b / a:12.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

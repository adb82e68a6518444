"""Where our poll spends its time: py-spy samples of both passes on the benchmark's corpus.

    .venv/bin/pip install py-spy        # not in the bench extra: a profiler, not a dependency
    .venv/bin/python bench/profile_ours.py [--feeds 500] [--rate 100] [--gil]

Same corpus, server and pass processes as poll_vs_reader.py. py-spy samples every thread,
idle or not (--idle), so a thread's samples add up to wall time; the report gives, per
pass and thread, the functions that hold the most wall time (inclusive, % of the pass), and
keeps the raw folded stacks in bench/out/ for a flame graph (flamegraph.pl, speedscope).
With --gil, only the thread holding the GIL is sampled: the threads of the poll's process
(event loop, store, pool manager) share one core's worth of Python, and this shows who
spends it on what.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import corpus
from poll_vs_reader import HERE, _prepare, _server, _snapshot

# A frame as py-spy writes it: "function (path/to/file.py:123)".
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::\d+)?\)$")
_PREFIXES = re.compile(r"^.*?/(site-packages|python3\.\d+|work/main)/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=int, default=100, help="samples per second (100)")
    parser.add_argument("--top", type=int, default=25, help="functions shown per thread")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--no-embeddings", action="store_true",
                        help="stories by levels 1-2 only (read by poll_vs_reader._prepare)")
    parser.add_argument("--gil", action="store_true",
                        help="sample only the thread holding the GIL (py-spy --gil): where the "
                             "poll's process spends the one core its threads share")
    parser.add_argument("--code", type=Path, default=HERE.parent,
                        help="folder holding the aggregator package (default: this checkout)")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="aggregator-profile-"))
    try:
        code = _snapshot(tmp / "code", args.code)
        print(f"code: {code}")
        feeds = corpus.generate(args.feeds, args.seed)
        corpus.write(feeds, tmp / "corpus")
        with _server(tmp / "corpus", args.latency_ms) as (port, _stats):
            work = tmp / "ours"
            _prepare("ours", work, [f"http://127.0.0.1:{port}{f.path}" for f in feeds])
            for which in ("first", "second"):
                raw = out / f"profile-ours-{which}.folded"
                subprocess.run([py_spy, "record", "--rate", str(args.rate), "--threads",
                                "--gil" if args.gil else "--idle", "--format", "raw",
                                "--output", str(raw), "--",
                                sys.executable, str(HERE / "passes.py"), "ours", which,
                                str(work)], check=True, capture_output=True, cwd=work,
                               env={**os.environ, "PYTHONPATH": str(tmp / "code")})
                print(report(raw, which, args.rate, args.top, gil=args.gil))
                print(f"raw stacks: {raw}\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(raw: Path, which: str, rate: int, top: int, *, gil: bool = False) -> str:
    """Per thread: wall seconds (with `gil`, seconds holding the GIL) and the functions
    holding most of them, during the pass."""
    per_thread: dict[str, Counter[str]] = {}
    wall: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        thread, *frames = stack.split(";")
        names = [_name(f) for f in frames]
        name = thread.partition("): ")[2] or "MainThread"  # unnamed: the main thread's tid
        if name.startswith("MainThread"):
            # Only the poll itself: not the imports and checks passes.py does around it.
            if not any(n.startswith("main (aggregator/cli.py") for n in names):
                continue
            name = "MainThread"
        wall[name] += int(count)
        seen = per_thread.setdefault(name, Counter())
        for n in set(names):
            seen[n] += int(count)
    # the main thread is busy or waiting for the whole pass; with `gil`, every thread's
    # samples are seconds of the one core they share
    total = (sum(wall.values()) if gil else wall["MainThread"]) or 1
    held = "holding the GIL" if gil else "of wall time"
    lines = [f"== ours, {which} pass: {total / rate:.2f} s {held} in aggregator.cli.main"]
    for name, counter in sorted(per_thread.items(), key=lambda kv: -wall[kv[0]]):
        lines.append(f"-- thread {name}: {wall[name] / rate:.2f} s sampled "
                     f"({wall[name] / total:.0%} of the pass)")
        boring = ("(threading.py)", "(concurrent/futures/thread.py)", "(asyncio/runners.py)",
                  "(asyncio/base_events.py)", "(asyncio/events.py)", "(passes.py)")
        shown = [(n, c) for n, c in counter.most_common()
                 if not any(b in n for b in boring)][:top]
        lines += [f"   {c / total:6.1%}  {c / rate:6.2f} s  {n}" for n, c in shown]
    return "\n".join(lines)


def _name(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    return f"{match['func']} ({_PREFIXES.sub('', match['file'])})"


if __name__ == "__main__":
    sys.exit(main())

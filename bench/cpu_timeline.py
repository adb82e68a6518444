"""How busy the two cores are during our first poll, a quarter second at a time.

    .venv/bin/python bench/cpu_timeline.py [--feeds 500] [--bucket 0.25] [--code DIR]

Same corpus, server, feeds.yaml and pass process (passes.py) as poll_vs_reader.py, with
`--no-embeddings`. While the pass runs, /proc is read every 10 ms from here, outside the
pass (a thread inside it would keep publishing from forking): the CPU time of the pass's
process, of each of its threads, and of the processes below it (the forkserver, the parse
workers, publishing's forked renderer). Prints, per bucket, the cores each side used, then
each thread's CPU seconds (Python does not name its threads in /proc: the main thread is the
one whose id is the process's; the event loop runs there, publishing too).

The clock starts when the pass's process does: its first 0.4 s or so are imports, outside
the benchmark's timed pass.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import corpus
import poll_vs_reader
from poll_vs_reader import HERE, _prepare, _server, _snapshot

TICK = os.sysconf("SC_CLK_TCK")


def _stat(path: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) from a /proc stat file, None once it is gone."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _below(root: int) -> dict[int, float]:
    """CPU seconds of `root` and of every process below it."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (found := _stat(f"/proc/{name}/stat")) is not None:
            table[int(name)] = found
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out[pid] = table[pid][1]
            todo += [child for child, (parent, _) in table.items() if parent == pid]
    return out


def _threads(pid: int) -> dict[int, float]:
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        if (found := _stat(f"/proc/{pid}/task/{tid}/stat")) is not None:
            out[int(tid)] = found[1]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bucket", type=float, default=0.25, help="seconds per line (0.25)")
    parser.add_argument("--code", type=Path, default=HERE.parent,
                        help="folder holding the aggregator package (default: this checkout)")
    args = parser.parse_args()
    poll_vs_reader.NO_EMBEDDINGS = True  # read by _prepare
    with tempfile.TemporaryDirectory(prefix="aggregator-timeline-") as name:
        tmp = Path(name)
        _snapshot(tmp / "code", args.code)
        feeds = corpus.generate(args.feeds, args.seed)
        corpus.write(feeds, tmp / "corpus")
        with _server(tmp / "corpus", 20.0) as (port, _stats):
            work = tmp / "run"
            _prepare("ours", work, [f"http://127.0.0.1:{port}{f.path}" for f in feeds])
            env = dict(os.environ, PYTHONPATH=str(tmp / "code"))
            started = time.perf_counter()
            proc = subprocess.Popen([sys.executable, str(HERE / "passes.py"), "ours", "first",
                                     str(work)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env, cwd=work)
            samples, seen, threads = [], {}, {}
            while proc.poll() is None:
                seen.update(_below(proc.pid))  # a process that ended keeps its last reading
                threads.update(_threads(proc.pid))
                own = seen.get(proc.pid, 0.0)
                samples.append((time.perf_counter() - started, own,
                                sum(v for k, v in seen.items() if k != proc.pid)))
                time.sleep(0.01)
            out, err = proc.communicate()
    if proc.returncode != 0:
        print(err[-3000:], file=sys.stderr)
        return 1
    print(out.strip().splitlines()[-1][:200])
    print(f"{'s':>5}  {'ours':>4}  {'rest':>4}  cores in use (ours: the pass's process; "
          "rest: the processes below it)")
    last, edge = (0.0, 0.0, 0.0), args.bucket
    for sample in samples:
        if sample[0] < edge:
            continue
        span = sample[0] - last[0]
        own, rest = (sample[1] - last[1]) / span, (sample[2] - last[2]) / span
        print(f"{edge:5.2f}  {own:4.2f}  {rest:4.2f}  {'#' * round((own + rest) * 20)}")
        last, edge = sample, edge + args.bucket
    print("threads of the pass's process, CPU seconds:")
    for tid, cpu in sorted(threads.items(), key=lambda kv: -kv[1]):
        print(f"  {tid:>8}{' (main)' if tid == proc.pid else '':7} {cpu:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

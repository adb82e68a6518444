"""Benchmark: `aggregator poll --all` against lemon24/reader on the same feeds and server.

    .venv/bin/python bench/poll_vs_reader.py [--feeds 500] [--repeats 3]

    corpus.generate ─► temp folder ─► feedserver.py (own process, 20 ms per response)
        ─► per repeat, per tool, each pass in a fresh process (passes.py):
           first poll into an empty database, then a second one with nothing changed;
           then the same requests from a bare client that parses and stores nothing (the
           floor: how fast any poll could be against this server)
        ─► medians, ratios, targets: a table on stdout, JSON in bench/out/

Needs the bench extra (`pip install -e '.[bench]'`); installs nothing itself. Exit status:
0 when every sanity check passed (and, with --strict, every target was met), 1 otherwise,
2 when reader is not installed.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import corpus

HERE = Path(__file__).resolve().parent
NO_EMBEDDINGS = "--no-embeddings" in sys.argv  # read by _prepare
WORKERS = 20  # requests in flight, both tools

TARGETS = {  # from the issue: what our code must reach
    "first_speedup": 2.0,  # reader / ours on the first poll, at least
    "second_seconds": 1.0,  # ours on the second poll, at most
    "second_speedup": 1.5,  # reader / ours on the second poll, at least
    "peak_rss_mib": 150.0,  # our peak memory, below
}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.feeds < 1 or args.repeats < 1:
        parser.error("--feeds and --repeats must be at least 1")
    if importlib.util.find_spec("reader") is None:
        print("reader is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="aggregator-bench-"))
    load_before = os.getloadavg()
    try:
        code = _snapshot(tmp / "code", args.code)
        feeds = corpus.generate(args.feeds, args.seed)
        summary = corpus.write(feeds, tmp / "corpus")
        runs = []
        with _server(tmp / "corpus", args.latency_ms) as (port, stats):
            urls = [f"http://127.0.0.1:{port}{feed.path}" for feed in feeds]
            for repeat in range(args.repeats):
                # Alternate which tool goes first, so neither always gets the warmer caches.
                for tool in ("ours", "reader", "floor") if repeat % 2 == 0 \
                        else ("reader", "ours", "floor"):
                    work = tmp / f"run{repeat}-{tool}"
                    _prepare(tool, work, urls)
                    for which in ("first", "second"):
                        stats(reset=True)
                        result = _run_pass(tool, which, work, tmp / "code")
                        result.update(repeat=repeat, server=stats(reset=True))
                        runs.append(result)
                        print(f"  repeat {repeat + 1}/{args.repeats} {tool:6} {which:6} "
                              f"{result['seconds']:6.2f} s  {result['peak_rss_mib']:5.0f} MiB",
                              file=sys.stderr)
        report = _report(args, summary, runs)
        report["code"] = code
        # Other work on the machine slows both tools; the load average shows there was some.
        report["machine"]["loadavg_before_after"] = [load_before[0], os.getloadavg()[0]]
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(_table(report))
    out = args.out / f"poll_vs_reader-{report['date'].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results: {out}")
    failed = [c for c in report["checks"] if not c["ok"]]
    missed = [t for t in report["targets"] if not t["met"]]
    return 1 if failed or (args.strict and missed) else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500, help="feeds in the corpus (500)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats; medians reported (3)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (1)")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="added to every response (20)")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="JSON folder")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--no-embeddings", action="store_true",
                        help="story_embeddings: false (stories by links, titles, near-duplicates)")
    parser.add_argument("--code", type=Path, default=HERE.parent,
                        help="folder holding the aggregator package to measure (default: "
                             "this checkout; e.g. git archive COMMIT aggregator | tar -x -C DIR)")
    return parser


# --- the server and the passes -------------------------------------------------------------

@contextlib.contextmanager
def _server(folder: Path, latency_ms: float) -> Iterator[tuple[int, Any]]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "feedserver.py"), str(folder),
         "--latency-ms", str(latency_ms)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())

        def stats(reset: bool = False) -> dict[str, int]:
            url = f"http://127.0.0.1:{port}/__stats{'?reset=1' if reset else ''}"
            with urllib.request.urlopen(url, timeout=10) as response:
                return dict(json.load(response))

        yield port, stats
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server stops when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait()


def _prepare(tool: str, work: Path, urls: list[str]) -> None:
    work.mkdir(parents=True)
    if tool in ("reader", "floor"):
        (work / "urls.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")
        return
    sources = "".join(f"  - id: {u.rsplit('/', 1)[1].split('.')[0]}\n    url: {u}\n"
                      for u in urls)
    (work / "feeds.yaml").write_text(
        "settings:\n"
        "  database: sqlite:///aggregator.db\n"
        "  output_dir: public\n"
        "  base_url: http://localhost:8080/\n"
        "  default_interval: 30m\n"
        # The corpus is dated before a fixed day (corpus.ANCHOR): as the calendar moves on,
        # the default 30 days would prune its oldest items after the first poll.
        "  retention: 3650d\n"
        f"  max_concurrency: {WORKERS}\n"
        f"  per_host_concurrency: {WORKERS}\n"
        f"  story_embeddings: {'false' if NO_EMBEDDINGS else 'true'}\n"
        f"sources:\n{sources}"
        "topics:\n"
        "  ukraine:\n"
        "    title: أوكرانيا\n"
        f"    terms: [{', '.join(t for terms in corpus.TOPIC_TERMS.values() for t in terms)}]\n"
        "sections:\n"
        "  - id: ukraine\n"
        "    title: أوكرانيا\n"
        "    topics: [ukraine]\n", encoding="utf-8")


def _snapshot(folder: Path, source: Path = HERE.parent) -> dict[str, Any]:
    """Copy aggregator/ so that every repeat runs the same code while others edit the tree,
    and compile it, as pip does when it installs a package: reader's modules were compiled
    by pip, and with PYTHONDONTWRITEBYTECODE set (as on the project's machines) ours were
    compiled again by every pass, inside its clock for those it imports then (publishing's,
    the parse workers': 0.07 s of a first poll)."""
    shutil.copytree(source / "aggregator", folder / "aggregator",
                    ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(str(folder / "aggregator"), quiet=1)
    digest = hashlib.sha256()
    for path in sorted((folder / "aggregator").rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return {**_code_state(source), "source": str(source.resolve()),
            "snapshot_sha256": digest.hexdigest()[:16]}


def _run_pass(tool: str, which: str, work: Path, code: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("AGGREGATOR_DATABASE",
                                                            "AGGREGATOR_CONFIG")}
    if tool == "ours":  # the snapshot comes before the editable install on sys.path
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code),
                                                          env.get("PYTHONPATH")]))
    started = time.perf_counter()
    with subprocess.Popen([sys.executable, str(HERE / "passes.py"), tool, which, str(work)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          cwd=work) as proc, _Descendants(proc.pid) as below:
        stdout, stderr = proc.communicate(timeout=900)
    elapsed = time.perf_counter() - started
    (work / f"{which}.stderr").write_text(stderr, encoding="utf-8")
    if proc.returncode != 0 or not stdout.strip():
        sys.exit(f"{tool} {which} pass failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result.update(process_seconds=elapsed, stderr_lines=len(stderr.splitlines()))
    if tool == "ours":  # its parse workers' CPU (and a forked renderer's), read from outside
        result.update(workers_cpu_seconds=below.cpu_seconds(),
                      cpu_seconds=result["cpu_seconds"] + below.cpu_seconds())
    return result


class _Descendants(threading.Thread):
    """CPU time of the processes below a pass's process (forkserver, parse workers, a
    forked renderer), read from /proc every 20 ms while it runs: a process that ends
    between two reads loses at most that much of its time. Sampled from here, not inside
    the pass: a thread there would change what it does (publishing forks only a process
    with one thread)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self._root = root
        self._stop_event = threading.Event()
        self._ticks: dict[int, int] = {}  # pid -> its last utime + stime, in clock ticks

    def __enter__(self) -> _Descendants:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_event.set()
        self.join()

    def run(self) -> None:
        while True:
            self._ticks.update(self._below())
            if self._stop_event.wait(0.02):
                return

    def cpu_seconds(self) -> float:
        return sum(self._ticks.values()) / os.sysconf("SC_CLK_TCK")

    def _below(self) -> dict[int, int]:
        """pid -> utime + stime of every process below the root."""
        parents, ticks = {}, {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii") as f:
                    fields = f.read().rpartition(")")[2].split()
            except OSError:
                continue
            pid = int(entry.name)
            parents[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
        below, grew = {self._root}, True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in below and pid not in below:
                    below.add(pid)
                    grew = True
        return {pid: ticks[pid] for pid in below if pid != self._root}


# --- the report ------------------------------------------------------------------------------

def _median(runs: list[dict[str, Any]], tool: str, which: str, key: str) -> float:
    return statistics.median(r[key] for r in runs if r["tool"] == tool and r["which"] == which)


def _report(args: argparse.Namespace, summary: dict[str, Any],
            runs: list[dict[str, Any]]) -> dict[str, Any]:
    med = {f"{tool}_{which}_{key}": _median(runs, tool, which, key)
           for tool in ("ours", "reader") for which in ("first", "second")
           for key in ("seconds", "cpu_seconds", "peak_rss_mib", "process_seconds")}
    med.update({f"ours_{which}_workers_cpu_seconds": _median(runs, "ours", which,
                                                             "workers_cpu_seconds")
                for which in ("first", "second")})
    med.update({f"floor_{which}_seconds": _median(runs, "floor", which, "seconds")
                for which in ("first", "second")})
    ours_peak = max(r["peak_rss_mib"] for r in runs if r["tool"] == "ours")
    first = med["reader_first_seconds"] / med["ours_first_seconds"]
    second = med["reader_second_seconds"] / med["ours_second_seconds"]
    targets = [
        {"target": f"first poll: ours >= {TARGETS['first_speedup']:g}x faster than reader",
         "value": round(first, 2), "met": first >= TARGETS["first_speedup"]},
        {"target": f"second poll: ours <= {TARGETS['second_seconds']:g} s",
         "value": round(med["ours_second_seconds"], 3),
         "met": med["ours_second_seconds"] <= TARGETS["second_seconds"]},
        {"target": f"second poll: ours >= {TARGETS['second_speedup']:g}x faster than reader",
         "value": round(second, 2), "met": second >= TARGETS["second_speedup"]},
        {"target": f"our peak memory < {TARGETS['peak_rss_mib']:g} MiB",
         "value": round(ours_peak, 1), "met": ours_peak < TARGETS["peak_rss_mib"]},
    ]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([_interpreter(), "bench/poll_vs_reader.py", *(sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": {name: _version(name) for name in
                     ("aggregator", "reader", "feedparser", "httpx", "requests", "SQLAlchemy")},
        "settings": {"feeds": args.feeds, "repeats": args.repeats, "seed": args.seed,
                     "latency_ms": args.latency_ms, "workers": WORKERS,
                     "ours": "aggregator.cli.main(['--config', feeds.yaml, 'poll', '--all'])",
                     "reader": "make_reader(db); update_feeds(workers=20, scheduled=False)",
                     "memory": "getrusage(RUSAGE_SELF).ru_maxrss of each pass's own process"},
        "corpus": summary,
        "medians": {k: round(v, 4) for k, v in med.items()},
        "ratios_reader_over_ours": {"first": round(first, 3), "second": round(second, 3)},
        # The best reader / ours any client could reach here: reader against the floor.
        "ratios_reader_over_floor": {
            which: round(med[f"reader_{which}_seconds"] / med[f"floor_{which}_seconds"], 3)
            for which in ("first", "second")},
        "ours_peak_rss_mib": round(ours_peak, 1),
        "targets": targets,
        "checks": _checks(runs, summary),
        "runs": runs,
    }


def _checks(runs: list[dict[str, Any]], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Both tools must have done the same, complete work, or the times mean nothing."""
    n, items = summary["feeds"], summary["items"]
    checks = []
    for r in runs:
        name = f"repeat {r['repeat'] + 1} {r['tool']} {r['which']}"
        server = r["server"]
        want = {"errors": (r["errors"], 0)}
        if r["which"] == "first":
            want["200 responses"] = (server.get("200", 0), n)
            if r["tool"] != "floor":  # which stores nothing
                want["items stored"] = (r["items"], items)
        else:
            want |= {"304 responses": (server.get("304", 0), n),
                     "200 responses": (server.get("200", 0), 0)}
        if r["tool"] == "ours":
            kind = "new" if r["which"] == "first" else "not modified"
            want[f"'{kind}' outcomes"] = (r["outcomes"].get(kind, 0), n)
            want["section feed has entries"] = (r["published_entries"] > 0, True)
        for what, (got, expected) in want.items():
            checks.append({"check": f"{name}: {what}", "got": got, "expected": expected,
                           "ok": got == expected})
    return checks


def _interpreter() -> str:
    """The interpreter as the README writes it (.venv/bin/python), else its full path."""
    relative = os.path.relpath(sys.executable, HERE.parent)
    return sys.executable if relative.startswith("..") else relative


def _code_state(source: Path) -> dict[str, Any]:
    """Which aggregator was measured: the commit, and whether aggregator/ had local edits."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=source, capture_output=True,
                                  text=True, timeout=10, check=False).stdout.strip()
        except OSError:
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD") or None,
            "aggregator_locally_modified": bool(git("status", "--porcelain", "--",
                                                    "aggregator"))}


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _table(report: dict[str, Any]) -> str:
    m, s, c = report["medians"], report["settings"], report["corpus"]
    met = ["met" if t["met"] else "MISSED" for t in report["targets"]]
    rows = [
        (f"pass (median of {s['repeats']})", "ours s", "reader s", "reader/ours",
         "target", "result"),
        ("first poll, empty DB", f"{m['ours_first_seconds']:.2f}",
         f"{m['reader_first_seconds']:.2f}",
         f"{report['ratios_reader_over_ours']['first']:.2f}x", ">= 2x", met[0]),
        ("  CPU s (user+sys)", f"{m['ours_first_cpu_seconds']:.2f}",
         f"{m['reader_first_cpu_seconds']:.2f}",
         f"{m['reader_first_cpu_seconds'] / m['ours_first_cpu_seconds']:.2f}x", "", ""),
        ("    in processes it started", f"{m['ours_first_workers_cpu_seconds']:.2f}", "", "", "",
         ""),
        ("second poll, all 304", f"{m['ours_second_seconds']:.2f}",
         f"{m['reader_second_seconds']:.2f}",
         f"{report['ratios_reader_over_ours']['second']:.2f}x", "<= 1.0 s, >= 1.5x",
         f"{met[1]}, {met[2]}"),
        ("  CPU s (user+sys)", f"{m['ours_second_cpu_seconds']:.2f}",
         f"{m['reader_second_cpu_seconds']:.2f}",
         f"{m['reader_second_cpu_seconds'] / m['ours_second_cpu_seconds']:.2f}x", "", ""),
        ("  floor: bare client, same requests", f"{m['floor_second_seconds']:.2f}", "",
         f"{report['ratios_reader_over_floor']['second']:.2f}x", "at most reachable", ""),
        ("peak RSS MiB, 1st/2nd", f"{m['ours_first_peak_rss_mib']:.0f}/"
         f"{m['ours_second_peak_rss_mib']:.0f}", f"{m['reader_first_peak_rss_mib']:.0f}/"
         f"{m['reader_second_peak_rss_mib']:.0f}", "", "< 150 MiB (ours, max "
         f"{report['ours_peak_rss_mib']:.0f})", met[3]),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    checks = report["checks"]
    passed = sum(c["ok"] for c in checks)
    failed = [c for c in checks if not c["ok"]]
    head = (f"{c['feeds']} feeds, {c['items']} items ({c['items_shared_across_feeds']} copied "
            f"across feeds), {c['bytes'] / 2**20:.1f} MiB; {s['latency_ms']:g} ms latency; "
            f"{s['workers']} workers; reader {report['versions']['reader']}")
    tail = [f"  FAILED {f['check']}: got {f['got']}, expected {f['expected']}" for f in failed]
    return "\n".join([head, "", *lines, "", f"checks: {passed} passed, {len(failed)} failed",
                      *tail])


if __name__ == "__main__":
    sys.exit(main())

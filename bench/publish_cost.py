"""What publishing costs: CPU seconds and peak memory of `publish_all` on the benchmark's
first poll, this checkout against another revision, and whether both publish the same bytes.

    .venv/bin/python bench/publish_cost.py [--before REV] [--feeds 500] [--seed 1]
                                           [--repeats 3] [--sections 2] [--keep]
                                           [--work DIR]

Once: corpus.generate(feeds, seed) served on 127.0.0.1, the feeds.yaml of poll_vs_reader.py
(no embeddings; --sections 2 adds a second section, the same topic in English only) and one
`aggregator poll --all` with REV's code build one SQLite database; `now` is fixed then.
Then, for each repeat and each version (REV's aggregator/ from git, and this checkout's),
alternating which goes first, two fresh processes, each importing everything and opening the
store before it measures:
  cold    publish_all(config, store, now) into an empty output folder: every archive day is
          rendered, as on a first poll;
  again   publish_all once more into a copy of that folder: nothing changed, the steady state.
Reported, medians of --repeats: CPU seconds of publish_all (time.process_time), the RSS before
it, the peak RSS of the process (ru_maxrss) and what publishing added to it (peak minus the
RSS before), with after/before ratios. The sha256 of every file the cold publish wrote must be
the same for every version and repeat (the script exits 1 otherwise), except the archives'
.state.json: publishing's own record, not served, whose digests another version may make
otherwise (publish/archive_state.py VERSION).

The machine may be shared: CPU seconds and medians are steadier than wall time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MIB = 2**20
STATE_FILE = ".state.json"  # publish/archive_state.py: not a published file
SECOND_SECTION = ("  - id: ukraine-en\n"
                  "    title: Ukraine\n"
                  "    topics: [ukraine]\n"
                  "    languages: [en]\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="HEAD", help="git revision measured as 'before'")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sections", type=int, choices=(1, 2), default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--work", type=Path,
                        help="reuse the database and feeds.yaml of a kept run's work/ folder")
    parser.add_argument("--worker", nargs=3, metavar=("WORK", "OUT", "MODE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work, out, mode = args.worker
        print(json.dumps(_worker(Path(work), Path(out), mode)))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="aggregator-publish-cost-"))
    try:
        code = {"before": tmp / "before", "after": tmp / "after"}
        _export(args.before, code["before"])
        shutil.copytree(HERE.parent / "aggregator", code["after"] / "aggregator",
                        ignore=shutil.ignore_patterns("__pycache__"))
        work = args.work.resolve() if args.work else tmp / "work"
        if not args.work:
            _first_poll(work, code["before"], args)
        runs = _measure(tmp, work, code, args.repeats)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report = _report(runs, args)
    print(_table(report))
    out = HERE / "out" / f"publish_cost-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results: {out}")
    return 0 if report["same_outputs"] else 1


def _export(rev: str, folder: Path) -> None:
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", rev, "aggregator"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)


def _first_poll(work: Path, code: Path, args: argparse.Namespace) -> None:
    """The database of a first poll, built once with the 'before' code."""
    import corpus
    import poll_vs_reader

    poll_vs_reader.NO_EMBEDDINGS = True
    feeds = corpus.generate(args.feeds, args.seed)
    corpus.write(feeds, work.parent / "corpus")
    with poll_vs_reader._server(work.parent / "corpus", 0.0) as (port, _stats):
        poll_vs_reader._prepare("ours", work, [f"http://127.0.0.1:{port}{f.path}"
                                               for f in feeds])
        if args.sections == 2:
            with (work / "feeds.yaml").open("a", encoding="utf-8") as f:
                f.write(SECOND_SECTION)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from aggregator.cli import main; "
                        "sys.exit(main(['--config', 'feeds.yaml', 'poll', '--all']))"],
                       cwd=work, env=_env(code), check=True, capture_output=True)
    (work / "now.txt").write_text(datetime.now(UTC).isoformat(), encoding="ascii")
    print(f"first poll: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def _env(code: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AGGREGATOR_DATABASE", "AGGREGATOR_CONFIG")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    return env


def _measure(tmp: Path, work: Path, code: dict[str, Path],
             repeats: int) -> list[dict[str, Any]]:
    runs = []
    for repeat in range(repeats):
        order = ("before", "after") if repeat % 2 == 0 else ("after", "before")
        for version in order:
            cold = tmp / f"out-{version}-{repeat}"
            for mode in ("cold", "again"):
                out = cold if mode == "cold" else cold.with_name(cold.name + "-again")
                if mode == "again":
                    shutil.copytree(cold, out)
                proc = subprocess.run(
                    [sys.executable, str(Path(__file__).resolve()), "--worker", str(work),
                     str(out), mode], env=_env(code[version]), capture_output=True, text=True,
                    check=False)
                if proc.returncode != 0:
                    sys.exit(f"{version} {mode} failed:\n{proc.stderr[-3000:]}")
                run = json.loads(proc.stdout.strip().splitlines()[-1])
                run.update(version=version, repeat=repeat, mode=mode)
                runs.append(run)
                print(f"  {repeat + 1}/{repeats} {version:6} {mode:5} {run['cpu_seconds']:6.2f} "
                      f"CPU s  peak {run['peak_rss_mib']:5.0f} MiB "
                      f"(+{run['added_mib']:.0f})", file=sys.stderr)
            shutil.rmtree(cold, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
    return runs


def _worker(work: Path, out: Path, mode: str) -> dict[str, Any]:
    """One publish in this fresh process: imports and the store first, then the clock."""
    import dataclasses

    from aggregator.config import load_config
    from aggregator.publish import publish_all
    from aggregator.store import Store

    config = load_config(work / "feeds.yaml")
    config = dataclasses.replace(
        config, settings=dataclasses.replace(config.settings, output_dir=out))
    now = datetime.fromisoformat((work / "now.txt").read_text(encoding="ascii"))
    with Store(config.settings.database) as store:
        store.feed_meta()  # the engine's first connection is not publishing's cost
        before = _rss_mib()
        cpu, wall = time.process_time(), time.perf_counter()
        results = publish_all(config, store, now)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    digests = {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted(out.rglob("*")) if p.is_file() and p.name != STATE_FILE
               } if mode == "cold" else {}
    return {"cpu_seconds": cpu, "wall_seconds": wall, "rss_before_mib": before,
            "peak_rss_mib": peak, "added_mib": peak - before,
            "entries": sum(r.stories for r in results),
            "files_changed": sum(r.files_changed for r in results), "digests": digests}


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def _report(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    digests = {json.dumps(r["digests"], sort_keys=True) for r in runs if r["mode"] == "cold"}
    cold = next(r for r in runs if r["mode"] == "cold")
    figures: dict[str, Any] = {}
    for mode in ("cold", "again"):
        for key in ("cpu_seconds", "wall_seconds", "rss_before_mib", "peak_rss_mib",
                    "added_mib"):
            row = {v: statistics.median(r[key] for r in runs
                                        if r["version"] == v and r["mode"] == mode)
                   for v in ("before", "after")}
            row["ratio"] = row["after"] / row["before"] if row["before"] else None
            figures[f"{mode} {key}"] = row
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "before": args.before,
            "feeds": args.feeds, "seed": args.seed, "sections": args.sections,
            "repeats": args.repeats, "loadavg": os.getloadavg()[0],
            "files": len(cold["digests"]), "entries": cold["entries"],
            "same_outputs": len(digests) == 1, "figures": figures,
            "runs": [{k: v for k, v in r.items() if k != "digests"} for r in runs]}


def _table(report: dict[str, Any]) -> str:
    lines = [f"publish_all, {report['feeds']} feeds, {report['sections']} section(s), "
             f"{report['files']} files, medians of {report['repeats']}",
             f"{'':28} {'before':>9} {'after':>9} {'ratio':>7}"]
    for name, row in report["figures"].items():
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        lines.append(f"{name:28} {row['before']:9.2f} {row['after']:9.2f} {ratio:>7}")
    lines.append("same output bytes: " + ("yes" if report["same_outputs"] else "NO"))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

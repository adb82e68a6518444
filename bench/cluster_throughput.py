"""Throughput and memory of story clustering (aggregator.pipeline.cluster), on one core.

    python bench/cluster_throughput.py [--items 100000] [--per-day 2000] [--batch 20]
                                       [--mode both|cheap|embed|window] [--tracemalloc]
                                       [--embed-chars N] [--repeats N] [--against DIR]

A deterministic synthetic stream (the same seed gives the same items): news-sized items (a
headline of 8-12 words and a summary of 25-40; 60 % Arabic, 25 % English, 15 % French; words
drawn Zipf-wise from the labelled set's real words then made-up ones, plus event-specific names
and figures) published at PER_DAY items a day, so the 72-hour window holds ~3 × PER_DAY
items (6,000 by default) and 100,000 items stream through it (50 days). 40 % of the events are
told by 2-5 of 30 sources: wire copies, light edits (a sixth of the words changed), rewrites
and translations; each source has a footer it repeats. Items arrive in polls of BATCH
(`add_many`), in published order.

Each mode runs in a fresh process: `cheap` (levels 1-2, no embedder; target 5,000 items/s)
and `embed` (levels 1-3 with the bundled model on one BLAS thread; target 300 items/s).
Reported: items/s over the whole stream (model loading excluded), by the wall clock and per
CPU-second of this process (they differ when other work shares the cores), decisions by rule,
the window size at the end, and the process's peak RSS (getrusage ru_maxrss, model included);
with --tracemalloc, also the peak of Python allocations (slower: the rate is then not a
throughput figure).

`window` measures memory instead: bytes per window item, tracemalloc's count of what a
Clusterer (levels 1-2) holds once it has placed the first --items items (say 20,000) in polls
of BATCH, all inside its window, and what a fresh one holds once warmed with the same items and
the story ids the first gave them (a restart). The items are copied inside the trace and let go,
so the text a Clusterer keeps of them counts.

Before/after on a shared, noisy machine: `--against DIR` measures the `aggregator` package of
another source tree (e.g. `git worktree add /tmp/before HEAD~3`) in the same run, each repeat
running both engines one after the other in fresh processes (`--repeats`, default 3); the
summary gives medians and the ratios of this tree's medians to DIR's.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import pickle
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.pipeline.cluster import Clusterer, ClusterItem

SEED = 5
LEXICON = 8_000  # words per language: real ones then made-up ones
TARGETS = {"cheap": 5_000, "embed": 300}  # items/s
_ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
_LANGS = ("ar", "en", "fr")
_LANGUAGES = ("ar",) * 12 + ("en",) * 5 + ("fr",) * 3
_SOURCES = [f"source-{i:02d}" for i in range(30)]


def _real_words() -> dict[str, list[str]]:
    """Words of the labelled set (tests/data), most frequent first, per language."""
    counts: dict[str, Counter[str]] = {language: Counter() for language in _LANGS}
    for line in (Path(__file__).parent.parent / "tests/data/stories_eval.jsonl").open():
        row = json.loads(line)
        if row["language"] in counts:
            counts[row["language"]].update(
                w for w in re.findall(r"\w+", f"{row['title']} {row['summary']}")
                if not w.isdigit())
    return {language: [w for w, _ in c.most_common()] for language, c in counts.items()}


class _Text:
    """Zipf-weighted words: real ones (the labelled set's, most frequent first) then made-up
    ones, LEXICON in all. Real words take ~3/4 of the tokens, so the encoder sees news-like
    token counts (a made-up word splits into several pieces)."""

    def __init__(self, rng: random.Random, language: str, real: list[str]) -> None:
        self.rng = rng
        self.lexicon = real + [_name(rng, language).lower() for _ in range(LEXICON - len(real))]
        self.weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(LEXICON)))

    def word(self) -> str:
        return self.rng.choices(self.lexicon, cum_weights=self.weights)[0]

    def words_(self, n: int, names: list[str], figures: list[str]) -> list[str]:
        out = [self.word() for _ in range(n)]
        for token in names + figures:
            out[self.rng.randrange(n)] = token
        return out


def _name(rng: random.Random, language: str) -> str:
    if language == "ar":
        return "".join(rng.choice(_ARABIC) for _ in range(rng.randint(4, 8)))
    return "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou")
                   for _ in range(rng.randint(2, 4))).capitalize()


def _edit(rng: random.Random, words: list[str], text: _Text, share: float) -> list[str]:
    out = [text.word() if rng.random() < share else w for w in words]
    if rng.random() < 0.5 and len(out) > 4:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def stream(count: int, per_day: int) -> list[ClusterItem]:
    """`count` items in published order; deterministic."""
    rng = random.Random(SEED)
    real = _real_words()
    texts = {lang: _Text(rng, lang, real[lang]) for lang in _LANGS}
    footers = {s: texts["ar"].words_(8, [], []) for s in _SOURCES}
    start = datetime(2025, 1, 1, tzinfo=UTC)
    spacing = 86_400 / per_day  # seconds between events' first items, on average
    items: list[ClusterItem] = []
    clock = 0.0
    event = 0
    while len(items) < count:
        event += 1
        clock += rng.expovariate(1 / spacing) * 1.6  # ~1.6 items per event on average
        language = rng.choice(_LANGUAGES)
        names = [_name(rng, language) for _ in range(3)]
        figures = [str(rng.randint(10, 5000)) for _ in range(rng.randint(0, 2))]
        text = texts[language]
        title = text.words_(rng.randint(8, 12), names[:1], figures[:1])
        summary = text.words_(rng.randint(25, 40), names, figures)
        outlets = 1 if rng.random() < 0.6 else rng.randint(2, 5)
        for n, source in enumerate(rng.sample(_SOURCES, outlets)):
            t, s, lang = title, summary, language
            kind = "original" if n == 0 else rng.choice(
                ("copy",) * 6 + ("light",) * 6 + ("rewrite",) * 5 + ("translation",) * 3)
            if kind == "light":
                t, s = _edit(rng, t, text, 0.3), _edit(rng, s, text, 0.16)
            elif kind == "rewrite":
                t = text.words_(len(t), names[:1], figures[:1])
                s = text.words_(len(s), names, figures)
            elif kind == "translation":
                lang = rng.choice([x for x in _LANGS if x != language])
                t = texts[lang].words_(len(t), names[:1], figures[:1])
                s = texts[lang].words_(len(s), names, figures)
            published = start + timedelta(seconds=clock + rng.uniform(0, 6 * 3600) * (n > 0))
            key = len(items)
            items.append(ClusterItem(
                key=key, source_id=source, identity=f"guid:{key}", published=published,
                title=" ".join(t), summary_text=" ".join(s + footers[source]),
                canonical_link=f"https://{source}.example/{key}", language=lang))
    items = sorted(items[:count], key=lambda i: i.published)
    return items


def run(mode: str, items: list[ClusterItem], batch: int, trace: bool,
        chars: int | None = None) -> dict[str, object]:
    embedder = None
    if mode == "embed":
        from aggregator.text import embed

        embedder = embed.default_embedder()
        if embedder is None:
            return {"mode": mode, "skipped": "the embed extra is not installed"}
        embedder.embed(["warm up"])  # the model loads here, outside the clock
    clusterer = (Clusterer(embedder=embedder, embed_chars=chars) if chars
                 else Clusterer(embedder=embedder))
    rules: Counter[str] = Counter()
    merges = 0
    if trace:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(items), batch):
        for decision in clusterer.add_many(items[start:start + batch]):
            rules[decision.rule] += 1
            merges += len(decision.merged)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    out: dict[str, object] = {
        "mode": mode, "items": len(items), "seconds": round(seconds, 2),
        "items_per_s": round(len(items) / seconds),
        "items_per_cpu_s": round(len(items) / cpu),  # what other processes' load leaves out
        "target": TARGETS[mode],
        "window_items_at_end": len(clusterer), "rules": dict(rules), "merges": merges,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if trace:
        out["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20)
    return out


def window_bytes(items: list[ClusterItem], batch: int) -> dict[str, object]:
    """Bytes per window item after `add_many` of `items`, and after `warm` with their stories."""
    span = items[-1].published - items[0].published + timedelta(days=1)  # one window holds all
    frozen = pickle.dumps(items)
    out: dict[str, object] = {"mode": "window", "items": len(items)}
    stories: dict[object, object] = {}
    for how in ("add", "warm"):
        gc.collect()
        tracemalloc.start()
        copies = pickle.loads(frozen)
        clusterer = Clusterer(span, embedder=None)
        if how == "add":
            for start in range(0, len(copies), batch):
                clusterer.add_many(copies[start:start + batch])
        else:
            clusterer.warm([(item, stories[item.key]) for item in copies])
        del copies
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        stories = stories or {item.key: clusterer.story_of(item.key) for item in items}
        out[f"window_items_{how}"] = len(clusterer)
        out[f"bytes_per_item_{how}"] = round(held / len(clusterer))
        del clusterer
    return out


def _child(mode: str, args: argparse.Namespace, tree: str | None = None) -> dict[str, object]:
    """One mode in a fresh process (its own peak RSS), with `tree`'s package when given."""
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (tree, env.get("PYTHONPATH"))))
    command = [sys.executable, __file__, "--mode", mode, "--items", str(args.items),
               "--per-day", str(args.per_day), "--batch", str(args.batch)]
    command += ["--tracemalloc"] if args.tracemalloc else []
    command += ["--embed-chars", str(args.embed_chars)] if args.embed_chars else []
    done = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    line = done.stdout.strip().splitlines()[-1]
    print(line if tree is None else f"{tree}: {line}", flush=True)
    return json.loads(line)


def _summary(mode: str, runs: dict[str, list[dict[str, object]]]) -> dict[str, object]:
    """Medians per engine, and this tree's over the other's."""
    keys = ("items_per_s", "items_per_cpu_s", "peak_rss_mib", "tracemalloc_peak_mib",
            "bytes_per_item_add", "bytes_per_item_warm")
    medians: dict[str, float] = {}
    for engine, results in runs.items():
        for key in keys:
            values = [float(str(r[key])) for r in results if key in r]
            if values:
                medians[f"{engine}_{key}"] = statistics.median(values)
    out: dict[str, object] = {"mode": mode, "repeats": len(runs["this"]), **medians}
    for key in keys:
        if f"this_{key}" in medians and f"before_{key}" in medians:
            out[f"ratio_{key}"] = round(medians[f"this_{key}"] / medians[f"before_{key}"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--per-day", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--mode", choices=("both", "cheap", "embed", "window"), default="both")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--embed-chars", type=int, default=None,
                        help="characters of title + lead embedded (default: the engine's)")
    parser.add_argument("--against", metavar="DIR", default=None,
                        help="a source tree whose aggregator package is measured alongside")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per mode and engine (default 1, or 3 with --against)")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.against else 1)
    if args.mode == "both" or args.against or repeats > 1:
        # one fresh process per run, so each peak RSS is its own
        for mode in ("cheap", "embed") if args.mode == "both" else (args.mode,):
            runs: dict[str, list[dict[str, object]]] = {"this": []}
            for _ in range(repeats):
                if args.against:
                    runs.setdefault("before", []).append(_child(mode, args, args.against))
                runs["this"].append(_child(mode, args))
            if repeats > 1 or args.against:
                print(json.dumps(_summary(mode, runs)), flush=True)
        return
    items = stream(args.items, args.per_day)
    if args.mode == "window":
        print(json.dumps(window_bytes(items, args.batch)))
        return
    result = run(args.mode, items, args.batch, args.tracemalloc, args.embed_chars)
    if args.embed_chars:
        result["embed_chars"] = args.embed_chars
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()

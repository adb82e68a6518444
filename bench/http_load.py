"""HTTP load on `aggregator serve`: requests per second for full answers (200) and for
revalidations (304), the two things feed readers ask of the server all day.

    .venv/bin/python bench/http_load.py [--seconds 5] [--rounds 5] [--connections 32]
                                        [--stories 50] [--wrk]

Builds a published site in a temporary folder (one section of `--stories` synthetic stories,
Arabic and English, rendered by the real publisher), starts `aggregator serve` on 127.0.0.1
in its own process, and drives it from this process with keep-alive connections: each
connection sends its next request as soon as the previous answer is read. Every round runs
each scenario for `--seconds`; the medians of `--rounds` rounds are printed (and written as
JSON with --json). With --wrk, and wrk installed, wrk runs the same scenarios for comparison.
Traffic goes to 127.0.0.1 only, and every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {  # name -> (path, extra request headers, expected status)
    "200 feed (gzip)": ("/feeds/world.atom", {"Accept-Encoding": "gzip"}, 200),
    "200 feed (identity)": ("/feeds/world.atom", {}, 200),
    "304 feed (If-None-Match)": ("/feeds/world.atom", {"If-None-Match": "ETAG"}, 304),
    "200 section page (gzip)": ("/sections/world", {"Accept-Encoding": "gzip"}, 200),
}


def build(folder: Path, stories: int) -> Path:
    """A config and its published outputs, made by the real renderers."""
    sys.path.insert(0, str(ROOT))
    from aggregator.config import load_config
    from aggregator.publish.pages import SectionPage, write_index, write_section_page
    from aggregator.publish.render import Outlet, Page, RenderContext, render_atom
    from aggregator.publish.urls import feed_file
    from aggregator.publish.write import write_atomic
    from aggregator.store import ItemView, StoryView

    config_path = folder / "feeds.yaml"
    config_path.write_text(
        f"settings: {{database: 'sqlite:///{folder}/db.sqlite', base_url: "
        "'http://127.0.0.1/'}\ntopics: {world: {terms: [world]}}\n"
        "sections:\n  - {id: world, title: العالم, topics: [world]}\n", encoding="utf-8")
    config = load_config(config_path)
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    items = []
    for n in range(stories):
        arabic = n % 2 == 0
        title = (f"عنوان الخبر رقم {n} عن مفاوضات جديدة في فيينا" if arabic
                 else f"Headline number {n} about new talks in Vienna")
        body = "<p>" + (" ".join(["نص الخبر"] * 60) if arabic else " ".join(["text"] * 80))
        published = now - timedelta(minutes=37 * n)
        items.append(StoryView(uid=f"00000000-0000-4000-8000-{n:012d}", items=tuple(
            ItemView(source_id=f"outlet-{k}", title=title, link=f"https://o{k}.example/{n}",
                     summary_html=body + "</p>", content_html="", author=None,
                     language="ar" if arabic else "en", published=published,
                     updated=published, topics=("world",)) for k in range(1 + n % 3))))
    ctx = RenderContext(base_url=config.settings.base_url,
                        outlets={f"outlet-{k}": Outlet(f"Outlet {k}", None) for k in range(3)},
                        topic_titles={"world": "World"}, empty_updated=now)
    section = config.sections[0]
    write_atomic(feed_file(config.settings.output_dir, "world"),
                 render_atom(section, items, ctx, Page()))
    page = SectionPage(section, items, archived=len(items), days=1)
    write_section_page(config.settings.output_dir, page, ctx)
    write_index(config.settings.output_dir, [page])
    return config_path


async def _connection(port: int, request: bytes, expected: int, until: float,
                      counts: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            counts["ok" if status == expected else "bad"] += 1
    finally:
        writer.close()


async def _run(port: int, request: bytes, expected: int, seconds: float,
               connections: int) -> tuple[float, int]:
    counts = {"ok": 0, "bad": 0}
    start = time.perf_counter()
    await asyncio.gather(*(_connection(port, request, expected, start + seconds, counts)
                           for _ in range(connections)))
    elapsed = time.perf_counter() - start
    return counts["ok"] / elapsed, counts["bad"]


def _request(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: http_load",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _etag(port: int, path: str) -> str:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request(path, {}) .replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                if line.lower().startswith("etag:"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def _wrk(port: int, path: str, headers: dict[str, str], seconds: float,
         connections: int) -> float | None:
    if not shutil.which("wrk"):
        return None
    args = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, int(seconds))}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, timeout=seconds + 30, check=False).stdout
    line = next((x for x in out.splitlines() if x.startswith("Requests/sec:")), None)
    return float(line.split()[1]) if line else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--stories", type=int, default=50, help="entries in the feed")
    parser.add_argument("--wrk", action="store_true", help="also measure with wrk")
    parser.add_argument("--json", metavar="FILE", help="write the results here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="http_load-") as tmp:
        config = build(Path(tmp), args.stories)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--config", str(config), "serve",
             "--port", str(port)], cwd=tmp, stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            _wait(port, time.monotonic() + 20)
            etag = _etag(port, "/feeds/world.atom")
            feed_bytes = (Path(tmp) / "public" / "world.atom").stat().st_size
            results: dict[str, dict[str, object]] = {}
            rounds: dict[str, list[float]] = {name: [] for name in SCENARIOS}
            for _ in range(args.rounds):
                for name, (path, headers, expected) in SCENARIOS.items():
                    headers = {k: etag if v == "ETAG" else v for k, v in headers.items()}
                    rate, bad = asyncio.run(_run(port, _request(path, headers), expected,
                                                 args.seconds, args.connections))
                    if bad:
                        raise SystemExit(f"{name}: {bad} answers with an unexpected status")
                    rounds[name].append(rate)
            for name, (path, headers, _) in SCENARIOS.items():
                headers = {k: etag if v == "ETAG" else v for k, v in headers.items()}
                results[name] = {"median_rps": round(statistics.median(rounds[name])),
                                 "rounds": [round(r) for r in rounds[name]]}
                if args.wrk:
                    results[name]["wrk_rps"] = _wrk(port, path, headers, args.seconds,
                                                    args.connections)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
    print(f"aggregator serve on 127.0.0.1, feed of {args.stories} stories ({feed_bytes} bytes), "
          f"{args.connections} keep-alive connections, {args.rounds} rounds of "
          f"{args.seconds:g}s; {os.cpu_count()} CPUs")
    for name, result in results.items():
        wrk = f"   wrk: {result['wrk_rps']:.0f}/s" if result.get("wrk_rps") else ""
        print(f"  {name:26} median {result['median_rps']:>6}/s   rounds {result['rounds']}{wrk}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`aggregator demo`, as a user runs it: one command, no internet, no feeds.yaml."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import httpx
import pytest

from aggregator.cli import main


def test_demo_aggregates_the_bundled_outlets(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "new" / "demo"  # --dir may name a folder not made yet
    assert main(["demo", "--no-serve", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.count(": new (") == 6 and "error" not in out
    ukraine = feedparser.parse((folder / "public" / "ukraine.atom").read_bytes())
    assert not ukraine.bozo and len(ukraine.entries) >= 2
    # outlets that tell one story in several languages are one entry (issue 5)
    assert any(link.rel == "related" for e in ukraine.entries for link in e.links)
    arabic = feedparser.parse((folder / "public" / "arabic.atom").read_bytes())
    assert arabic.entries and all(e.title_detail.language == "ar" or e.get("language") == "ar"
                                  for e in arabic.entries)


def test_demo_refuses_a_dir_that_is_a_file(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n", encoding="utf-8")
    assert main(["demo", "--no-serve", "--dir", str(taken)]) == 2
    assert f"error: --dir {taken}: " in capsys.readouterr().err
    assert taken.read_text(encoding="utf-8") == "mine\n"  # left as it was


def test_demo_serves_the_site(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "aggregator", "demo", "--port", str(port),
                             "--dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert "ukraine" in httpx.get(base + "/").text
        feed = feedparser.parse(httpx.get(base + "/feeds/iran.atom").content)
        assert any("إيران" in e.title for e in feed.entries)
        assert 'dir="rtl"' in httpx.get(base + "/sections/arabic").text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            out = proc.stdout.read()
            proc.stdout.close()
            assert "site: http://127.0.0.1" in out

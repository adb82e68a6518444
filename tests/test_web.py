"""The HTTP server of the outputs, over a real socket (uvicorn in a thread)."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from aggregator.config import load_config
from aggregator.web.app import OutputApp


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    (tmp_path / "feeds.yaml").write_text(
        "settings: {output_dir: out, database: 'sqlite:///db.sqlite'}\n"
        "topics: {t: {terms: [x]}}\n"
        "sections:\n  - {id: world, title: World, topics: [t]}\n"
        "  - {id: empty, title: Not yet published, topics: [t]}\n", encoding="utf-8")
    config = load_config(tmp_path / "feeds.yaml")
    out = tmp_path / "out"
    out.mkdir()
    (out / "world.atom").write_bytes(b"<?xml version='1.0'?><feed>" + b"x" * 4000 + b"</feed>")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(OutputApp(lambda: config), host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}", out
    srv.should_exit = True
    thread.join()


def test_feed_is_served_with_validators(server: tuple[str, Path]) -> None:
    base, out = server
    r = httpx.get(f"{base}/feeds/world.atom")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert r.content == (out / "world.atom").read_bytes()
    assert r.headers["etag"].startswith('"') and "last-modified" in r.headers
    assert "max-age=" in r.headers["cache-control"] and r.headers["vary"] == "Accept-Encoding"
    again = httpx.get(f"{base}/feeds/world.atom", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    since = httpx.get(f"{base}/feeds/world.atom",
                      headers={"If-Modified-Since": r.headers["last-modified"]})
    assert since.status_code == 304


def test_changed_file_gets_a_new_etag(server: tuple[str, Path]) -> None:
    base, out = server
    first = httpx.get(f"{base}/feeds/world.atom").headers["etag"]
    (out / "world.atom").write_bytes(b"<?xml version='1.0'?><feed>changed</feed>")
    r = httpx.get(f"{base}/feeds/world.atom", headers={"If-None-Match": first})
    assert r.status_code == 200 and r.headers["etag"] != first


def test_gzip_when_asked(server: tuple[str, Path]) -> None:
    base, out = server
    with httpx.Client() as client:
        r = client.get(f"{base}/feeds/world.atom", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert r.content == (out / "world.atom").read_bytes()  # httpx decodes it
        raw = client.get(f"{base}/feeds/world.atom", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in raw.headers
    assert gzip.decompress(gzip.compress(b"x")) == b"x"


def test_head_has_headers_but_no_body(server: tuple[str, Path]) -> None:
    base, _ = server
    r = httpx.head(f"{base}/feeds/world.atom")
    assert r.status_code == 200 and r.content == b"" and int(r.headers["content-length"]) > 0


@pytest.mark.parametrize("path", ["/feeds/nope.atom", "/feeds/empty.atom",
                                  "/feeds/../secret.txt", "/feeds/%2e%2e/secret.txt",
                                  "/feeds/..%2fsecret.txt.atom", "/secret.txt", "/out/world.atom"])
def test_unknown_paths_are_404_without_leaks(server: tuple[str, Path], path: str) -> None:
    base, _ = server
    r = httpx.get(base + path)
    assert r.status_code == 404 and b"secret" not in r.content and b"/tmp" not in r.content


def test_index_lists_sections(server: tuple[str, Path]) -> None:
    base, _ = server
    r = httpx.get(base + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "feeds/world.atom" in r.text and 'rel="alternate"' in r.text


def test_post_is_refused(server: tuple[str, Path]) -> None:
    base, _ = server
    assert httpx.post(f"{base}/feeds/world.atom").status_code == 405

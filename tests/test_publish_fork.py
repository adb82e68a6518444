"""Publishing's big renders shared with a forked child (publish/fork.py): the same files as
rendering alone, on SQLite and PostgreSQL, and nothing lost when the child fails."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import pytest
from feedserver import FeedServer

import aggregator.publish.archive as archive
import aggregator.publish.fork as fork
from aggregator.cli import main
from aggregator.config import load_config
from aggregator.publish import publish_all
from aggregator.store import Store

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


# -- the split ---------------------------------------------------------------------------

def test_halves_balance_the_weights_and_keep_the_order() -> None:
    jobs = [5, 1, 9, 3, 3, 7, 2]
    mine, theirs = fork.halves(jobs, lambda job: job)
    assert sorted(mine + theirs) == sorted(jobs)
    assert abs(sum(mine) - sum(theirs)) <= 2  # 15 and 15 here: greedy gets 16 and 14
    assert mine == [j for j in jobs if j in mine] and theirs == [j for j in jobs if j in theirs]
    # this process's other work (the subscription document) counts on its side
    mine, theirs = fork.halves(jobs, lambda job: job, head_start=10)
    assert sum(theirs) - sum(mine) >= 8 and abs(sum(mine) + 10 - sum(theirs)) <= 2


class Recorder:
    """A `run` that writes one file per job, named by the job, holding the writer's pid."""

    def __init__(self, folder: Path, fail_in_child: str | None = None) -> None:
        self.folder, self.fail_in_child = folder, fail_in_child
        self.parent = os.getpid()

    def __call__(self, jobs: Sequence[int]) -> int:
        if os.getpid() != self.parent:
            if self.fail_in_child == "raise":
                raise RuntimeError("the child breaks")
            if self.fail_in_child == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
        for job in jobs:
            (self.folder / str(job)).write_text(str(os.getpid()), encoding="ascii")
        return len(jobs)

    def writers(self) -> dict[int, int]:
        return {int(p.name): int(p.read_text(encoding="ascii")) for p in self.folder.iterdir()}


def test_a_child_renders_about_half(tmp_path: Path) -> None:
    run, setups = Recorder(tmp_path), []
    done = fork.shared(list(range(20)), lambda job: 100, run,
                       child_setup=lambda: setups.append(os.getpid()), least=1)
    writers = run.writers()
    assert done == 20 and sorted(writers) == list(range(20))
    ours = [job for job, pid in writers.items() if pid == os.getpid()]
    assert len(ours) == 10  # the other ten by the child, in its own process
    assert setups == []  # the child's set-up ran in the child only


@pytest.mark.parametrize("failure", ["raise", "killed"])
def test_a_failed_child_loses_nothing(tmp_path: Path, failure: str,
                                      caplog: pytest.LogCaptureFixture) -> None:
    run = Recorder(tmp_path, fail_in_child=failure)
    done = fork.shared(list(range(8)), lambda job: 1, run, child_setup=lambda: None, least=1)
    assert done == 8
    assert run.writers() == {job: os.getpid() for job in range(8)}  # all rendered here
    assert "forked renderer failed" in caplog.text


def test_small_renders_and_threaded_processes_do_not_fork(tmp_path: Path) -> None:
    run = Recorder(tmp_path)
    fork.shared(list(range(4)), lambda job: 1, run, child_setup=lambda: None, least=5)
    assert set(run.writers().values()) == {os.getpid()}  # too light to be worth it
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:  # a lock the other thread held at the fork would stay held in the child
        fork.shared(list(range(4, 8)), lambda job: 1, run, child_setup=lambda: None, least=1)
    finally:
        stop.set()
        other.join()
    assert set(run.writers().values()) == {os.getpid()}


# -- publishing --------------------------------------------------------------------------

def _feed(stories: int) -> bytes:
    items = []
    for n in range(stories):  # one story every 5 hours: ~25 archive days
        words = " ".join(f"{w}{n}q" for w in ("amber", "basalt", "cinder", "delta", "egret"))
        when = NOW - timedelta(hours=5 * n + 2)
        items.append(f"<item><title>Ukraine {words}</title><link>https://fork.example/{n}"
                     f"</link><guid>f-{n}</guid><description>Kyiv {words}, report {n}."
                     f"</description><pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
                     "</item>")
    return ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>Fork"
            "</title><link>https://fork.example/</link><description>d</description>"
            f"<language>en</language>{''.join(items)}</channel></rss>").encode()


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def polled(tmp_path: Path, database_url: str) -> Iterator[Path]:
    """A section of 120 stories over ~25 days, polled; the server is stopped after it (a
    process with a second thread never forks)."""
    config = tmp_path / "feeds.yaml"
    with FeedServer() as server:
        server.route("/fork.xml", _feed(120))
        config.write_text(
            f"settings: {{database: '{database_url}', base_url: 'https://news.example/', "
            "retention: 3650d, story_embeddings: false}\n"
            f"sources:\n  - {{id: fork, url: '{server.url('/fork.xml')}'}}\n"
            "topics: {ukraine: {terms: [Ukraine]}}\n"
            "sections:\n  - {id: war, title: War, topics: [ukraine], max_items: 10}\n",
            encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["--config", str(config), "poll", "--all"]) == 0
    yield config


def test_a_shared_publish_writes_the_same_files(polled: Path, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    config = load_config(polled)
    forks: list[int] = []
    real_fork = os.fork

    def counted() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    parent, real_render = os.getpid(), archive.render_atom

    def dying(*args, **kwargs):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:  # the child dies at its first day
            os.kill(os.getpid(), signal.SIGKILL)
        return real_render(*args, **kwargs)

    outputs = {}
    for how in ("alone", "shared", "child killed"):
        out = tmp_path / how
        config = replace(config, settings=replace(config.settings, output_dir=out))
        monkeypatch.setattr(fork, "LEAST", 10**9 if how == "alone" else 1)
        monkeypatch.setattr(os, "fork", counted)
        monkeypatch.setattr(archive, "render_atom", dying if how == "child killed"
                            else real_render)
        with Store(config.settings.database) as store:
            results = publish_all(config, store, NOW)
            # the parent's connections still work after the child used its own
            assert store.count("stories") == 120
        assert results[0].files_changed > 20
        outputs[how] = _files(out)
    assert len(forks) == 2  # each shared publish forked once, for its one section
    # the same files, the subscription document included, also when the parent rendered
    # the killed child's days after rendering its own and the subscription document
    assert outputs["alone"] == outputs["shared"] == outputs["child killed"]
    archives = [name for name in outputs["shared"] if name.startswith("archive/war/")
                and name.endswith(".atom")]
    assert len(archives) >= 20
    archived = [entry.id for name in archives
                for entry in feedparser.parse(tmp_path / "shared" / name).entries]
    current = {entry.id for entry in feedparser.parse(tmp_path / "shared" / "war.atom").entries}
    assert len(archived) == len(set(archived)) == 117  # each in one day; NOW's day is open
    assert len(set(archived) | current) == 120
    shutil.rmtree(tmp_path / "alone")

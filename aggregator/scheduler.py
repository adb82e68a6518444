"""`aggregator run`: APScheduler (used only here) drives one recurring tick that polls
whatever is due, then republishes. The tick is coalesced and never overlaps itself.

Each tick first re-reads feeds.yaml when it changed on disk: a valid edit takes effect
at once, an invalid one is logged with its line number and the previous config stays.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from aggregator.config import Config, load_config
from aggregator.errors import ConfigError
from aggregator.pipeline import Poller
from aggregator.pipeline.schedule import utcnow
from aggregator.pipeline.stories import Stories
from aggregator.publish import publish_after_pass
from aggregator.store import Store
from aggregator.topics import retag_store

log = logging.getLogger("aggregator.run")


class Runner:
    """Holds the live configuration and performs ticks; owned by `run`."""

    def __init__(self, config: Config, store: Store, *, clock: Callable[[], datetime] = utcnow,
                 config_file: Path | None = None, shared: bool = False) -> None:
        self.config = config
        self.shared = shared  # one of several pollers: claims only, no pass lock
        self.store = store
        self.clock = clock
        self._file = config_file or config.path
        self._stamp = _stamp(self._file)
        self._lock = threading.Lock()
        self._republish = True  # publish at the first tick, and after every reload
        self._stories: Stories | None = None  # one clusterer across ticks: it warms once
        store.sync_sources(config.sources)

    def current(self) -> Config:
        return self.config

    def reload_if_changed(self) -> bool:
        """Adopt an edited feeds.yaml when it is valid; return True when it was adopted."""
        stamp = _stamp(self._file)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            config = load_config(self._file)
        except ConfigError as exc:
            log.error("configuration not reloaded, keeping the previous one: %s", exc)
            return False
        self.store.sync_sources(config.sources)
        topics_changed = config.topics != self.config.topics
        self.config = config
        if topics_changed:
            log.info("topics changed: %s", retag_store(config, self.store))
        log.info("configuration reloaded: %d sources, %d sections", len(config.sources),
                 len(config.sections))
        return True

    def tick(self) -> None:
        """Poll what is due and republish; exceptions are logged, never raised."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._republish = self.reload_if_changed() or self._republish
            # A cron `poll` may share the database; shared pollers split the sources by
            # claiming them instead.
            exclusive = contextlib.nullcontext(True) if self.shared else self.store.poll_lock()
            with exclusive as locked:
                if not locked:
                    log.info("another poll is running; skipping this tick")
                    return
                settings = self.config.settings
                if self._stories is None or self._stories.settings != (
                        settings.story_window, settings.story_embeddings):
                    self._stories = Stories.for_settings(settings)
                poller = Poller(self.config, self.store, clock=self.clock,
                                stories=self._stories, shared=self.shared)
                due = poller.due()
                outcomes = poller.run(due, due_only=True) if due else []
                for outcome in outcomes:
                    log.info("%s", outcome.summary())
                if self._republish or any(o.outcome in ("new", "updated") for o in outcomes):
                    # a new config (self._republish): this node's outputs must follow it
                    if publish_after_pass(self.config, self.store, self.clock(),
                                          self.store.clock(), force=self._republish) is None:
                        log.info("published by another poller since this tick stored")
                    self._republish = False
        except Exception:
            log.exception("tick failed")
        finally:
            self._lock.release()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def start(runner: Runner, *, tick_seconds: float = 60.0) -> BackgroundScheduler:
    """Start the background scheduler: one tick now, then one every `tick_seconds`."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(runner.tick, "interval", seconds=tick_seconds, id="tick",
                      coalesce=True, max_instances=1, misfire_grace_time=None,
                      next_run_time=datetime.now(UTC) + timedelta(seconds=0.1))
    scheduler.start()
    return scheduler

"""A big render shared with a forked child: the other core renders about half of it.

Publishing after a first poll or a long outage renders every archive day of a section, a few
seconds of pure Python on one core while the other one idles (the parse workers are gone by
then). `shared` forks once: the child gets about half of the jobs by weight and writes their
files while this process writes the rest. The child inherits everything it needs (the
configuration, the render context, the plan) and opens its own database connections
(`child_setup`). A child that fails, or is killed, writes nothing that counts: its jobs are run
again here, so a failure costs time and never a file.

Only a process with one thread forks (a cron `poll` after its pass): a lock held by another
thread at the moment of the fork would stay held in the child forever. `aggregator run`
(scheduler and web threads) renders everything itself.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

log = logging.getLogger(__name__)

Job = TypeVar("Job")
LEAST = 1_000  # jobs lighter than this in all are not worth a fork (~10 ms, page copies)


def shared(jobs: Sequence[Job], weight: Callable[[Job], int],
           run: Callable[[Sequence[Job]], int], *, child_setup: Callable[[], None] | None,
           least: int | None = None, meanwhile: Callable[[], None] | None = None,
           meanwhile_weight: int = 0) -> int:
    """Run `run` over `jobs` and return the sum of what it returned; when the jobs weigh
    `least` (default LEAST) or more and this process may fork, a child runs about half of
    them (by weight) at the same time. `child_setup` runs first thing in the child (fresh
    connections); None: never fork. `meanwhile`: this process's other work, run here after
    its jobs and before the child's are known to be done (weighing `meanwhile_weight`: the
    child takes that much more)."""
    least = LEAST if least is None else least
    if child_setup is None or len(jobs) < 2 or sum(weight(job) for job in jobs) < least \
            or not _may_fork():
        done = run(jobs)
        if meanwhile is not None:
            meanwhile()
        return done
    mine, theirs = halves(jobs, weight, head_start=meanwhile_weight)
    reading, writing = os.pipe()
    sys.stdout.flush()  # what is buffered would be written twice, once by each process
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reading)
        _child(theirs, run, child_setup, writing)
    os.close(writing)
    try:
        done = run(mine)
        if meanwhile is not None:
            meanwhile()
    finally:
        report = _collect(pid, reading)
    if report is None:
        log.warning("the forked renderer failed; rendering its %d jobs here", len(theirs))
        report = run(theirs)
    return done + report


def halves(jobs: Sequence[Job], weight: Callable[[Job], int],
           head_start: int = 0) -> tuple[list[Job], list[Job]]:
    """Two lists of the jobs, each in the order given, whose weights (the first's plus
    `head_start`) differ as little as a greedy split (heaviest first, each to the lighter
    side) makes them."""
    sides: tuple[list[int], list[int]] = ([], [])
    loads = [head_start, 0]
    for index in sorted(range(len(jobs)), key=lambda i: -weight(jobs[i])):
        side = 0 if loads[0] <= loads[1] else 1
        sides[side].append(index)
        loads[side] += weight(jobs[index])
    return ([jobs[i] for i in sorted(sides[0])], [jobs[i] for i in sorted(sides[1])])


def _may_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def _child(jobs: Sequence[Job], run: Callable[[Sequence[Job]], int],
           child_setup: Callable[[], None], writing: int) -> None:
    status = 1
    try:
        child_setup()
        done = run(jobs)
        os.write(writing, str(done).encode("ascii"))
        status = 0
    except BaseException:  # reported by the parent, which renders these jobs itself
        log.exception("forked renderer")
    finally:
        os.close(writing)
        os._exit(status)  # no atexit handlers, no finalizers: they belong to the parent


def _collect(pid: int, reading: int) -> int | None:
    """What the child reported, once it has exited; None when it failed."""
    with os.fdopen(reading, "rb") as pipe:
        said = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not said.isdigit():
        return None
    return int(said)

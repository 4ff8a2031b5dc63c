"""The supervisor of ``bridge worker``: starts, watches, kills and restarts its children.

It runs no job, holds no thread and no connection, so forking a child from it is safe. Children:
the dispatcher and ``processes`` job processes, and alongside the dispatcher a short-lived child
once a minute that refreshes ``/metrics``' recovery figures (``metrics.snapshot``) and exits: a report
over a long history holds tens of MB while it runs, which a long-lived process would keep for ever.
The supervisor

* kills (SIGKILL) a job process whose current job is past its deadline, then starts a fresh one —
  the job's row is claimed with a lease, so another process retries it once the lease runs out;
* restarts a child that exited (Redis away, a crash), waiting longer after each quick failure;
* on SIGTERM or SIGINT passes SIGTERM on (warm: running jobs finish) and exits when its children
  have; a second signal kills them (cold);
* dumps every thread's stack to stderr on ``SIGUSR1``, as do its children;
* is the parent its children die with (``PR_SET_PDEATHSIG``): ``kill -9`` of the supervisor
  leaves no process behind.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from bridge.config import Settings
from bridge.worker.jobs_process import Deadline
from bridge.worker.procctl import die_with_parent, dump_stacks_on, set_name

log = logging.getLogger("bridge.worker")

TICK = 0.2
MAX_BACKOFF = 30.0
SHUTDOWN_GRACE = 10.0  # after SIGTERM, a child with no job running gets this long to exit
STABLE_AFTER = 60.0  # a child that ran this long before exiting starts again without waiting
METRICS_EVERY = 60.0  # bridge.metrics.snapshot.EVERY (not imported: the supervisor loads no store)
METRICS_TIMEOUT = 600.0  # a refresh still running this long is killed (a cold report of a long history)


@dataclass
class Child:
    name: str
    target: Callable[..., Any]
    deadline: Deadline | None = None
    process: Any = None
    started: float = 0.0
    failures: int = 0
    next_start: float = 0.0
    kills: int = 0


@dataclass
class Periodic:
    """A child started every ``every`` seconds (never two at once) that does one thing and exits."""

    name: str
    target: Callable[[Settings, None], Any]  # an exception exits with code 1, its traceback on stderr
    every: float
    timeout: float
    process: Any = None
    started: float = 0.0
    next_start: float = 0.0
    runs: int = 0
    failures: int = 0


class Supervisor:
    def __init__(self, settings: Settings, processes: int = 1, dispatcher: bool = True,
                 periodic: list[Periodic] | None = None) -> None:
        self.settings = settings
        self.ctx = multiprocessing.get_context("fork")
        self.pid = os.getpid()
        self.children: list[Child] = []
        if dispatcher:
            self.children.append(Child("dispatcher", _dispatcher))
        if periodic is None:  # where the dispatcher runs: one set of figures per `bridge worker`, not per process
            periodic = [Periodic("metrics", _metrics, METRICS_EVERY, METRICS_TIMEOUT)] if dispatcher else []
        self.periodic = periodic
        for n in range(processes):
            self.children.append(Child(f"jobs-{n + 1}", _jobs, deadline=self.ctx.Value("d", 0.0, lock=False)))
        self.signals = self.forwarded = 0
        self.stop_at = 0.0

    # --- signals -------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1  # only a flag: the loop passes it on (nothing that locks in a handler)

    def _pass_on_signals(self) -> None:
        if self.signals == self.forwarded:
            return
        self.forwarded = self.signals
        self.stop_at = self.stop_at or time.monotonic()
        cold = self.signals > 1
        log.warning("bridge.worker.shutdown", extra={"mode": "cold" if cold else "warm"})
        for child in [*self.children, *self.periodic]:
            if child.process is not None and child.process.is_alive():
                _send(child.process.pid, signal.SIGKILL if cold else signal.SIGTERM)

    # --- children ------------------------------------------------------------------------------

    def _start(self, child: Child) -> None:
        if child.deadline is not None:
            child.deadline.value = 0.0
        process = self.ctx.Process(target=_child_main, name=f"bridge-{child.name}",
                                   args=(self.pid, child.name, child.target, self.settings, child.deadline))
        process.start()
        child.process, child.started = process, time.monotonic()
        log.info("bridge.worker.child_started", extra={"child": child.name, "pid": process.pid})

    def _check(self, child: Child, now: float) -> None:
        process = child.process
        if process is not None and process.is_alive():
            deadline = child.deadline.value if child.deadline is not None else 0.0
            if deadline and time.time() > deadline:
                log.error("bridge.worker.job_killed", extra={"child": child.name, "pid": process.pid,
                                                              "late_by": round(time.time() - deadline, 1)})
                _send(process.pid, signal.SIGKILL)
                process.join(5)
                child.kills += 1
                child.next_start = now  # a hung job is not the process's fault: replace it at once
            elif self.signals and not deadline and now - self.stop_at > SHUTDOWN_GRACE:
                log.warning("bridge.worker.shutdown_forced", extra={"child": child.name, "pid": process.pid})
                _send(process.pid, signal.SIGKILL)  # idle, or the dispatcher: nothing in flight is lost
                process.join(5)
            return
        if process is not None:
            code = process.exitcode
            process.join(0)
            child.process = None
            if self.signals:
                return
            ran = now - child.started
            child.failures = 0 if ran >= STABLE_AFTER else child.failures + 1
            delay = 0.0 if child.failures == 0 else min(MAX_BACKOFF, 0.5 * 2 ** (child.failures - 1))
            child.next_start = max(child.next_start, now + delay)
            log.warning("bridge.worker.child_exited", extra={"child": child.name, "code": code,
                                                             "restart_in": delay})
        if not self.signals and now >= child.next_start:
            self._start(child)

    def _tick(self, job: Periodic, now: float) -> None:
        process = job.process
        if process is not None:
            if process.is_alive():
                late = now - job.started > job.timeout
                if late or (self.signals and now - self.stop_at > SHUTDOWN_GRACE):
                    log.error("bridge.worker.periodic_killed", extra={"child": job.name, "pid": process.pid,
                                                                      "ran": round(now - job.started, 1)})
                    _send(process.pid, signal.SIGKILL)  # what it was computing is computed again next time
                    process.join(5)
                return
            process.join(0)
            job.process = None
            if process.exitcode != 0:
                job.failures += 1
                log.warning("bridge.worker.periodic_failed", extra={"child": job.name, "code": process.exitcode})
        if not self.signals and now >= job.next_start:
            job.next_start = now + job.every
            job.process = self.ctx.Process(target=_child_main, name=f"bridge-{job.name}",
                                           args=(self.pid, job.name, job.target, self.settings, None))
            job.process.start()
            job.started = now
            job.runs += 1

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for child in self.children:
            self._start(child)
        while True:
            self._pass_on_signals()
            now = time.monotonic()
            for child in self.children:
                self._check(child, now)
            for job in self.periodic:
                self._tick(job, now)
            everyone = [*self.children, *self.periodic]
            if self.signals and all(c.process is None or not c.process.is_alive() for c in everyone):
                for child in everyone:
                    if child.process is not None:
                        child.process.join(0)
                # Nothing is left to stop. Python puts SIGTERM/SIGINT back to their default while the
                # interpreter shuts down, so a platform's second SIGTERM arriving then would end a
                # clean exit as "killed by SIGTERM" (-15); ignored, it changes nothing.
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                return 0
            time.sleep(TICK)


def upgrade_apart(settings: Settings) -> None:
    """Bring the schema up to date in a child process that exits, not in the supervisor.

    Every child is forked from the supervisor and its RSS counts the pages it inherits: Alembic,
    Mako and the migration scripts, loaded here, added ~20 MB to each job process and to the
    dispatcher though neither migrates. Raises RuntimeError when the upgrade failed (its traceback
    is on stderr already)."""
    process = multiprocessing.get_context("fork").Process(target=_upgrade, args=(settings,), name="bridge-upgrade")
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"the schema upgrade failed (exit code {process.exitcode})")


def _upgrade(settings: Settings) -> None:
    set_name("bridge-upgrade")
    from bridge.store.db import Store, dispose_all
    from bridge.store.migrate import upgrade

    try:
        upgrade(Store(settings.store_url))
    finally:
        dispose_all()


def _send(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _child_main(parent: int, name: str, target: Callable[..., Any], settings: Settings,
                deadline: Deadline | None) -> None:
    die_with_parent(parent)
    set_name(f"bridge-{name}")
    # Fresh signal dispositions: the supervisor's handlers must not run in a child.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    dump_stacks_on()  # inherited through fork already; said again so a child never depends on how it was started
    target(settings, deadline)


def _metrics(settings: Settings, deadline: Deadline | None) -> None:
    from bridge.metrics import snapshot
    from bridge.runtime import Runtime
    from bridge.store.db import dispose_all

    try:
        snapshot.refresh(Runtime.build(settings))
    finally:
        dispose_all()


def _dispatcher(settings: Settings, deadline: Deadline | None) -> None:
    # Imported in the child: the supervisor itself loads neither the store, RQ nor the judge.
    from bridge.worker import dispatcher

    dispatcher.run(settings)


def _jobs(settings: Settings, deadline: Deadline | None) -> None:
    # Imported in the child (the supervisor holds only jobs_process's light top: Deadline).
    from bridge.worker import jobs_process

    jobs_process.run(settings, deadline)

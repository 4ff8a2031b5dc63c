"""The in-process worker used when REDIS_URL is unset: a thread that drains the store into a pool.

The store is the queue here, so a restart loses nothing: rows still ``received`` or ``pending``
(including ones claimed by a process that died, once their lease runs out) are picked up again.
Jobs run on a small pool of threads (``THREADS``), so one slow job (a vendor that answers late, an
evidence host at the end of its fetch budget) holds one thread, never every case. The jobs are
the same compare-and-set claims RQ workers run side by side, so running several at once is safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any

from bridge.metrics import snapshot
from bridge.queue import InProcessQueue
from bridge.runtime import Runtime
from bridge.worker import handover, privacy

log = logging.getLogger("bridge.runner")
THREADS = 4
PURGE_EVERY = 3600.0  # seconds between retention purges (run on the pool, never on the dispatch thread)
STALL_AFTER = 30.0  # seconds without a dispatch pass before the health check calls the runner stalled
PURGE: tuple[str, Any] = ("privacy.purge", 0)
SNAPSHOT: tuple[str, Any] = ("metrics.snapshot", 0)  # /metrics' recovery figures, every snapshot.EVERY s


def run_due(rt: Runtime, limit: int = 100) -> int:
    """Run every job that is due now; returns how many ran (failures included)."""
    ran = 0
    while True:
        handover.release_handed_over(rt)
        now = rt.clock()
        batch = []
        for source in handover.sources():
            with rt.store.session() as s:
                batch += [(source, ident) for ident in source.due(s, now)[:limit]]
        if not batch:
            return ran
        # A failure is recorded on its row and retried when due, so it is not re-raised here.
        for source, ident in batch:
            ran += 1
            with suppress(Exception):
                source.run(ident, rt)


class Runner:
    def __init__(self, rt: Runtime, poll_seconds: float = 1.0, threads: int = THREADS) -> None:
        assert isinstance(rt.queue, InProcessQueue)
        self.rt = rt
        self.wake = rt.queue.wake
        self.poll_seconds = poll_seconds
        self.threads = threads
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bridge-runner", daemon=True)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="bridge-job")
        self._running: set[tuple[str, Any]] = set()
        self._backlog = False
        self._lock = threading.Lock()
        self._started: set[tuple[str, Any]] = set()  # running on a pool thread now
        self._idle = threading.Condition()
        self._last_pass = time.monotonic()
        self._last: dict[tuple[str, Any], float] = {PURGE: -PURGE_EVERY, SNAPSHOT: -snapshot.EVERY}

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> bool:
        """Stop handing out work and let the jobs already running finish, for up to ``timeout``
        seconds (a job cut off holds its claim until the lease runs out, then runs again). Jobs
        handed over but not started are dropped: they never claimed anything and stay due.
        True when nothing was left running."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self.wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._idle:
            while self._started and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
            left = len(self._started)
        if left:
            log.warning("bridge.runner.stopped_with_jobs_running", extra={"running": left})
        return not left

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stalled(self, now: float | None = None) -> bool:
        """True when the dispatch thread has not finished a pass for ``STALL_AFTER`` seconds (it
        only reads due rows and hands them over, so a long pass means it is stuck)."""
        return (now if now is not None else time.monotonic()) - self._last_pass > STALL_AFTER

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def dispatch(self, limit: int = 100) -> int:
        """Hand every due job that is not already running to the pool; returns how many."""
        handover.release_handed_over(self.rt)
        now = self.rt.clock()
        handed = 0
        for source in handover.sources():
            with self.rt.store.session() as s:
                due = source.due(s, now)[:limit]
            for ident in due:
                job = (source.job, ident)
                with self._lock:
                    if job in self._running:
                        continue  # running already (claimed or about to be)
                    if len(self._running) >= 2 * self.threads:
                        self._backlog = True  # enough waiting for a thread: look again when one frees
                        continue
                    self._running.add(job)
                if not self._submit(self._run, source, ident, job):
                    return handed
                handed += 1
        return handed

    def _submit(self, fn: Any, *args: Any) -> bool:
        """Hand to the pool; a job the pool refuses (shut down, no thread to be had) is forgotten,
        so the next pass offers it again instead of believing it is running."""
        try:
            self._pool.submit(fn, *args)
            return True
        except RuntimeError:
            log.exception("bridge.runner.submit_refused")
            with self._lock:
                self._running.discard(args[-1])
            return False

    def purge_if_due(self, now: float | None = None) -> bool:
        """Start the retention purge on the pool when an hour has passed since the last one. It
        scans and scrubs old cases, which can take long on a big store: the dispatch thread must
        keep handing out work meanwhile."""
        return self._periodic(PURGE, PURGE_EVERY, self._purge, now)

    def snapshot_if_due(self, now: float | None = None) -> bool:
        """Refresh ``/metrics``' recovery figures on the pool once a minute (``metrics.snapshot``)."""
        return self._periodic(SNAPSHOT, snapshot.EVERY, lambda: snapshot.refresh_logged(self.rt), now)

    def _periodic(self, job: tuple[str, Any], every: float, fn: Callable[[], None], now: float | None) -> bool:
        now = now if now is not None else time.monotonic()
        with self._lock:
            if now - self._last[job] < every or job in self._running:
                return False
            self._last[job] = now
            self._running.add(job)
        return self._submit(self._once, fn, job)

    def _once(self, fn: Callable[[], None], job: tuple[str, Any]) -> None:
        try:
            fn()
        finally:
            with self._lock:
                self._running.discard(job)

    def _purge(self) -> None:
        try:
            privacy.purge(self.rt, privacy.retention_days(self.rt))
        except Exception:
            log.exception("bridge.runner.purge_error")

    def _run(self, source: handover.JobSource, ident: Any, job: tuple[str, Any]) -> None:
        with self._idle:
            self._started.add(job)
        try:
            source.run(ident, self.rt)  # a failure is recorded on its row and retried when due
        except Exception:
            log.exception("bridge.runner.job_error")
        finally:
            with self._idle:
                self._started.discard(job)
                self._idle.notify_all()
            with self._lock:
                self._running.discard(job)
                backlog, self._backlog = self._backlog, False
            if backlog:
                self.wake.set()  # (the jobs themselves enqueue the steps they make due, which wakes us too)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.dispatch()
                self.purge_if_due()
                self.snapshot_if_due()
            except Exception:
                log.exception("bridge.runner.error")
            self._last_pass = time.monotonic()
            self.wake.wait(self.poll_seconds)
            self.wake.clear()

"""The in-process worker used when REDIS_URL is unset: a thread that drains the store.

The store is the queue here, so a restart loses nothing: rows still ``received`` or ``pending``
(including ones claimed by a process that died, once their lease runs out) are picked up again.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import suppress

from bridge import jobs
from bridge.queue import InProcessQueue
from bridge.runtime import Runtime

log = logging.getLogger("bridge.runner")


def run_due(rt: Runtime, limit: int = 100) -> int:
    """Run every job that is due now; returns how many ran (failures included)."""
    ran = 0
    while True:
        now = rt.clock()
        batch = []
        for source in jobs.sources():
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
    def __init__(self, rt: Runtime, poll_seconds: float = 1.0) -> None:
        assert isinstance(rt.queue, InProcessQueue)
        self.rt = rt
        self.wake = rt.queue.wake
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bridge-runner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        from bridge import privacy

        last_purge = 0.0
        while not self._stop.is_set():
            try:
                run_due(self.rt)
                if time.monotonic() - last_purge >= 3600:
                    last_purge = time.monotonic()
                    privacy.purge(self.rt, privacy.retention_days(self.rt))
            except Exception:
                log.exception("bridge.runner.error")
            self.wake.wait(self.poll_seconds)
            self.wake.clear()

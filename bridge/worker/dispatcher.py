"""The dispatcher process: hand accepted events to RQ, run RQ's scheduler, sweep, purge.

One loop, several clocks: dispatch every ``BRIDGE_DISPATCH_INTERVAL`` (0.1 s), the scheduler tick
every second (retries whose time has come move from RQ's scheduled registry to their queue), a
sweep every ``BRIDGE_SWEEP_INTERVAL`` and the retention purge hourly. Every ``bridge worker`` runs
one; the store's atomic claims and RQ's scheduler locks keep several of them from doubling work.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from rq.scheduler import RQScheduler

from bridge.config import Settings
from bridge.queue import RQQueue
from bridge.runtime import Runtime, install
from bridge.store.db import relax_durability
from bridge.worker import handover, privacy

log = logging.getLogger("bridge.dispatcher")

SCHEDULER_TICK = 1.0
LOCK_RETRY = 15.0  # a scheduler lock another dispatcher held is tried again this often


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        relax_durability()  # a lost queued_at only hands a row over again (its job runs once)
        self.rt = install(Runtime.build(settings))
        assert isinstance(self.rt.queue, RQQueue)
        self.queue = self.rt.queue
        self.scheduler = RQScheduler(self.queue.queues, connection=self.queue.redis,
                                     serializer=self.queue.serializer, interval=int(SCHEDULER_TICK))
        self.every = settings.dispatch_interval
        self.stopping = False
        self.purging: threading.Thread | None = None

    def purge_in_background(self) -> bool:
        """Start the retention purge on a thread of its own unless one still runs: on a big store it
        takes a while, and dispatching must not wait for it."""
        if self.purging is not None and self.purging.is_alive():
            return False
        self.purging = threading.Thread(target=self._purge, name="bridge-purge", daemon=True)
        self.purging.start()
        return True

    def _purge(self) -> None:
        try:
            privacy.purge(self.rt, privacy.retention_days(self.rt))
        except Exception:
            log.exception("bridge.dispatcher.purge_error")

    def stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        last_tick = last_sweep = last_locks = 0.0
        last_purge = -3600.0  # the first pass purges too, whatever the machine's uptime
        self.scheduler.register_birth()
        try:
            while not self.stopping:
                started = time.monotonic()
                try:
                    handover.dispatch(self.rt)
                    if started - last_tick >= SCHEDULER_TICK:
                        last_tick = started
                        if self.scheduler.acquired_locks != set(self.scheduler._queue_names) and \
                                started - last_locks >= LOCK_RETRY:
                            last_locks = started
                            self.scheduler.acquire_locks()
                        if self.scheduler.acquired_locks:
                            self.scheduler.heartbeat()
                            self.scheduler.enqueue_scheduled_jobs()
                    if started - last_sweep >= self.rt.settings.sweep_interval:
                        last_sweep = started
                        handover.sweep(self.rt)
                    if started - last_purge >= 3600:
                        last_purge = started
                        self.purge_in_background()
                except Exception:
                    # Redis or the store is away: nothing is lost (the store holds the work); try
                    # again after a pause rather than spin on the error.
                    log.exception("bridge.dispatcher.error")
                    last_locks = 0.0
                    time.sleep(1.0)
                time.sleep(max(0.0, self.every - (time.monotonic() - started)))
        finally:
            try:
                self.scheduler.stop()
            except Exception:
                log.warning("bridge.dispatcher.release_failed")


def run(settings: Settings) -> None:
    Dispatcher(settings).run()

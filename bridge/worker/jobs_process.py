"""A job process: an RQ worker that runs each job in its own process (no work horse per job).

Forking a work horse per job cost a fork, a fresh database connection and a new Redis connection
per job, and a fork taken while another thread held a lock (SQLite, a connection pool) handed the
horse a lock nobody would release. Here jobs run in a long-lived process with its own connections;
the supervisor enforces the deadline from outside (``deadline`` is shared memory it reads), RQ's
SIGALRM timeout stays as the polite first try.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from rq import SimpleWorker
from rq.job import Job
from rq.utils import import_attribute

from bridge.config import Settings
from bridge.queue import job_function

DEADLINE_GRACE = 5.0  # seconds past a job's own timeout before the supervisor kills its process
FALLBACK_TIMEOUT = 180  # RQ's default, for a job enqueued without one


class Deadline(Protocol):
    """Shared memory (a ``multiprocessing.Value('d')``): epoch seconds, 0 when idle."""

    value: float


class MovedJob(Job):
    """A job whose function may have been enqueued under a path that has moved since."""

    @property
    def func(self) -> Any:
        if self.func_name is None or self.instance is not None:
            return super().func
        return import_attribute(job_function(self.func_name))


class BridgeWorker(SimpleWorker):
    """RQ's in-process worker, telling the supervisor when the current job must be over."""

    deadline: Deadline | None = None
    job_class = MovedJob

    # RQ's pub/sub command thread (send_kill_horse_command, send_stop_job_command) is not used
    # here: the supervisor stops jobs. Without it the process stays single-threaded, and a warm
    # shutdown does not wait up to 60 s for that thread's blocking read on its Redis connection.
    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None

    def execute_job(self, job: Any, queue: Any) -> None:
        if self.deadline is not None:
            timeout = job.timeout if job.timeout and job.timeout > 0 else FALLBACK_TIMEOUT
            self.deadline.value = time.time() + float(timeout) + DEADLINE_GRACE
        try:
            super().execute_job(job, queue)
        finally:
            if self.deadline is not None:
                self.deadline.value = 0.0


def warm_up(rt: Any) -> None:
    """Load what the first job would (trigger config, models, routing) before taking one, so a job's
    timeout never pays for a cold process."""
    from bridge.events import Event
    from bridge.pipeline import trigger_config, triggers

    config = trigger_config.from_settings(rt.settings)
    triggers.decide(Event.model_validate({"event_id": "warm-up", "type": "conversation.updated",
                                          "conversation": {"id": "warm-up", "messages": [
                                              {"role": "customer", "text": "Hello, how do I export?"}]}}), config)
    rt.routing()


def run(settings: Settings, deadline: Deadline | None = None, burst: bool = False) -> bool:
    # Imported here, in the job process only: the supervisor imports this module for ``Deadline``
    # and must not load the store, the runtime or the judge before it starts its children.
    import logging

    from bridge.queue import RQQueue
    from bridge.runtime import Runtime, install
    from bridge.store.db import relax_durability

    relax_durability()
    rt = install(Runtime.build(settings))
    warm_up(rt)
    assert isinstance(rt.queue, RQQueue)
    worker = BridgeWorker(rt.queue.queues, connection=rt.queue.redis, serializer=rt.queue.serializer)
    worker.deadline = deadline
    # RQ's three INFO lines per job would outnumber everything else; the job logs its own line.
    verbose = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    return bool(worker.work(burst=burst, with_scheduler=False, logging_level="DEBUG" if verbose else "WARNING"))

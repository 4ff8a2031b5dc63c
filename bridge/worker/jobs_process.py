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
from rq.utils import import_attribute, now as now_utc

from bridge.config import Settings
from bridge.queue import job_function

DEADLINE_GRACE = 5.0  # seconds past a job's own timeout before the supervisor kills its process
FALLBACK_TIMEOUT = 180  # RQ's default, for a job enqueued without one
HEARTBEAT_SLACK = 1.0  # seconds: a worker heartbeat lengthening its key's life by less is not sent
SUSPENSION_CHECK = 1.0  # seconds between looks for `rq suspend`


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

    # RQ's bookkeeping around each job was ~22 Redis round trips, most of them for nothing: three
    # worker heartbeats of three commands each, sent one command at a time, within a few ms of one
    # another; the worker's state set to "idle" twice; a look for `rq suspend` before every job.
    # The overrides below keep what each of these promises and send only what changes something.
    _expires = 0.0  # monotonic time at which the worker's key expires, as the last heartbeat set it
    _suspension_checked = 0.0

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat (the worker's key and its executions' set get ``timeout`` to live), sent as
        one pipeline, and left out when it would lengthen their life by less than a second: such
        a heartbeat follows another by a few ms (RQ sends one after each job, one before and one
        after each dequeue). One that would lengthen it more (the job-start heartbeat shortens the
        key's life to the job's timeout + 60 s; an idle worker's dequeue outlives that) is sent."""
        ttl = timeout or self.worker_ttl + 60
        now = time.monotonic()
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
        elif now + ttl - self._expires < HEARTBEAT_SLACK:
            return
        else:
            with self.connection.pipeline(transaction=False) as pipe:
                super().heartbeat(timeout, pipe)
                pipe.execute()
        self._expires = now + ttl

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """The worker's state in its hash (what `rq info` shows), written only when it changes: RQ
        sets "idle" after each job and again before each dequeue."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        """`rq suspend` looked for once a second rather than before every job (a round trip each)."""
        now = time.monotonic()
        if now - self._suspension_checked >= SUSPENSION_CHECK:
            super().check_for_suspension(burst)
            self._suspension_checked = time.monotonic()

    def handle_execution_ended(self, job: Any, queue: Any, heartbeat_ttl: int) -> None:
        """RQ stamps the job's ``last_heartbeat`` here so that a success or failure callback has
        time to run; the bridge's jobs have none, and their end is recorded right after."""
        if job.success_callback is not None or job.failure_callback is not None:
            super().handle_execution_ended(job, queue, heartbeat_ttl)
        else:
            job.ended_at = now_utc()

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

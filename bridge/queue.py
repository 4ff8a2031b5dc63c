"""The job queue: RQ when REDIS_URL is set, the store itself otherwise.

Both run the same job functions in ``bridge.jobs`` with ids as their only arguments. The store is
the source of truth either way (attempts, next attempt, dead letters), so losing Redis loses no
work: the sweeper re-enqueues whatever the store says is still due. Retries are scheduled by the
job itself (so a vendor's Retry-After is honoured), not by RQ's fixed-interval ``Retry``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger("bridge.queue")

JOB_MODULE = "bridge.jobs"


def job_id(queue: str, job: str, arg: str | int) -> str:
    """Deterministic RQ job id (letters, digits, ``_`` and ``-`` only) so duplicates collapse.

    Job ids are global Redis keys, not per queue: the queue name keeps two deployments (or test
    runs) that share a Redis from taking each other's jobs for duplicates.
    """
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{queue}-{job}-{arg}")


class JobQueue(Protocol):
    kind: str

    def enqueue(
        self, job: str, arg: str | int, at: datetime | None = None, attempt: int = 0, tag: str = ""
    ) -> None: ...

    def ping(self) -> None: ...


class InProcessQueue:
    """No Redis: jobs wait in the store and a runner thread picks them up; enqueue only wakes it."""

    kind = "in-process"

    def __init__(self) -> None:
        self.wake = threading.Event()

    def enqueue(
        self, job: str, arg: str | int, at: datetime | None = None, attempt: int = 0, tag: str = ""
    ) -> None:
        self.wake.set()  # the runner reads next_attempt_at from the store, so `at` needs no timer

    def ping(self) -> None:
        return None


class RQQueue:
    kind = "rq"

    def __init__(self, redis_url: str, name: str, job_timeout: int) -> None:
        from redis import Redis
        from rq import Queue
        from rq.serializers import JSONSerializer

        # Short socket timeouts: a hung Redis must not hold a webhook request past its ack budget.
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
        self.queue = Queue(name, connection=self.redis, serializer=JSONSerializer)
        self.job_timeout = job_timeout

    def enqueue(
        self, job: str, arg: str | int, at: datetime | None = None, attempt: int = 0, tag: str = ""
    ) -> None:
        """Enqueue now, or at ``at`` (a retry: its own job id per attempt, run by the scheduler).

        ``tag`` gives the job an id of its own: the sweeper uses it for rows whose lease ran out,
        whose old job may be a zombie RQ still calls "started" (its worker and work horse killed).
        """
        from rq.exceptions import DuplicateJobError, NoSuchJobError
        from rq.job import Job, JobStatus

        jid = job_id(self.queue.name, job, arg) + (f"-r{attempt}" if attempt else "") + (f"-{tag}" if tag else "")
        if at is not None and at <= datetime.now(UTC):
            at = None  # due already: enqueue now
        elif at is not None and at.microsecond:
            # RQ's scheduler keeps whole seconds (it drops the fraction): round up, never run early.
            at = at.replace(microsecond=0) + timedelta(seconds=1)
        options: dict[str, Any] = dict(
            job_id=jid, unique=True, job_timeout=self.job_timeout, result_ttl=600,
            failure_ttl=int(timedelta(days=7).total_seconds()),
        )
        func = job if "." in job else f"{JOB_MODULE}.{job}"
        for _ in range(2):
            try:
                if at is not None:
                    self.queue.enqueue_at(at, func, arg, **options)
                else:
                    self.queue.enqueue(func, arg, **options)
                return
            except DuplicateJobError:
                try:
                    existing = Job.fetch(jid, connection=self.redis, serializer=self.queue.serializer)
                except NoSuchJobError:
                    continue
                status = existing.get_status(refresh=True)
                if status not in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.STOPPED):
                    return  # already waiting or running: this enqueue collapses into it
                # A finished or failed run of the same id is history; the store says there is
                # work again (a replay or a sweep), so clear the old job and enqueue anew.
                existing.delete()
        log.warning("bridge.queue.enqueue_race", extra={"job_id": jid})

    def enqueue_batch(self, job: str, args: list[str | int]) -> None:
        """Many jobs in one round trip (the dispatcher). Uniqueness comes from the store's claim,
        so each batch gets job ids of its own and never overwrites a job that is running."""
        if not args:
            return
        stamp = f"d{time.time_ns() // 1_000_000}"
        func = job if "." in job else f"{JOB_MODULE}.{job}"
        data = [
            self.queue.prepare_data(func, args=(arg,), job_id=f"{job_id(self.queue.name, job, arg)}-{stamp}",
                                    timeout=self.job_timeout, result_ttl=600,
                                    failure_ttl=int(timedelta(days=7).total_seconds()))
            for arg in args
        ]
        with self.redis.pipeline() as pipe:
            self.queue.enqueue_many(data, pipeline=pipe)
            pipe.execute()

    def ping(self) -> None:
        self.redis.ping()

    def eviction_policy(self) -> str | None:
        """Redis' maxmemory-policy, or None when it cannot be read (down, or CONFIG disabled)."""
        from redis.exceptions import RedisError

        try:
            answer = self.redis.config_get("maxmemory-policy")
        except RedisError:
            return None
        value = answer.get("maxmemory-policy") or answer.get(b"maxmemory-policy")
        return value.decode() if isinstance(value, bytes) else value

    def scheduler_running(self) -> bool:
        from rq.scheduler import RQScheduler

        return bool(self.redis.exists(RQScheduler.get_locking_key(self.queue.name)))

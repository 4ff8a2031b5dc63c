"""The job queue: RQ when REDIS_URL is set, the store itself otherwise.

Both run the same job functions in ``bridge.jobs`` with ids as their only arguments. The store is
the source of truth either way (attempts, next attempt, dead letters), so losing Redis loses no
work: the sweeper re-enqueues whatever the store says is still due.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

log = logging.getLogger("bridge.queue")

JOB_MODULE = "bridge.jobs"


def job_id(job: str, arg: str | int) -> str:
    """Deterministic RQ job id (letters, digits, ``_`` and ``-`` only) so duplicates collapse."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{job}-{arg}")


class JobQueue(Protocol):
    kind: str

    def enqueue(self, job: str, arg: str | int) -> None: ...

    def ping(self) -> None: ...


class InProcessQueue:
    """No Redis: jobs wait in the store and a runner thread picks them up; enqueue only wakes it."""

    kind = "in-process"

    def __init__(self) -> None:
        self.wake = threading.Event()

    def enqueue(self, job: str, arg: str | int) -> None:
        self.wake.set()

    def ping(self) -> None:
        return None


class RQQueue:
    kind = "rq"

    def __init__(self, redis_url: str, name: str, intervals: Sequence[int], job_timeout: int) -> None:
        from redis import Redis
        from rq import Queue
        from rq.serializers import JSONSerializer

        # Short socket timeouts: a hung Redis must not hold a webhook request past its ack budget.
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
        self.queue = Queue(name, connection=self.redis, serializer=JSONSerializer)
        self.intervals = list(intervals)
        self.job_timeout = job_timeout

    def enqueue(self, job: str, arg: str | int) -> None:
        from rq import Retry
        from rq.exceptions import DuplicateJobError, NoSuchJobError
        from rq.job import Job, JobStatus

        jid = job_id(job, arg)
        options = dict(
            job_id=jid,
            unique=True,
            job_timeout=self.job_timeout,
            result_ttl=600,
            failure_ttl=int(timedelta(days=7).total_seconds()),
            retry=Retry(max=len(self.intervals), interval=self.intervals) if self.intervals else None,
        )
        for _ in range(2):
            try:
                self.queue.enqueue(f"{JOB_MODULE}.{job}", arg, **options)
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

    def ping(self) -> None:
        self.redis.ping()

    def scheduler_running(self) -> bool:
        from rq.scheduler import RQScheduler

        return bool(self.redis.exists(RQScheduler.get_locking_key(self.queue.name)))

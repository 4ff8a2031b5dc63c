"""The job queue: RQ when REDIS_URL is set, the store itself otherwise.

Both run the same job functions in ``bridge.worker.jobs`` with ids as their only arguments. The store is
the source of truth either way (attempts, next attempt, dead letters), so losing Redis loses no
work: the sweeper re-enqueues whatever the store says is due and Redis no longer holds. Retries are
scheduled by the job itself (so a vendor's Retry-After is honoured), not by RQ's ``Retry``.

With RQ there are two queues, drained in order by every worker: ``<name>-urgent`` (handoffs,
events of escalated cases, delivery steps, vendor events) and ``<name>-routine`` (conversation
updates the engine still has to judge). A customer who asked for a person never waits behind a
backlog of routine updates.

Every job has one id per (job, row, attempt): ``<name>-<job>-<arg>`` and ``-r<n>`` for the retry
after the n-th attempt. A row is therefore on the queue at most once, and "is the row's job still
in Redis?" is one lookup (``alive``), which is what the sweeper asks before it re-enqueues.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bridge import redis_probe  # sockets only: /readyz asks Redis without redis-py

log = logging.getLogger("bridge.queue")

# RQ's ``RQScheduler.get_locking_key``, written out so that /readyz need not import rq (held to RQ's
# by tests/test_redis_probe.py).
SCHEDULER_LOCK = "rq:scheduler-lock:%s"

JOB_MODULE = "bridge.worker.jobs"
PROCESS, PROCESS_BATCH, DELIVER = "process_event", "process_events", "deliver"  # jobs in JOB_MODULE
# A delivery step is work already decided (a ticket, an alert for a case judged to need a human):
# it goes to the front of its queue, so in a backlog each hand-off gets its ticket as soon as it is
# judged instead of after every earlier event has been judged (FIFO put the first ticket of a
# 10,000-event backlog ~5 minutes late). Steps cannot starve the events: each comes from an event
# already processed, and a failing vendor's retries wait in the scheduler.
FIRST = (DELIVER,)
# RQ keeps each job's function as a dotted path in Redis and imports it when a worker takes the job.
# Jobs enqueued before a module moved (issue 18) still name the old path: the worker maps it here.
# A path may leave this table once no deployment can hold such a job (failed jobs are kept 7 days).
MOVED = {
    "bridge.jobs.process_event": f"{JOB_MODULE}.process_event",
    "bridge.jobs.process_events": f"{JOB_MODULE}.process_events",
    "bridge.jobs.deliver": f"{JOB_MODULE}.deliver",
    "bridge.loop.process_vendor_event": "bridge.loop.jobs.process_vendor_event",
    "bridge.loop.reconcile_ticket": "bridge.loop.jobs.reconcile_ticket",
}
URGENT, ROUTINE = "urgent", "routine"
# RQ statuses of a job that will still run (or is running) without anyone's help.
_WAITING = {"queued", "scheduled", "deferred"}
# Nobody reads job results (the store records outcomes): keep them briefly. (0 would make RQ
# delete each job on success, which costs more round trips than letting it expire.)
RESULT_TTL = 60
FAILURE_TTL = int(timedelta(days=7).total_seconds())
# RQ takes a job off its queue (BLPOP) a moment before it marks it started. A worker killed in
# between leaves the job's hash saying "queued" for ever, on no queue: nobody will run it. Off its
# queue this long and still not started, such a job is lost (``states(verify=True)``, ``alive``).
POPPED_GRACE = 15.0
_POPPED_MARK_TTL = 3600  # seconds a "first seen off its queue" mark lives (longer than the grace)


def job_function(func_name: str) -> str:
    """Where a job's function lives now, given the dotted path it was enqueued with."""
    return MOVED.get(func_name, func_name)


def job_id(queue: str, job: str, arg: str | int, attempt: int = 0) -> str:
    """Deterministic RQ job id (letters, digits, ``_`` and ``-`` only) so duplicates collapse.

    Job ids are global Redis keys, not per queue: the deployment's queue name keeps two
    deployments (or test runs) that share a Redis from taking each other's jobs for duplicates.
    """
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{queue}-{job}-{arg}") + (f"-r{attempt}" if attempt else "")


def queue_names(name: str) -> tuple[str, str]:
    """The urgent and the routine queue of a deployment, in the order workers drain them."""
    return f"{name}-{URGENT}", f"{name}-{ROUTINE}"


class JobQueue(Protocol):
    kind: str

    def enqueue(
        self, job: str, arg: str | int, at: datetime | None = None, attempt: int = 0, urgent: bool = True
    ) -> None: ...

    def ping(self) -> None: ...


class InProcessQueue:
    """No Redis: jobs wait in the store and a runner thread picks them up; enqueue only wakes it."""

    kind = "in-process"

    def __init__(self) -> None:
        self.wake = threading.Event()

    def enqueue(
        self, job: str, arg: str | int, at: datetime | None = None, attempt: int = 0, urgent: bool = True
    ) -> None:
        self.wake.set()  # the runner reads next_attempt_at from the store, so `at` needs no timer

    def ping(self) -> None:
        return None


class RQQueue:
    kind = "rq"

    def __init__(self, redis_url: str, name: str, job_timeout: int, lease_seconds: int = 300) -> None:
        # redis and rq are imported, and the client made, on first use: a web process whose
        # requests never enqueue (the dispatcher in `bridge worker` does) loads neither.
        self.redis_url = redis_url
        self.name = name
        self.job_timeout = job_timeout
        self.lease_seconds = lease_seconds

    @functools.cached_property
    def redis(self) -> Any:
        from redis import Redis

        # Short socket timeouts: a hung Redis must not hold a job (or a sweep) for long.
        return Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=2)

    def _queue(self, name: str) -> Any:
        from rq import Queue
        from rq.serializers import JSONSerializer

        return Queue(name, connection=self.redis, serializer=JSONSerializer)

    @functools.cached_property
    def urgent(self) -> Any:
        return self._queue(queue_names(self.name)[0])

    @functools.cached_property
    def routine(self) -> Any:
        return self._queue(queue_names(self.name)[1])

    @property
    def queues(self) -> list[Any]:
        """The queues in the order a worker drains them."""
        return [self.urgent, self.routine]

    @property
    def serializer(self) -> Any:
        return self.urgent.serializer

    def _options(self, jid: str) -> dict[str, Any]:
        return dict(job_id=jid, job_timeout=self.job_timeout, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL)

    def enqueue(
        self, job: str, arg: str | int, at: datetime | None = None, attempt: int = 0, urgent: bool = True
    ) -> None:
        """Enqueue now, or at ``at`` (a retry, run by the scheduler), unless the job is still there.

        A job still waiting, scheduled or running under the same id makes this a no-op. A finished
        or failed run of the id is history: the store says there is work again (a replay or a
        sweep), so the old job is cleared and the new one enqueued. A job RQ still calls "started"
        longer than a lease is a zombie (its worker was killed): cleared too; the store's claim
        keeps a job that really is still running and this one apart.
        """
        jid = job_id(self.name, job, arg, attempt)
        if at is not None and at <= datetime.now(UTC):
            at = None  # due already: enqueue now
        elif at is not None and at.microsecond:
            # RQ's scheduler keeps whole seconds (it drops the fraction): round up, never run early.
            at = at.replace(microsecond=0) + timedelta(seconds=1)
        from rq.exceptions import DuplicateJobError, NoSuchJobError
        from rq.job import Job

        queue = self.urgent if urgent else self.routine
        func = job if "." in job else f"{JOB_MODULE}.{job}"
        front = job in FIRST
        for _ in range(2):
            try:
                if at is not None:
                    queue.enqueue_at(at, func, arg, unique=True, at_front=front, **self._options(jid))
                else:
                    queue.enqueue(func, arg, unique=True, at_front=front, **self._options(jid))
                return
            except DuplicateJobError:
                if self.alive([jid])[jid]:
                    return  # still waiting or running: this enqueue collapses into it
                with contextlib.suppress(NoSuchJobError):
                    Job.fetch(jid, connection=self.redis, serializer=self.serializer).delete()
        log.warning("bridge.queue.enqueue_race", extra={"job_id": jid})

    def enqueue_batch(self, items: Sequence[tuple[str, str | int, bool]]) -> None:
        """Many jobs in one round trip (the dispatcher): ``(job, arg, urgent)``. The store's
        ``queued_at`` guarantees each row is handed over once, so no id here is already taken."""
        if not items:
            return
        # Steps go to the front (see FIRST); pushed to the front one by one they would come out last
        # first, so they are pushed in reverse to keep their own order.
        ordered = [x for x in reversed(items) if x[0] in FIRST] + [x for x in items if x[0] not in FIRST]
        with self.redis.pipeline() as pipe:
            for urgent in (True, False):
                queue = self.urgent if urgent else self.routine
                data = [queue.prepare_data(job if "." in job else f"{JOB_MODULE}.{job}", args=(arg,),
                                           job_id=job_id(self.name, job, arg), timeout=self.job_timeout,
                                           result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                                           at_front=job in FIRST)
                        for job, arg, is_urgent in ordered if is_urgent is urgent]
                if data:
                    queue.enqueue_many(data, pipeline=pipe)
            pipe.execute()

    def states(self, ids: Iterable[str], verify: bool = False) -> dict[str, tuple[str | None, str | None]]:
        """``(state, queue)`` of each job in one round trip: state is ``waiting`` (queued, scheduled,
        deferred: ``queued`` for the first), ``running`` (started less than a lease ago) or None
        (gone, finished, failed, or a zombie started longer than a lease ago).

        RQ's word "queued" is taken as it is unless ``verify``: then a queued job is also looked for
        on its queue, and one taken off it by a worker that died before starting it is None once
        ``POPPED_GRACE`` has passed (a round trip more, reading each queue whole: the sweeper's
        question, not the dispatcher's every 100 ms)."""
        from rq.job import Job

        ids = list(ids)
        with self.redis.pipeline(transaction=False) as pipe:
            for jid in ids:
                pipe.hmget(Job.key_for(jid), "status", "started_at", "origin", "enqueued_at")
            answers = pipe.execute()
        now = datetime.now(UTC)
        result: dict[str, tuple[str | None, str | None]] = {}
        queued: dict[str, tuple[str, str]] = {}
        for jid, (status, started, origin, enqueued) in zip(ids, answers, strict=True):
            state = status.decode() if isinstance(status, bytes) else status
            queue = origin.decode() if isinstance(origin, bytes) else origin
            if state in _WAITING:
                result[jid] = (state, queue)
                if state == "queued" and queue:
                    queued[jid] = (queue, enqueued.decode() if isinstance(enqueued, bytes) else str(enqueued))
            elif state == "started" and not _older_than(started, now, self.lease_seconds):
                result[jid] = ("running", queue)
            else:
                result[jid] = (None, queue)
        for jid in self._popped_and_lost(queued) if verify else ():
            result[jid] = (None, result[jid][1])
        return result

    def _popped_and_lost(self, queued: dict[str, tuple[str, str]]) -> set[str]:
        """Of these jobs RQ calls queued (id → origin queue, enqueued_at), those no queue holds and
        that have been off it for ``POPPED_GRACE``: a worker took each and died before starting it.
        When a job was first seen off its queue is a mark in Redis, timed by Redis' clock (its TTL),
        so every dispatcher agrees; the mark names the enqueue, so a job enqueued again starts over."""
        if not queued:
            return set()
        from rq import Queue

        # Each origin queue read once, whole, in one round trip: an LPOS per job scans the list once
        # per job, quadratic in a backlog (10,000 queued jobs: 10^8 comparisons inside Redis, which
        # answers nobody meanwhile). LRANGE 0 -1 is one atomic snapshot, as exact as the LPOS were.
        origins = sorted({origin for origin, _ in queued.values()})
        with self.redis.pipeline(transaction=False) as pipe:
            for origin in origins:
                pipe.lrange(f"{Queue.redis_queue_namespace_prefix}{origin}", 0, -1)
            lists = pipe.execute()
        held = {origin: {(j.decode() if isinstance(j, bytes) else j) for j in ids}
                for origin, ids in zip(origins, lists, strict=True)}
        off = [jid for jid, (origin, _) in queued.items() if jid not in held[origin]]
        if not off:
            return set()
        with self.redis.pipeline(transaction=False) as pipe:
            for jid in off:
                mark = f"bridge:popped:{jid}:{queued[jid][1]}"
                pipe.set(mark, 1, nx=True, ex=_POPPED_MARK_TTL)
                pipe.pttl(mark)
            answers = pipe.execute()
        lost = set()
        for jid, left in zip(off, answers[1::2], strict=True):
            if _POPPED_MARK_TTL - max(int(left), 0) / 1000 >= POPPED_GRACE:
                lost.add(jid)
        if lost:
            log.warning("bridge.queue.popped_job_lost", extra={"jobs": len(lost), "first": min(lost)})
        return lost

    def alive(self, ids: Iterable[str]) -> dict[str, bool]:
        """Which of these jobs Redis still holds as waiting (on its queue, or taken off it less than
        ``POPPED_GRACE`` ago), scheduled, or running for less than a lease."""
        return {jid: state is not None for jid, (state, _) in self.states(ids, verify=True).items()}

    def length(self) -> int:
        """Jobs waiting in both queues (the figure the load test bounds)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for queue in self.queues:
                pipe.llen(queue.key)
            return sum(int(n) for n in pipe.execute())

    def _probe(self) -> redis_probe.Target | None:
        """A plain-socket target for the readiness checks while this process has no redis-py client
        (the web process: see ``bridge.redis_probe``), else None."""
        return None if "redis" in self.__dict__ else redis_probe.plain_url(self.redis_url)

    def ping(self) -> None:
        target = self._probe()
        if target is None:
            self.redis.ping()
            return
        answer = redis_probe.ask(target, ("PING",))
        if answer != b"PONG":
            raise redis_probe.ProbeError(f"PING answered {answer!r}")

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
        key = SCHEDULER_LOCK % queue_names(self.name)[0]
        target = self._probe()
        if target is None:
            return bool(self.redis.exists(key))
        return bool(redis_probe.ask(target, ("EXISTS", key)))


def _older_than(stamp: Any, now: datetime, seconds: int) -> bool:
    """True when RQ's ``started_at`` is missing, unreadable or more than ``seconds`` ago."""
    from rq.utils import utcparse

    try:
        started = utcparse(stamp.decode() if isinstance(stamp, bytes) else stamp)
    except (TypeError, ValueError, AttributeError):
        return True
    return (now - started).total_seconds() > seconds

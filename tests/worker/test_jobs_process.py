"""The job process's RQ worker leaves out round trips that change nothing, and keeps what they
promise: the worker's key outlives an idle dequeue, `rq suspend` stops it, jobs finish as jobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.connection import AbstractConnection
from rq import SimpleWorker
from rq.suspension import resume, suspend

from bridge.config import Settings
from bridge.queue import RQQueue
from bridge.runtime import Runtime
from bridge.worker.jobs_process import BridgeWorker

pytestmark = pytest.mark.redis


@pytest.fixture
def queue(rq_settings: Settings) -> Iterator[RQQueue]:
    rt = Runtime.build(rq_settings)
    assert isinstance(rt.queue, RQQueue)
    yield rt.queue
    for q in rt.queue.queues:
        q.delete(delete_jobs=True)


class RQWorker(SimpleWorker):
    """RQ's in-process worker as it is but for the pub/sub thread BridgeWorker does without too (its
    blocking read can hold the end of a burst for a minute)."""

    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None


def make_worker(queue: RQQueue) -> BridgeWorker:
    return BridgeWorker(queue.queues, connection=queue.redis, serializer=queue.serializer)


def test_a_heartbeat_that_adds_nothing_is_left_out_but_one_after_a_shortening_heartbeat_is_sent(
        queue: RQQueue) -> None:
    worker = make_worker(queue)
    redis, full = queue.redis, worker.worker_ttl + 60
    try:
        worker.heartbeat()
        assert full - 2 <= redis.ttl(worker.key) <= full
        redis.expire(worker.key, 5)
        worker.heartbeat()  # a few ms after the last one: left out
        assert redis.ttl(worker.key) <= 5
        # The job-start heartbeat (in RQ's pipeline) gives the key the job's timeout + 60 s only...
        with redis.pipeline() as pipe:
            worker.heartbeat(70, pipeline=pipe)
            pipe.execute()
        assert redis.ttl(worker.key) <= 70
        # ...so the heartbeat after the job is sent, or an idle dequeue (up to worker_ttl) outlives the key.
        worker.heartbeat()
        assert redis.ttl(worker.key) >= full - 2
        assert redis.ttl(worker.executions_key) in (-2, *range(full - 2, full + 1))  # none yet, or renewed
    finally:
        redis.delete(worker.key, worker.executions_key)


def test_jobs_finish_with_far_fewer_round_trips_than_rq_s_own_worker(queue: RQQueue,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    trips = [0]
    send = AbstractConnection.send_packed_command

    def counted(conn: Any, command: Any, check_health: bool = True) -> Any:
        trips[0] += 1
        return send(conn, command, check_health)

    def drain(worker_class: type[SimpleWorker]) -> float:
        jobs = [queue.urgent.enqueue("os.getpid", result_ttl=600) for _ in range(8)]
        trips[0] = 0
        monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
        worker = worker_class(queue.queues, connection=queue.redis, serializer=queue.serializer)
        assert worker.work(burst=True, logging_level="WARNING")
        monkeypatch.setattr(AbstractConnection, "send_packed_command", send)
        assert [job.get_status(refresh=True) for job in jobs] == ["finished"] * len(jobs)
        assert all(isinstance(job.return_value(), int) for job in jobs)
        return trips[0] / len(jobs)

    rq_own, bridge = drain(RQWorker), drain(BridgeWorker)
    assert bridge < 0.7 * rq_own, (bridge, rq_own)  # measured: ~13 against ~25 per job (eight jobs)


def test_a_suspended_worker_takes_no_job(queue: RQQueue) -> None:
    job = queue.urgent.enqueue("os.getpid")
    suspend(queue.redis, ttl=30)  # a TTL: a failed test must not leave the db's workers suspended
    try:
        assert make_worker(queue).work(burst=True, logging_level="WARNING") is False
        assert job.get_status(refresh=True) == "queued"
    finally:
        resume(queue.redis)


def test_a_worker_process_s_sqlite_connections_keep_a_small_page_cache(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.store import db

    # A web process's settings to start from (an earlier test may have run a dispatcher in process),
    # restored afterwards.
    monkeypatch.setattr(db, "_synchronous", "FULL")
    monkeypatch.setattr(db, "_cache_kib", 0)
    engine = db.get_engine(f"sqlite:///{tmp_path / 'pages.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() != -db.WORKER_CACHE_KIB  # SQLite's default
    engine.dispose()
    db.relax_durability()  # what the job process and the dispatcher do before they open the store
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -db.WORKER_CACHE_KIB
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()

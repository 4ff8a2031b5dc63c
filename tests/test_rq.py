"""The same flow on real Redis + RQ workers and PostgreSQL; Redis outages lose nothing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from bridge import create_app
from bridge.config import Settings
from bridge.queue import RQQueue, job_id
from bridge.runtime import Runtime, install
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.store.models import InboxRow
from bridge.worker import handover
from bridge.worker.jobs_process import BridgeWorker
from connectors.outbox import OutboxConnector
from tests.helpers import dumps, generic_event, signed_headers

pytestmark = pytest.mark.redis


def work(rt: Runtime, max_jobs: int | None = None) -> None:
    """Drain the queues with the job process's RQ worker (in this process, so the test's runtime is used)."""
    assert isinstance(rt.queue, RQQueue)
    install(rt)
    handover.dispatch(rt)  # what the dispatcher process of `bridge worker` does every 100 ms
    BridgeWorker(rt.queue.queues, connection=rt.queue.redis, serializer=rt.queue.serializer).work(
        burst=True, with_scheduler=max_jobs is None, max_jobs=max_jobs
    )


def empty(rt: Runtime) -> None:
    assert isinstance(rt.queue, RQQueue)
    for queue in rt.queue.queues:
        queue.empty()
        queue.delete(delete_jobs=True)


@pytest.fixture
def rq_rt(rq_settings: Settings, pg_url: str) -> Iterator[Runtime]:
    rt = Runtime.build(rq_settings.with_overrides(database_url=pg_url))
    upgrade(rt.store)
    yield rt
    empty(rt)


def post(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    body = dumps(event)
    response = create_app(rt=rt).test_client().post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert response.status_code in (200, 202)
    return response.get_json()  # type: ignore[no-any-return]


def statuses(rt: Runtime, case_id: str) -> dict[str, str]:
    with rt.store.session() as s:
        return {d.step: d.status for d in repo.deliveries_of(s, case_id)}


def test_handoff_flows_through_rq_workers_and_postgres(rq_rt: Runtime) -> None:
    answer = post(rq_rt, generic_event())
    assert isinstance(rq_rt.queue, RQQueue)
    assert rq_rt.queue.length() == 0  # the request only commits; Redis is not on the ack path
    assert handover.dispatch(rq_rt) == 1
    assert rq_rt.queue.urgent.job_ids == [job_id(rq_rt.queue.name, "process_event", answer["event"])]
    assert rq_rt.queue.routine.job_ids == []  # a handoff request is urgent
    work(rq_rt)
    assert statuses(rq_rt, answer["case"]) == {"zendesk.ticket": "done", "slack.alert": "done"}
    assert (rq_rt.settings.outbox_dir / answer["case"] / "slack.alert.json").exists()
    with rq_rt.store.session() as s:
        case = repo.get_case(s, answer["case"])
        assert case is not None and case.status == "escalated"


def test_duplicate_enqueues_collapse_into_one_job(rq_rt: Runtime) -> None:
    event = generic_event()
    first = post(rq_rt, event)
    post(rq_rt, event)
    assert handover.dispatch(rq_rt) == 1
    assert handover.dispatch(rq_rt) == 0  # a row is handed over once: a second dispatcher finds nothing
    assert isinstance(rq_rt.queue, RQQueue)
    assert rq_rt.queue.length() == 1
    rq_rt.queue.enqueue("process_event", first["event"])
    rq_rt.queue.enqueue("process_event", first["event"])  # the same id, still queued: collapses
    assert rq_rt.queue.length() == 1


def test_a_waiting_backlog_is_never_enqueued_twice_only_what_redis_lost(rq_settings: Settings) -> None:
    """The sweeper asks Redis before it re-enqueues: rows merely waiting in a long queue stay single."""
    rt = Runtime.build(rq_settings.with_overrides(sweep_age=0))
    upgrade(rt.store)
    assert isinstance(rt.queue, RQQueue)
    try:
        answers = [post(rt, generic_event(type_="conversation.updated", conversation_id=f"conv-{i}",
                                          messages=[{"role": "customer", "text": "How do I export a report?"}]))
                   for i in range(40)]
        assert handover.dispatch(rt) == 40
        for _ in range(3):
            assert handover.sweep(rt) == 0 and handover.dispatch(rt) == 0
        assert rt.queue.length() == 1 and rt.queue.routine.count == 1  # routine updates travel by fifty
        rt.queue.routine.empty()  # Redis lost everything still waiting
        rt.queue.redis.delete(f"rq:job:{job_id(rt.queue.name, 'process_events', answers[0]['event'])}")
        assert handover.sweep(rt) == 40  # ... so every row is enqueued again, once
        assert handover.sweep(rt) == 0 and rt.queue.length() == 40
        work(rt)
        with rt.store.session() as s:
            assert {repo.get_inbox(s, a["event"]).state for a in answers} == {"processed"}  # type: ignore[union-attr]
    finally:
        empty(rt)


def test_a_conversation_whose_waiting_rows_span_several_sweep_pages_is_looked_up_and_enqueued_once(
    rq_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper reads stale rows a page at a time. In a backlog one conversation's rows span many
    pages: it is asked about once per sweep (asking again on every page made a sweep cost the
    backlog times the rows a conversation had waiting, which starved the job processes of CPU at
    100 events/s), and when Redis lost its job it gets one new job, not one per page."""
    monkeypatch.setattr(handover, "SWEEP_PAGE", 2)
    rt = Runtime.build(rq_settings.with_overrides(sweep_age=0))
    upgrade(rt.store)
    assert isinstance(rt.queue, RQQueue)
    try:
        answers = [post(rt, generic_event(type_="conversation.updated", conversation_id=f"paged-{i % 2}",
                                          messages=[{"role": "customer", "text": f"How do I export report {i}?"}]))
                   for i in range(8)]  # two conversations, their rows interleaved over four pages
        assert handover.dispatch(rt) == 8
        asked: list[int] = []
        states = rt.queue.states
        monkeypatch.setattr(rt.queue, "states", lambda ids, verify=False: asked.append(len(ids)) or states(ids, verify))
        assert handover.sweep(rt) == 0  # their job still waits: nothing to do
        assert len(asked) == 1  # the first page named both conversations; later pages asked nothing
        rt.queue.routine.empty()  # Redis lost the job
        rt.queue.redis.delete(f"rq:job:{job_id(rt.queue.name, 'process_events', answers[0]['event'])}")
        assert handover.sweep(rt) == 2 and rt.queue.length() == 2  # one job per conversation
        assert handover.sweep(rt) == 0
        work(rt)
        with rt.store.session() as s:
            assert {repo.get_inbox(s, a["event"]).state for a in answers} == {"processed"}  # type: ignore[union-attr]
    finally:
        empty(rt)


def test_a_job_taken_off_the_queue_by_a_worker_killed_before_it_started_is_swept_again(
    rq_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RQ pops a job (BLPOP) a moment before it marks it started. A job process killed in between
    leaves the job's hash saying "queued" although no queue holds it: nobody would ever run it, and
    a sweeper that believed the hash left its rows waiting for ever (issue 14's stalled supervisor
    test). Off its queue and not started for a grace, the job is lost and its rows swept again."""
    rt = Runtime.build(rq_settings.with_overrides(sweep_age=0))
    upgrade(rt.store)
    assert isinstance(rt.queue, RQQueue)
    try:
        answers = [post(rt, generic_event(type_="conversation.updated", conversation_id=f"popped-{i}",
                                          messages=[{"role": "customer", "text": "How do I export a report?"}]))
                   for i in range(3)] + [post(rt, generic_event(conversation_id="popped-handoff"))]
        assert handover.dispatch(rt) == 4
        batch = job_id(rt.queue.name, "process_events", answers[0]["event"])
        single = job_id(rt.queue.name, "process_event", answers[3]["event"])
        assert rt.queue.routine.job_ids == [batch] and rt.queue.urgent.job_ids == [single]
        for queue in rt.queue.queues:  # what BLPOP did for a job process SIGKILLed right after it
            assert rt.queue.redis.lpop(queue.key) is not None
        assert rt.queue.states([batch, single]) == {batch: ("queued", rt.queue.routine.name),
                                                    single: ("queued", rt.queue.urgent.name)}  # RQ's view
        # Within the grace a worker may just be between its pop and its start: leave the job alone.
        assert handover.sweep(rt) == 0 and rt.queue.alive([batch, single]) == {batch: True, single: True}
        monkeypatch.setattr("bridge.queue.POPPED_GRACE", 0.0)  # ... the grace is over
        assert rt.queue.alive([batch, single]) == {batch: False, single: False}
        assert handover.sweep(rt) == 4  # one job per conversation, each on a queue again
        assert handover.sweep(rt) == 0 and rt.queue.length() == 4
        work(rt)
        with rt.store.session() as s:
            assert {repo.get_inbox(s, a["event"]).state for a in answers} == {"processed"}  # type: ignore[union-attr]
        assert statuses(rt, answers[3]["case"]) == {"zendesk.ticket": "done", "slack.alert": "done"}
    finally:
        empty(rt)


def test_verifying_a_backlog_reads_each_queue_once(rq_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweeper's check of queued jobs reads each origin queue once (LRANGE), not once per job
    (LPOS: quadratic in a backlog), and still tells the jobs a dead worker popped from the rest."""
    from redis.client import Pipeline

    rt = Runtime.build(rq_settings)
    upgrade(rt.store)
    assert isinstance(rt.queue, RQQueue)
    sent: list[str] = []
    execute = Pipeline.execute

    def recording(pipe: Pipeline, *args: Any, **kwargs: Any) -> Any:
        sent.extend(str(call[0][0]).upper() for call in pipe.command_stack)
        return execute(pipe, *args, **kwargs)

    try:
        answers = [post(rt, generic_event(conversation_id=f"backlog-{i}")) for i in range(30)]
        assert handover.dispatch(rt) == 30
        ids = [job_id(rt.queue.name, "process_event", a["event"]) for a in answers]
        assert rt.queue.urgent.job_ids == ids
        popped = [rt.queue.redis.lpop(rt.queue.urgent.key) for _ in range(5)]  # five taken by a worker killed at once
        assert [p.decode() for p in popped] == ids[:5]  # type: ignore[union-attr]
        monkeypatch.setattr("bridge.queue.POPPED_GRACE", 0.0)
        monkeypatch.setattr(Pipeline, "execute", recording)
        assert rt.queue.alive(ids) == {jid: jid not in ids[:5] for jid in ids}
        assert "LPOS" not in sent and sent.count("LRANGE") == 1, sent
    finally:
        empty(rt)


def test_escalations_run_before_routine_updates(rq_rt: Runtime) -> None:
    routine = [post(rq_rt, generic_event(type_="conversation.updated", conversation_id=f"quiet-{i}",
                                         messages=[{"role": "customer", "text": "Where is the CSV export?"}]))
               for i in range(12)]
    handoff = post(rq_rt, generic_event(conversation_id="needs-a-person"))
    assert handover.dispatch(rq_rt) == 13
    assert isinstance(rq_rt.queue, RQQueue)
    assert (rq_rt.queue.urgent.count, rq_rt.queue.routine.count) == (1, 1)  # the 12 updates in one batch
    work(rq_rt, max_jobs=2)  # the handoff and one job for its two delivery steps, before any routine update
    assert statuses(rq_rt, handoff["case"]) == {"zendesk.ticket": "done", "slack.alert": "done"}
    with rq_rt.store.session() as s:
        assert {repo.get_inbox(s, a["event"]).state for a in routine} == {"received"}  # type: ignore[union-attr]


def test_in_a_backlog_of_handoffs_each_gets_its_ticket_before_the_next_is_judged(rq_rt: Runtime) -> None:
    """Delivery steps go to the front of the urgent queue: with three hand-offs waiting, the first
    one's ticket and alert are done before the second hand-off is even judged (FIFO judged every
    waiting event first, so in a morning backlog the first ticket came after the whole backlog)."""
    handoffs = [post(rq_rt, generic_event(conversation_id=f"backlog-{i}")) for i in range(3)]
    assert handover.dispatch(rq_rt) == 3
    assert isinstance(rq_rt.queue, RQQueue)
    assert rq_rt.queue.urgent.count == 3
    work(rq_rt, max_jobs=2)  # the first hand-off, then the job its steps were enqueued for
    assert statuses(rq_rt, handoffs[0]["case"]) == {"zendesk.ticket": "done", "slack.alert": "done"}
    with rq_rt.store.session() as s:
        assert [repo.get_inbox(s, a["event"]).state for a in handoffs[1:]] == ["received", "received"]  # type: ignore[union-attr]


def test_steps_enqueued_together_keep_their_order_at_the_front(rq_rt: Runtime) -> None:
    assert isinstance(rq_rt.queue, RQQueue)
    rq_rt.queue.enqueue_batch([("process_event", "ev-1", True), ("process_event", "ev-2", True)])
    rq_rt.queue.enqueue_batch([("deliver", 11, True), ("process_event", "ev-3", True), ("deliver", 12, True)])
    rq_rt.queue.enqueue("deliver", 13)
    name = rq_rt.queue.name
    assert rq_rt.queue.urgent.job_ids == [
        job_id(name, "deliver", 13), job_id(name, "deliver", 11), job_id(name, "deliver", 12),
        job_id(name, "process_event", "ev-1"), job_id(name, "process_event", "ev-2"),
        job_id(name, "process_event", "ev-3")]


def test_a_conversation_has_one_waiting_job_per_queue_however_many_updates_arrive(rq_rt: Runtime) -> None:
    assert isinstance(rq_rt.queue, RQQueue)
    talk: list[dict[str, Any]] = []
    for n in range(6):
        talk += [{"id": f"c{n}", "role": "customer", "text": f"Question {n}: where is the export button?"},
                 {"id": f"b{n}", "role": "bot", "text": "Projects → ⋯ → Export.", "confidence": 0.9}]
        case = post(rq_rt, generic_event(type_="conversation.updated", conversation_id="busy", messages=list(talk)))
        assert handover.dispatch(rq_rt) == 1
    assert (rq_rt.queue.urgent.count, rq_rt.queue.routine.count) == (0, 1)  # one job folds all six
    post(rq_rt, generic_event(conversation_id="busy", messages=list(talk)))  # a handoff request: urgent
    assert handover.dispatch(rq_rt) == 1
    assert (rq_rt.queue.urgent.count, rq_rt.queue.routine.count) == (1, 1)
    work(rq_rt, max_jobs=1)  # the urgent job folds all seven events at once
    with rq_rt.store.session() as s:
        states = [r.state for r in s.scalars(select(InboxRow).where(InboxRow.case_id == case["case"]))]
    assert states == ["processed"] * 7


def test_updates_waiting_for_one_conversation_are_judged_once_on_the_newest_transcript(rq_rt: Runtime) -> None:
    talk = [
        {"id": "m1", "role": "customer", "text": "How do I add a teammate?"},
        {"id": "m2", "role": "bot", "text": "Settings → Team → Invite.", "confidence": 0.92},
        {"id": "m3", "role": "customer", "text": "Thanks. Also, where do I see invoices?"},
        {"id": "m4", "role": "bot", "text": "Billing → Invoices.", "confidence": 0.9},
        {"id": "m5", "role": "customer", "text": "Can I talk to a person please?"},
        {"id": "m6", "role": "bot", "text": "Let me find someone.", "confidence": 0.9},
    ]
    answers = [post(rq_rt, generic_event(type_="conversation.updated", conversation_id="one-chat",
                                         messages=talk[: n + 2])) for n in range(0, 6, 2)]
    assert handover.dispatch(rq_rt) == 3
    work(rq_rt, max_jobs=1)  # the first job folds all three updates
    with rq_rt.store.session() as s:
        assert {repo.get_inbox(s, a["event"]).state for a in answers} == {"processed"}  # type: ignore[union-attr]
        case = repo.get_case(s, answers[0]["case"])
        assert case is not None and case.status == "escalated"
        assert case.decision["at_message"] == 5 and case.triggers == ["customer_requested_human"]
        escalations = [t for t in repo.timeline_of(s, case.id) if t.kind == "case.escalated"]
    assert len(escalations) == 1
    work(rq_rt)  # the two other jobs find their rows done and skip; the deliveries run
    assert statuses(rq_rt, answers[0]["case"]) == {"zendesk.ticket": "done", "slack.alert": "done"}


def test_failures_retry_on_rq_then_dead_letter_then_replay(rq_rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[str] = []
    real = OutboxConnector.send

    def flaky(self: OutboxConnector, step: Any, request: Any, context: Any) -> Any:
        if step.name == "zendesk.ticket":
            attempts.append(step.name)
            raise ConnectionError("zendesk unreachable")
        return real(self, step, request, context)

    monkeypatch.setattr(OutboxConnector, "send", flaky)
    answer = post(rq_rt, generic_event())
    work(rq_rt)
    assert len(attempts) == rq_rt.settings.max_attempts
    assert statuses(rq_rt, answer["case"])["zendesk.ticket"] == "dead"
    monkeypatch.undo()
    with rq_rt.store.session() as s:
        _, dead = repo.dead_letters(s)
    assert handover.replay(f"dl-{dead[0].id}", rq_rt)
    work(rq_rt)
    assert statuses(rq_rt, answer["case"]) == {"zendesk.ticket": "done", "slack.alert": "done"}


def test_replay_reenqueues_even_when_rq_still_holds_the_failed_job(rq_rt: Runtime) -> None:
    """A job id RQ keeps in its failed registry must not swallow a replay under the same id."""
    answer = post(rq_rt, generic_event())
    assert isinstance(rq_rt.queue, RQQueue)
    rq_rt.queue.enqueue("process_event", answer["event"])
    job = rq_rt.queue.urgent.fetch_job(job_id(rq_rt.queue.name, "process_event", answer["event"]))
    assert job is not None
    job.set_status("failed")
    FailedJobRegistry(queue=rq_rt.queue.urgent).add(job, ttl=600)
    rq_rt.queue.urgent.remove(job)
    rq_rt.queue.enqueue("process_event", answer["event"])
    work(rq_rt)
    assert statuses(rq_rt, answer["case"]) == {"zendesk.ticket": "done", "slack.alert": "done"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own, so it can be stopped without touching anyone else's."""

    def __init__(self, *extra: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI") == "true":
                pytest.fail("redis-server binary not found (CI=true)")
            pytest.skip("redis-server binary not found")
        self.binary = binary
        self.port = _free_port()
        self.extra = extra  # more redis-server options (``--requirepass``)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def test_redis_down_at_intake_still_accepts_and_processes_after_it_returns(settings: Settings) -> None:
    redis = PrivateRedis()
    redis.start()
    rt = Runtime.build(settings.with_overrides(redis_url=redis.url, queue_name="outage"))
    upgrade(rt.store)
    try:
        redis.stop()
        answers = [post(rt, generic_event(conversation_id=f"conv-{i}")) for i in range(3)]
        with rt.store.session() as s:
            assert [repo.get_inbox(s, a["event"]).state for a in answers] == ["received"] * 3  # type: ignore[union-attr]
        redis.start()  # empty: everything queued before the outage is gone too
        assert handover.dispatch(rt) == 3
        work(rt)
        for answer in answers:
            assert statuses(rt, answer["case"]) == {"zendesk.ticket": "done", "slack.alert": "done"}
    finally:
        redis.stop()


def test_readyz_names_the_missing_scheduler_and_a_dead_redis(rq_settings: Settings) -> None:
    rt = Runtime.build(rq_settings)
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["failing"] == ["scheduler"]
    down = Runtime.build(rq_settings.with_overrides(redis_url="redis://127.0.0.1:1/0"))
    response = create_app(rt=down).test_client().get("/readyz")
    assert response.status_code == 503 and set(response.get_json()["failing"]) == {"queue", "scheduler"}


def test_bridge_worker_command_processes_what_the_web_accepted(rq_settings: Settings, pg_url: str,
                                                              tmp_path: Any) -> None:
    """`bridge worker --burst` as deployed: runtime from the environment, both queues drained."""
    import sys
    from pathlib import Path

    rt = Runtime.build(rq_settings.with_overrides(database_url=pg_url))
    upgrade(rt.store)
    answer = post(rt, generic_event())
    env = {k: v for k, v in os.environ.items() if not k.endswith("_WEBHOOK_SECRET")}
    env.update(REDIS_URL=rt.settings.redis_url, DATABASE_URL=pg_url, BRIDGE_QUEUE=rt.settings.queue_name,
               BRIDGE_DATA_DIR=str(rt.settings.data_dir), BRIDGE_RETRY_INTERVALS="0")
    bridge = Path(sys.executable).with_name("bridge")
    done = subprocess.run([str(bridge), "worker", "--burst"], env=env, cwd=tmp_path, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert statuses(rt, answer["case"]) == {"zendesk.ticket": "done", "slack.alert": "done"}
    assert (rt.settings.outbox_dir / answer["case"] / "zendesk.ticket.json").exists()


def test_retry_after_schedules_the_next_attempt_on_the_rq_scheduler(
    rq_rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rq.registry import ScheduledJobRegistry

    from connectors.base import RetryableError

    real = OutboxConnector.send

    def throttled(self: OutboxConnector, step: Any, request: Any, context: Any) -> Any:
        if step.name == "zendesk.ticket":
            raise RetryableError("429", retry_after=120)
        return real(self, step, request, context)

    monkeypatch.setattr(OutboxConnector, "send", throttled)
    answer = post(rq_rt, generic_event())
    work(rq_rt)
    assert isinstance(rq_rt.queue, RQQueue)
    with rq_rt.store.session() as s:
        ticket = next(d for d in repo.deliveries_of(s, answer["case"]) if d.step == "zendesk.ticket")
    scheduled = ScheduledJobRegistry(queue=rq_rt.queue.urgent).get_job_ids()
    assert scheduled == [job_id(rq_rt.queue.name, "deliver", ticket.id, attempt=1)]
    assert ticket.status == "pending" and ticket.attempts == 1
    assert FailedJobRegistry(queue=rq_rt.queue.urgent).count == 0  # a recorded failure is not an RQ failure
    assert handover.sweep(rq_rt) == 0  # the scheduled retry is alive in Redis: the sweeper leaves it


def test_workers_refuse_a_redis_that_may_evict_jobs(settings: Settings, tmp_path: Any) -> None:
    from click.testing import CliRunner
    from redis import Redis

    from bridge.cli import main

    redis = PrivateRedis()
    redis.start()
    try:
        Redis.from_url(redis.url).config_set("maxmemory-policy", "allkeys-lru")
        env = {"REDIS_URL": redis.url, "BRIDGE_DATA_DIR": str(tmp_path / "var")}
        result = CliRunner().invoke(main, ["worker", "--burst"], env=env)
        assert result.exit_code == 1 and "maxmemory-policy is 'allkeys-lru'" in result.output
        Redis.from_url(redis.url).config_set("maxmemory-policy", "noeviction")
        assert CliRunner().invoke(main, ["worker", "--burst"], env=env).exit_code == 0
    finally:
        redis.stop()


def test_a_job_enqueued_under_its_path_from_before_the_move_still_runs(rq_rt: Runtime) -> None:
    """RQ keeps the function's dotted path in Redis: a job queued by a bridge from before issue 18
    names ``bridge.jobs.process_event``, and the upgraded worker still runs it (``queue.MOVED``)."""
    from bridge.store.models import PROCESSED
    from bridge.worker.jobs_process import BridgeWorker

    answer = post(rq_rt, generic_event())
    assert isinstance(rq_rt.queue, RQQueue)
    rq_rt.queue.urgent.enqueue("bridge.jobs.process_event", answer["event"])
    install(rq_rt)
    BridgeWorker(rq_rt.queue.queues, connection=rq_rt.queue.redis, serializer=rq_rt.queue.serializer).work(
        burst=True, max_jobs=1
    )
    with rq_rt.store.session() as s:
        row = repo.get_inbox(s, answer["event"])
        assert row is not None and row.state == PROCESSED

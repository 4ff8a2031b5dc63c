"""One deliver job runs its case's next due steps (bridge/worker/jobs.py, ``deliver``'s chain): each
step still claimed by compare-and-set before its vendor call and recorded after it; steps scheduled
later, steps someone else holds and whatever is left past the bound go to the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge import create_app
from bridge.config import Settings
from bridge.queue import RQQueue
from bridge.runtime import Runtime, install
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.worker import handover, jobs
from bridge.worker.runner import run_due
from connectors.base import RetryableError
from connectors.outbox import OutboxConnector
from tests.helpers import dumps, generic_event, signed_headers

BUG_STEPS = ["zendesk.ticket", "slack.alert", "jira.bug", "zendesk.link", "slack.update#bug"]
CALLED = [step.split("#")[0] for step in BUG_STEPS]  # what the connectors see (the step's kind)


@pytest.fixture
def env(any_store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[Runtime, FlaskClient, list[Any]]:
    rt = Runtime.build(any_store_settings)
    upgrade(rt.store)
    enqueued: list[Any] = []
    real = rt.queue.enqueue

    def enqueue(job: str, arg: Any, at: Any = None, attempt: int = 0, urgent: bool = True) -> None:
        enqueued.append((job, arg, at))
        real(job, arg, at=at, attempt=attempt, urgent=urgent)

    monkeypatch.setattr(rt.queue, "enqueue", enqueue)
    return rt, create_app(rt=rt).test_client(), enqueued


def _bug_case(client: FlaskClient) -> dict[str, Any]:
    event = generic_event(messages=[{"id": "1", "role": "customer",
                                     "text": "The export crashes with error E1042 since the update"}])
    event["handoff"] = {"requested_by": "bot", "reason": "Suspected bug in the export"}
    body = dumps(event)
    answer = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()  # type: ignore[no-any-return]


def _steps(rt: Runtime, case_id: str) -> dict[str, Any]:
    with rt.store.session() as s:
        return {d.step: d for d in repo.deliveries_of(s, case_id)}


def _sent(monkeypatch: pytest.MonkeyPatch, fail: dict[str, BaseException] | None = None) -> list[tuple[str, int]]:
    """(step, attempt) of every vendor call; a step named in ``fail`` raises that instead, once."""
    calls: list[tuple[str, int]] = []
    real = OutboxConnector.send
    fail = dict(fail or {})

    def send(self: OutboxConnector, step: Any, request: Any, context: Any) -> Any:
        calls.append((step.name, context.attempt))
        if step.name in fail:
            raise fail.pop(step.name)
        return real(self, step, request, context)

    monkeypatch.setattr(OutboxConnector, "send", send)
    return calls


def _ticket_job(rt: Runtime, client: FlaskClient, enqueued: list[Any], **kwargs: Any) -> tuple[str, str]:
    """A bug case escalated; returns (case id, the ticket job's outcome), the queue log cleared."""
    answer = _bug_case(client)
    assert jobs.process_event(answer["event"], rt) == "processed"
    ticket = _steps(rt, answer["case"])["zendesk.ticket"].id
    assert [(job, arg) for job, arg, _ in enqueued if job == "deliver"] == [("deliver", ticket)]  # the fold's
    enqueued.clear()
    return answer["case"], jobs.deliver(ticket, rt, **kwargs)


def test_one_job_runs_every_due_step_of_the_case_each_claimed_once(
    env: tuple[Runtime, FlaskClient, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client, enqueued = env
    calls = _sent(monkeypatch)
    case_id, outcome = _ticket_job(rt, client, enqueued)
    assert outcome == "done"
    steps = _steps(rt, case_id)
    assert [name for name, _ in calls] == CALLED  # prerequisites first: ticket, alert, bug, link, update
    assert {name: (steps[name].status, steps[name].attempts) for name in BUG_STEPS} == \
        dict.fromkeys(BUG_STEPS, ("done", 1))
    assert [e for e in enqueued if e[0] == "deliver" and e[2] is None] == []  # nothing left for another job
    with rt.store.session() as s:
        done = [t.detail["step"] for t in repo.timeline_of(s, case_id) if t.kind == "delivery.done"]
    assert sorted(done) == sorted(BUG_STEPS)  # each recorded once


def test_past_the_bound_the_due_steps_go_to_the_queue(
    env: tuple[Runtime, FlaskClient, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client, enqueued = env
    calls = _sent(monkeypatch)
    case_id, outcome = _ticket_job(rt, client, enqueued, chain=2)
    steps = _steps(rt, case_id)
    assert outcome == "done" and [name for name, _ in calls] == ["zendesk.ticket", "slack.alert"]
    assert [(job, arg) for job, arg, at in enqueued if at is None] == [("deliver", steps["jira.bug"].id)]
    assert steps["jira.bug"].status == "pending" and steps["jira.bug"].attempts == 0  # not claimed: free for its job
    run_due(rt)
    assert {d.status for d in _steps(rt, case_id).values() if d.step in BUG_STEPS} == {"done"}


def test_a_step_someone_else_holds_is_left_to_them(
    env: tuple[Runtime, FlaskClient, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client, enqueued = env
    calls = _sent(monkeypatch)
    answer = _bug_case(client)
    jobs.process_event(answer["event"], rt)
    steps = _steps(rt, answer["case"])
    with rt.store.session() as s:  # another worker took the alert (a sweep's job, say)
        assert repo.claim_delivery(s, steps["slack.alert"].id, rt.clock(), rt.settings.lease_seconds)
        s.commit()
    assert jobs.deliver(steps["zendesk.ticket"].id, rt) == "done"
    after = _steps(rt, answer["case"])
    assert "slack.alert" not in [name for name, _ in calls]
    assert (after["slack.alert"].status, after["slack.alert"].attempts) == ("pending", 1)  # only the other claim
    assert after["jira.bug"].status == after["zendesk.link"].status == "done"
    assert after["slack.update#bug"].status == "pending"  # it waits for the alert, which is not this job's


def test_a_chained_step_that_fails_retries_on_its_own_and_its_siblings_are_enqueued(
    env: tuple[Runtime, FlaskClient, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client, enqueued = env
    calls = _sent(monkeypatch, {"slack.alert": RetryableError("Slack 503")})
    case_id, outcome = _ticket_job(rt, client, enqueued)
    steps = _steps(rt, case_id)
    assert outcome == "done"  # the ticket's own outcome
    assert [name for name, _ in calls] == ["zendesk.ticket", "slack.alert"]
    assert (steps["slack.alert"].status, steps["slack.alert"].attempts) == ("pending", 1)
    assert steps["slack.alert"].last_error == "RetryableError: Slack 503"
    assert ("deliver", steps["jira.bug"].id, None) in enqueued  # left by the chain: enqueued when it ended
    run_due(rt)
    assert {d.status for d in _steps(rt, case_id).values() if d.step in BUG_STEPS} == {"done"}
    assert calls.count(("slack.alert", 2)) == 1  # the retry, once, looking before it posts


class Killed(BaseException):
    """kill -9 inside a vendor call: nothing after it runs (no failure is recorded)."""


def test_killed_inside_a_chained_step_it_is_redelivered_once_after_the_lease(
    env: tuple[Runtime, FlaskClient, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client, enqueued = env
    calls = _sent(monkeypatch, {"slack.alert": Killed()})
    answer = _bug_case(client)
    jobs.process_event(answer["event"], rt)
    with pytest.raises(Killed):
        jobs.deliver(_steps(rt, answer["case"])["zendesk.ticket"].id, rt)
    steps = _steps(rt, answer["case"])
    assert steps["zendesk.ticket"].status == "done"
    alert = steps["slack.alert"]
    assert (alert.status, alert.attempts) == ("pending", 1) and alert.claimed_until  # claimed with the record
    assert run_due(rt) >= 1 and ("slack.alert", 2) not in calls  # the claim holds: nobody else runs it
    assert _steps(rt, answer["case"])["jira.bug"].status == "done"  # its siblings are free for others
    later = rt.clock() + timedelta(seconds=rt.settings.lease_seconds + 1)
    rt.clock = lambda: later
    run_due(rt)
    assert [c for c in calls if c[0] == "slack.alert"] == [("slack.alert", 1), ("slack.alert", 2)]
    steps = _steps(rt, answer["case"])
    assert (steps["slack.alert"].status, steps["slack.alert"].attempts) == ("done", 2)
    assert {d.status for d in steps.values() if d.step in BUG_STEPS} == {"done"}


@pytest.mark.redis
def test_through_rq_a_bug_handoff_is_two_jobs(rq_settings: Settings, pg_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from rq import SimpleWorker

    rt = install(Runtime.build(rq_settings.with_overrides(database_url=pg_url)))
    upgrade(rt.store)
    assert isinstance(rt.queue, RQQueue)
    calls = _sent(monkeypatch)
    ran: list[str] = []  # the jobs RQ ran (it looks the functions up by their dotted path when it runs one)
    for name in ("process_event", "deliver"):
        real = getattr(jobs, name)
        monkeypatch.setattr(jobs, name, lambda arg, rt=None, _real=real, _name=name:
                            ran.append(_name) or _real(arg, rt))
    try:
        answer = _bug_case(create_app(rt=rt).test_client())
        assert handover.dispatch(rt) == 1
        SimpleWorker(rt.queue.queues, connection=rt.queue.redis, serializer=rt.queue.serializer).work(
            burst=True, with_scheduler=False)
        assert ran == ["process_event", "deliver"]  # six jobs before: one per step
        assert [name for name, _ in calls] == CALLED  # five steps, one deliver job (five before)
        assert {d.status for d in _steps(rt, answer["case"]).values() if d.step in BUG_STEPS} == {"done"}
    finally:
        for queue in rt.queue.queues:
            queue.empty()

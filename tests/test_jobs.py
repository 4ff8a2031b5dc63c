"""process_event and deliver through the in-process runner, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from bridge import create_app
from bridge.config import Settings
from bridge.pipeline import triggers
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.store.models import CaseRow, DeliveryRow, InboxRow
from bridge.worker import handover, jobs
from bridge.worker.runner import Runner, run_due
from connectors.base import PermanentError
from connectors.outbox import OutboxConnector
from tests.helpers import generic_event, post_generic

QUIET = [
    {"id": "q1", "role": "customer", "text": "How do I export my projects to CSV?"},
    {"id": "q2", "role": "bot", "text": "Open Settings, then Export, and pick CSV.", "confidence": 0.93},
]


@pytest.fixture
def env(any_store_settings: Settings) -> tuple[Runtime, FlaskClient]:
    rt = Runtime.build(any_store_settings)
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def case_of(rt: Runtime, case_id: str) -> CaseRow:
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        assert case is not None
        return case


def deliveries(rt: Runtime, case_id: str) -> dict[str, DeliveryRow]:
    with rt.store.session() as s:
        return {d.step: d for d in repo.deliveries_of(s, case_id)}


def timeline_kinds(rt: Runtime, case_id: str) -> list[str]:
    with rt.store.session() as s:
        return [t.kind for t in repo.timeline_of(s, case_id)]


def test_handoff_makes_a_case_and_dry_run_ticket_and_alert(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    answer = post_generic(client, generic_event(event_id="evt-h1"))
    run_due(rt)
    case = case_of(rt, answer["case"])
    assert case.status == "escalated" and case.escalated_at is not None
    assert case.triggers and case.customer_email == "ana@example.com"
    steps = deliveries(rt, case.id)
    assert set(steps) == {"zendesk.ticket", "slack.alert"}
    assert all(d.status == "done" and d.dry_run and d.attempts == 1 for d in steps.values())
    assert case.refs["zendesk.ticket"] == steps["zendesk.ticket"].external_id
    folder = rt.settings.outbox_dir / case.id
    ticket = json.loads((folder / "zendesk.ticket.json").read_text())
    assert ticket["dry_run"] is True and "Can I talk to a person please?" in ticket["request"]["comment"]["body"]
    assert (folder / "zendesk.ticket.md").read_text().startswith("# Zendesk ticket: dry run")
    alert = json.loads((folder / "slack.alert.json").read_text())
    assert "Ana Lima" in alert["request"]["text"]
    assert timeline_kinds(rt, case.id) == [
        "case.opened", "case.escalated", "case.routed", "delivery.done", "delivery.done"]
    with rt.store.session() as s:
        assert s.scalars(select(InboxRow.state)).all() == ["processed"]


def test_later_events_update_the_same_case_and_only_what_is_new_follows_up(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    first = post_generic(client, generic_event(event_id="evt-a"))
    run_due(rt)
    more = generic_event(event_id="evt-b", type_="conversation.updated", messages=[
        {"id": "m3", "role": "customer", "text": "Can I talk to a person please?"},
        {"id": "m4", "role": "customer", "text": "Here is a screenshot."},
    ])
    second = post_generic(client, more)
    run_due(rt)
    assert second["case"] == first["case"]
    case = case_of(rt, first["case"])
    texts = [m["text"] for m in case.event["conversation"]["messages"]]
    assert texts.count("Can I talk to a person please?") == 1 and texts[-1] == "Here is a screenshot."
    # No second ticket or alert; the one new message is a follow-up on both (tests/test_followups.py).
    assert set(deliveries(rt, case.id)) == {"zendesk.ticket", "slack.alert", "zendesk.followup#1", "slack.followup#1"}
    with rt.store.session() as s:
        assert s.scalar(select(func.count()).select_from(CaseRow)) == 1


def test_quiet_conversation_stays_open_and_close_closes_it(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    answer = post_generic(client, generic_event(type_="conversation.updated", messages=QUIET))
    run_due(rt)
    assert case_of(rt, answer["case"]).status == "open"
    assert deliveries(rt, answer["case"]) == {}
    post_generic(client, generic_event(type_="conversation.closed", messages=[]))
    run_due(rt)
    assert case_of(rt, answer["case"]).status == "closed"
    assert not (rt.settings.outbox_dir / answer["case"]).exists()


def test_running_a_job_twice_does_nothing_the_second_time(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    answer = post_generic(client, generic_event())
    assert jobs.process_event(answer["event"], rt) == "processed"
    assert jobs.process_event(answer["event"], rt) == "skipped"
    ticket = deliveries(rt, answer["case"])["zendesk.ticket"]
    assert jobs.deliver(ticket.id, rt) == "done"
    assert jobs.deliver(ticket.id, rt) == "skipped"
    assert deliveries(rt, answer["case"])["zendesk.ticket"].attempts == 1


def test_a_claimed_row_is_not_run_concurrently_until_its_lease_expires(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    answer = post_generic(client, generic_event())
    with rt.store.session() as s:  # a worker that died mid-job left its claim behind
        assert repo.claim_inbox(s, answer["event"], rt.clock(), lease=300)
        s.commit()
    assert run_due(rt) == 0
    later = rt.clock() + timedelta(seconds=301)
    rt.clock = lambda: later
    run_due(rt)
    assert case_of(rt, answer["case"]).status == "escalated"


def _failing_zendesk(monkeypatch: pytest.MonkeyPatch, error: Exception) -> list[str]:
    calls: list[str] = []
    real = OutboxConnector.send

    def send_or_fail(self: OutboxConnector, step: Any, request: Any, context: Any) -> Any:
        calls.append(step.name)
        if step.name == "zendesk.ticket":
            raise error
        return real(self, step, request, context)

    monkeypatch.setattr(OutboxConnector, "send", send_or_fail)
    return calls


def test_when_nobody_can_be_told_the_bot_hears_the_handoff_failed_once(
    env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ticket and the team's alert both dead: no person knows, so the bot is told (once), in the
    customer's language, with Bot Framework's ``handoff.status`` ``failed``. While either reached
    a person (the test above: the alert was posted), the bot hears nothing of the kind."""
    rt, client = env
    real = OutboxConnector.send

    def send_or_fail(self: OutboxConnector, step: Any, request: Any, context: Any) -> Any:
        if step.name in ("zendesk.ticket", "slack.alert"):
            raise RuntimeError(f"{step.name} is down")
        return real(self, step, request, context)

    monkeypatch.setattr(OutboxConnector, "send", send_or_fail)
    event = generic_event()
    event["conversation"]["language"] = "de"
    answer = post_generic(client, event)
    run_due(rt)
    steps = deliveries(rt, answer["case"])
    assert steps["zendesk.ticket"].status == steps["slack.alert"].status == "dead"
    assert steps["bot.failed#1"].status == "done"
    assert [k for k in timeline_kinds(rt, answer["case"]) if k == "handoff.failed"] == ["handoff.failed"]
    told = json.loads((rt.settings.outbox_dir / answer["case"] / "bot.failed#1.json").read_text())["request"]
    assert told["type"] == "handoff.failed" and told["language"] == "de" and "Support-Team" in told["message"]
    assert "activity" not in told  # only Bot Framework conversations get a handoff.status activity


def test_the_handoff_failed_activity_for_bot_framework() -> None:
    from connectors.botcallback import build_failed
    from tests.connectors.test_botcallback import package

    failed = build_failed(package("fr").model_copy(update={"platform": "botframework"}), {})
    assert failed["activity"]["name"] == "handoff.status"
    assert failed["activity"]["value"] == {"state": "failed", "message": failed["message"]}
    assert failed["message"].startswith("Nous n'avons pas pu joindre")


def test_failing_step_retries_then_dies_and_replay_finishes_once(
    env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client = env
    calls = _failing_zendesk(monkeypatch, RuntimeError("zendesk is down"))
    answer = post_generic(client, generic_event())
    run_due(rt)
    steps = deliveries(rt, answer["case"])
    ticket = steps["zendesk.ticket"]
    assert ticket.status == "dead" and ticket.attempts == rt.settings.max_attempts == 3
    assert ticket.last_error == "RuntimeError: zendesk is down"
    assert calls.count("zendesk.ticket") == 3
    assert steps["slack.alert"].status == "done"  # a human still hears about it
    assert not any(step.startswith("bot.failed") for step in steps)  # so the hand-off did not fail
    assert "delivery.dead" in timeline_kinds(rt, answer["case"])
    with rt.store.session() as s:
        _, dead = repo.dead_letters(s)
    assert [d.id for d in dead] == [ticket.id]

    monkeypatch.undo()
    assert handover.replay(f"dl-{ticket.id}", rt)
    run_due(rt)
    assert deliveries(rt, answer["case"])["zendesk.ticket"].status == "done"
    assert not handover.replay(f"dl-{ticket.id}", rt)  # not dead any more: nothing to do
    assert len(deliveries(rt, answer["case"])) == 2
    assert (rt.settings.outbox_dir / answer["case"] / "zendesk.ticket.json").exists()


def test_permanent_error_dies_at_once(env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch) -> None:
    rt, client = env
    calls = _failing_zendesk(monkeypatch, PermanentError("422 invalid requester"))
    answer = post_generic(client, generic_event())
    run_due(rt)
    assert calls.count("zendesk.ticket") == 1
    assert deliveries(rt, answer["case"])["zendesk.ticket"].status == "dead"


def test_failing_event_dies_and_replays_into_one_case(
    env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client = env
    monkeypatch.setattr(triggers, "decide", lambda *a: (_ for _ in ()).throw(ValueError("engine bug")))
    answer = post_generic(client, generic_event())
    run_due(rt)
    with rt.store.session() as s:
        row = repo.get_inbox(s, answer["event"])
        assert row is not None and row.state == "dead" and row.attempts == 3
        assert row.last_error == "ValueError: engine bug"
        assert s.scalar(select(func.count()).select_from(CaseRow)) == 0  # rolled back each time
    monkeypatch.undo()
    assert handover.replay(answer["event"], rt)
    run_due(rt)
    assert case_of(rt, answer["case"]).status == "escalated"
    assert handover.replay(answer["event"], rt) is False
    assert len(deliveries(rt, answer["case"])) == 2


def test_runner_thread_picks_up_work_left_by_a_previous_process(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    answer = post_generic(client, generic_event())  # accepted, then "the process stopped" before running it
    with rt.store.session() as s:
        s.execute(update(InboxRow).values(claimed_until=None))
        s.commit()
    runner = Runner(rt, poll_seconds=0.05)
    runner.start()
    # What was left behind is picked up: the event is processed, its case escalated, and the
    # deliveries it planned run. (Wall clock: a loaded CI machine may take seconds.)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            steps = deliveries(rt, answer["case"])
            if steps and all(d.status == "done" for d in steps.values()):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"steps not done after 60 s: {_describe_steps(rt, answer['case'])}\n{_thread_stacks()}")
    finally:
        runner.stop()
    assert case_of(rt, answer["case"]).status == "escalated"
    assert set(deliveries(rt, answer["case"])) == {"zendesk.ticket", "slack.alert"}
    assert not runner.is_alive()


def _describe_steps(rt: Runtime, case_id: str) -> str:
    return "; ".join(f"{d.step}={d.status} attempts={d.attempts} next={d.next_attempt_at} "
                     f"claimed_until={d.claimed_until} error={d.last_error}"
                     for d in deliveries(rt, case_id).values())


def _thread_stacks() -> str:
    import sys
    import threading
    import traceback

    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(f"--- {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame))
                     for ident, frame in sys._current_frames().items())


def test_outbox_write_is_atomic_and_repeatable(tmp_path: Path) -> None:
    from connectors import STEPS
    from connectors.base import Context

    outbox = OutboxConnector("zendesk", tmp_path)
    step = STEPS["zendesk.ticket"]
    context = Context("c-1", "c-1-zendesk.ticket", {})
    first = outbox.send(step, {"subject": "ü"}, context)
    second = outbox.send(step, {"subject": "ü"}, context)
    assert first == second and first.dry_run
    assert sorted(p.name for p in (tmp_path / "c-1").iterdir()) == ["zendesk.ticket.json", "zendesk.ticket.md"]


def test_a_vendors_retry_after_outlasts_the_backoff(
    env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.base import RetryableError

    rt, client = env
    calls = _failing_zendesk(monkeypatch, RetryableError("429 Too Many Requests", retry_after=3600))
    answer = post_generic(client, generic_event())
    run_due(rt)
    ticket = deliveries(rt, answer["case"])["zendesk.ticket"]
    assert ticket.status == "pending" and ticket.attempts == 1 and calls.count("zendesk.ticket") == 1
    wait = (ticket.next_attempt_at - rt.clock()).total_seconds()
    assert 3500 < wait <= 3600
    later = rt.clock() + timedelta(seconds=3601)
    rt.clock = lambda: later
    monkeypatch.undo()
    run_due(rt)
    assert deliveries(rt, answer["case"])["zendesk.ticket"].status == "done"


def _partial(event: dict[str, Any]) -> dict[str, Any]:
    event["conversation"]["partial"] = True
    return event


def _fetching(monkeypatch: pytest.MonkeyPatch, fail: Exception | None = None) -> list[str]:
    from bridge.adapters.generic import GenericAdapter
    from bridge.events import Event, Message

    calls: list[str] = []

    def complete(self: GenericAdapter, event: Event, settings: Settings) -> Event:
        calls.append(event.conversation.id)
        if fail is not None:
            raise fail
        earlier = Message(id="h0", role="customer", text="Earlier: my invoice shows the wrong VAT number")
        conversation = event.conversation.model_copy(
            update={"messages": [earlier, *event.conversation.messages], "partial": False})
        return event.model_copy(update={"conversation": conversation})

    monkeypatch.setattr(GenericAdapter, "complete", complete)
    return calls


def test_partial_transcripts_are_fetched_only_for_escalations(
    env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client = env
    calls = _fetching(monkeypatch)
    quiet = post_generic(client, _partial(generic_event(type_="conversation.updated", messages=QUIET)))
    run_due(rt)
    assert calls == [] and case_of(rt, quiet["case"]).status == "open"
    loud = post_generic(client, _partial(generic_event(conversation_id="conv-2")))
    run_due(rt)
    assert calls == ["conv-2"]
    ticket = json.loads((rt.settings.outbox_dir / loud["case"] / "zendesk.ticket.json").read_text())
    assert "wrong VAT number" in ticket["request"]["comment"]["body"]


def test_a_failing_platform_api_does_not_block_the_handoff(
    env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.base import RetryableError

    rt, client = env
    calls = _fetching(monkeypatch, fail=RetryableError("platform API 503"))
    answer = post_generic(client, _partial(generic_event()))
    run_due(rt)
    assert len(calls) == rt.settings.max_attempts  # retried, then went ahead with what it had
    assert case_of(rt, answer["case"]).status == "escalated"
    assert (rt.settings.outbox_dir / answer["case"] / "zendesk.ticket.json").exists()


def test_concurrent_steps_of_one_case_keep_both_results(
    env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """slack.alert and jira.bug both run after the ticket; finishing together, neither id is lost."""
    import threading

    rt, client = env
    event = generic_event(messages=[{"id": "1", "role": "customer",
                                     "text": "The export crashes with error E1042 since the update"}])
    event["handoff"] = {"requested_by": "bot", "reason": "Suspected bug in the export"}  # a bug case either way
    answer = post_generic(client, event)
    jobs.process_event(answer["event"], rt)
    ticket = deliveries(rt, answer["case"])["zendesk.ticket"]
    assert jobs.deliver(ticket.id, rt, chain=1) == "done"  # the ticket alone: the pair below runs side by side
    pair = {name: deliveries(rt, answer["case"])[name].id for name in ("slack.alert", "jira.bug")}
    barrier = threading.Barrier(2, timeout=10)
    real = OutboxConnector.send

    def together(self: OutboxConnector, step: Any, request: Any, context: Any) -> Any:
        result = real(self, step, request, context)
        barrier.wait()  # both steps have their result in hand before either records it
        return result

    monkeypatch.setattr(OutboxConnector, "send", together)
    results: list[str] = []
    threads = [threading.Thread(target=lambda i=i: results.append(jobs.deliver(i, rt))) for i in pair.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    run_due(rt)  # a writer refused on a stale snapshot (SQLite) retries here
    refs = case_of(rt, answer["case"]).refs
    assert refs["slack.alert"] and refs["jira.bug"] and refs["zendesk.ticket"]
    assert {d.status for d in deliveries(rt, answer["case"]).values() if d.step in pair} == {"done"}

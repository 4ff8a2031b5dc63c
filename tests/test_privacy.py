"""Retention purge and `bridge forget`: personal data goes, the metrics' facts stay."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.cli import main
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.models import InboxRow
from bridge.worker import privacy
from bridge.worker.runner import run_due
from tests.helpers import SECRET, dumps, generic_event, signed_headers


def _escalate(rt: Runtime, client: FlaskClient, conversation: str, email: str) -> str:
    event = generic_event(conversation_id=conversation)
    event["customer"]["email"] = email
    body = dumps(event)
    case_id = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
    run_due(rt)
    return str(case_id)


def _dump(rt: Runtime, case_id: str) -> str:
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        rows = s.scalars(select(InboxRow).where(InboxRow.case_id == case_id)).all()
        timeline = repo.timeline_of(s, case_id)
        return json.dumps([case.event, case.summary, case.decision, case.customer_email,  # type: ignore[union-attr]
                           [r.body.decode() for r in rows], [r.event for r in rows], [t.detail for t in timeline]])


def test_forget_erases_one_customer_and_keeps_the_metrics_facts(client: FlaskClient, rt: Runtime) -> None:
    gone = _escalate(rt, client, "conv-a", "ana@example.com")
    kept = _escalate(rt, client, "conv-b", "bo@example.com")
    assert "ana@example.com" in _dump(rt, gone) and "talk to a person" in _dump(rt, gone)
    report = privacy.forget(rt, emails=["ANA@example.com"])
    assert report.cases == [gone] and report.inbox_rows == 1 and report.outbox_folders == 1
    text = _dump(rt, gone)
    for personal in ("ana@example.com", "Ana Lima", "talk to a person", "EU region"):
        assert personal not in text
    with rt.store.session() as s:
        case = repo.get_case(s, gone)
        assert case is not None and case.escalated_at is not None and case.triggers and case.team == "support"
    assert not (rt.settings.outbox_dir / gone).exists()
    assert "bo@example.com" in _dump(rt, kept) and (rt.settings.outbox_dir / kept).exists()


def test_forget_erases_what_the_customer_wrote_after_the_escalation(client: FlaskClient, rt: Runtime) -> None:
    case_id = _escalate(rt, client, "conv-f", "fay@example.com")
    shot = {"kind": "screenshot", "url": "https://files.example.com/fay-id.png", "name": "fay-id.png"}
    event = generic_event(conversation_id="conv-f", type_="conversation.updated", messages=[
        {"id": "f9", "role": "customer", "text": "My home address is 12 Elm Street", "attachments": [shot]}])
    event["customer"]["email"] = "fay@example.com"
    body = dumps(event)
    client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    run_due(rt)
    with rt.store.session() as s:
        assert "12 Elm Street" in json.dumps([d.payload for d in repo.deliveries_of(s, case_id)])
    privacy.forget(rt, emails=["fay@example.com"])
    with rt.store.session() as s:
        payloads = json.dumps([d.payload for d in repo.deliveries_of(s, case_id)])
    for personal in ("12 Elm Street", "fay-id.png"):
        assert personal not in _dump(rt, case_id) and personal not in payloads


def test_purge_scrubs_only_old_finished_cases(client: FlaskClient, rt: Runtime) -> None:
    old = _escalate(rt, client, "conv-old", "old@example.com")
    active = _escalate(rt, client, "conv-new", "new@example.com")
    with rt.store.session() as s:
        case = repo.get_case(s, old)
        assert case is not None
        case.status, case.updated_at = "resolved", rt.clock() - timedelta(days=91)
        other = repo.get_case(s, active)
        assert other is not None
        other.updated_at = rt.clock() - timedelta(days=91)  # old, but a human still works on it
        s.commit()
    report = privacy.purge(rt, days=90)
    assert report.cases == [old]
    assert "old@example.com" not in _dump(rt, old) and "new@example.com" in _dump(rt, active)
    assert privacy.purge(rt, days=90).cases == []  # nothing left to do the second time


def test_vendor_copies_are_listed_for_the_operator(client: FlaskClient, rt: Runtime) -> None:
    case_id = _escalate(rt, client, "conv-v", "vee@example.com")
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        assert case is not None
        case.refs = {**case.refs, "zendesk.ticket": "4242", "jira.bug": "SUP-9"}
        s.commit()
    lines = privacy.forget(rt, emails=["vee@example.com"]).lines()
    assert f"  {case_id} zendesk.ticket: 4242" in lines and f"  {case_id} jira.bug: SUP-9" in lines


def test_cli_forget_and_purge(tmp_path: Path, monkeypatch: object) -> None:
    env = {"BRIDGE_DATA_DIR": str(tmp_path / "var"), "GENERIC_WEBHOOK_SECRET": SECRET}
    result = CliRunner().invoke(main, ["forget"], env=env)
    assert result.exit_code == 2
    result = CliRunner().invoke(main, ["forget", "--email", "nobody@example.com"], env=env)
    assert result.exit_code == 0 and "cases scrubbed: 0" in result.output
    result = CliRunner().invoke(main, ["purge", "--days", "30"], env=env)
    assert result.exit_code == 0 and "inbox rows scrubbed: 0" in result.output


def _post(client: FlaskClient, event: dict[str, object]) -> tuple[int, dict[str, str]]:
    body = dumps(event)
    answer = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    return answer.status_code, answer.get_json()


def test_processed_inbox_rows_are_deleted_past_the_dedupe_window(client: FlaskClient, rt: Runtime) -> None:
    quiet = generic_event(type_="conversation.updated", conversation_id="conv-quiet", messages=[
        {"id": "q1", "role": "customer", "text": "How do I export my invoices?"},
        {"id": "q2", "role": "bot", "text": "Billing → Invoices → Export.", "confidence": 0.9}])
    status, first = _post(client, quiet)
    held = _escalate(rt, client, "conv-held", "held@example.com")  # a human still works on it
    status_dead, dead = _post(client, generic_event(type_="conversation.updated", conversation_id="conv-dead"))
    run_due(rt)
    assert status == status_dead == 202
    with rt.store.session() as s:
        rows = s.scalars(select(InboxRow)).all()
        held_keys = {row.key for row in rows if row.case_id == held}
        for row in rows:
            row.received_at = rt.clock() - timedelta(days=8)
            if row.key == dead["event"]:
                row.state = "dead"
        s.commit()

    # Inside the window (the row exists): a redelivery is a duplicate with the original ids.
    again, answer = _post(client, quiet)
    assert again == 200 and (answer["event"], answer["case"]) == (first["event"], first["case"])

    default = rt.settings
    rt.settings = default.with_overrides(extra={**default.extra, "BRIDGE_DEDUPE_DAYS": "30"})
    assert privacy.purge(rt).inbox_deleted == 0  # a longer window keeps them
    rt.settings = default
    report = privacy.purge(rt)
    assert report.inbox_deleted == 1 and "inbox rows past the dedupe window deleted: 1" in report.lines()
    with rt.store.session() as s:
        left = {row.key for row in s.scalars(select(InboxRow))}
        steps = len(repo.deliveries_of(s, held))
    assert first["event"] not in left and dead["event"] in left  # the dead letter stays for `bridge dlq`
    assert held_keys and held_keys <= left  # the escalated case's rows stay while a human works on it

    # Past the window the same delivery is new to the bridge; its messages are already in the case,
    # so folding it changes nothing a person would see.
    with rt.store.session() as s:
        before = repo.get_case(s, first["case"]).event  # type: ignore[union-attr]
    late, answer = _post(client, quiet)
    run_due(rt)
    assert late == 202 and answer["case"] == first["case"]
    with rt.store.session() as s:
        case = repo.get_case(s, first["case"])
        assert case is not None and case.status == "open"
        assert case.event["conversation"]["messages"] == before["conversation"]["messages"]
        assert len(repo.deliveries_of(s, held)) == steps and repo.deliveries_of(s, first["case"]) == []

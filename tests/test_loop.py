"""Zendesk and Jira events applied to cases (docs/timeline.md): the loop's rules and its traps."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.config import Settings
from bridge.loop import jobs as loop, zendesk as loop_zendesk
from bridge.runtime import Runtime
from bridge.store import loop_repo, repo
from bridge.store.models import (
    ACKNOWLEDGED,
    ESCALATED,
    RESOLVED,
    CaseNoteRow,
    CsatSampleRow,
    VendorEventRow,
)
from bridge.worker.runner import run_due
from tests.helpers import SECRET, dumps, generic_event, signed_headers
from tests.test_vendor_events import JIRA_SECRET, ZD_SECRET, make_client, zd_headers

BRIDGE_USER = "777"
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(data_dir=tmp_path / "var", retry_intervals=(0, 0), sweep_age=0,
                    webhook_secrets={"generic": (SECRET,), "zendesk": (ZD_SECRET,), "jira": (JIRA_SECRET,)},
                    extra={"ZENDESK_BRIDGE_USER_ID": BRIDGE_USER, "ZENDESK_BOT_USER_IDS": "555"})


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(rt: Runtime) -> Clock:
    clock = Clock(T0)
    rt.clock = clock
    return clock


@pytest.fixture
def vclient(rt: Runtime, clock: Clock) -> FlaskClient:
    return make_client(rt)


@pytest.fixture
def case_id(vclient: FlaskClient, rt: Runtime) -> str:
    """An escalated case (the customer asks for a person) with its dry-run deliveries done."""
    body = dumps(generic_event())
    response = vclient.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert response.status_code == 202
    run_due(rt)
    return str(response.get_json()["case"])


def post_zendesk(client: FlaskClient, rt: Runtime, payload: dict[str, Any], invocation: str | None = None) -> Any:
    body = json.dumps(payload).encode()
    headers = zd_headers(body, invocation=invocation or uuid.uuid4().hex)
    response = client.post("/events/zendesk", data=body, headers=headers)
    assert response.status_code == 200
    run_due(rt)
    return response.get_json()


def ticket_event(case: str, kind: str, event: dict[str, Any], at: datetime, actor: str = "9001",
                 ticket: str = "4242") -> dict[str, Any]:
    return {"type": f"zen:event-type:ticket.{kind}", "id": uuid.uuid4().hex, "time": at.isoformat(),
            "subject": f"zen:ticket:{ticket}",
            "detail": {"id": ticket, "external_id": case, "actor_id": actor, "updated_at": at.isoformat()},
            "event": event}


def comment(case: str, at: datetime, body: str, author: str = "9001", staff: bool = True, public: bool = True,
            via: str | None = None, cid: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": cid or uuid.uuid4().hex[:10], "body": body, "is_public": public,
                            "author": {"id": author, "is_staff": staff}, "created_at": at.isoformat()}
    if via:
        data["via"] = {"channel": via}
    return ticket_event(case, "comment_added", {"comment": data}, at, actor=author)


def status(case: str, at: datetime, to: str, frm: str, actor: str = "9001") -> dict[str, Any]:
    return ticket_event(case, "status_changed", {"current": to, "previous": frm}, at, actor=actor)


def kinds(rt: Runtime, case: str) -> list[str]:
    with rt.store.session() as s:
        return [t.kind for t in repo.timeline_of(s, case)]


def timeline(rt: Runtime, case: str, kind: str) -> list[Any]:
    with rt.store.session() as s:
        return [(t.at, t.actor, t.detail) for t in repo.timeline_of(s, case) if t.kind == kind]


def get_case(rt: Runtime, case: str) -> Any:
    with rt.store.session() as s:
        row = repo.get_case(s, case)
        s.expunge(row)
        return row


def results(rt: Runtime) -> list[tuple[str, str | None]]:
    with rt.store.session() as s:
        return [(r.state, r.result) for r in s.scalars(select(VendorEventRow).order_by(VendorEventRow.id))]


def test_only_human_useful_replies_set_first_response(vclient: FlaskClient, rt: Runtime, case_id: str) -> None:
    t = T0 + timedelta(minutes=5)
    post_zendesk(vclient, rt, comment(case_id, t, "Hi, I'm the bot again!", author="555"))  # bot user
    post_zendesk(vclient, rt, comment(case_id, t, "Automatic reply", via="api"))  # API / trigger
    post_zendesk(vclient, rt, comment(case_id, t, "Any news?", author="123", staff=False))  # the customer
    post_zendesk(vclient, rt, comment(case_id, t, "Internal: check logs", public=False))  # private note
    post_zendesk(vclient, rt, comment(case_id, t, "Ticket created by the bridge", author=BRIDGE_USER))  # ourselves
    holding = "Thanks for your patience, we're looking into it."
    post_zendesk(vclient, rt, comment(case_id, t + timedelta(minutes=1), holding))
    assert get_case(rt, case_id).first_response_at is None
    useful_at = t + timedelta(minutes=30)
    post_zendesk(vclient, rt, comment(case_id, useful_at, "The EU move is under Settings > Region; I started it."))
    assert get_case(rt, case_id).first_response_at == useful_at
    replies = timeline(rt, case_id, "agent.replied")
    assert [d["holding"] for _, _, d in replies] == [True, False]
    assert replies[0][1] == "zendesk:9001"
    assert [r for _, r in results(rt)][:5] == ["not_human", "not_human", "not_human", "not_human", "own_change"]


def test_an_older_useful_reply_arriving_late_wins(vclient: FlaskClient, rt: Runtime, case_id: str) -> None:
    post_zendesk(vclient, rt, comment(case_id, T0 + timedelta(hours=2), "Here is the full answer to your question."))
    post_zendesk(vclient, rt, comment(case_id, T0 + timedelta(hours=1), "Here is an earlier full answer, sent first."))
    assert get_case(rt, case_id).first_response_at == T0 + timedelta(hours=1)


def test_holding_macro_and_phrases_are_configurable(settings: Settings) -> None:
    from bridge.adapters.vendor.changes import Comment
    from bridge.loop.replies import is_holding

    s = settings.with_overrides(extra={"ZENDESK_HOLDING_MACROS": "42", "BRIDGE_HOLDING_PHRASES": "un momento|wait"})
    macro = Comment("1", "9", True, "A long and useful answer " * 3, True, None, None, ("42",))
    assert is_holding(macro, s)
    assert is_holding(Comment("2", "9", True, "Un momento por favor", True, None, None), s)
    assert not is_holding(Comment("3", "9", True, "Thanks for your patience", True, None, None), s)  # replaced
    long_reply = "Thanks for your patience. " + "Here is exactly how to fix it step by step. " * 8
    assert not is_holding(Comment("4", "9", True, long_reply, True, None, None), settings)


def test_solve_reopen_out_of_order_and_nothing_restarts(vclient: FlaskClient, rt: Runtime, case_id: str,
                                                        clock: Clock) -> None:
    post_zendesk(vclient, rt, ticket_event(case_id, "agent_assignment_changed", {"current": "9001"},
                                           T0 + timedelta(minutes=3)))
    post_zendesk(vclient, rt, comment(case_id, T0 + timedelta(minutes=10), "Fixed: your workspace is now in the EU."))
    before = get_case(rt, case_id)
    assert (before.status, before.acknowledged_at) == (ACKNOWLEDGED, T0 + timedelta(minutes=3))
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(hours=1), "SOLVED", "OPEN"))
    assert get_case(rt, case_id).status == RESOLVED
    # Reopened at t3 arrives before the (older) solve at t2 and the (even older) pending at t1.
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(hours=5), "OPEN", "SOLVED", actor="123"))
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(hours=4), "SOLVED", "OPEN"))
    after = get_case(rt, case_id)
    assert after.status == ESCALATED
    assert (after.escalated_at, after.acknowledged_at, after.first_response_at) == (
        before.escalated_at, before.acknowledged_at, before.first_response_at)
    assert after.resolved_at == T0 + timedelta(hours=1)
    assert results(rt)[-1] == ("ignored", "stale")
    assert kinds(rt, case_id).count("ticket.solved") == 1
    assert [d for _, _, d in timeline(rt, case_id, "ticket.reopened")] == [
        {"ticket_id": "4242", "from": "solved", "to": "open"}]


def test_bridge_own_changes_are_ignored(vclient: FlaskClient, rt: Runtime, case_id: str) -> None:
    assign = ticket_event(case_id, "agent_assignment_changed", {"current": "9001"}, T0, actor=BRIDGE_USER)
    post_zendesk(vclient, rt, assign)
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(minutes=1), "PENDING", "OPEN", actor=BRIDGE_USER))
    assert results(rt)[-2:] == [("ignored", "own_change"), ("ignored", "own_change")]
    assert "ticket.assignee" not in kinds(rt, case_id)
    assert get_case(rt, case_id).acknowledged_at is None


def test_duplicate_invocation_applies_once(vclient: FlaskClient, rt: Runtime, case_id: str) -> None:
    payload = status(case_id, T0 + timedelta(hours=1), "SOLVED", "OPEN")
    for _ in range(3):
        post_zendesk(vclient, rt, payload, invocation="same-invocation")
    assert kinds(rt, case_id).count("ticket.solved") == 1


def test_same_comment_twice_counts_once(vclient: FlaskClient, rt: Runtime, case_id: str) -> None:
    for _ in range(2):  # two invocations of the same comment (Zendesk may invoke twice)
        post_zendesk(vclient, rt, comment(case_id, T0, "A real answer to the question asked.", cid="c-1"))
    assert len(timeline(rt, case_id, "agent.replied")) == 1
    assert results(rt)[-1] == ("ignored", "duplicate")


def test_unknown_ticket_is_ignored_and_unknown_csat_feeds_the_baseline(vclient: FlaskClient, rt: Runtime,
                                                                       case_id: str) -> None:
    post_zendesk(vclient, rt, status("not-a-case", T0, "SOLVED", "OPEN") | {"subject": "zen:ticket:1"} |
                 {"detail": {"id": "1"}})
    post_zendesk(vclient, rt, {"ticket_id": "2", "status": "Solved", "updated_at": T0.isoformat(),
                               "satisfaction": {"score": "Good, I'm satisfied"}})
    assert results(rt)[-2:] == [("ignored", "unknown_ticket"), ("ignored", "baseline_csat")]
    with rt.store.session() as s:
        assert [(r.ticket_id, r.score) for r in s.scalars(select(CsatSampleRow))] == [("2", "good")]


def test_csat_from_a_trigger_latest_wins(vclient: FlaskClient, rt: Runtime, case_id: str) -> None:
    def rating(at: datetime, score: str) -> dict[str, Any]:
        return {"ticket_id": "4242", "external_id": case_id, "updated_at": at.isoformat(), "status": "solved",
                "satisfaction": {"score": score, "comment": "slow" if score == "bad" else ""}}

    post_zendesk(vclient, rt, rating(T0 + timedelta(days=1), "bad"))
    post_zendesk(vclient, rt, rating(T0 + timedelta(days=2), "good"))
    post_zendesk(vclient, rt, rating(T0 + timedelta(hours=30), "bad"))  # older than the stored rating
    assert [d["score"] for _, _, d in timeline(rt, case_id, "csat.rated")] == ["bad", "good"]
    assert "ticket.solved" in kinds(rt, case_id)  # the snapshot's status was new to the bridge


def test_agent_reasking_what_the_package_had_is_recorded(vclient: FlaskClient, rt: Runtime, case_id: str) -> None:
    post_zendesk(vclient, rt, comment(case_id, T0, "Could you tell me your email address so I can look you up?"))
    post_zendesk(vclient, rt, comment(case_id, T0, "Could you send a screenshot of the problem?"))
    reasked = [d["reasked"] for _, _, d in timeline(rt, case_id, "agent.replied")]
    assert reasked == [["contact"], []]  # the package had the email, not a screenshot


class FakeZendesk:
    """A Zendesk whose audits this token may not read (403): the reconciler falls back to the snapshot."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot, self.calls = snapshot, 0

    def ticket_audits(self, ticket_id: str, page: str | None = None, after: str | None = None) -> dict[str, Any]:
        from connectors.base import PermanentError

        raise PermanentError('Zendesk 403: {"error": "Forbidden"}')

    def ticket_activity(self, ticket_id: str) -> dict[str, Any]:
        self.calls += 1
        return json.loads(json.dumps(self.snapshot))


def test_reconciler_applies_what_webhooks_missed_once(rt: Runtime, case_id: str, clock: Clock) -> None:
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        case.refs = {**case.refs, "zendesk.ticket": "4242"}  # a live ticket id
        s.commit()
        assert loop_repo.due_reconciles(s, T0) == []
        assert loop_repo.due_reconciles(s, T0 + timedelta(minutes=16)) == [case_id]
    at = T0 + timedelta(hours=3)
    fake = FakeZendesk({"id": "4242", "status": "solved", "assignee_id": "9001", "updated_at": at.isoformat(),
                        "satisfaction_rating": {"score": "good"},
                        "comments": [{"id": 1, "author_id": "9001", "public": True, "is_staff": True,
                                      "body": "Moved your workspace to the EU region.",
                                      "created_at": (T0 + timedelta(hours=2)).isoformat()}]})
    clock.now = T0 + timedelta(minutes=16)
    loop.reconcile_ticket(case_id, rt, source=fake)
    loop.reconcile_ticket(case_id, rt, source=fake)  # again: nothing new
    assert kinds(rt, case_id).count("ticket.solved") == 1
    assert [k for k in kinds(rt, case_id) if k in ("agent.replied", "ticket.assignee", "csat.rated")] == [
        "agent.replied", "ticket.assignee", "csat.rated"]
    assert get_case(rt, case_id).first_response_at == T0 + timedelta(hours=2)
    with rt.store.session() as s:
        assert loop_repo.due_reconciles(s, clock.now + timedelta(minutes=1)) == []


def test_reconciler_has_nothing_to_poll_in_dry_run(rt: Runtime, case_id: str) -> None:
    with rt.store.session() as s:
        assert loop_repo.due_reconciles(s, T0 + timedelta(days=1)) == []  # refs are dry-run ids
    assert loop.reconcile_ticket(case_id, rt) == "skipped"


def post_jira(client: FlaskClient, rt: Runtime, payload: dict[str, Any]) -> None:
    response = client.post("/events/jira", data=json.dumps(payload).encode(),
                           headers={"Content-Type": "application/json", "X-Bridge-Webhook-Secret": JIRA_SECRET,
                                    "X-Atlassian-Webhook-Identifier": uuid.uuid4().hex})
    assert response.status_code == 200
    run_due(rt)


def link_bug(rt: Runtime, case: str, key: str) -> None:
    with rt.store.session() as s:
        row = repo.get_case(s, case)
        row.refs = {**row.refs, "jira.bug": key}
        s.commit()


def notes(rt: Runtime, case: str) -> list[tuple[str, str, str]]:
    with rt.store.session() as s:
        return [(n.kind, n.reason, n.status) for n in s.scalars(select(CaseNoteRow).where(CaseNoteRow.case_id == case))]


def test_jira_resolved_without_fix_version_notifies_and_drafts(vclient: FlaskClient, rt: Runtime,
                                                              case_id: str) -> None:
    link_bug(rt, case_id, "BUG-7")
    issue = {"key": "BUG-7",
             "fields": {"resolution": {"name": "Done"}, "resolutiondate": "2026-11-03T10:00:00.000+0000"}}
    for _ in range(2):  # Jira sends issue_updated for every later edit too
        post_jira(vclient, rt, {"webhookEvent": "jira:issue_updated", "issue": issue, "user": {"accountId": "acc-1"}})
    assert [d for _, _, d in timeline(rt, case_id, "jira.resolved")] == [{"key": "BUG-7", "resolution": "Done"}]
    assert timeline(rt, case_id, "jira.resolved")[0][1] == "jira:acc-1"
    assert sorted(notes(rt, case_id)) == [
        ("customer.update", "jira.resolved:BUG-7", "drafted"),
        ("slack.thread", "jira.resolved:BUG-7", "intended"),
        ("zendesk.note", "jira.resolved:BUG-7", "intended"),
    ]
    drafted = timeline(rt, case_id, "update.drafted")
    assert len(drafted) == 1 and "fixed" in drafted[0][2]["text"]
    assert "update.sent" not in kinds(rt, case_id)  # never sent without the owner


def test_jira_release_reaches_every_linked_case_and_approval(vclient: FlaskClient, rt: Runtime,
                                                             case_id: str) -> None:
    from bridge.loop.jira import approve_update

    body = dumps(generic_event(conversation_id="conv-2", customer={"email": "bo@example.com"}))
    other = vclient.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
    run_due(rt)
    for case in (case_id, other):
        link_bug(rt, case, "BUG-9")
    issue = {"key": "BUG-9", "fields": {"resolution": {"name": "Fixed"},
                                        "fixVersions": [{"id": "100", "name": "5.2.2", "released": False}]}}
    post_jira(vclient, rt, {"webhookEvent": "jira:issue_updated", "issue": issue})
    assert not timeline(rt, case_id, "update.drafted")  # waits for the release
    post_jira(vclient, rt, {"webhookEvent": "jira:version_released", "version": {"id": "100", "name": "5.2.2"}})
    post_jira(vclient, rt, {"webhookEvent": "jira:version_released", "version": {"id": "100", "name": "5.2.2"}})
    for case in (case_id, other):
        assert [d for _, _, d in timeline(rt, case, "jira.released")] == [{"key": "BUG-9", "version": "5.2.2"}]
        assert len(timeline(rt, case, "update.drafted")) == 1
    with rt.store.session() as s:
        draft = s.scalars(select(CaseNoteRow).where(CaseNoteRow.case_id == case_id,
                                                    CaseNoteRow.kind == "customer.update")).one()
    assert approve_update(rt, draft.id, "U01ANA") is not None
    assert approve_update(rt, draft.id, "U01ANA") is None  # one button press counts
    assert [d["by"] for _, _, d in timeline(rt, case_id, "update.sent")] == ["U01ANA"]


def test_unknown_jira_issue_is_ignored(vclient: FlaskClient, rt: Runtime) -> None:
    post_jira(vclient, rt, {"webhookEvent": "jira:issue_updated", "issue": {"key": "NOPE-1", "fields": {}}})
    assert results(rt) == [("ignored", "unknown_issue")]


def test_a_crashing_event_is_retried_then_dead_never_lost(vclient: FlaskClient, rt: Runtime, case_id: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(loop_zendesk, "apply_zendesk", boom)
    post_zendesk(vclient, rt, status(case_id, T0, "SOLVED", "OPEN"))
    with rt.store.session() as s:
        row = s.scalars(select(VendorEventRow)).one()
        assert (row.state, row.attempts) == ("dead", 3)
        assert "RuntimeError" in (row.last_error or "")
        assert loop_repo.revive_vendor_event(s, row.id, T0)
        s.commit()
    monkeypatch.undo()
    run_due(rt)
    assert results(rt) == [("processed", "applied")]


def test_resolved_bug_notes_are_delivered_and_the_reply_waits_for_approval(
    vclient: FlaskClient, rt: Runtime, case_id: str
) -> None:
    from bridge.loop.jira import approve_update

    link_bug(rt, case_id, "BUG-7")
    issue = {"key": "BUG-7", "fields": {"resolution": {"name": "Done"}}}
    for _ in range(2):
        post_jira(vclient, rt, {"webhookEvent": "jira:issue_updated", "issue": issue})
    run_due(rt)
    with rt.store.session() as s:
        done = {d.step.split("#")[0]: d for d in repo.deliveries_of(s, case_id) if "#" in d.step}
    assert {"zendesk.note", "slack.thread"} <= set(done) and "zendesk.reply" not in done
    outbox = rt.settings.outbox_dir / case_id
    note = json.loads((outbox / f"{done['zendesk.note'].step}.json").read_text())["request"]
    assert note["comment"]["public"] is False and "BUG-7" in note["comment"]["body"]
    thread = json.loads((outbox / f"{done['slack.thread'].step}.json").read_text())["request"]
    button = next(b for b in thread["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["action_id"] == "approve_update"
    approved = approve_update(rt, int(button["value"]), by="slack:U0ANA")
    assert approved
    assert approve_update(rt, int(button["value"]), by="slack:U0ANA") is None  # a second click sends nothing
    run_due(rt)
    with rt.store.session() as s:
        replies = [d for d in repo.deliveries_of(s, case_id) if d.step.startswith("zendesk.reply#")]
    assert len(replies) == 1 and replies[0].status == "done"
    reply = json.loads((outbox / f"{replies[0].step}.json").read_text())["request"]
    assert reply["comment"] == {"body": approved, "public": True}


def test_a_release_announced_before_the_issue_joins_the_version_still_counts(
    vclient: FlaskClient, rt: Runtime, case_id: str
) -> None:
    """Jira sends version_released and issue_updated independently: the release may come first, and an
    update sent before the release says ``released: false``. The release is remembered, announced once."""
    link_bug(rt, case_id, "BUG-11")
    post_jira(vclient, rt, {"webhookEvent": "jira:version_released", "version": {"id": "300", "name": "6.0.1"}})
    assert results(rt) == [("ignored", "unknown_version")]
    issue = {"key": "BUG-11", "fields": {"resolution": {"name": "Fixed"},
                                         "fixVersions": [{"id": "300", "name": "6.0.1", "released": False}]}}
    for _ in range(2):  # and a later edit: announced once
        post_jira(vclient, rt, {"webhookEvent": "jira:issue_updated", "issue": issue})
    assert [d for _, _, d in timeline(rt, case_id, "jira.released")] == [{"key": "BUG-11", "version": "6.0.1"}]
    assert len(timeline(rt, case_id, "update.drafted")) == 1


def test_an_assignment_delivered_after_the_solve_still_acknowledges(vclient: FlaskClient, rt: Runtime,
                                                                   case_id: str) -> None:
    """The agent took the ticket (t+4), then solved it (t+5); the solve's event arrived first."""
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(minutes=5), "SOLVED", "OPEN"))
    post_zendesk(vclient, rt, ticket_event(case_id, "agent_assignment_changed", {"current": "4242"},
                                           T0 + timedelta(minutes=4)))
    row = get_case(rt, case_id)
    assert (row.status, row.acknowledged_at) == (RESOLVED, T0 + timedelta(minutes=4))
    assert len(timeline(rt, case_id, "case.acknowledged")) == 1
    later = ticket_event(case_id, "agent_assignment_changed", {"current": "5151"}, T0 + timedelta(minutes=9))
    post_zendesk(vclient, rt, later)  # reassigned afterwards: the case was taken once
    assert len(timeline(rt, case_id, "case.acknowledged")) == 1
    assert get_case(rt, case_id).acknowledged_at == T0 + timedelta(minutes=4)


def test_a_repeated_status_still_moves_its_time_so_an_older_reopen_is_stale(vclient: FlaskClient, rt: Runtime,
                                                                            case_id: str) -> None:
    """Solved at t+2, reopened at t+3, solved again at t+5; the reopen arrives last. The second solve found the
    status already solved: its time must still count, or the late reopen reopens a solved ticket."""
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(minutes=2), "SOLVED", "OPEN"))
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(minutes=5), "SOLVED", "OPEN"))
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(minutes=3), "OPEN", "SOLVED"))
    assert get_case(rt, case_id).status == RESOLVED
    assert results(rt)[-1] == ("ignored", "stale")
    assert not timeline(rt, case_id, "ticket.reopened")


@pytest.fixture
def any_rt(any_store_settings: Settings) -> Runtime:
    """This module's settings (bridge user, secrets) on SQLite and on PostgreSQL."""
    from bridge.runtime import install
    from bridge.store.migrate import upgrade

    runtime = install(Runtime.build(any_store_settings))
    upgrade(runtime.store)
    return runtime


def test_concurrent_deliveries_about_one_ticket_apply_one_after_another(any_rt: Runtime) -> None:
    """A solve (t+5) is being applied, not yet committed, when an older reopen (t+3) is picked up
    by another worker: the reopen waits for the solve and is stale, instead of applying over it."""
    import threading
    import time

    rt = any_rt
    rt.clock = Clock(T0)
    client = make_client(rt)
    body = dumps(generic_event())
    case = str(client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"])
    run_due(rt)
    post_zendesk(client, rt, status(case, T0 + timedelta(minutes=2), "solved", "open"))
    reopen = json.dumps(status(case, T0 + timedelta(minutes=3), "open", "solved")).encode()
    assert client.post("/events/zendesk", data=reopen, headers=zd_headers(reopen, invocation="r")).status_code == 200
    with rt.store.session() as s:
        reopen_id = max(s.scalars(select(VendorEventRow.id)))
    done: list[str] = []
    with rt.store.session() as first:
        solve = json.dumps(status(case, T0 + timedelta(minutes=5), "solved", "open")).encode()
        assert loop.apply_delivery(rt, first, "zendesk", solve).results == ["unchanged"]
        second = threading.Thread(target=lambda: done.append(loop.process_vendor_event(reopen_id, rt)))
        second.start()
        time.sleep(0.5)  # the second worker reaches the ticket while the first holds it
        first.commit()
    second.join(30)
    row = get_case(rt, case)
    assert done == ["ignored"] and results(rt)[-1] == ("ignored", "stale")
    assert row.status == RESOLVED and "ticket.reopened" not in kinds(rt, case)


@pytest.mark.parametrize("old", ["bridge.loop.process_vendor_event", "bridge.loop.reconcile_ticket"])
def test_a_loop_job_enqueued_before_the_move_still_resolves(old: str) -> None:
    """RQ stores each job's dotted path: paths from before ``bridge/loop/`` map to the jobs now."""
    from rq.utils import import_attribute

    from bridge.queue import job_function

    assert import_attribute(job_function(old)) is getattr(loop, old.rsplit(".", 1)[1])

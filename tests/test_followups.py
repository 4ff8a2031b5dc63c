"""What the customer sends after the escalation reaches the people on the case (issue 16, point 1;
issue 15, item 5): each new message or piece of evidence becomes a private note on the ticket, a
reply in the Slack thread (pinging the owner while nobody has answered), a comment on the bug when
there is one, and a timeline entry — exactly once, in order, retried like every other step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge import create_app
from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.worker.runner import run_due
from connectors.outbox import OutboxConnector
from tests.helpers import generic_event, post_generic

ROUTING = """
teams:
  - id: support
    name: Support
    slack_channel: "#support"
    hours: "24/7"
    members:
      - {name: Ana Souza, slack_user_id: U01ANA, zendesk_agent_id: 9001, languages: [en, es]}
"""
BUG = [
    {"id": "b1", "role": "customer", "text": "The CSV export crashes with error E500 every time I click Download"},
    {"id": "b2", "role": "bot", "text": "Try clearing your cache.", "confidence": 0.3},
]


@pytest.fixture
def env(any_store_settings: Settings, tmp_path: Path) -> tuple[Runtime, FlaskClient]:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    rt = Runtime.build(any_store_settings.with_overrides(extra={"ROUTING_FILE": str(path)}))
    upgrade(rt.store)
    return rt, create_app(rt=rt).test_client()


def later(event_id: str, *messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return generic_event(event_id=event_id, type_="conversation.updated", messages=list(messages), **extra)


def outbox(rt: Runtime, case_id: str, name: str) -> dict[str, Any]:
    return json.loads((rt.settings.outbox_dir / case_id / f"{name}.json").read_text())["request"]  # type: ignore[no-any-return]


def steps(rt: Runtime, case_id: str) -> dict[str, Any]:
    with rt.store.session() as s:
        return {d.step: d for d in repo.deliveries_of(s, case_id)}


def test_a_message_after_the_handoff_reaches_the_ticket_the_thread_and_the_timeline(
        env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    case_id = post_generic(client, generic_event(event_id="e1"))["case"]
    run_due(rt)
    post_generic(client, later("e2", {"id": "m4", "role": "customer", "sent_at": "2026-12-01T09:34:00Z",
                              "text": "It's been 20 minutes. Only the Finance group is affected."}))
    run_due(rt)
    done = steps(rt, case_id)
    assert done["zendesk.followup#1"].status == "done" and done["zendesk.followup#1"].after == "zendesk.ticket"
    assert done["slack.followup#1"].status == "done" and done["slack.followup#1"].after == "slack.alert"
    note = outbox(rt, case_id, "zendesk.followup#1")
    assert note["comment"]["public"] is False
    assert "Only the Finance group is affected." in note["comment"]["body"]
    assert "nobody has answered" in note["comment"]["body"]
    thread = outbox(rt, case_id, "slack.followup#1")
    assert thread["thread_ts"] is None or thread["thread_ts"]  # dry run: no posted ts to thread under
    assert "<@U01ANA>" in thread["text"] and "Only the Finance group is affected." in thread["text"]
    with rt.store.session() as s:
        entries = [t for t in repo.timeline_of(s, case_id) if t.kind == "customer.followup"]
    assert [(e.detail["n"], e.detail["message_index"]) for e in entries] == [(1, 4)]


def test_each_follow_up_once_and_in_order(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    case_id = post_generic(client, generic_event(event_id="e1"))["case"]
    run_due(rt)
    first = later("e2", {"id": "m4", "role": "customer", "text": "Order number is 88231."})
    post_generic(client, first)
    post_generic(client, first)  # the bot retried the same delivery
    post_generic(client, later("e3", {"id": "m4", "role": "customer", "text": "Order number is 88231."},
                       {"id": "m5", "role": "bot", "text": "Thanks, a person will answer here."},
                       {"id": "m6", "role": "customer", "text": "And it was charged on May 3."}))
    run_due(rt)
    done = steps(rt, case_id)
    followups = sorted(name for name in done if name.startswith("zendesk.followup"))
    assert followups == ["zendesk.followup#1", "zendesk.followup#2"]
    assert done["zendesk.followup#2"].after == "zendesk.followup#1"
    assert done["slack.followup#2"].after == "slack.followup#1"
    assert "88231" in outbox(rt, case_id, "zendesk.followup#1")["comment"]["body"]
    assert "May 3" in outbox(rt, case_id, "zendesk.followup#2")["comment"]["body"]
    assert done["zendesk.followup#1"].updated_at <= done["zendesk.followup#2"].updated_at


def test_a_failing_follow_up_is_retried_and_the_next_one_waits(
        env: tuple[Runtime, FlaskClient], monkeypatch: pytest.MonkeyPatch) -> None:
    rt, client = env
    case_id = post_generic(client, generic_event(event_id="e1"))["case"]
    run_due(rt)
    real, calls = OutboxConnector.send, []

    def flaky(self: OutboxConnector, step: Any, request: Any, context: Any) -> Any:
        calls.append(context.instance)
        if context.instance == "zendesk.followup#1" and calls.count("zendesk.followup#1") == 1:
            raise RuntimeError("zendesk is down")
        return real(self, step, request, context)

    monkeypatch.setattr(OutboxConnector, "send", flaky)
    post_generic(client, later("e2", {"id": "m4", "role": "customer", "text": "One more thing."},
                       {"id": "m5", "role": "customer", "text": "And another."}))
    run_due(rt)
    zendesk = [c for c in calls if c.startswith("zendesk.followup")]
    assert zendesk == ["zendesk.followup#1", "zendesk.followup#1", "zendesk.followup#2"]
    assert steps(rt, case_id)["zendesk.followup#1"].attempts == 2


def test_later_evidence_becomes_a_note_and_a_bug_comment_once(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    case_id = post_generic(client, generic_event(event_id="e1", messages=BUG))["case"]
    run_due(rt)
    assert steps(rt, case_id)["jira.bug"].status == "done"
    shot = {"kind": "screenshot", "url": "https://files.example.com/s/export.png", "name": "export.png"}
    evidence = {"console_logs": [{"level": "error", "message": "TypeError: rows is undefined"}]}
    update = later("e2", {"id": "b3", "role": "customer", "text": "Screenshot attached.", "attachments": [shot]},
                   evidence=evidence)
    post_generic(client, update)
    run_due(rt)
    post_generic(client, later("e3", {"id": "b3", "role": "customer", "text": "Screenshot attached.",
                              "attachments": [shot]}, evidence=evidence))
    run_due(rt)
    done = steps(rt, case_id)
    assert sorted(n for n in done if n.startswith("jira.followup")) == ["jira.followup#1"]
    comment = outbox(rt, case_id, "jira.followup#1")
    assert "export.png" in comment["comment"] and "TypeError: rows is undefined" in comment["comment"]
    assert comment["_evidence"] == [{"url": shot["url"], "kind": "screenshot", "name": "export.png"}]
    note = outbox(rt, case_id, "zendesk.followup#1")
    assert "https://files.example.com/s/export.png" in note["comment"]["body"]
    assert note["_evidence"][0]["url"] == shot["url"]
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        assert case is not None
        assert case.event["evidence"]["console_logs"][0]["message"] == "TypeError: rows is undefined"


def test_evidence_of_a_later_event_is_merged_not_replaced(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    first = {"console_logs": [{"level": "error", "message": "first error"}], "page_url": "https://app/x"}
    case_id = post_generic(client, generic_event(event_id="e1", messages=BUG, evidence=first))["case"]
    run_due(rt)
    post_generic(client, later("e2", evidence={"console_logs": [{"level": "error", "message": "second error"}]}))
    run_due(rt)
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        assert case is not None
        evidence = case.event["evidence"]
    assert [c["message"] for c in evidence["console_logs"]] == ["first error", "second error"]
    assert evidence["page_url"] == "https://app/x"
    assert "second error" in outbox(rt, case_id, "zendesk.followup#1")["comment"]["body"]


def test_no_ping_once_a_human_has_answered(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    case_id = post_generic(client, generic_event(event_id="e1"))["case"]
    run_due(rt)
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        assert case is not None
        case.first_response_at = rt.clock()
        s.commit()
    post_generic(client, later("e2", {"id": "m4", "role": "customer", "text": "Thanks, that worked."}))
    run_due(rt)
    thread = outbox(rt, case_id, "slack.followup#1")
    assert "<@U01ANA>" not in thread["text"] and "Thanks, that worked." in thread["text"]


def test_a_follow_up_brings_its_facts_into_the_summary(env: tuple[Runtime, FlaskClient]) -> None:
    """Issue 16, point 4: "the new detail they supplied" is in the summary of every later step."""
    from bridge.loop import ownership

    rt, client = env
    case_id = post_generic(client, generic_event(event_id="e1"))["case"]
    run_due(rt)
    post_generic(client, later("e2", {"id": "m4", "role": "customer",
                              "text": "I've been waiting 3 hours and payroll closes today at 5pm."}))
    run_due(rt)
    ownership.take(rt, case_id, "U01ANA")
    run_due(rt)
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        assert case is not None and case.summary is not None
        assert any("payroll closes today at 5pm" in fact for fact in case.summary["urgency"])


def test_a_last_message_sent_with_the_close_still_reaches_the_human(env: tuple[Runtime, FlaskClient]) -> None:
    rt, client = env
    case_id = post_generic(client, generic_event(event_id="e1"))["case"]
    run_due(rt)
    post_generic(client, generic_event(event_id="e2", type_="conversation.closed", messages=[
        {"id": "m9", "role": "customer", "text": "I have to go now, please call me tomorrow after 9."}]))
    run_due(rt)
    assert steps(rt, case_id)["zendesk.followup#1"].status == "done"
    assert "call me tomorrow after 9" in outbox(rt, case_id, "zendesk.followup#1")["comment"]["body"]

"""KB feedback loop: content gaps answered by a human become suggestions; done counts as a conversion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.loop import kb
from bridge.runtime import Runtime
from bridge.store import loop_repo
from bridge.worker.runner import run_due
from tests.helpers import dumps, generic_event, signed_headers
from tests.test_loop import T0, comment, kinds, post_zendesk, settings, status, vclient  # noqa: F401

GAP = [
    {"id": "m1", "role": "customer", "text": "How do I configure SAML single sign-on with Okta?"},
    {"id": "m2", "role": "bot", "text": "Sorry, I could not find an answer to that.", "confidence": 0.2},
]
ANSWER = ("In Okta add our app, paste the metadata URL into Settings > Security > SSO, then test. "
          "Write to ana@example.com.")


@pytest.fixture
def clock(rt: Runtime) -> Any:
    from tests.test_loop import Clock

    c = Clock(T0)
    rt.clock = c
    return c


def escalate(client: FlaskClient, rt: Runtime, messages: list[dict[str, Any]], conversation: str = "gap-1") -> str:
    body = dumps(generic_event(type_="conversation.updated", conversation_id=conversation, messages=messages))
    case_id = client.post("/webhooks/generic", data=body, headers=signed_headers(body)).get_json()["case"]
    run_due(rt)
    return str(case_id)


def test_content_gap_solved_by_a_human_becomes_a_suggestion(vclient: FlaskClient, rt: Runtime,  # noqa: F811
                                                            clock: Any) -> None:
    case_id = escalate(vclient, rt, GAP)
    post_zendesk(vclient, rt, comment(case_id, T0 + timedelta(minutes=5), "Thanks for your patience, checking."))
    post_zendesk(vclient, rt, comment(case_id, T0 + timedelta(minutes=30), ANSWER))
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(hours=1), "SOLVED", "OPEN"))
    listed = kb.listing(rt)
    assert len(listed) == 1
    suggestion = listed[0]
    assert (suggestion["case"], suggestion["status"], suggestion["source"]) == (case_id, "suggested", "template")
    assert "Settings > Security > SSO" in suggestion["body"]
    assert "ana@example.com" not in suggestion["body"]  # the customer's email is redacted
    assert "checking" not in suggestion["body"]  # holding replies are not the answer
    assert "kb.suggested" in kinds(rt, case_id)
    # Solving again (after a reopen) does not draft twice.
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(hours=2), "OPEN", "SOLVED"))
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(hours=3), "SOLVED", "OPEN"))
    assert len(kb.listing(rt)) == 1
    assert kb.mark_done(rt, suggestion["id"], "U01ANA", "https://help.example.com/sso")
    assert not kb.mark_done(rt, suggestion["id"], "U01ANA")
    assert not kb.mark_done(rt, 999, "U01ANA")
    assert kb.listing(rt, "done")[0]["done_by"] == "U01ANA"
    assert kinds(rt, case_id).count("kb.done") == 1


def test_no_suggestion_without_a_gap_or_without_a_useful_answer(vclient: FlaskClient, rt: Runtime,  # noqa: F811
                                                                clock: Any) -> None:
    person = [{"id": "m1", "role": "customer", "text": "My invoice is wrong, can I talk to a person please?"}]
    not_gap = escalate(vclient, rt, person, "human-1")
    post_zendesk(vclient, rt, comment(not_gap, T0, ANSWER))
    post_zendesk(vclient, rt, status(not_gap, T0 + timedelta(hours=1), "SOLVED", "OPEN"))
    holding_only = escalate(vclient, rt, GAP, "gap-2")
    post_zendesk(vclient, rt, comment(holding_only, T0, "We're looking into it.", cid="h1"))
    post_zendesk(vclient, rt, status(holding_only, T0 + timedelta(hours=1), "SOLVED", "OPEN"))
    assert kb.listing(rt) == []


def test_llm_draft_when_configured(vclient: FlaskClient, rt: Runtime, clock: Any,  # noqa: F811
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.pipeline import llm

    seen: dict[str, Any] = {}

    def fake_chat_json(**kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {"title": "Set up SAML SSO with Okta", "body": "1. Add the app in Okta. 2. Paste the metadata URL."}

    monkeypatch.setattr(llm, "chat_json", fake_chat_json)
    rt.settings = rt.settings.with_overrides(extra={**rt.settings.extra, "OPENAI_API_KEY": "sk-test"})
    case_id = escalate(vclient, rt, GAP)
    post_zendesk(vclient, rt, comment(case_id, T0, ANSWER))
    post_zendesk(vclient, rt, status(case_id, T0 + timedelta(hours=1), "SOLVED", "OPEN"))
    [suggestion] = kb.listing(rt)
    assert (suggestion["source"], suggestion["title"]) == ("llm", "Set up SAML SSO with Okta")
    assert "ana@example.com" not in str(seen["messages"])


def test_handoff_reason_not_in_help_center_is_a_gap(rt: Runtime) -> None:
    from bridge.store.models import CaseRow

    row = CaseRow(id="x", platform="generic", conversation_id="x", triggers=["bot_handoff"], refs={},
                  event={"handoff": {"reason": "Answer not in help center"}}, created_at=T0, updated_at=T0)
    assert kb.is_content_gap(row)
    row.event = {"handoff": {"reason": "customer wants a refund"}}
    assert not kb.is_content_gap(row)
    with rt.store.session() as s:
        assert loop_repo.suggestions(s) == []

"""Drift: webhook fixtures → canonical events, verification token, transcript and contact from a stub."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.adapters import drift
from bridge.adapters.base import InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.adapters.drift import DriftAdapter
from bridge.config import Settings
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import Stub, app_for, fixture_names, headers_of, inbound, load, ticket

SLUG = "drift"
ADAPTER = DriftAdapter()
NAME = "new-message-billing"
BODY, META = load(SLUG, NAME)
TOKEN = META["signature"]["value"]
CONVERSATION = str(META["expected"]["conversation_id"])
CONTACT = str(META["expected"]["customer"]["contact_id"])


def envelope(type_: str, data: dict[str, Any], token: str = TOKEN) -> bytes:
    return json.dumps({"type": type_, "token": token, "orgId": 1203444, "data": data}).encode()


def headers(token: str = TOKEN) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Verification-Token": token}


def test_every_fixture_is_used_and_every_declared_event_is_covered() -> None:
    assert fixture_names(SLUG) == {NAME}
    assert {"new_message", "conversation_status_updated", "conversation_participant_added"} == drift.SUPPORTED_EVENTS
    closed = ADAPTER.parse(inbound(envelope("conversation_status_updated",
                                            {"conversationId": 3190455021, "status": "closed"})))[0]
    added = ADAPTER.parse(inbound(envelope("conversation_participant_added",
                                           {"conversationId": 3190455021, "addedParticipants": [555]})))[0]
    assert closed.type == "conversation.closed" and added.type == "handoff.requested"
    assert closed.conversation.id == added.conversation.id == CONVERSATION


def test_fixture_facts() -> None:
    event = ADAPTER.parse(inbound(BODY, headers_of(META)))[0]
    expected = META["expected"]
    # The contact asks for a refund: billing_exception is the trigger engine's call on this text.
    assert event.type == "conversation.updated" and expected["is_handoff"]
    assert "refund" in event.conversation.messages[0].text
    assert event.conversation.id == CONVERSATION and event.conversation.partial is True
    assert len(event.conversation.messages) == expected["transcript_turns_in_payload"]
    assert event.conversation.messages[0].role == "customer"
    assert event.customer is not None and event.customer.id == CONTACT and event.customer.email is None
    assert event.evidence is None and expected["evidence_urls"] == []


def test_bot_agent_and_note_messages_and_bad_shapes() -> None:
    bot = ADAPTER.parse(inbound(envelope("new_message", {"id": 1, "conversationId": 2, "body": "Hi 👋",
                                                         "author": {"id": 9, "type": "user", "bot": True}})))[0]
    note = ADAPTER.parse(inbound(envelope("new_message", {"id": 3, "conversationId": 2, "body": "check",
                                                          "type": "private_note", "author": {"type": "user"}})))[0]
    assert bot.conversation.messages[0].role == "bot" and bot.customer is None
    assert note.conversation.messages[0].role == "system"
    with pytest.raises(UnsupportedEvent):
        ADAPTER.parse(inbound(envelope("button_action", {})))
    with pytest.raises(MalformedPayload):
        ADAPTER.parse(inbound(b'{"data": {}}'))
    with pytest.raises(InvalidPayload):
        ADAPTER.parse(inbound(envelope("new_message", {"id": 1, "body": "no conversation"})))


def test_verification_token_with_rotation_and_forgeries() -> None:
    ADAPTER.verify(inbound(BODY, headers_of(META)), [TOKEN], 300)
    ADAPTER.verify(inbound(BODY, {}), ["old-token", TOKEN], 300)  # the body's copy alone
    for body, hdrs in ((BODY, headers("forged")), (envelope("new_message", {}, "forged"), {}),
                       (envelope("new_message", {}, ""), {}), (b"not json", {})):
        with pytest.raises(Unauthorized):
            ADAPTER.verify(inbound(body, hdrs), [TOKEN], 300)


def stub_routes(count: int) -> dict[str, Any]:
    history = [{"id": i, "conversationId": int(CONVERSATION), "body": f"turn {i}", "createdAt": 1741970000000 + i,
                "author": {"id": int(CONTACT), "type": "contact", "bot": False}} for i in range(count)]

    def messages(query: dict[str, list[str]]) -> tuple[int, Any]:
        start = int(query.get("next", ["0"])[0])
        page = history[start:start + 50]
        more = start + 50 < count
        pagination = {"more": more, "next": str(start + 50) if more else None}
        return 200, {"data": {"messages": page}, "pagination": pagination}

    return {f"/conversations/{CONVERSATION}/messages": messages,
            f"/contacts/{CONTACT}": lambda q: (200, {"data": {"id": int(CONTACT),
                                                              "attributes": {"email": "m.oyelaran@example.org"}}})}


def test_complete_follows_the_cursor_and_fetches_the_contact(settings: Settings) -> None:
    event = ADAPTER.parse(inbound(BODY))[0]
    with Stub(stub_routes(120)) as stub:
        full = ADAPTER.complete(event, settings.with_overrides(extra={"DRIFT_API_URL": stub.url,
                                                                      "DRIFT_API_TOKEN": "tok"}))
    assert full.conversation.partial is False and len(full.conversation.messages) == 121
    assert full.customer is not None and full.customer.email == "m.oyelaran@example.org"
    with Stub({}) as stub:
        kept = ADAPTER.complete(event, settings.with_overrides(extra={"DRIFT_API_URL": stub.url,
                                                                      "DRIFT_API_TOKEN": "tok"}))
    assert kept == event


def test_http(settings: Settings) -> None:
    _, client = app_for(settings, SLUG, ("next-drift-verification-token", TOKEN))
    first = client.post("/webhooks/drift", data=BODY, headers=headers_of(META))
    assert first.status_code == 202
    again = client.post("/webhooks/drift", data=BODY, headers=headers_of(META))
    assert again.status_code == 200 and again.get_json()["event"] == first.get_json()["event"]
    assert client.post("/webhooks/drift", data=BODY, headers=headers("forged")).status_code == 401
    assert client.post("/webhooks/drift", data=envelope("button_action", {}), headers=headers()).status_code == 200
    bad = envelope("new_message", {"id": 5})
    assert client.post("/webhooks/drift", data=bad, headers=headers()).status_code == 422


def test_handoff_reaches_the_dry_run_ticket_with_the_fetched_transcript(settings: Settings) -> None:
    with Stub(stub_routes(3)) as stub:
        rt, client = app_for(settings, SLUG, (TOKEN,), DRIFT_API_URL=stub.url, DRIFT_API_TOKEN="tok")
        assert client.post("/webhooks/drift", data=BODY, headers=headers_of(META)).status_code == 202
        added = envelope("conversation_participant_added", {"conversationId": int(CONVERSATION),
                                                            "addedParticipants": [555]})
        assert client.post("/webhooks/drift", data=added, headers=headers()).status_code == 202
        run_due(rt)
    rendered = json.dumps(ticket(rt, case_id_for(SLUG, CONVERSATION)), ensure_ascii=False)
    assert "turn 0" in rendered and "Please refund the duplicate." in rendered


# --- Checked against the sources named in bridge/adapters/drift.py (issue 21) ----------------------

def test_message_types_from_the_message_model() -> None:
    # chat and private_note (current model); private_prompt, suggestion and edit (v1.3 model).
    def turn(type_: str, **extra: Any) -> list[Any]:
        data = {"id": 11, "conversationId": 2, "body": "text", "type": type_, "createdAt": 1741970440005,
                "author": {"id": 9, "type": "user", "bot": False}, **extra}
        return ADAPTER.parse(inbound(envelope("new_message", data)))[0].conversation.messages

    assert [(m.role, m.text) for m in turn("chat")] == [("agent", "text")]
    assert turn("chat")[0].sent_at is not None and turn("chat")[0].sent_at.year == 2025  # createdAt in ms
    for hidden in ("private_note", "private_prompt", "suggestion"):
        assert [(m.role, m.text) for m in turn(hidden)] == [("system", f"({hidden.replace('_', ' ')}) text")]
    assert turn("edit", editedMessageId=10, editType="replace_body") == []


def test_the_fetch_reads_pagination_beside_or_inside_data(settings: Settings) -> None:
    event = ADAPTER.parse(inbound(BODY))[0]
    history = [{"id": i, "conversationId": int(CONVERSATION), "body": f"turn {i}", "createdAt": 1741970000000 + i,
                "type": "chat", "author": {"id": int(CONTACT), "type": "contact", "bot": False}} for i in range(60)]

    def inside(query: dict[str, list[str]]) -> tuple[int, Any]:
        start = int(query.get("next", ["0"])[0])
        more = start + 50 < len(history)
        return 200, {"data": {"messages": history[start:start + 50],
                              "pagination": {"more": more, "next": str(start + 50) if more else None}}}

    with Stub({f"/conversations/{CONVERSATION}/messages": inside,
               f"/contacts/{CONTACT}": lambda q: (200, {"data": {"attributes": {}}})}) as stub:
        full = ADAPTER.complete(event, settings.with_overrides(extra={"DRIFT_API_URL": stub.url,
                                                                      "DRIFT_API_TOKEN": "tok"}))
    assert len(full.conversation.messages) == 61

"""Drift: webhook fixtures → canonical events, verification token, transcript and contact from a stub."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.adapters import drift
from bridge.adapters.base import InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.config import Settings
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import Stub, ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "drift"
NAME = "new-message-billing"


def verification_token(body: bytes, token: str) -> Credentials:
    # Drift also repeats the token in the body ("token"): ``envelope`` writes the same one there.
    return {"X-Verification-Token": token}, {}


BODY, META = WebhookCase(SLUG).load(NAME)
TOKEN = META["signature"]["value"]
CASE = WebhookCase(SLUG, TOKEN, verification_token)
ADAPTER = CASE.adapter
CONVERSATION = str(META["expected"]["conversation_id"])
CONTACT = str(META["expected"]["customer"]["contact_id"])


def envelope(type_: str, data: dict[str, Any], token: str = TOKEN) -> bytes:
    return json.dumps({"type": type_, "token": token, "orgId": 1203444, "data": data}).encode()


def headers(token: str = TOKEN) -> dict[str, str]:
    return verification_token(b"", token)[0]


def test_every_fixture_is_used_and_every_declared_event_is_covered() -> None:
    assert CASE.fixture_names() == {NAME}
    assert {"new_message", "conversation_status_updated", "conversation_participant_added"} == drift.SUPPORTED_EVENTS
    closed = CASE.parse_one(envelope("conversation_status_updated", {"conversationId": 3190455021, "status": "closed"}))
    added = CASE.parse_one(envelope("conversation_participant_added",
                                    {"conversationId": 3190455021, "addedParticipants": [555]}))
    assert closed.type == "conversation.closed" and added.type == "handoff.requested"
    assert closed.conversation.id == added.conversation.id == CONVERSATION


def test_fixture_facts() -> None:
    [event], meta = CASE.parse_fixture(NAME)
    expected = meta["expected"]
    # The contact asks for a refund: billing_exception is the trigger engine's call on this text.
    assert event.type == "conversation.updated" and expected["is_handoff"]
    assert "refund" in event.conversation.messages[0].text
    assert event.conversation.id == CONVERSATION and event.conversation.partial is True
    assert len(event.conversation.messages) == expected["transcript_turns_in_payload"]
    assert event.conversation.messages[0].role == "customer"
    assert event.customer is not None and event.customer.id == CONTACT and event.customer.email is None
    assert event.evidence is None and expected["evidence_urls"] == []


def test_bot_agent_and_note_messages_and_bad_shapes() -> None:
    bot = CASE.parse_one(envelope("new_message", {"id": 1, "conversationId": 2, "body": "Hi 👋",
                                                  "author": {"id": 9, "type": "user", "bot": True}}))
    note = CASE.parse_one(envelope("new_message", {"id": 3, "conversationId": 2, "body": "check",
                                                   "type": "private_note", "author": {"type": "user"}}))
    assert bot.conversation.messages[0].role == "bot" and bot.customer is None
    assert note.conversation.messages[0].role == "system"
    with pytest.raises(UnsupportedEvent):
        CASE.parse(envelope("button_action", {}))
    with pytest.raises(MalformedPayload):
        CASE.parse(b'{"data": {}}')
    with pytest.raises(InvalidPayload):
        CASE.parse(envelope("new_message", {"id": 1, "body": "no conversation"}))


def test_verification_token_with_rotation_and_forgeries() -> None:
    CASE.verify(NAME, secrets=[TOKEN])
    CASE.verify(BODY, {}, ["old-token", TOKEN])  # the body's copy alone
    for body, hdrs in ((BODY, headers("forged")), (envelope("new_message", {}, "forged"), {}),
                       (envelope("new_message", {}, ""), {}), (b"not json", {})):
        with pytest.raises(Unauthorized):
            CASE.verify(body, hdrs, [TOKEN])


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
    event = CASE.parse_one(BODY)
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
    _, client = CASE.app(settings, ("next-drift-verification-token", TOKEN))
    first = CASE.post_as_recorded(client, NAME)
    assert first.status_code == 202
    again = CASE.post_as_recorded(client, NAME)
    assert again.status_code == 200 and again.get_json()["event"] == first.get_json()["event"]
    assert CASE.post(client, BODY, "forged").status_code == 401
    assert CASE.post(client, envelope("button_action", {})).status_code == 200
    assert CASE.post(client, envelope("new_message", {"id": 5})).status_code == 422


def test_handoff_reaches_the_dry_run_ticket_with_the_fetched_transcript(settings: Settings) -> None:
    with Stub(stub_routes(3)) as stub:
        rt, client = CASE.app(settings, DRIFT_API_URL=stub.url, DRIFT_API_TOKEN="tok")
        assert CASE.post_as_recorded(client, NAME).status_code == 202
        added = envelope("conversation_participant_added", {"conversationId": int(CONVERSATION),
                                                            "addedParticipants": [555]})
        CASE.check_webhook(client, added)
        run_due(rt)
    rendered = json.dumps(ticket(rt, case_id_for(SLUG, CONVERSATION)), ensure_ascii=False)
    assert "turn 0" in rendered and "Please refund the duplicate." in rendered


# --- Checked against the sources named in bridge/adapters/drift.py (issue 21) ----------------------

def test_message_types_from_the_message_model() -> None:
    # chat and private_note (current model); private_prompt, suggestion and edit (v1.3 model).
    def turn(type_: str, **extra: Any) -> list[Any]:
        data = {"id": 11, "conversationId": 2, "body": "text", "type": type_, "createdAt": 1741970440005,
                "author": {"id": 9, "type": "user", "bot": False}, **extra}
        return CASE.parse_one(envelope("new_message", data)).conversation.messages

    assert [(m.role, m.text) for m in turn("chat")] == [("agent", "text")]
    assert turn("chat")[0].sent_at is not None and turn("chat")[0].sent_at.year == 2025  # createdAt in ms
    for hidden in ("private_note", "private_prompt", "suggestion"):
        assert [(m.role, m.text) for m in turn(hidden)] == [("system", f"({hidden.replace('_', ' ')}) text")]
    assert turn("edit", editedMessageId=10, editType="replace_body") == []


def test_the_fetch_reads_pagination_beside_or_inside_data(settings: Settings) -> None:
    event = CASE.parse_one(BODY)
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

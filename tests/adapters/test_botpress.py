"""Botpress HITL API: fixtures → canonical events or id answers, basic/token auth, the handoff end to end."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bridge.adapters import botpress
from bridge.adapters.base import Handshake, InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.config import Settings
from bridge.worker.runner import run_due
from tests.adapters.support import ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "botpress"
SECRET = "botpress:bp-secret-91f3"
USED = {"create-remote-user", "create-remote-conversation"}


def basic_auth(body: bytes, credentials: str) -> Credentials:
    encoded = base64.b64encode(credentials.encode()).decode()
    return {"Authorization": f"Basic {encoded}"}, {}


CASE = WebhookCase(SLUG, SECRET, basic_auth)
ADAPTER = CASE.adapter


def basic(credentials: str = SECRET) -> dict[str, str]:
    return basic_auth(b"", credentials)[0]


def message(conversation: str, user: str, text: str) -> dict[str, Any]:
    return {"type": "botSendsMessage", "remoteConversationId": conversation, "remoteUserId": user,
            "payload": {"type": "text", "text": text}}


def user_id() -> str:
    with pytest.raises(Handshake) as answer:
        CASE.parse("create-remote-user")
    return str(answer.value.body["id"])


def test_every_fixture_is_used_and_every_declared_event_is_covered() -> None:
    assert CASE.fixture_names() == USED
    assert {"createRemoteConversation", "botSendsMessage", "createRemoteUser",
                                         "closeRemoteTicket", "ping"} == botpress.SUPPORTED_EVENTS
    with pytest.raises(Handshake) as ping:
        CASE.parse(b'{"type": "ping"}')
    assert ping.value.status == 200
    with pytest.raises(UnsupportedEvent):
        CASE.parse(b'{"type": "closeRemoteTicket", "payload": {"botpressConversationId": "x"}}')
    update = CASE.parse_one(message("bp-1", "BOT", "hello"))
    assert update.type == "conversation.updated" and update.conversation.messages[0].role == "bot"


def test_create_remote_user_answers_an_id_that_carries_the_identity() -> None:
    expected = CASE.meta("create-remote-user")["expected"]
    assert expected["is_handoff"] is False
    remote = user_id()
    customer = botpress.customer_for(remote)
    assert customer is not None
    assert (customer["email"], customer["name"]) == (expected["customer"]["email"], expected["customer"]["name"])
    assert botpress.user_id_for({"role": "end-user"}).startswith("bpu_h")  # no identity: a stable hash


def test_create_remote_conversation_is_the_handoff() -> None:
    body, meta = CASE.load("create-remote-conversation")
    expected = meta["expected"]
    event = CASE.parse_one("create-remote-conversation", now=1_741_970_000)
    assert (event.type == "handoff.requested") is expected["is_handoff"]
    assert event.handoff is not None and event.handoff.topic == expected["title"]
    assert event.handoff.requested_by == "customer"  # "customer wants a person"
    assert event.customer is None and expected["customer"]["email"] is None
    # No transcript arrives (turns in payload: 0); the bot's own note is kept as one bot line.
    assert expected["transcript_turns_in_payload"] == 0 and event.conversation.partial is True
    assert [m.role for m in event.conversation.messages] == ["bot"]
    later = CASE.parse_one(body, now=1_741_970_001)
    assert later.conversation.id != event.conversation.id  # a fixed title never merges two handoffs
    body_out, status = ADAPTER.respond([{"event": "k", "case": "c-1"}], events=[event]) or ({}, 0)
    assert status == 200 and body_out["id"] == event.conversation.id


def test_messages_carry_the_customer_decoded_from_the_remote_user_id() -> None:
    event = CASE.parse_one(message("bp-1", user_id(), "¿sigue ahí? 🙂"))
    assert event.customer is not None and event.customer.email == "priya.raman@example.com"
    assert event.conversation.messages[0].role == "customer"
    image = message("bp-1", "BOT", "")
    image["payload"] = {"type": "image", "imageUrl": "https://cdn.example.com/s.png"}
    event = CASE.parse_one(image)
    assert event.evidence is not None and event.evidence.screenshots[0].url == "https://cdn.example.com/s.png"


def test_bad_shapes() -> None:
    with pytest.raises(MalformedPayload):
        CASE.parse(b'{"payload": {}}')
    with pytest.raises(InvalidPayload):
        CASE.parse(b'{"type": "botSendsMessage", "payload": {}}')
    with pytest.raises(UnsupportedEvent):
        CASE.parse(b'{"type": "somethingNew"}')


def test_basic_or_token_auth_with_rotation() -> None:
    body = CASE.body("create-remote-conversation")
    CASE.verify(body, basic(), [SECRET])
    CASE.verify(body, query={"token": "tok-2"}, secrets=["tok-1", "tok-2"])
    for headers, query in (({}, {}), (basic("botpress:forged"), {}), ({}, {"token": "forged"})):
        with pytest.raises(Unauthorized):
            CASE.verify(body, headers, [SECRET, "tok-1"], query=query)


def test_http(settings: Settings) -> None:
    _, client = CASE.app(settings)
    answer = CASE.post(client, "create-remote-user", headers=CASE.headers("create-remote-user"))
    assert answer.status_code == 200 and answer.get_json()["id"].startswith("bpu_")
    assert CASE.post_as_recorded(client, "create-remote-user").status_code == 401
    assert CASE.post(client, b"[]").status_code == 400
    closing = b'{"type": "closeRemoteTicket", "payload": {"botpressConversationId": "x"}}'
    assert CASE.post(client, closing).status_code == 200
    update = message("bp-1", "BOT", "hi")
    first = CASE.post(client, update)
    again = CASE.post(client, update)
    assert first.status_code in (200, 202) and again.status_code == 200


def test_handoff_reaches_the_dry_run_ticket(settings: Settings) -> None:
    rt, client = CASE.app(settings)
    response = CASE.post(client, "create-remote-conversation", headers=CASE.headers("create-remote-conversation"))
    assert response.status_code in (200, 202)
    case_id = response.get_json()["case"]
    run_due(rt)
    rendered = json.dumps(ticket(rt, case_id), ensure_ascii=False)
    assert "CSV export stuck" in rendered and "Customer asked for a human." in rendered

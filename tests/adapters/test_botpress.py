"""Botpress HITL API: fixtures → canonical events or id answers, basic/token auth, the handoff end to end."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bridge.adapters import botpress
from bridge.adapters.base import Handshake, InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.adapters.botpress import BotpressAdapter
from bridge.config import Settings
from bridge.worker.runner import run_due
from tests.adapters.support import app_for, fixture_names, headers_of, inbound, load, ticket

SLUG = "botpress"
ADAPTER = BotpressAdapter()
SECRET = "botpress:bp-secret-91f3"
USED = {"create-remote-user", "create-remote-conversation"}


def basic(credentials: str = SECRET) -> dict[str, str]:
    encoded = base64.b64encode(credentials.encode()).decode()
    return {"Content-Type": "application/json", "Authorization": f"Basic {encoded}"}


def message(conversation: str, user: str, text: str) -> dict[str, Any]:
    return {"type": "botSendsMessage", "remoteConversationId": conversation, "remoteUserId": user,
            "payload": {"type": "text", "text": text}}


def user_id() -> str:
    body, meta = load(SLUG, "create-remote-user")
    with pytest.raises(Handshake) as answer:
        ADAPTER.parse(inbound(body, headers_of(meta)))
    return str(answer.value.body["id"])


def test_every_fixture_is_used_and_every_declared_event_is_covered() -> None:
    assert fixture_names(SLUG) == USED
    assert {"createRemoteConversation", "botSendsMessage", "createRemoteUser",
                                         "closeRemoteTicket", "ping"} == botpress.SUPPORTED_EVENTS
    with pytest.raises(Handshake) as ping:
        ADAPTER.parse(inbound(b'{"type": "ping"}'))
    assert ping.value.status == 200
    with pytest.raises(UnsupportedEvent):
        ADAPTER.parse(inbound(b'{"type": "closeRemoteTicket", "payload": {"botpressConversationId": "x"}}'))
    update = ADAPTER.parse(inbound(json.dumps(message("bp-1", "BOT", "hello")).encode()))[0]
    assert update.type == "conversation.updated" and update.conversation.messages[0].role == "bot"


def test_create_remote_user_answers_an_id_that_carries_the_identity() -> None:
    _, meta = load(SLUG, "create-remote-user")
    expected = meta["expected"]
    assert expected["is_handoff"] is False
    remote = user_id()
    customer = botpress.customer_for(remote)
    assert customer is not None
    assert (customer["email"], customer["name"]) == (expected["customer"]["email"], expected["customer"]["name"])
    assert botpress.user_id_for({"role": "end-user"}).startswith("bpu_h")  # no identity: a stable hash


def test_create_remote_conversation_is_the_handoff() -> None:
    body, meta = load(SLUG, "create-remote-conversation")
    expected = meta["expected"]
    event = ADAPTER.parse(inbound(body, headers_of(meta), now=1_741_970_000))[0]
    assert (event.type == "handoff.requested") is expected["is_handoff"]
    assert event.handoff is not None and event.handoff.topic == expected["title"]
    assert event.handoff.requested_by == "customer"  # "customer wants a person"
    assert event.customer is None and expected["customer"]["email"] is None
    # No transcript arrives (turns in payload: 0); the bot's own note is kept as one bot line.
    assert expected["transcript_turns_in_payload"] == 0 and event.conversation.partial is True
    assert [m.role for m in event.conversation.messages] == ["bot"]
    later = ADAPTER.parse(inbound(body, now=1_741_970_001))[0]
    assert later.conversation.id != event.conversation.id  # a fixed title never merges two handoffs
    body_out, status = ADAPTER.respond([{"event": "k", "case": "c-1"}], events=[event]) or ({}, 0)
    assert status == 200 and body_out["id"] == event.conversation.id


def test_messages_carry_the_customer_decoded_from_the_remote_user_id() -> None:
    event = ADAPTER.parse(inbound(json.dumps(message("bp-1", user_id(), "¿sigue ahí? 🙂")).encode()))[0]
    assert event.customer is not None and event.customer.email == "priya.raman@example.com"
    assert event.conversation.messages[0].role == "customer"
    image = message("bp-1", "BOT", "")
    image["payload"] = {"type": "image", "imageUrl": "https://cdn.example.com/s.png"}
    event = ADAPTER.parse(inbound(json.dumps(image).encode()))[0]
    assert event.evidence is not None and event.evidence.screenshots[0].url == "https://cdn.example.com/s.png"


def test_bad_shapes() -> None:
    with pytest.raises(MalformedPayload):
        ADAPTER.parse(inbound(b'{"payload": {}}'))
    with pytest.raises(InvalidPayload):
        ADAPTER.parse(inbound(b'{"type": "botSendsMessage", "payload": {}}'))
    with pytest.raises(UnsupportedEvent):
        ADAPTER.parse(inbound(b'{"type": "somethingNew"}'))


def test_basic_or_token_auth_with_rotation() -> None:
    body, _ = load(SLUG, "create-remote-conversation")
    ADAPTER.verify(inbound(body, basic()), [SECRET], 300)
    ADAPTER.verify(inbound(body, query={"token": "tok-2"}), ["tok-1", "tok-2"], 300)
    for headers, query in (({}, {}), (basic("botpress:forged"), {}), ({}, {"token": "forged"})):
        with pytest.raises(Unauthorized):
            ADAPTER.verify(inbound(body, headers, query=query), [SECRET, "tok-1"], 300)


def test_http(settings: Settings) -> None:
    _, client = app_for(settings, SLUG, (SECRET,))
    body, meta = load(SLUG, "create-remote-user")
    answer = client.post("/webhooks/botpress", data=body, headers={**headers_of(meta), **basic()})
    assert answer.status_code == 200 and answer.get_json()["id"].startswith("bpu_")
    assert client.post("/webhooks/botpress", data=body, headers=headers_of(meta)).status_code == 401
    assert client.post("/webhooks/botpress", data=b"[]", headers=basic()).status_code == 400
    closing = b'{"type": "closeRemoteTicket", "payload": {"botpressConversationId": "x"}}'
    assert client.post("/webhooks/botpress", data=closing, headers=basic()).status_code == 200
    update = json.dumps(message("bp-1", "BOT", "hi")).encode()
    first = client.post("/webhooks/botpress", data=update, headers=basic())
    again = client.post("/webhooks/botpress", data=update, headers=basic())
    assert first.status_code in (200, 202) and again.status_code == 200


def test_handoff_reaches_the_dry_run_ticket(settings: Settings) -> None:
    rt, client = app_for(settings, SLUG, (SECRET,))
    body, meta = load(SLUG, "create-remote-conversation")
    response = client.post("/webhooks/botpress", data=body, headers={**headers_of(meta), **basic()})
    assert response.status_code in (200, 202)
    case_id = response.get_json()["case"]
    run_due(rt)
    rendered = json.dumps(ticket(rt, case_id), ensure_ascii=False)
    assert "CSV export stuck" in rendered and "Customer asked for a human." in rendered

"""Rasa: action server calls → canonical events with the inline transcript, token auth, pause + receipt."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bridge.adapters import rasa
from bridge.adapters.base import MalformedPayload, Unauthorized
from bridge.adapters.rasa import RasaAdapter
from bridge.config import Settings
from bridge.events import Event
from bridge.intake import case_id_for
from bridge.runner import run_due
from tests.adapters.support import app_for, fixture_names, headers_of, inbound, load, ticket

SLUG = "rasa"
ADAPTER = RasaAdapter()
TOKEN = "rasa_test_token_18aa2c"
USED = {"action-handoff-billing", "action-handoff-low-confidence"}


def parse(name: str) -> tuple[Event, dict[str, Any]]:
    body, meta = load(SLUG, name)
    return ADAPTER.parse(inbound(body, headers_of(meta), query=meta["transport"]["query"]))[0], meta


def test_every_fixture_is_used_and_every_declared_event_is_covered() -> None:
    assert fixture_names(SLUG) == USED
    assert {"action_call"} == rasa.SUPPORTED_EVENTS


@pytest.mark.parametrize("name", sorted(USED))
def test_fixture_facts(name: str) -> None:
    event, meta = parse(name)
    expected = meta["expected"]
    assert (event.type == "handoff.requested") is expected["is_handoff"]
    assert event.conversation.id == expected["conversation_id"] and event.conversation.partial is False
    messages = event.conversation.messages
    assert len(messages) == expected["transcript_turns"]
    assert sum(m.role == "customer" for m in messages) == expected["customer_turns"]
    assert [m.sent_at for m in messages] == sorted(m.sent_at for m in messages if m.sent_at)
    assert messages[-1].role == "customer" and messages[-1].confidence == expected["confidence"]
    assert event.customer is not None and event.customer.email == expected["customer"]["email"]
    assert event.customer.account is not None and event.customer.account.id == expected["customer"]["account_id"]
    assert event.handoff is not None and event.handoff.requested_by == "bot"
    assert event.evidence is None and expected["evidence_urls"] == []


def test_fallback_keeps_the_real_best_intent() -> None:
    event, meta = parse("action-handoff-low-confidence")
    assert event.customer is not None
    assert event.customer.attributes["best_real_intent"] == meta["expected"]["best_real_intent"]
    assert event.handoff is not None and "fallback" in (event.handoff.reason or "")
    assert "sentiment" not in event.customer.attributes and meta["expected"]["sentiment"] is None


def test_billing_facts_come_from_the_slots() -> None:
    event, meta = parse("action-handoff-billing")
    billing = meta["expected"]["billing"]
    assert event.customer is not None
    slots = event.customer.attributes["slots"]
    assert (slots["refund_amount"], slots["currency"]) == (billing["amount"], billing["currency"])
    assert slots["duplicate_invoice_ids"] == billing["invoice_ids"] and slots["deadline"] == billing["deadline"]
    assert "requested_slot" not in slots  # None slots are dropped


def test_other_actions_update_the_conversation_and_answer_nothing_to_say() -> None:
    body, _ = load(SLUG, "action-handoff-billing")
    data = json.loads(body)
    data["next_action"] = "action_lookup_payments"
    event = ADAPTER.parse(inbound(json.dumps(data).encode()))[0]
    assert event.type == "conversation.updated" and event.handoff is None
    assert ADAPTER.respond([], events=[event]) == ({"events": [], "responses": []}, 200)


def test_trackers_without_events_and_long_unicode_transcripts() -> None:
    bare = {"next_action": "action_handoff_to_human", "sender_id": "s-ü",
            "tracker": {"latest_message": {"text": "¿Puedo hablar con una persona?", "metadata": {"language": "es"}}}}
    event = ADAPTER.parse(inbound(json.dumps(bare).encode()))[0]
    assert [m.text for m in event.conversation.messages] == ["¿Puedo hablar con una persona?"]
    assert event.conversation.language == "es"
    body, status = ADAPTER.respond([], events=[event]) or ({}, 0)
    assert "especialista" in body["responses"][0]["text"]
    many = [{"event": "user", "text": f"mensaje {i} 😊", "timestamp": 1_700_000_000 + i} for i in range(6000)]
    long = {**bare, "tracker": {"events": many, "slots": None}}
    event = ADAPTER.parse(inbound(json.dumps(long).encode()))[0]
    assert len(event.conversation.messages) == 5000 and event.conversation.messages[-1].text == "mensaje 5999 😊"


@pytest.mark.parametrize("body", [b"[]", b"{}", b'{"tracker": {}}', b'{"tracker": 1, "sender_id": "x"}'])
def test_not_an_action_call_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        ADAPTER.parse(inbound(body))


def test_token_and_basic_auth_with_rotation() -> None:
    body, _ = load(SLUG, "action-handoff-billing")
    ADAPTER.verify(inbound(body, query={"token": TOKEN}), [TOKEN], 300)
    ADAPTER.verify(inbound(body, query={"token": TOKEN}), ["new-token", TOKEN], 300)
    basic = {"Authorization": "Basic " + base64.b64encode(b"rasa:pw").decode()}
    ADAPTER.verify(inbound(body, basic), ["rasa:pw"], 300)
    for query, headers in (({}, {}), ({"token": "forged"}, {}), ({}, {"Authorization": "Basic rasa:pw"})):
        with pytest.raises(Unauthorized):
            ADAPTER.verify(inbound(body, headers, query=query), [TOKEN, "rasa:pw"], 300)


def test_http_pauses_the_bot_with_a_receipt_and_repeats_on_a_retry(settings: Settings) -> None:
    _, client = app_for(settings, SLUG, (TOKEN,))
    body, meta = load(SLUG, "action-handoff-low-confidence")
    first = client.post(f"/webhooks/rasa?token={TOKEN}", data=body, headers=headers_of(meta))
    assert first.status_code == 200
    answer = first.get_json()
    assert answer["events"] == [{"event": "pause"}] and "specialist" in answer["responses"][0]["text"]
    again = client.post(f"/webhooks/rasa?token={TOKEN}", data=body, headers=headers_of(meta))
    assert again.status_code == 200 and again.get_json() == answer


def test_http_rejections(settings: Settings) -> None:
    _, client = app_for(settings, SLUG, (TOKEN,))
    body, meta = load(SLUG, "action-handoff-billing")
    assert client.post("/webhooks/rasa?token=forged", data=body, headers=headers_of(meta)).status_code == 401
    assert client.post("/webhooks/rasa", data=body, headers=headers_of(meta)).status_code == 401
    assert client.post(f"/webhooks/rasa?token={TOKEN}", data=b"[1]", headers=headers_of(meta)).status_code == 400


def test_handoff_reaches_the_dry_run_ticket_with_the_whole_transcript(settings: Settings) -> None:
    rt, client = app_for(settings, SLUG, (TOKEN,))
    body, meta = load(SLUG, "action-handoff-billing")
    assert client.post(f"/webhooks/rasa?token={TOKEN}", data=body, headers=headers_of(meta)).status_code == 200
    run_due(rt)
    rendered = json.dumps(ticket(rt, case_id_for(SLUG, meta["expected"]["conversation_id"])), ensure_ascii=False)
    assert "charged twice for my March renewal" in rendered and "before my card statement closes" in rendered

"""Rasa: action server calls → canonical events with the inline transcript, token auth, pause + receipt."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bridge.adapters import rasa
from bridge.adapters.base import MalformedPayload, Unauthorized
from bridge.config import Settings
from bridge.events import Event
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "rasa"
TOKEN = "rasa_test_token_18aa2c"
USED = {"action-handoff-billing", "action-handoff-low-confidence"}


def token_query(body: bytes, token: str) -> Credentials:
    # The action endpoint URL configured in Rasa carries the token (?token=), as the fixtures record.
    return {}, {"token": token}


CASE = WebhookCase(SLUG, TOKEN, token_query)
ADAPTER = CASE.adapter


def parse(name: str) -> tuple[Event, dict[str, Any]]:
    [event], meta = CASE.parse_fixture(name)  # with the recorded ?token= query
    return event, meta


def test_every_fixture_is_used_and_every_declared_event_is_covered() -> None:
    assert CASE.fixture_names() == USED
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
    # The handoff action ran instead of a bot answer: the last turn's confidence stays on it.
    assert messages[-1].role == "customer" and messages[-1].confidence == expected["confidence"]
    assert all(m.sentiment is None for m in messages)  # Rasa sends none
    assert event.customer is not None and event.customer.email == expected["customer"]["email"]
    assert event.customer.account is not None and event.customer.account.id == expected["customer"]["account_id"]
    assert event.handoff is not None and event.handoff.requested_by == "bot"
    assert event.evidence is None and expected["evidence_urls"] == []


def _nlu(item: dict[str, Any]) -> float:
    return item["parse_data"]["intent"]["confidence"]


@pytest.mark.parametrize("name", sorted(USED))
def test_each_user_turns_confidence_goes_on_the_bot_text_that_answers_it(name: str) -> None:
    event, _ = parse(name)
    turns = [e for e in CASE.data(name)["tracker"]["events"] if e["event"] in ("user", "bot")]
    expected, asked = [], None
    for index, item in enumerate(turns):
        if item["event"] == "user":
            asked = _nlu(item)
            answered = index + 1 < len(turns) and turns[index + 1]["event"] == "bot"
            expected.append(None if answered else asked)
        else:
            expected.append(asked)
    assert [m.confidence for m in event.conversation.messages] == expected
    assert None in expected and any(c is not None for c in expected)  # both kinds occur in the fixtures


def low_confidence_tracker(confidence: float) -> dict[str, Any]:
    """The locked-out conversation, in English, with the NLU confidence of the turns set to ``confidence``."""
    data = CASE.data("action-handoff-low-confidence")
    users = [e for e in data["tracker"]["events"] if e["event"] == "user"]
    users[0]["parse_data"]["intent"]["confidence"] = confidence  # answered by the bot
    users[-1]["parse_data"]["intent"] = {"name": "complain", "confidence": confidence}  # ran the handoff
    data["tracker"]["latest_message"]["intent"] = {"name": "complain", "confidence": confidence}
    return data


def test_an_english_turn_at_0_12_carries_it_on_the_answer_or_on_the_unanswered_turn() -> None:
    event = CASE.parse_one(low_confidence_tracker(0.12))
    first, answer = event.conversation.messages[0], event.conversation.messages[1]
    last = event.conversation.messages[-1]
    assert first.role == "customer" and first.confidence is None
    assert answer.role == "bot" and answer.confidence == 0.12 and answer.text.startswith("I can help you sign in")
    assert last.role == "customer" and last.confidence == 0.12 and last.intent == "complain"
    assert all(m.sentiment is None for m in event.conversation.messages)


def test_a_user_event_without_parse_data_takes_latest_message_when_it_is_that_message() -> None:
    data = low_confidence_tracker(0.12)
    users = [e for e in data["tracker"]["events"] if e["event"] == "user"]
    del users[-1]["parse_data"], users[0]["parse_data"]
    data["tracker"]["latest_message"]["intent"] = {"name": "complain", "confidence": 0.08}
    messages = CASE.parse_one(data).conversation.messages
    assert messages[-1].confidence == 0.08 and messages[-1].intent == "complain"
    assert messages[0].intent is None and messages[1].confidence is None  # not the latest: nothing to read


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
    data = CASE.data("action-handoff-billing")
    data["next_action"] = "action_lookup_payments"
    event = CASE.parse_one(data)
    assert event.type == "conversation.updated" and event.handoff is None
    assert ADAPTER.respond([], events=[event]) == ({"events": [], "responses": []}, 200)


def test_trackers_without_events_and_long_unicode_transcripts() -> None:
    bare = {"next_action": "action_handoff_to_human", "sender_id": "s-ü",
            "tracker": {"latest_message": {"text": "¿Puedo hablar con una persona?", "metadata": {"language": "es"}}}}
    event = CASE.parse_one(bare)
    assert [m.text for m in event.conversation.messages] == ["¿Puedo hablar con una persona?"]
    assert event.conversation.language == "es"
    body, status = ADAPTER.respond([], events=[event]) or ({}, 0)
    assert "especialista" in body["responses"][0]["text"]
    many = [{"event": "user", "text": f"mensaje {i} 😊", "timestamp": 1_700_000_000 + i} for i in range(6000)]
    long = {**bare, "tracker": {"events": many, "slots": None}}
    event = CASE.parse_one(long)
    assert len(event.conversation.messages) == 5000 and event.conversation.messages[-1].text == "mensaje 5999 😊"


@pytest.mark.parametrize("body", [b"[]", b"{}", b'{"tracker": {}}', b'{"tracker": 1, "sender_id": "x"}'])
def test_not_an_action_call_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        CASE.parse(body)


def test_token_and_basic_auth_with_rotation() -> None:
    body = CASE.body("action-handoff-billing")
    CASE.verify(body, {}, [TOKEN], query={"token": TOKEN})
    CASE.verify(body, {}, ["new-token", TOKEN], query={"token": TOKEN})
    basic = {"Authorization": "Basic " + base64.b64encode(b"rasa:pw").decode()}
    CASE.verify(body, basic, ["rasa:pw"])
    for query, headers in (({}, {}), ({"token": "forged"}, {}), ({}, {"Authorization": "Basic rasa:pw"})):
        with pytest.raises(Unauthorized):
            CASE.verify(body, headers, [TOKEN, "rasa:pw"], query=query)


def test_http_pauses_the_bot_with_a_receipt_and_repeats_on_a_retry(settings: Settings) -> None:
    _, client = CASE.app(settings)
    first = CASE.check_webhook(client, "action-handoff-low-confidence", 200)
    answer = first.get_json()
    assert answer["events"] == [{"event": "pause"}] and "specialist" in answer["responses"][0]["text"]
    again = CASE.post(client, "action-handoff-low-confidence")
    assert again.status_code == 200 and again.get_json() == answer


def test_http_rejections(settings: Settings) -> None:
    _, client = CASE.app(settings)
    body = CASE.body("action-handoff-billing")
    assert CASE.post(client, body, "forged").status_code == 401
    assert client.post(CASE.url, data=body, headers={"Content-Type": "application/json"}).status_code == 401
    assert CASE.post(client, b"[1]").status_code == 400


def test_handoff_reaches_the_dry_run_ticket_with_the_whole_transcript(settings: Settings) -> None:
    rt, client = CASE.app(settings)
    meta = CASE.meta("action-handoff-billing")
    CASE.check_webhook(client, "action-handoff-billing", 200)
    run_due(rt)
    rendered = json.dumps(ticket(rt, case_id_for(SLUG, meta["expected"]["conversation_id"])), ensure_ascii=False)
    assert "charged twice for my March renewal" in rendered and "before my card statement closes" in rendered


def test_rich_bot_answers_are_turns_and_slots_under_other_names_are_identity() -> None:
    data = CASE.data("action-handoff-billing")
    tracker = data["tracker"]
    tracker["slots"] = {"contact_email": "li.wei@example.com", "full_name": "Li Wei"}
    before = len(rasa.parse_action_call(data, b"").conversation.messages)
    tracker["events"] += [
        {"event": "bot", "timestamp": 1741970499.0, "text": None,
         "data": {"buttons": [{"title": "Refund", "payload": "/refund"}, {"title": "Talk to someone"}]}},
        {"event": "bot", "timestamp": 1741970499.5, "text": None,
         "data": {"image": "https://cdn.example.com/invoice-INV-1.png"}},
    ]
    event = rasa.parse_action_call(data, b"")
    messages = event.conversation.messages
    assert len(messages) == before + 2
    assert messages[-2].role == "bot" and messages[-2].text == "Refund Talk to someone"
    assert messages[-1].attachments[0].url == "https://cdn.example.com/invoice-INV-1.png"
    assert event.customer.email == "li.wei@example.com" and event.customer.name == "Li Wei"

"""Amazon Lex V2: forwarded code hook events → canonical events, shim token auth, Lex V2 responses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.adapters import amazon_lex_v2
from bridge.adapters.base import MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.config import Settings
from bridge.events import Decision, Event, TriggerHit
from bridge.pipeline.priority import prioritize
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "amazon-lex-v2"
SECRET = "lex-shim-token-5d1c"
NAME = "fallback-negative-sentiment"


def bearer(body: bytes, secret: str) -> Credentials:
    # The Lambda shim in front of the bridge presents the token as a bearer token.
    return {"Authorization": f"Bearer {secret}"}, {}


CASE = WebhookCase(SLUG, SECRET, bearer)
ADAPTER = CASE.adapter


def request(**changes: Any) -> dict[str, Any]:
    return {**CASE.data(NAME), **changes}


def parse(data: dict[str, Any]) -> Event:
    return CASE.parse_one(data)


def auth(secret: str = SECRET) -> dict[str, str]:
    return bearer(b"", secret)[0]


def test_every_fixture_is_used_and_every_declared_event_is_covered() -> None:
    assert CASE.fixture_names() == {NAME}
    assert {"DialogCodeHook", "FulfillmentCodeHook"} == amazon_lex_v2.SUPPORTED_EVENTS
    assert parse(request(invocationSource="DialogCodeHook")).type == "handoff.requested"


def test_fixture_facts() -> None:
    [event], meta = CASE.parse_fixture(NAME)
    expected = meta["expected"]
    assert (event.type == "handoff.requested") is expected["is_handoff"]
    assert event.conversation.id == expected["session_id"] and event.conversation.partial is True
    assert len(event.conversation.messages) == expected["transcript_turns_in_payload"]
    turn = event.conversation.messages[0]
    # No bot text in a code hook event: the match confidence stays on the customer's words.
    assert turn.role == "customer" and turn.confidence == expected["confidence"]["value"]
    assert turn.sentiment == -0.914  # positive 0.007 - negative 0.921
    assert turn.intent == "ResendVerificationCode"
    assert event.customer is not None and event.customer.email == expected["customer"]["email"]
    sentiment = event.customer.attributes["sentiment"]
    assert sentiment["label"] == expected["sentiment"]["label"]
    assert sentiment["scores"]["negative"] == expected["sentiment"]["negative_score"]
    assert event.conversation.language == "en-US" and event.customer.locale == "en-US"
    assert event.handoff is not None and event.handoff.requested_by == "bot"
    assert event.evidence is None and expected["evidence_urls"] == []


def test_runtime_shaped_confidence_and_a_missing_sentiment_block() -> None:
    data = request()
    data["interpretations"][1]["nluConfidence"] = {"score": 0.41}
    del data["interpretations"][1]["sentimentResponse"]
    event = parse(data)
    assert event.conversation.messages[0].confidence == 0.41 and event.conversation.messages[0].sentiment is None
    assert event.customer is not None and "sentiment" not in event.customer.attributes


def low_and_angry() -> dict[str, Any]:
    """The locked-out customer's English turn at NLU confidence 0.12 and sentiment -0.9."""
    data = request()
    data["interpretations"][1]["nluConfidence"] = 0.12
    data["interpretations"][1]["sentimentResponse"] = {
        "sentiment": "NEGATIVE", "sentimentScore": {"positive": 0.02, "negative": 0.92, "neutral": 0.05, "mixed": 0.01}}
    return data


def test_platform_confidence_and_sentiment_land_on_the_customer_turn() -> None:
    event = parse(low_and_angry())
    [turn] = event.conversation.messages
    assert event.conversation.language == "en-US"
    assert turn.role == "customer" and turn.confidence == 0.12 and turn.sentiment == -0.9
    assert turn.intent == "ResendVerificationCode"


@pytest.mark.parametrize(("scores", "expected"), [
    ({"positive": 0.97, "negative": 0.01, "neutral": 0.02, "mixed": 0.0}, 0.96),
    ({"positive": 0.1, "negative": 0.1, "neutral": 0.0, "mixed": 0.8}, 0.0),
    ({"negative": 0.9}, None),  # a score missing: no number rather than a guess
    ({}, None),
])
def test_sentiment_is_positive_minus_negative(scores: dict[str, float], expected: float | None) -> None:
    data = request()
    data["interpretations"][1]["sentimentResponse"] = {"sentiment": "MIXED", "sentimentScore": scores}
    assert parse(data).conversation.messages[0].sentiment == expected


def test_the_platform_sentiment_raises_the_package_priority_and_is_named() -> None:
    decision = Decision(escalate=True, at_message=1, triggers=[
        TriggerHit(trigger="low_confidence", message_index=1, evidence="confidence 0.12 < 0.50", score=0.12)])
    assert prioritize(parse(low_and_angry()), decision) == (
        "high", "high: Amazon Lex V2 sentiment −0.9 at message 1 (high)")


def test_an_ordinary_intent_only_updates_and_lex_carries_on() -> None:
    data = request()
    data["sessionState"]["intent"] = {"name": "CheckBalance", "state": "InProgress", "slots": {}}
    event = parse(data)
    assert event.type == "conversation.updated" and event.handoff is None
    body, _ = ADAPTER.respond([], events=[event], inbound=CASE.inbound(data)) or ({}, 0)
    assert body["sessionState"]["dialogAction"] == {"type": "Delegate"}
    assert body["sessionState"]["intent"]["name"] == "CheckBalance" and "messages" not in body


def test_a_handoff_intent_or_attribute_is_the_customer_asking() -> None:
    data = request()
    data["sessionState"]["intent"] = {"name": "SpeakToAgent", "state": "ReadyForFulfillment"}
    assert parse(data).handoff.requested_by == "customer"  # type: ignore[union-attr]
    data["sessionState"]["intent"] = {"name": "CheckBalance"}
    data["sessionState"]["sessionAttributes"]["handoff"] = "true"
    assert parse(data).type == "handoff.requested"


def test_the_response_closes_the_intent_with_the_receipt_and_keeps_the_session() -> None:
    data = request(bot={**request()["bot"], "localeId": "fr_FR"})
    event = parse(data)
    body, status = ADAPTER.respond([{"event": "k", "case": "c-9"}], events=[event], inbound=CASE.inbound(data)) \
        or ({}, 0)
    state = body["sessionState"]
    assert status == 200 and state["dialogAction"] == {"type": "Close"}
    assert state["intent"]["name"] == "FallbackIntent" and state["intent"]["state"] == "Fulfilled"
    assert state["sessionAttributes"]["customerEmail"] == "tomas.ortega@example.com"
    assert state["sessionAttributes"]["bridgeCase"] == "c-9"
    assert body["messages"][0]["contentType"] == "PlainText" and "spécialiste" in body["messages"][0]["content"]


def test_unknown_invocation_sources_are_acknowledged_and_non_lex_bodies_rejected() -> None:
    with pytest.raises(UnsupportedEvent):
        parse(request(invocationSource="TranscriptionHook"))
    for body in (b"[]", b'{"sessionId": "x"}', json.dumps({"invocationSource": "DialogCodeHook"}).encode()):
        with pytest.raises(MalformedPayload):
            CASE.parse(body)


def test_shim_token_auth_with_rotation() -> None:
    CASE.verify(NAME, auth(), [SECRET])
    CASE.verify(NAME, {"X-Bridge-Token": SECRET}, ["older", SECRET])
    for headers in ({}, auth("forged"), {"Authorization": "Basic " + SECRET}):
        with pytest.raises(Unauthorized):
            CASE.verify(NAME, headers, [SECRET])


def test_http_answers_a_lex_response_and_the_same_on_a_retry(settings: Settings) -> None:
    _, client = CASE.app(settings)
    first = CASE.check_webhook(client, NAME, 200)
    answer = first.get_json()
    assert answer["sessionState"]["dialogAction"]["type"] == "Close"
    assert answer["messages"][0]["content"].startswith("A specialist has your conversation")
    again = CASE.post(client, NAME)
    assert again.status_code == 200 and again.get_json() == answer
    assert CASE.post(client, NAME, "forged").status_code == 401
    assert CASE.post(client, b"{]").status_code == 400
    assert CASE.post(client, request(invocationSource="SomethingNew")).status_code == 200


def test_handoff_reaches_the_dry_run_ticket_with_the_transcript(settings: Settings) -> None:
    rt, client = CASE.app(settings)
    meta = CASE.meta(NAME)
    CASE.check_webhook(client, NAME, 200)
    run_due(rt)
    made = ticket(rt, case_id_for(SLUG, meta["expected"]["session_id"]))
    rendered = json.dumps(made, ensure_ascii=False)
    assert "locked out of my own account" in rendered
    # Lex's own sentiment (0.007 positive, 0.921 negative) reaches the ticket's priority and its reason.
    assert made["request"]["priority"] == "high" and "Amazon Lex V2 sentiment −0.91 at message 1" in rendered


def test_identity_from_slots_and_a_voice_turn_from_transcriptions() -> None:
    data = request()
    data.pop("inputTranscript", None)
    data["inputMode"] = "Speech"
    data["transcriptions"] = [{"transcription": "uh refund plays", "transcriptionConfidence": 0.41},
                              {"transcription": "I want a refund please", "transcriptionConfidence": 0.93}]
    data["sessionState"] = {**data["sessionState"], "sessionAttributes": {}, "intent": {
        **data["sessionState"].get("intent", {}), "slots": {
            "EmailAddress": {"value": {"originalValue": "max at example dot com",
                                       "interpretedValue": "max@example.com"}},
            "FullName": {"value": {"interpretedValue": "Max Mustermann"}}, "Empty": None}}}
    event = parse(data)
    assert [m.text for m in event.conversation.messages] == ["I want a refund please"]
    assert event.customer.email == "max@example.com" and event.customer.name == "Max Mustermann"

"""Dialogflow CX: WebhookRequest fixtures → canonical events, Basic auth, WebhookResponse answers."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge.adapters import dialogflow_cx
from bridge.adapters.base import MalformedPayload, Unauthorized
from bridge.cli import main
from bridge.config import Settings
from bridge.events import Decision, Event, TriggerHit
from bridge.pipeline.priority import prioritize
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "dialogflow-cx"
SECRET = "df-bridge:test-pass-7c1e42"
OLD_SECRET = "df-bridge:old-pass-0000"
USED = {"billing-exception-handoff", "live-agent-handoff-low-confidence"}
LOW_CONFIDENCE = Decision(escalate=True, at_message=2, triggers=[
    TriggerHit(trigger="low_confidence", message_index=2, evidence="confidence 0.12 < 0.50", score=0.12)])


def basic_auth(body: bytes, credentials: str) -> Credentials:
    # The agent's webhook is configured with HTTP basic (user:password), as the fixtures record.
    encoded = base64.b64encode(credentials.encode()).decode()
    return {"Authorization": f"Basic {encoded}"}, {}


CASE = WebhookCase(SLUG, SECRET, basic_auth)
ADAPTER = CASE.adapter


def parse(name: str) -> tuple[Event, dict[str, Any]]:
    [event], meta = CASE.parse_fixture(name)
    return event, meta


def basic(credentials: str) -> dict[str, str]:
    return basic_auth(b"", credentials)[0]


def test_every_fixture_is_used_and_every_declared_event_is_covered() -> None:
    assert CASE.fixture_names() == USED
    assert {"WebhookRequest"} == dialogflow_cx.SUPPORTED_EVENTS


@pytest.mark.parametrize("name", sorted(USED))
def test_fixture_facts(name: str) -> None:
    event, meta = parse(name)
    expected = meta["expected"]
    assert (event.type == "handoff.requested") is expected["is_handoff"]
    assert event.conversation.id == expected["session_id"]
    assert event.conversation.partial is True and event.conversation.language == "en"
    customer_turns = [m for m in event.conversation.messages if m.role == "customer"]
    answers = [m for m in event.conversation.messages if m.role == "bot"]
    # The request carries one customer turn; the bot's responses queued this turn ride along and
    # carry the match confidence of the words they answer.
    assert len(customer_turns) == expected["transcript_turns_in_payload"] and answers
    assert [m.confidence for m in answers] == [expected["confidence"]] * len(answers)
    assert customer_turns[0].confidence is None
    assert customer_turns[0].sentiment == expected["sentiment_score"]
    assert event.customer is not None and event.customer.email == expected["customer"]["email"]
    assert event.customer.account is not None and event.customer.account.id == expected["customer"]["account_id"]
    assert event.customer.attributes["sentiment"]["score"] == expected["sentiment_score"]
    assert event.handoff is not None and event.handoff.requested_by == "bot"
    assert event.evidence is None and expected["evidence_urls"] == []


def test_low_confidence_handoff_carries_the_bots_reason_queue_and_magnitude() -> None:
    event, meta = parse("live-agent-handoff-low-confidence")
    expected = meta["expected"]
    assert event.handoff is not None
    assert event.handoff.reason is not None and event.handoff.reason.startswith(expected["trigger"])
    assert event.handoff.topic == expected["handoff_metadata"]["queue"]
    assert event.customer is not None
    assert event.customer.attributes["sentiment"]["magnitude"] == expected["sentiment_magnitude"]
    answer = event.conversation.messages[1]
    assert answer.role == "bot" and answer.confidence is not None and answer.confidence < 0.5


def test_billing_handoff_keeps_intent_and_the_structured_billing_facts() -> None:
    event, meta = parse("billing-exception-handoff")
    expected = meta["expected"]
    assert event.handoff is not None and event.handoff.reason == expected["trigger"]
    assert event.conversation.messages[0].intent == expected["intent"]
    assert event.customer is not None
    params = event.customer.attributes["session_parameters"]
    assert params["refund_amount"] == expected["billing"]["amount"]
    assert params["duplicate_invoice_ids"] == expected["billing"]["invoice_ids"]
    assert params["deadline"] == expected["billing"]["deadline"]
    assert event.customer.attributes["intent_parameters"]["amount"]["currency"] == expected["billing"]["currency"]


def low_and_angry(**changes: Any) -> dict[str, Any]:
    """The locked-out customer's turn at intent confidence 0.12 and sentiment -0.9, in English."""
    data = CASE.data("live-agent-handoff-low-confidence")
    data["intentInfo"]["confidence"] = 0.12
    data["sentimentAnalysisResult"] = {"score": -0.9, "magnitude": 0.9}
    return {**data, **changes}


def test_platform_confidence_goes_on_the_answer_and_sentiment_on_the_customer_turn() -> None:
    event = CASE.parse_one(low_and_angry())
    said, answer = event.conversation.messages[0], event.conversation.messages[1]
    assert event.conversation.language == "en"
    assert said.role == "customer" and said.sentiment == -0.9 and said.confidence is None
    assert answer.role == "bot" and answer.confidence == 0.12 and answer.sentiment is None
    assert [m.role for m in event.conversation.messages] == ["customer", "bot"]


def test_without_bot_text_the_confidence_stays_with_the_customer_turn() -> None:
    messages = [m for m in low_and_angry()["messages"] if "text" not in m]  # only the liveAgentHandoff
    event = CASE.parse_one(low_and_angry(messages=messages))
    [said] = event.conversation.messages
    assert said.role == "customer" and said.confidence == 0.12 and said.sentiment == -0.9


def test_scores_out_of_range_are_clamped_and_junk_is_dropped() -> None:
    data = low_and_angry(sentimentAnalysisResult={"score": -1.7, "magnitude": 3})
    data["intentInfo"]["confidence"] = 1.4
    event = CASE.parse_one(data)
    assert event.conversation.messages[0].sentiment == -1.0 and event.conversation.messages[1].confidence == 1.0
    data = low_and_angry(sentimentAnalysisResult={"score": "very bad"})
    data["intentInfo"]["confidence"] = True
    event = CASE.parse_one(data)
    assert event.conversation.messages[0].sentiment is None and event.conversation.messages[1].confidence is None


@pytest.mark.parametrize(("given", "expected"), [("P1", "urgent"), ("high", "high"), ("whenever", None)])
def test_a_priority_in_the_handoff_metadata_becomes_the_handoff_priority(given: str, expected: str | None) -> None:
    data = low_and_angry()
    data["messages"][1]["liveAgentHandoff"]["metadata"]["priority"] = given
    event = CASE.parse_one(data)
    assert event.handoff is not None and event.handoff.priority == expected


def test_the_platform_sentiment_raises_the_package_priority_and_is_named() -> None:
    event = CASE.parse_one(low_and_angry())
    priority, reason = prioritize(event, LOW_CONFIDENCE)  # alone, a low_confidence miss would be low
    assert priority == "high"
    assert reason == "high: Dialogflow CX sentiment −0.9 at message 1 (high)"
    calm = low_and_angry(sentimentAnalysisResult={"score": -0.3, "magnitude": 0.3})
    event = CASE.parse_one(calm)
    assert prioritize(event, LOW_CONFIDENCE) == ("low", "low: low_confidence (low)")


def test_bridge_parse_prints_the_platform_signals(tmp_path: Path) -> None:
    path = tmp_path / "turn.json"
    path.write_text(json.dumps(low_and_angry()))
    result = CliRunner().invoke(main, ["parse", "--source", SLUG, str(path)])
    assert result.exit_code == 0, result.output
    said, answer = json.loads(result.stdout)["conversation"]["messages"]
    assert (said["sentiment"], answer["confidence"]) == (-0.9, 0.12) and "confidence" not in said


def test_a_turn_without_handoff_only_updates_and_gets_an_empty_webhook_response() -> None:
    data = CASE.data("billing-exception-handoff")
    data["messages"] = data["messages"][:1]
    data["fulfillmentInfo"] = {"tag": "lookup-order"}
    del data["sentimentAnalysisResult"], data["intentInfo"]
    event = CASE.parse_one(data)
    assert event.type == "conversation.updated" and event.handoff is None
    assert event.customer is None or "sentiment" not in event.customer.attributes
    assert ADAPTER.respond([{"event": "k", "case": "c"}], events=[event]) == ({}, 200)


def test_older_or_minimal_requests_parse_defensively() -> None:
    minimal = {"sessionInfo": {"session": "projects/p/locations/l/agents/a/environments/e/sessions/s-1"},
               "fulfillmentInfo": {"tag": "escalate"}, "text": "ayúdame 🙏" * 20_000}
    event = CASE.parse_one(minimal)
    assert event.conversation.id == "s-1" and event.type == "handoff.requested"
    assert event.customer is not None and event.customer.email is None
    assert len(event.conversation.messages[0].text) == 100_000
    assert event.event_id.startswith("body-")


@pytest.mark.parametrize("body", [b"[]", b"{}", b'{"sessionInfo": {"session": 5}}', b"not json"])
def test_not_a_webhook_request_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        CASE.parse(body)


def test_basic_auth_verifies_with_rotation_and_rejects_forged_or_missing() -> None:
    name = "billing-exception-handoff"
    CASE.verify(name, secrets=[SECRET])
    CASE.verify(name, secrets=[OLD_SECRET, SECRET])
    CASE.verify(name, {"X-Bridge-Token": "static-token"}, ["static-token"])
    for headers in ({}, basic("df-bridge:wrong"), {"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"}):
        with pytest.raises(Unauthorized):
            CASE.verify(name, headers, [SECRET])


@pytest.mark.parametrize(
    "language,expected",
    [("es", "especialista"), ("de-DE", "Spezialist"), ("ja", "スペシャリスト"), ("xx", "specialist")],
)
def test_the_receipt_speaks_the_conversation_language(language: str, expected: str) -> None:
    event, _ = parse("billing-exception-handoff")
    event = event.model_copy(update={"conversation": event.conversation.model_copy(update={"language": language})})
    body, status = ADAPTER.respond([{"event": "k", "case": "c-1"}], events=[event]) or ({}, 0)
    assert status == 200
    assert expected in body["fulfillmentResponse"]["messages"][0]["text"]["text"][0]
    assert body["sessionInfo"]["parameters"]["bridge_case"] == "c-1"


def test_http_answers_a_webhook_response_then_the_same_ids_on_a_retry(settings: Settings) -> None:
    rt, client = CASE.app(settings, (OLD_SECRET, SECRET))
    name = "live-agent-handoff-low-confidence"
    first = CASE.post_as_recorded(client, name)
    assert first.status_code == 200
    text = first.get_json()["fulfillmentResponse"]["messages"][0]["text"]["text"][0]
    assert text == "A specialist has your conversation and all its details; you'll hear from us soon."
    again = CASE.post_as_recorded(client, name)
    assert again.status_code == 200 and again.get_json() == first.get_json()


def test_http_rejections(settings: Settings) -> None:
    _, client = CASE.app(settings)
    body = CASE.body("billing-exception-handoff")
    assert CASE.post(client, body, "df-bridge:forged").status_code == 401
    unsigned = {"Content-Type": "application/json"}
    assert client.post(CASE.url, data=body, headers=unsigned).status_code == 401
    assert CASE.post(client, b"{").status_code == 400


def test_handoff_reaches_the_dry_run_ticket_with_the_transcript(settings: Settings) -> None:
    rt, client = CASE.app(settings)
    meta = CASE.meta("billing-exception-handoff")
    response = CASE.post_as_recorded(client, "billing-exception-handoff")
    assert response.status_code == 200
    # The receipt names the case the intake opened for this session (respond() gets the parsed events).
    case_id = response.get_json()["sessionInfo"]["parameters"]["bridge_case"]
    assert case_id == case_id_for(SLUG, meta["expected"]["session_id"])
    run_due(rt)
    rendered = json.dumps(ticket(rt, case_id), ensure_ascii=False)
    assert "before my card statement closes on the 20th" in rendered


def test_identity_from_form_and_oddly_named_session_parameters() -> None:
    # No user object in a WebhookRequest: the e-mail sits wherever the agent's author put it.
    data = CASE.data("billing-exception-handoff")
    data["sessionInfo"]["parameters"] = {"Customer-Name": "Ana Ruiz", "contact": "ana.ruiz@example.org"}
    data["pageInfo"] = {"displayName": "Collect contact", "formInfo": {"parameterInfo": [
        {"displayName": "Email Address", "required": True, "state": "FILLED", "value": "ana@example.com"},
        {"displayName": "phone-number", "state": "FILLED", "value": "+34 600 000 000"}]}}
    event = CASE.parse_one(data)
    assert event.customer.email == "ana@example.com"  # a known name wins over an e-mail-shaped value
    assert event.customer.name == "Ana Ruiz" and event.customer.phone == "+34 600 000 000"
    assert event.customer.attributes["form_parameters"]["Email Address"] == "ana@example.com"
    data["pageInfo"] = {}
    event = CASE.parse_one(data)
    assert event.customer.email == "ana.ruiz@example.org"  # @sys.email under any name

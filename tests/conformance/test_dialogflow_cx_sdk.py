"""Dialogflow CX conformance: ``WebhookRequest`` protobufs from ``google-cloud-dialogflow-cx`` (2.9).

Requests are built as protobuf messages, serialized to JSON the way Dialogflow sends them
(``WebhookRequest.to_json``: camelCase, ``Struct`` parameters), posted with HTTP basic auth, and the
bridge's answer is parsed back into a ``WebhookResponse`` with the same SDK. The project's own fixtures
go the other way: parsed into the protobuf (unknown fields refused) and serialized again, the adapter
reads the same facts from both. Test dependency only.
"""

from __future__ import annotations

import base64

import pytest
from google.cloud.dialogflowcx_v3 import (
    PageInfo,
    ResponseMessage,
    SessionInfo,
    WebhookRequest,
    WebhookResponse,
)
from google.protobuf import struct_pb2

from bridge.adapters.dialogflow_cx import DialogflowCXAdapter
from bridge.config import Settings
from tests.adapters.support import app_for, fixture_names, inbound, load

SLUG = "dialogflow-cx"
SECRET = "df-bridge:sdk-pass-41aa"
SESSION = "projects/p/locations/global/agents/a1/sessions/sdk-session-9d3"


def struct(values: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def handoff_request() -> WebhookRequest:
    form = PageInfo.FormInfo(parameter_info=[
        PageInfo.FormInfo.ParameterInfo(display_name="work-email", required=True,
                                        state=PageInfo.FormInfo.ParameterInfo.ParameterState.FILLED,
                                        value="nora@example.com"),
    ])
    return WebhookRequest(
        detect_intent_response_id="resp-sdk-1",
        text="I was charged twice, I want a person",
        language_code="de",
        fulfillment_info=WebhookRequest.FulfillmentInfo(tag="billing-exception"),
        intent_info=WebhookRequest.IntentInfo(display_name="billing.refund", confidence=0.34),
        page_info=PageInfo(display_name="Refund", form_info=form),
        session_info=SessionInfo(session=SESSION, parameters={"customer_name": "Nora Lind", "plan": "Team"}),
        sentiment_analysis_result=WebhookRequest.SentimentAnalysisResult(score=-0.7, magnitude=1.4),
        messages=[
            ResponseMessage(text=ResponseMessage.Text(text=["Let me get a colleague."])),
            ResponseMessage(live_agent_handoff=ResponseMessage.LiveAgentHandoff(
                metadata=struct({"reason": "refund outside policy", "priority": "high", "queue": "billing"}))),
        ],
    )


def post(client, body: bytes):
    auth = base64.b64encode(SECRET.encode()).decode()
    return client.post(f"/webhooks/{SLUG}", data=body,
                       headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"})


def test_protobuf_request_through_the_app_and_the_answer_parsed_back(settings: Settings) -> None:
    body = WebhookRequest.to_json(handoff_request()).encode()
    _, client = app_for(settings, SLUG, (SECRET,))
    answer = post(client, body)
    assert answer.status_code == 200
    response = WebhookResponse.from_json(answer.get_data(as_text=True))  # refuses unknown fields
    [reply] = response.fulfillment_response.messages
    assert reply.text.text and reply.text.text[0]
    assert response.session_info.parameters["bridge_case"]

    [event] = DialogflowCXAdapter().parse(inbound(body))
    assert event.type == "handoff.requested" and event.conversation.id == "sdk-session-9d3"
    assert event.conversation.language == "de"
    assert event.customer.email == "nora@example.com" and event.customer.name == "Nora Lind"
    assert event.customer.plan == "Team"
    [said, bot] = event.conversation.messages
    assert said.role == "customer" and said.sentiment == pytest.approx(-0.7)
    assert bot.role == "bot" and bot.confidence == pytest.approx(0.34)
    assert event.handoff.priority == "high" and event.handoff.topic == "billing"
    assert "refund outside policy" in event.handoff.reason


def test_an_update_gets_an_empty_valid_response(settings: Settings) -> None:
    request = WebhookRequest(detect_intent_response_id="resp-sdk-2", text="hello",
                             session_info=SessionInfo(session=SESSION))
    _, client = app_for(settings, SLUG, (SECRET,))
    answer = post(client, WebhookRequest.to_json(request).encode())
    assert answer.status_code == 200
    assert WebhookResponse.from_json(answer.get_data(as_text=True)) == WebhookResponse()


@pytest.mark.parametrize("name", sorted(fixture_names(SLUG)))
def test_fixtures_survive_the_protobuf_round_trip(name: str) -> None:
    raw, _ = load(SLUG, name)
    # The fixtures carry ``text.redactedText``, newer than the 2.9 protos: the only field let through.
    request = WebhookRequest.from_json(raw.decode(), ignore_unknown_fields=True)
    assert "redactedText" not in WebhookRequest.to_json(request)
    again = WebhookRequest.to_json(request).encode()
    [direct] = DialogflowCXAdapter().parse(inbound(raw))
    [through] = DialogflowCXAdapter().parse(inbound(again))
    strip = {"event_id"}  # derived from the body when no response id is sent
    assert through.model_dump(exclude=strip) == direct.model_dump(exclude=strip)

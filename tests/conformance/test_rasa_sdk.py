"""Rasa conformance: action-server calls built from ``rasa-sdk`` (3.21) trackers and events.

The tracker is a ``rasa_sdk.Tracker`` with events from ``rasa_sdk.events``; its ``current_state()``
is exactly what Rasa posts to an action server. The bridge's answer is run back through rasa-sdk's
own response checks. Test dependency only.
"""

from __future__ import annotations

import json

from rasa_sdk import Tracker
from rasa_sdk.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa_sdk.executor import CollectingDispatcher

from bridge.adapters.rasa import RasaAdapter
from bridge.config import Settings
from tests.adapters.support import app_for, inbound

TOKEN = "rasa_sdk_token_55e0c1"


def user(text: str, intent: str, confidence: float, at: float) -> dict:
    event = UserUttered(text, parse_data={"intent": {"name": intent, "confidence": confidence}, "entities": []},
                        timestamp=at)
    return {**event, "message_id": f"msg-{int(at)}"}


def tracker() -> Tracker:
    events = [
        SessionStarted(timestamp=1.0), ActionExecuted("action_listen", timestamp=2.0),
        user("I was charged twice for March", "billing_dispute", 0.91, 10.0),
        BotUttered("I can see two charges.", timestamp=11.0),
        BotUttered(None, data={"buttons": [{"title": "Refund one", "payload": "/refund"}]}, timestamp=12.0),
        SlotSet("work_email", "kai@example.com", timestamp=13.0),
        user("just get me a human", "nlu_fallback", 0.3, 20.0),
    ]
    latest = {"text": "just get me a human", "message_id": "msg-20",
              "intent": {"name": "nlu_fallback", "confidence": 0.3},
              "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.3},
                                 {"name": "human_handoff", "confidence": 0.28}]}
    return Tracker("sdk-sender-1", {"work_email": "kai@example.com", "language": "en"}, latest, events, False, None,
                   {}, "action_listen")


def call(next_action: str) -> bytes:
    return json.dumps({"next_action": next_action, "sender_id": "sdk-sender-1", "version": "3.21.1",
                       "tracker": tracker().current_state(), "domain": {}}).encode()


def test_tracker_through_the_app_and_the_answer_read_by_the_sdk(settings: Settings) -> None:
    body = call("action_handoff_to_human")
    _, client = app_for(settings, "rasa", (TOKEN,))
    answer = client.post(f"/webhooks/rasa?token={TOKEN}", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    reply = answer.get_json()
    assert set(reply) == {"events", "responses"}
    # The events are rasa-sdk's own (a ConversationPaused), and each response is what its dispatcher makes.
    assert reply["events"] == [{k: v for k, v in ConversationPaused().items() if v is not None}]
    dispatcher = CollectingDispatcher()
    for response in reply["responses"]:
        dispatcher.utter_message(**response)
    made = [{k: v for k, v in m.items() if v not in (None, [], {})} for m in dispatcher.messages]
    assert made == reply["responses"]
    assert reply["responses"][0]["text"]

    [event] = RasaAdapter().parse(inbound(body))
    assert event.type == "handoff.requested" and event.conversation.id == "sdk-sender-1"
    assert event.customer.email == "kai@example.com" and event.conversation.language == "en"
    messages = event.conversation.messages
    assert [m.role for m in messages] == ["customer", "bot", "bot", "customer"]
    assert messages[2].text == "Refund one"
    assert messages[1].confidence == 0.91 and messages[3].confidence == 0.3
    assert event.customer.attributes["best_real_intent"]["name"] == "human_handoff"


def test_an_ordinary_action_is_an_update_with_an_empty_answer(settings: Settings) -> None:
    _, client = app_for(settings, "rasa", (TOKEN,))
    answer = client.post(f"/webhooks/rasa?token={TOKEN}", data=call("action_check_invoice"),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.get_json() == {"events": [], "responses": []}

"""Where the customer is waiting and where the reply goes (issue 16, point 2)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.events import Decision, Event, TriggerHit
from bridge.pipeline.package import build_package
from bridge.pipeline.waiting import where_customer_waits
from connectors.zendesk import build_ticket
from tests.helpers import generic_event

WHATSAPP = [
    {"id": "m1", "role": "customer", "text": "Me han cobrado dos veces el pedido 77812"},
    {"id": "m2", "role": "customer", "text": "Quiero hablar con una persona, por favor"},
    {"id": "m3", "role": "bot", "text": "De acuerdo, un agente te responderá aquí mismo en este chat."},
]
URL = "https://console.example-bots.com/conversations/wa-88"


def _event(channel: str, messages: list[dict[str, Any]], url: str | None = URL) -> Event:
    event = generic_event(messages=messages)
    event["conversation"].update({"channel": channel, **({"url": url} if url else {})})
    return Event.from_json(event)


@pytest.mark.parametrize(("channel", "messages", "reply", "here"), [
    ("whatsapp", WHATSAPP, "whatsapp", True),
    ("web_chat", [{"role": "bot", "text": "I'm handing you over now. They'll reply right here."}], "web_chat", True),
    ("in_app", [{"role": "bot", "text": "They'll reply here and by email."}], "in_app", True),
    ("email", [{"role": "bot", "text": "Sie erhalten die Antwort per E-Mail."}], "email", False),
    ("voice", [{"role": "bot", "text": "I've asked a member of our team to call you back."}], "phone", False),
    ("web_chat", [{"role": "bot", "text": "Our team will get back to you by email."}], "email", False),
])
def test_the_channel_and_where_the_reply_goes(channel: str, messages: list[dict[str, Any]], reply: str,
                                              here: bool) -> None:
    waiting = where_customer_waits(_event(channel, messages))
    assert waiting.channel == channel and waiting.reply_via == reply and waiting.told_to_wait_here is here
    assert waiting.url == URL


def test_the_ticket_says_where_the_customer_waits_and_tags_the_reply_channel() -> None:
    decision = Decision(escalate=True, triggers=[TriggerHit(trigger="customer_requested_human", evidence="persona")])
    ticket = build_ticket(build_package("c-1", "generic", _event("whatsapp", WHATSAPP), decision), {}).to_json()
    body = ticket["comment"]["body"]
    head = body[: body.index("Summary")]
    assert "WhatsApp" in head and URL in head
    assert "un agente te responderá aquí mismo en este chat" in head and "not by e-mail" in head
    assert {"rb_channel_whatsapp", "rb_reply_via_whatsapp"} <= set(ticket["tags"])
    assert ticket["_facts"]["channel"] == "whatsapp" and ticket["_facts"]["conversation_url"] == URL

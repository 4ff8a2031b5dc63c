"""Bot Framework conformance: activities built with Microsoft's own ``botbuilder-schema`` (4.17).

The SDK is a test dependency only (the ``[test]`` extra); the product never imports it. Each payload
is made the way a bot built on the SDK makes it (``Activity(...).serialize()``, the handoff event
as botbuilder's ``EventFactory.create_handoff_initiation`` builds it), authenticated with a Bot
Framework JWT, posted through the Flask app and checked for the generic facts.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    CardAction,
    ChannelAccount,
    ConversationAccount,
    HeroCard,
    Transcript,
)

from bridge.adapters import botframework as bf
from bridge.config import Settings
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import app_for, inbound, ticket
from tests.adapters.test_botframework import APP_ID, jwks, token

USER = ChannelAccount(id="user-7c1", name="Jonas Berg", role="user")
BOT = ChannelAccount(id="bot-ledgerly", name="Ledgerly", role="bot")
CONVERSATION = ConversationAccount(id="conv-sdk-41f2")


def message(who: ChannelAccount, text: str | None = None, n: int = 0, **fields: Any) -> Activity:
    return Activity(type=ActivityTypes.message, id=f"m{n}", text=text, from_property=who,
                    recipient=BOT if who is USER else USER, conversation=CONVERSATION, channel_id="webchat",
                    timestamp=f"2025-03-18T13:0{n}:00Z", locale="en-US", **fields)


def transcript_activities() -> list[Activity]:
    shot = Attachment(content_type="image/png", content_url="https://files.example.com/sdk/blank-chart.png",
                      name="blank-chart.png")
    card = Attachment(content_type="application/vnd.microsoft.card.hero",
                      content=HeroCard(title="Clear your cache", text="Press Ctrl+Shift+R",
                                       buttons=[CardAction(type="imBack", title="It did not help")]))
    return [
        message(USER, "My revenue chart is empty since the update.", 1),
        message(BOT, None, 2, attachments=[card]),  # a rich answer: a hero card, no text
        message(USER, None, 3, attachments=[shot]),  # a screenshot, no text
        message(BOT, None, 4, speak="<speak>I am connecting you with a person.</speak>"),  # voice only
    ]


def handoff(context: dict[str, Any]) -> Activity:
    """What botbuilder's ``EventFactory.create_handoff_initiation(turn_context, context, transcript)`` makes."""
    return Activity(
        type=ActivityTypes.event, name="handoff.initiate", id="evt-sdk-1", value=context,
        from_property=BOT, recipient=USER, conversation=CONVERSATION, channel_id="webchat",
        timestamp="2025-03-18T13:05:00Z", locale="en-US",
        attachments=[Attachment(content_type="application/json", name="Transcript",
                                content=Transcript(activities=transcript_activities()))],
    )


def body_of(activity: Activity) -> bytes:
    return json.dumps(activity.serialize()).encode()


def test_sdk_handoff_reaches_a_ticket_with_every_fact(settings: Settings) -> None:
    context = {"skill": "billing", "priority": "urgent", "reason": "product_bug",
               "customer": {"email": "jonas@example.com", "name": "Jonas Berg", "plan": "Pro"}}
    body = body_of(handoff(context))
    rt, client = app_for(settings, "botframework", (APP_ID,), BOTFRAMEWORK_JWKS=jwks("kid-a"))
    answer = client.post("/webhooks/botframework", data=body, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token(int(time.time()))}"})
    assert answer.status_code == 202, answer.get_json()
    [event] = bf.BotFrameworkAdapter(Settings()).parse(inbound(body))
    assert event.type == "handoff.requested" and event.conversation.id == CONVERSATION.id
    assert (event.customer.id, event.customer.email, event.customer.plan) == (USER.id, "jonas@example.com", "Pro")
    assert [m.role for m in event.conversation.messages] == ["customer", "bot", "customer", "bot"]
    assert event.conversation.messages[1].text.startswith("Clear your cache")
    assert event.conversation.messages[3].text == "I am connecting you with a person."
    assert [s.url for s in event.evidence.screenshots] == ["https://files.example.com/sdk/blank-chart.png"]
    assert event.handoff.priority == "urgent" and event.handoff.topic == "product_bug"
    run_due(rt)
    document = json.dumps(ticket(rt, case_id_for("botframework", CONVERSATION.id)), ensure_ascii=False)
    assert "blank-chart.png" in document and "jonas@example.com" in document


def test_sdk_message_activity_updates_and_handoff_status_is_acknowledged() -> None:
    parser = bf.BotFrameworkAdapter(Settings())
    [event] = parser.parse(inbound(body_of(message(USER, "hello", 1))))
    assert event.type == "conversation.updated" and event.conversation.messages[0].text == "hello"
    status = Activity(type=ActivityTypes.event, name="handoff.status", value={"state": "accepted"},
                      conversation=CONVERSATION, from_property=BOT)
    try:
        parser.parse(inbound(body_of(status)))
    except bf.UnsupportedEvent as exc:
        assert exc.event_type == "handoff.status"
    else:
        raise AssertionError("handoff.status must be acknowledged, not turned into an event")


def test_accepted_callback_carries_a_handoff_status_activity_the_sdk_reads() -> None:
    from bridge.events import RouteInfo
    from bridge.pipeline.package import build_package
    from bridge.pipeline.triggers import decide
    from connectors.botcallback import build_accepted

    [event] = bf.BotFrameworkAdapter(Settings()).parse(inbound(body_of(handoff({"reason": "product_bug"}))))
    route = RouteInfo(team="support", owner_name="Ana Souza", acknowledged=True)
    sent = build_accepted(build_package("c-9", "botframework", event, decide(event), route=route), {})
    activity = Activity().deserialize(sent["activity"])
    assert (activity.type, activity.name) == (ActivityTypes.event, "handoff.status")
    assert activity.conversation.id == CONVERSATION.id and activity.value["state"] == "accepted"
    assert activity.value["message"].startswith("Ana")
    other = build_package("c-9", "generic", event, decide(event), route=route)
    assert "activity" not in build_accepted(other, {})  # only Bot Framework bots speak this protocol

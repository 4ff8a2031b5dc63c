"""Ada: Svix-signed conversation webhooks, handoff_integration, HTTP and end to end."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bridge.adapters import ada
from bridge.adapters.base import InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.config import Settings
from bridge.signing import sign_standard_webhook
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "ada"
USED = {"conversation-created", "conversation-message-human-request", "conversation-handoff-ended"}
SECRET = "whsec_bGVkZ2VybHktYWRhLXRlc3Qta2V5LTAwMDE="
OTHER = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkh"


def svix(body: bytes, secret: str = SECRET, ts: int | None = None, msg_id: str = "msg_test") -> Credentials:
    stamp = int(time.time()) if ts is None else ts
    signature = sign_standard_webhook(body, msg_id, stamp, secret)
    return {"svix-id": msg_id, "svix-timestamp": str(stamp), "svix-signature": signature}, {}


CASE = WebhookCase(SLUG, SECRET, svix)
ADAPTER = CASE.adapter


def signed(body: bytes, ts: int, secret: str = SECRET) -> dict[str, str]:
    return svix(body, secret, ts)[0]


def test_every_fixture_is_used() -> None:
    assert CASE.fixture_names() == USED


@pytest.mark.parametrize("name", sorted(USED))
def test_fixture_facts(name: str) -> None:
    [event], meta = CASE.parse_fixture(name)
    expected = meta["expected"]
    assert event.event_id == meta["headers"]["svix-id"]
    assert event.conversation.id == expected["conversation_id"]
    assert event.type != "handoff.requested"  # none of these is a platform handoff by itself
    if "end_user_id" in expected:
        assert event.customer.id == expected["end_user_id"]
    for key in ("email", "name"):
        if key in expected.get("customer", {}):
            assert getattr(event.customer, key) == expected["customer"][key]
    if "transcript_turns_in_payload" in expected:
        assert len(event.conversation.messages) == expected["transcript_turns_in_payload"]
        assert event.conversation.partial is True


def test_created_carries_identity_and_message_carries_the_request() -> None:
    created = CASE.parse_one("conversation-created")
    assert created.type == "conversation.updated" and created.customer.account.id == "acct_48213"
    assert created.customer.plan == "Business (annual)" and created.conversation.messages == []
    message = CASE.parse_one("conversation-message-human-request")
    [turn] = message.conversation.messages
    assert turn.role == "customer" and "talk to a person" in turn.text
    assert message.conversation.channel == "Web Chat"
    [ended], meta = CASE.parse_fixture("conversation-handoff-ended")
    assert ended.type == "conversation.closed"
    assert ended.customer.attributes["handoff_integration"] == meta["expected"]["handoff_integration"]


def handoff_variant() -> dict[str, Any]:
    data = CASE.data("conversation-message-human-request")
    data["data"]["handoff_integration"] = "zendesk_messaging"
    return data


@pytest.mark.parametrize("kind", sorted(ada.SUPPORTED_EVENTS))
def test_every_declared_event_type_parses(kind: str) -> None:
    event = CASE.parse_one(CASE.data("conversation-message-human-request") | {"type": kind})
    closing = kind in ("v1.conversation.ended", "v1.conversation.handoff.ended")
    assert event.type == ("conversation.closed" if closing else "conversation.updated")


def test_non_null_handoff_integration_is_a_handoff_and_content_kinds_parse() -> None:
    event = CASE.parse_one(handoff_variant())
    assert event.type == "handoff.requested" and "zendesk_messaging" in event.handoff.reason
    data = CASE.data("conversation-message-human-request")
    data["data"]["author"] = {"role": "ai_agent", "display_name": "Ada"}
    data["data"]["content"] = {"type": "link", "url": "https://help.example.com/a", "link_text": "Guide — ß"}
    link = CASE.parse_one(data)
    assert link.conversation.messages[0].role == "bot" and "Guide — ß" in link.conversation.messages[0].text
    data["data"]["author"] = {"role": "end_user"}
    data["data"]["content"] = {"type": "file", "url": "https://f.example.com/x.png", "filename": "x.png",
                               "mime_type": "image/png"}
    upload = CASE.parse_one(data)
    assert upload.evidence.screenshots[0].url == "https://f.example.com/x.png"


def test_unknown_and_malformed() -> None:
    with pytest.raises(UnsupportedEvent):
        CASE.parse(b'{"type": "v1.conversation.rated", "data": {}}')
    with pytest.raises(MalformedPayload):
        CASE.parse(b'{"type": "v1.conversation.message"}')
    with pytest.raises(InvalidPayload) as info:
        CASE.parse(b'{"type": "v1.conversation.message", "data": {"content": {}}}')
    assert info.value.field == "data.conversation_id"


def test_complete_says_the_transcript_is_partial(settings: Settings) -> None:
    event = CASE.parse_one("conversation-message-human-request")
    done = ADAPTER.complete(event, settings)
    assert done.conversation.partial is True and done.customer.attributes["transcript_partial"] is True


# ---- signature ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(USED))
def test_fixture_signature_verifies_at_its_clock(name: str) -> None:
    sig = CASE.meta(name)["signature"]
    headers = CASE.headers(name)
    assert sign_standard_webhook(CASE.body(name), headers["svix-id"], int(headers["svix-timestamp"]),
                                 sig["secret"]) == sig["header_value"]
    CASE.verify(name, secrets=[sig["secret"]], now=sig["verify_at_unix"])


def test_stale_future_forged_missing_rotated_and_webhook_header_names() -> None:
    body = CASE.body("conversation-message-human-request")
    now = CASE.meta("conversation-message-human-request")["signature"]["verify_at_unix"]
    for headers in (signed(body, now - 301), signed(body, now + 301), signed(body, now, OTHER), signed(b"{}", now),
                    {}, {**signed(body, now), "svix-signature": "v1,not-base64!"}):
        with pytest.raises(Unauthorized):
            CASE.verify(body, headers, [SECRET], now=now)
    CASE.verify(body, signed(body, now, OTHER), [SECRET, OTHER], now=now)
    standard = {k.replace("svix-", "webhook-"): val for k, val in signed(body, now).items()}
    CASE.verify(body, standard, [SECRET], now=now)


# ---- HTTP and end to end -----------------------------------------------------------------------

def test_http_statuses(settings: Settings) -> None:
    _, client = CASE.app(settings)
    body = CASE.body("conversation-created")
    assert CASE.post(client, body, msg_id="msg_1").status_code == 202
    assert CASE.post(client, body, msg_id="msg_1").status_code == 200
    assert CASE.post(client, body, OTHER, msg_id="msg_2").status_code == 401
    assert CASE.post(client, body, msg_id="msg_3", ts=int(time.time()) - 3600).status_code == 401
    assert CASE.post(client, b"nope", msg_id="msg_4").status_code == 400
    assert CASE.post(client, b'{"type": "v1.conversation.message", "data": {}}', msg_id="msg_5").status_code == 422
    answer = CASE.post(client, b'{"type": "v1.conversation.rated", "data": {}}', msg_id="msg_6")
    assert answer.status_code == 200 and answer.get_json() == {"ignored": "v1.conversation.rated"}


def test_end_to_end_handoff_reaches_the_outbox(settings: Settings) -> None:
    rt, client = CASE.app(settings)
    CASE.check_webhook(client, "conversation-created", msg_id="msg_created")
    CASE.check_webhook(client, handoff_variant(), msg_id="msg_handoff")
    run_due(rt)
    document = json.dumps(ticket(rt, case_id_for(SLUG, "67d0b2c1e4f5a6b7c8d9e0f1")), ensure_ascii=False)
    assert "talk to a person" in document
    assert "priya.raman@example.com" in document  # identity from the earlier created event, merged into the case


def test_identity_from_metadata_under_the_builders_own_names() -> None:
    envelope = CASE.data("conversation-created")
    envelope["data"]["metadata"] = {"User Email": "sam@example.com", "Full Name": "Sam Lee", "Mobile": "+1 555 0100"}
    event = CASE.parse_one(envelope)
    assert (event.customer.email, event.customer.name, event.customer.phone) == \
        ("sam@example.com", "Sam Lee", "+1 555 0100")

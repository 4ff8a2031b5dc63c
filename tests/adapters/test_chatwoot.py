"""Chatwoot: fixtures, X-Chatwoot-Signature over "timestamp.body", events, the messages fetcher, HTTP, end to end."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from bridge.adapters import chatwoot
from bridge.adapters.base import InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.adapters.fetch.chatwoot import messages_path
from bridge.config import Settings
from bridge.errors import RetryableError
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import Stub, ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "chatwoot"
USED = {"agent-bot-message-created-human-request", "conversation-status-changed-handoff"}
SECRET = "cw_test_secret_5d1f0a9e77b2c3a4"


def sign(body: bytes, ts: int, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Chatwoot-Signature": f"sha256={digest}", "X-Chatwoot-Timestamp": str(ts)}


def delivery(body: bytes, secret: str, ts: int | None = None, delivery: str = "d-1") -> Credentials:
    # X-Chatwoot-Delivery is the event id: the same delivery id is the same event.
    return {"X-Chatwoot-Delivery": delivery, **sign(body, int(time.time()) if ts is None else ts, secret)}, {}


CASE = WebhookCase(SLUG, SECRET, delivery)
ADAPTER = CASE.adapter


def test_every_fixture_is_used() -> None:
    assert CASE.fixture_names() == USED


@pytest.mark.parametrize("name", sorted(USED))
def test_fixture_facts(name: str) -> None:
    [event], meta = CASE.parse_fixture(name)
    expected = meta["expected"]
    assert event.event_id == meta["signature"]["delivery_id"]  # X-Chatwoot-Delivery, stable across retries
    assert event.conversation.id == str(expected["conversation_display_id"])
    assert event.conversation.partial is True
    assert len(event.conversation.messages) == expected["transcript_turns_in_payload"]
    assert event.customer.id == str(expected["customer"]["id"])
    assert event.customer.email == expected["customer"]["email"]
    assert event.customer.name == expected["customer"]["name"]
    assert event.customer.attributes["chatwoot_account_id"] == "3"
    assert [a.url for m in event.conversation.messages for a in m.attachments] == expected["evidence_urls"]
    assert event.evidence.page_url == "https://app.example.com/invoices"
    assert event.evidence.device.browser == "Firefox 124.0"


def test_message_created_updates_the_conversation() -> None:
    [event], meta = CASE.parse_fixture("agent-bot-message-created-human-request")
    assert event.type == "conversation.updated"
    [message] = event.conversation.messages
    assert message.role == "customer" and "talk to a person" in message.text
    assert event.customer.attributes["identifier"] == meta["expected"]["customer"]["identifier"]
    assert event.customer.attributes["bot_confidence"] == meta["expected"]["custom_attributes"]["bot_confidence"]
    assert event.customer.attributes["status"] == meta["expected"]["conversation_status"]


def test_pending_to_open_is_the_handoff() -> None:
    [event], meta = CASE.parse_fixture("conversation-status-changed-handoff")
    assert event.type == "handoff.requested"
    assert event.handoff.requested_by == "customer" and event.handoff.topic == meta["expected"]["team"]
    assert event.handoff.reason == "customer_requested_human"
    assert event.conversation.messages[-1].role == "bot"  # sender agent_bot
    assert event.customer.attributes["labels"] == meta["expected"]["labels"]


def mutate(name: str, **changes: Any) -> dict[str, Any]:
    data = CASE.data(name)
    data.update(changes)
    return data


@pytest.mark.parametrize("kind", sorted(chatwoot.SUPPORTED_EVENTS))
def test_every_declared_event_parses(kind: str) -> None:
    name = "agent-bot-message-created-human-request" if kind.startswith("message_") else \
        "conversation-status-changed-handoff"
    event = CASE.parse_one(mutate(name, event=kind))
    assert event.conversation.id == "318"


@pytest.mark.parametrize(("given", "expected"), [
    (None, None), ("urgent", "urgent"), ("high", "high"), ("medium", "normal"), ("low", "low")])
def test_the_conversation_priority_becomes_the_handoff_priority(given: str | None, expected: str | None) -> None:
    event = CASE.parse_one(mutate("conversation-status-changed-handoff", priority=given))
    assert event.type == "handoff.requested" and event.handoff.priority == expected


def test_resolved_closes_and_open_to_pending_does_not_hand_off() -> None:
    resolved = mutate("conversation-status-changed-handoff", status="resolved",
                      changed_attributes=[{"status": {"previous_value": "open", "current_value": "resolved"}}])
    assert CASE.parse_one(resolved).type == "conversation.closed"
    back = mutate("conversation-status-changed-handoff",
                  changed_attributes=[{"status": {"previous_value": "open", "current_value": "pending"}}])
    assert CASE.parse_one(back).type == "conversation.updated"


def test_older_versions_without_delivery_header_or_account_still_parse() -> None:
    data = CASE.data("conversation-status-changed-handoff")
    for key in ("meta", "additional_attributes", "changed_attributes", "custom_attributes", "labels"):
        data.pop(key)
    data["messages"] = [{"id": 1, "content": None, "message_type": 0, "created_at": 1741684424,
                         "attachments": [{"file_type": "image", "data_url": "https://cw.example.com/s.png",
                                          "extension": "png"}]},
                        {"id": 2, "content": "note", "message_type": 1, "private": True},
                        {"id": 3, "content": "Conversation was reopened", "message_type": 2}]
    event = CASE.parse_one(data)
    assert event.event_id.startswith("conversation_status_changed:318:")
    assert [m.attachments[0].kind for m in event.conversation.messages] == ["screenshot"]
    assert event.evidence.screenshots[0].url == "https://cw.example.com/s.png"


def test_unknown_event_is_acknowledged_and_malformed_is_refused() -> None:
    with pytest.raises(UnsupportedEvent):
        CASE.parse(b'{"event": "webwidget_triggered", "id": 1}')
    with pytest.raises(MalformedPayload):
        CASE.parse(b'{"id": 1}')
    with pytest.raises(MalformedPayload):
        CASE.parse(b'{"event": "message_created", "conversation": "x"}')
    with pytest.raises(InvalidPayload) as info:
        CASE.parse(b'{"event": "conversation_updated", "status": "open"}')
    assert info.value.field == "id"


# ---- signature ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(USED))
def test_fixture_signature_verifies_at_its_clock(name: str) -> None:
    body, meta = CASE.load(name)
    sig = meta["signature"]
    assert sign(body, sig["timestamp"], sig["secret"])["X-Chatwoot-Signature"] == sig["header_value"]
    CASE.verify(name, secrets=[sig["secret"]], now=sig["verify_at_unix"])


def check(body: bytes, headers: dict[str, str], now: float, secrets: tuple[str, ...] = (SECRET,)) -> None:
    CASE.verify(body, headers, secrets, now=now)


def test_stale_future_forged_missing_and_rotated() -> None:
    body, meta = CASE.load("conversation-status-changed-handoff")
    now = meta["signature"]["verify_at_unix"]
    check(body, sign(body, now - 299), now)
    for headers in (sign(body, now - 301), sign(body, now + 301), sign(body, now, "forged"), sign(b"x", now), {},
                    {"X-Chatwoot-Signature": "sha256=abc", "X-Chatwoot-Timestamp": str(now)},
                    {"X-Chatwoot-Signature": sign(body, now)["X-Chatwoot-Signature"]},
                    {**sign(body, now), "X-Chatwoot-Timestamp": "soon"}):
        with pytest.raises(Unauthorized):
            check(body, headers, now)
    check(body, sign(body, now, "old-secret"), now, ("new-secret", "old-secret"))
    with pytest.raises(Unauthorized):
        check(body, sign(body, now, "retired"), now, ("new-secret", "old-secret"))


# ---- fetcher -----------------------------------------------------------------------------------

def api_message(ident: int, text: str, message_type: int, ts: int, sender_type: str = "Contact") -> dict:
    return {"id": ident, "content": text, "message_type": message_type, "created_at": ts, "private": False,
            "sender_type": sender_type, "sender": {"type": "contact" if sender_type == "Contact" else "agent_bot"}}


HISTORY = [
    api_message(80401, "Hi, I can't export my invoices to CSV anymore.", 0, 1741684324),
    api_message(80402, "You can export from Invoices > Export > CSV.", 1, 1741684327, "AgentBot"),
    api_message(80403, "Conversation was assigned to the bot", 2, 1741684328, "AgentBot"),
    api_message(80404, "I know where the button is. It keeps spinning.", 0, 1741684365),
    api_message(80417, "I tried one month only, same thing. This isn't helping - can I talk to a person please?",
                0, 1741684421),
    api_message(80418, "Of course. I'm connecting you with a member of our support team now.", 1, 1741684424,
                "AgentBot"),
]


def paged(query: dict) -> tuple[int, dict]:
    before = int(query["before"][0]) if "before" in query else None
    older = [m for m in HISTORY if before is None or m["id"] < before]
    return 200, {"meta": {"contact": {"id": 1042, "email": "from-api@example.com", "name": "Priya Raman"}},
                 "payload": older[-2:]}


def cw_settings(settings: Settings, url: str) -> Settings:
    return settings.with_overrides(extra={"CHATWOOT_API_URL": url, "CHATWOOT_API_TOKEN": "cw-token"})


def test_fetch_pages_back_through_the_history(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("conversation-status-changed-handoff")
    with Stub({messages_path("3", "318"): paged}) as stub:
        done = ADAPTER.complete(event, cw_settings(settings, stub.url))
    assert done.conversation.partial is False
    assert [m.id for m in done.conversation.messages] == ["80401", "80402", "80404", "80417", "80418"]
    assert done.conversation.url == f"{stub.url}/app/accounts/3/conversations/318"
    assert [r["query"].get("before") for r in stub.requests] == [None, ["80417"], ["80403"], ["80401"]]
    assert all(r["headers"]["api_access_token"] == "cw-token" for r in stub.requests)


def test_fetch_fills_a_missing_email(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("conversation-status-changed-handoff")
    event = event.model_copy(update={"customer": event.customer.model_copy(update={"email": None})})
    with Stub({messages_path("3", "318"): paged}) as stub:
        assert ADAPTER.complete(event, cw_settings(settings, stub.url)).customer.email == "from-api@example.com"


def test_fetch_failures(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("conversation-status-changed-handoff")
    with Stub({messages_path("3", "318"): lambda q: (500, {})}) as stub, pytest.raises(RetryableError):
        ADAPTER.complete(event, cw_settings(settings, stub.url))
    with Stub({messages_path("3", "318"): lambda q: (401, {})}) as stub:
        done = ADAPTER.complete(event, cw_settings(settings, stub.url))
    assert done.conversation.partial is True
    assert done.conversation.url == f"{stub.url}/app/accounts/3/conversations/318"
    assert done.customer.attributes["transcript_partial"] is True
    assert ADAPTER.complete(event, settings).customer.attributes["transcript_partial"] is True  # no token


# ---- HTTP and end to end -----------------------------------------------------------------------

def test_http_statuses(settings: Settings) -> None:
    _, client = CASE.app(settings)
    now = int(time.time())
    body = CASE.body("agent-bot-message-created-human-request")
    assert CASE.post(client, body, ts=now).status_code == 202
    assert CASE.post(client, body, ts=now).status_code == 200  # same delivery id
    assert CASE.post(client, body, ts=now - 3600).status_code == 401
    assert CASE.post(client, body, "forged", ts=now).status_code == 401
    assert CASE.post(client, b"[1, 2", ts=now, delivery="d-2").status_code == 400
    assert CASE.post(client, b'{"event": "conversation_updated"}', ts=now, delivery="d-3").status_code == 422
    answer = CASE.post(client, b'{"event": "contact_created", "id": 5}', ts=now, delivery="d-4")
    assert answer.status_code == 200 and answer.get_json() == {"ignored": "contact_created"}


def test_end_to_end_handoff_reaches_the_outbox_with_the_fetched_transcript(settings: Settings) -> None:
    with Stub({messages_path("3", "318"): paged}) as stub:
        rt, client = CASE.app(settings, CHATWOOT_API_URL=stub.url, CHATWOOT_API_TOKEN="cw-token")
        CASE.check_webhook(client, "conversation-status-changed-handoff")
        run_due(rt)
    document = json.dumps(ticket(rt, case_id_for(SLUG, "318")), ensure_ascii=False)
    assert "It keeps spinning." in document and "export my invoices to CSV" in document


def test_a_file_only_message_takes_its_files_from_the_conversation_list() -> None:
    # message_created's body has content null and no attachments; its copy in conversation.messages
    # carries the files (issue 21). Any message id, any file: nothing here is keyed to a fixture.
    body = CASE.data("agent-bot-message-created-human-request")
    body.update(id=90001, content=None)
    body.pop("attachments", None)
    copy = {**body["conversation"]["messages"][0], "id": 90001, "content": None,
            "attachments": [{"file_type": "image", "extension": "png", "file_size": 2048,
                             "data_url": "https://files.example.com/rails/blobs/shot-90001.png"}]}
    body["conversation"]["messages"] = [copy]
    event = CASE.parse_one(body)
    [turn] = event.conversation.messages
    assert turn.role == "customer" and turn.attachments[0].url.endswith("shot-90001.png")
    assert [s.url for s in event.evidence.screenshots] == ["https://files.example.com/rails/blobs/shot-90001.png"]

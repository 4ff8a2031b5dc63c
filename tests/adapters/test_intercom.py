"""Intercom: fixtures, X-Hub-Signature (HMAC-SHA1), topics, the conversation fetcher, HTTP and end to end."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any

import pytest

from bridge.adapters import intercom
from bridge.adapters.base import InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.adapters.fetch.intercom import contact_path, conversation_path
from bridge.config import Settings
from bridge.errors import RetryableError
from bridge.events import Event
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import Stub, spec, ticket
from tests.adapters.webhook import Credentials, WebhookCase
from tests.conftest import shared_path

SLUG = "intercom"
USED = {"conversation-user-replied-human-request", "conversation-admin-assigned-fin-handover"}
SECRET = "test_ic_client_secret_9f2c41e8d7b6a5"
OTHER = "previous_client_secret_0000"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def hub_signature(body: bytes, secret: str) -> Credentials:
    return {"X-Hub-Signature": sign(body, secret)}, {}


CASE = WebhookCase(SLUG, SECRET, hub_signature)
ADAPTER = CASE.adapter


def with_topic(name: str, topic: str, **item_changes: Any) -> dict[str, Any]:
    data = CASE.data(name)
    data["topic"] = topic
    data["id"] = f"notif_{topic}"
    data["data"]["item"].update(item_changes)
    return data


def test_every_fixture_is_used() -> None:
    assert CASE.fixture_names() == USED


@pytest.mark.parametrize("name", sorted(USED))
def test_fixture_facts(name: str) -> None:
    [event], meta = CASE.parse_fixture(name)
    expected = meta["expected"]
    assert event.event_id == meta.get("expected", {}).get("notification_id", CASE.data(name)["id"])
    assert event.conversation.id == expected["conversation_id"]
    assert event.conversation.partial is True
    assert len(event.conversation.messages) == expected["transcript_turns_in_payload"]
    assert event.customer.id == expected["customer"]["id"]
    assert event.customer.email == expected["customer"]["email"]
    assert event.customer.name == expected["customer"]["name"]
    # Only the platform's own signals make a handoff; a request the trigger engine must judge
    # (is_handoff without handoff_signals) arrives as an update with no handoff.
    platform_handoff = expected["is_handoff"] and "handoff_signals" in expected
    assert (event.handoff is not None) is platform_handoff
    urls = [a.url for m in event.conversation.messages for a in m.attachments]
    assert urls == expected["evidence_urls"]
    assert all("<p>" not in m.text for m in event.conversation.messages)  # HTML bodies become text


def test_user_replied_keeps_the_customer_request_for_the_trigger_engine() -> None:
    [event], meta = CASE.parse_fixture("conversation-user-replied-human-request")
    assert event.type == "conversation.updated"  # Intercom has not routed yet: the engine decides
    assert event.conversation.messages[-1].role == "customer"
    assert "talk to a person" in event.conversation.messages[-1].text
    assert event.customer.attributes["external_id"] == meta["expected"]["customer"]["external_id"]
    assert event.customer.account.id == meta["expected"]["custom_attributes"]["account_id"]
    assert event.customer.attributes["ai_agent_participated"] is True
    assert event.evidence.page_url == "https://app.example.com/invoices"


def test_fin_assignment_is_a_bot_handoff() -> None:
    [event], meta = CASE.parse_fixture("conversation-admin-assigned-fin-handover")
    assert event.type == "handoff.requested"
    assert event.handoff.requested_by == "bot"
    assert str(meta["expected"]["team_assignee_id"]) in event.handoff.reason
    roles = [m.role for m in event.conversation.messages]
    assert roles == ["customer", "bot"]  # the assignment part is an event, not a turn
    bot = event.conversation.messages[-1]
    assert [s.title for s in bot.sources] == ["Refund limits for automated agents"]
    assert event.customer.attributes["refund_amount"] == meta["expected"]["billing"]["amount"]
    assert event.customer.attributes["refund_deadline"] == meta["expected"]["billing"]["deadline"]
    assert event.conversation.url.endswith("/l4e36xhv/conversations/215474351120087")


@pytest.mark.parametrize(("given", "expected"), [("not_priority", None), ("priority", "high")])
def test_a_prioritised_conversation_hands_off_at_high(given: str, expected: str | None) -> None:
    body = with_topic("conversation-admin-assigned-fin-handover", "conversation.admin.assigned", priority=given)
    event = CASE.parse_one(body)
    assert event.type == "handoff.requested" and event.handoff.priority == expected


@pytest.mark.parametrize("topic", sorted(intercom.SUPPORTED_EVENTS))
def test_every_declared_topic_parses(topic: str) -> None:
    body = with_topic("conversation-user-replied-human-request", topic)
    event = CASE.parse_one(body)
    expected = {"conversation.admin.closed": "conversation.closed"}.get(topic, "conversation.updated")
    assert event.type == expected


def test_routed_to_team_alone_is_a_handoff() -> None:
    body = with_topic("conversation-user-replied-human-request", "conversation.admin.assigned",
                      ai_agent={"resolution_state": "routed_to_team"})
    event = CASE.parse_one(body)
    assert event.type == "handoff.requested"


@pytest.mark.parametrize("topic", ["ping", "contact.created", "ticket.created"])
def test_other_topics_are_acknowledged(topic: str) -> None:
    data = CASE.data("conversation-user-replied-human-request") | {"topic": topic}
    with pytest.raises(UnsupportedEvent) as info:
        CASE.parse(data)
    assert info.value.event_type == topic


def test_legacy_1x_item_parses() -> None:
    item = {
        "type": "conversation", "id": "1911149811", "created_at": 1539897198, "updated_at": 1540393270,
        "user": {"type": "user", "id": "5310d8e8598c9a0b24000005", "user_id": "25", "name": "Ævar Ünicode",
                 "email": "aevar@example.com"},
        "conversation_message": {"type": "conversation_message", "id": "148",
                                 "body": "<p>Bonjour, où est ma facture ?</p>",
                                 "author": {"type": "user", "id": "5310d8e8598c9a0b24000005"}, "attachments": []},
        "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [
            {"type": "conversation_part", "id": "9", "part_type": "assignment", "body": None,
             "author": {"type": "bot", "id": "1"}, "assigned_to": {"type": "team", "id": "2"}}]},
        "team_assignee_id": "2",
    }
    event = CASE.parse_one({"type": "notification_event", "topic": "conversation.admin.assigned", "id": "notif_1x",
                            "data": {"item": item}})
    assert event.type == "handoff.requested"
    assert event.customer.email == "aevar@example.com" and event.customer.name == "Ævar Ünicode"
    assert event.conversation.messages[0].text == "Bonjour, où est ma facture ?"


def test_long_transcript_and_missing_optional_blocks() -> None:
    parts = [{"id": str(i), "part_type": "comment", "body": f"<p>part {i}</p>", "author": {"type": "user"}}
             for i in range(6000)]
    event = CASE.parse_one({"type": "notification_event", "topic": "conversation.user.replied", "id": "notif_long",
                            "data": {"item": {"type": "conversation", "id": 42,
                                              "conversation_parts": {"conversation_parts": parts}}}})
    assert len(event.conversation.messages) == 5000 and event.conversation.messages[-1].text == "part 5999"
    assert event.customer is None or event.customer.email is None


@pytest.mark.parametrize(("body", "error"), [
    (b"not json", MalformedPayload),
    (b"[]", MalformedPayload),
    (b'{"type": "notification_event"}', MalformedPayload),
    (b'{"type": "notification_event", "topic": "conversation.user.replied", "id": "n", "data": {"item": []}}',
     MalformedPayload),
    (b'{"type": "notification_event", "topic": "conversation.user.replied", "id": "n", "data": {"item": {}}}',
     InvalidPayload),
])
def test_malformed(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        CASE.parse(body)


def test_invalid_names_the_field() -> None:
    body = b'{"type": "notification_event", "topic": "conversation.user.replied", "id": "n", "data": {"item": {}}}'
    with pytest.raises(InvalidPayload) as info:
        CASE.parse(body)
    assert info.value.field == "data.item.id"


# ---- signature ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(USED))
def test_signature_matches_the_fixture_and_verifies(name: str) -> None:
    body, meta = CASE.load(name)
    assert sign(body, meta["signature"]["secret"]) == meta["headers"]["X-Hub-Signature"]
    CASE.verify(name, secrets=[meta["signature"]["secret"]])


@pytest.mark.parametrize("header", [
    None, "", "sha1=", "sha256=" + "0" * 64, "sha1=zz", "sha1=" + "0" * 40, sign(b"other body"),
])
def test_forged_or_missing_signature_is_refused(header: str | None) -> None:
    headers = {} if header is None else {"X-Hub-Signature": header}
    with pytest.raises(Unauthorized):
        CASE.verify("conversation-user-replied-human-request", headers, [SECRET])


def test_rotated_secrets_accept_either() -> None:
    body = CASE.body("conversation-user-replied-human-request")
    for secret in (SECRET, OTHER):
        CASE.verify(body, {"X-Hub-Signature": sign(body, secret)}, [OTHER, SECRET])
    with pytest.raises(Unauthorized):
        CASE.verify(body, {"X-Hub-Signature": sign(body, "retired")}, [OTHER, SECRET])


def test_no_timestamp_exists_so_replays_rely_on_dedupe() -> None:
    # Intercom signs the body only: a stale or "future" clock cannot be detected here; the
    # notification id dedupe (see test_http_statuses) is the replay defence.
    for now in (0.0, 10**10):
        CASE.verify("conversation-user-replied-human-request", secrets=[SECRET], now=now)


# ---- fetcher -----------------------------------------------------------------------------------

def full_conversation() -> dict:
    item = CASE.data("conversation-admin-assigned-fin-handover")["data"]["item"]
    item = copy.deepcopy(item)
    earlier = [
        {"type": "conversation_part", "id": "45763869990", "part_type": "comment", "created_at": 1741970414,
         "body": "I can see two payments of $499.00 on 2025-03-01.", "author": {"type": "bot", "id": "6827949"}},
        {"type": "conversation_part", "id": "45763869995", "part_type": "comment", "created_at": 1741970440,
         "body": "Right. Please refund the duplicate.",
         "author": {"type": "user", "id": item["source"]["author"]["id"]}},
        {"type": "conversation_part", "id": "45763869996", "part_type": "note", "created_at": 1741970441,
         "body": "internal note", "author": {"type": "admin", "id": "1"}},
    ]
    item["conversation_parts"]["conversation_parts"] = earlier + item["conversation_parts"]["conversation_parts"]
    return item


def intercom_settings(settings: Settings, url: str, **extra: str) -> Settings:
    return settings.with_overrides(extra={"INTERCOM_API_URL": url, "INTERCOM_ACCESS_TOKEN": "tok_test", **extra})


def fetch_full(settings: Settings) -> tuple[Event, list[dict]]:
    """The handover completed from a stub that answers the whole conversation, and what it was asked."""
    [event], _ = CASE.parse_fixture("conversation-admin-assigned-fin-handover")
    with Stub({conversation_path(event.conversation.id): lambda q: (200, full_conversation())}) as stub:
        done = ADAPTER.complete(event, intercom_settings(settings, stub.url))
    return done, stub.requests


def test_fetch_builds_the_full_transcript(settings: Settings) -> None:
    done, requests = fetch_full(settings)
    assert done.conversation.partial is False
    texts = [m.text for m in done.conversation.messages]
    assert "Right. Please refund the duplicate." in texts and "internal note" not in texts
    assert len(done.conversation.messages) == 4
    [request] = requests
    assert request["headers"]["Authorization"] == "Bearer tok_test"
    assert request["headers"]["Intercom-Version"] == "2.14"
    assert request["path"] == "/conversations/215474351120087"


def test_fetch_asks_only_what_intercoms_spec_allows(settings: Settings) -> None:
    # The vendor's OpenAPI document is shared material, not part of the repository.
    document = spec(shared_path("specs/intercom/api.intercom.io.2.14.yaml"))
    _, [request] = fetch_full(settings)
    operation = document["paths"]["/conversations/{conversation_id}"]["get"]
    allowed = {p["name"] for p in operation["parameters"] if p.get("in") == "query"}
    assert set(request["query"]) <= allowed
    assert "/contacts/{contact_id}" in document["paths"]  # where a missing e-mail is fetched from


def test_fetch_gets_a_missing_email_from_the_contact(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("conversation-admin-assigned-fin-handover")
    event = event.model_copy(update={"customer": event.customer.model_copy(update={"email": None})})
    routes = {conversation_path(event.conversation.id): lambda q: (200, full_conversation()),
              contact_path(event.customer.id): lambda q: (200, {"type": "contact", "email": "found@example.org"})}
    with Stub(routes) as stub:
        done = ADAPTER.complete(event, intercom_settings(settings, stub.url))
    assert done.customer.email == "found@example.org"
    assert [r["path"] for r in stub.requests][-1] == contact_path(event.customer.id)


def test_fetch_transient_failure_retries(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("conversation-admin-assigned-fin-handover")
    with Stub({conversation_path(event.conversation.id): lambda q: (503, {})}) as stub, \
            pytest.raises(RetryableError):
        ADAPTER.complete(event, intercom_settings(settings, stub.url))


@pytest.mark.parametrize("status", [401, 404])
def test_fetch_permanent_failure_keeps_the_handoff_and_says_partial(settings: Settings, status: int) -> None:
    [event], _ = CASE.parse_fixture("conversation-admin-assigned-fin-handover")
    with Stub({conversation_path(event.conversation.id): lambda q: (status, {})}) as stub:
        done = ADAPTER.complete(event, intercom_settings(settings, stub.url))
    assert done.conversation.partial is True and done.conversation.url
    assert done.customer.attributes["transcript_partial"] is True
    assert len(done.conversation.messages) == len(event.conversation.messages)


def test_fetch_without_token_or_with_plain_http_elsewhere_is_partial(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("conversation-admin-assigned-fin-handover")
    assert ADAPTER.complete(event, settings).conversation.partial is True
    remote = settings.with_overrides(extra={"INTERCOM_API_URL": "http://example.com", "INTERCOM_ACCESS_TOKEN": "t"})
    assert ADAPTER.complete(event, remote).customer.attributes["transcript_partial"] is True


# ---- HTTP and end to end -----------------------------------------------------------------------

def test_http_statuses(settings: Settings) -> None:
    _, client = CASE.app(settings, (OTHER, SECRET))
    body = CASE.body("conversation-user-replied-human-request")
    first = CASE.post(client, body)
    assert first.status_code == 202
    again = CASE.post(client, body)
    assert again.status_code == 200 and again.get_json()["event"] == first.get_json()["event"]
    assert CASE.post(client, body, "forged").status_code == 401
    assert CASE.post(client, b"{not json").status_code == 400
    bad = b'{"type": "notification_event", "topic": "conversation.user.replied", "id": "n", "data": {"item": {}}}'
    assert CASE.post(client, bad).status_code == 422
    answer = CASE.post(client, {"type": "notification_event", "topic": "ping", "id": "notif_ping", "data": {}})
    assert answer.status_code == 200 and answer.get_json() == {"ignored": "ping"}


def test_end_to_end_handoff_reaches_the_outbox_with_the_fetched_transcript(settings: Settings) -> None:
    conversation_id = "215474351120087"
    with Stub({conversation_path(conversation_id): lambda q: (200, full_conversation())}) as stub:
        rt, client = CASE.app(settings, INTERCOM_API_URL=stub.url, INTERCOM_ACCESS_TOKEN="tok")
        CASE.check_webhook(client, "conversation-admin-assigned-fin-handover")
        run_due(rt)
    document = json.dumps(ticket(rt, case_id_for(SLUG, conversation_id)), ensure_ascii=False)
    assert "Right. Please refund the duplicate." in document  # only the API had this turn
    assert "I was charged twice" in document


def test_a_subject_only_opening_is_the_first_turn() -> None:
    body = CASE.data("conversation-user-replied-human-request")
    item = body["data"]["item"]
    item["source"] = {**item["source"], "body": "", "subject": "<p>Invoice INV-88 charged twice</p>"}
    before = len(CASE.parse_one("conversation-user-replied-human-request").conversation.messages)
    event = CASE.parse_one(body)
    assert len(event.conversation.messages) == before
    assert event.conversation.messages[0].text == "Invoice INV-88 charged twice"
    item["source"] = {**item["source"], "subject": None}
    item["title"] = "Charged twice"
    event = CASE.parse_one(body)
    assert event.conversation.messages[0].text == "Charged twice"

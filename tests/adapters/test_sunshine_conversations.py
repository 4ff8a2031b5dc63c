"""Sunshine Conversations: batched events, X-API-Key, switchboard handoffs, the paged messages fetcher, HTTP, e2e."""

from __future__ import annotations

import json

import pytest

from bridge.adapters import sunshine_conversations as sc
from bridge.adapters.base import InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.adapters.fetch.sunshine_conversations import messages_path, user_path
from bridge.config import Settings
from bridge.errors import RetryableError
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import Stub, spec, ticket
from tests.adapters.webhook import Credentials, WebhookCase
from tests.conftest import shared_path

SLUG = "sunshine-conversations"
USED = {"conversation-message-human-request", "switchboard-passcontrol-billing", "conversation-messages-list-billing"}
SECRET = "sc_whsec_test_3b7e19a4c2d84f06a1"
APP = "65f1c0a2b3d4e5f60718293a"


def api_key(body: bytes, key: str) -> Credentials:
    # The integration's webhook secret, sent as it is in X-API-Key (no signature, no timestamp).
    return {"X-API-Key": key}, {}


CASE = WebhookCase(SLUG, SECRET, api_key)
ADAPTER = CASE.adapter


def test_every_fixture_is_used() -> None:
    assert CASE.fixture_names() == USED


@pytest.mark.parametrize("name", ["conversation-message-human-request", "switchboard-passcontrol-billing"])
def test_fixture_facts(name: str) -> None:
    events, meta = CASE.parse_fixture(name)
    expected = meta["expected"]
    assert [e.event_id for e in events] == expected["event_ids"]
    [event] = events
    assert event.conversation.id == expected["conversation_id"]
    assert event.conversation.partial is True
    assert len(event.conversation.messages) == expected["transcript_turns_in_payload"]
    assert (event.customer.id if event.customer else None) == expected["customer"]["id"]
    assert event.customer.attributes["sunshine_app_id"] == APP
    assert [a.url for m in event.conversation.messages for a in m.attachments] == expected["evidence_urls"]


def test_customer_message_updates_with_full_user() -> None:
    [event], meta = CASE.parse_fixture("conversation-message-human-request")
    expected = meta["expected"]
    assert event.type == "conversation.updated"
    assert event.customer.email == expected["customer"]["email"]
    assert event.customer.name == expected["customer"]["name"]
    assert event.customer.attributes["external_id"] == expected["customer"]["external_id"]
    assert event.customer.attributes["bot_confidence"] == expected["conversation_metadata"]["bot_confidence"]
    assert event.customer.locale == "en-GB" and event.customer.account.id == "acct_48213"
    assert "talk to a person" in event.conversation.messages[0].text


def test_pass_control_is_a_handoff_with_its_metadata() -> None:
    [event], meta = CASE.parse_fixture("switchboard-passcontrol-billing")
    assert event.type == "handoff.requested"
    assert event.handoff.requested_by == "bot" and event.handoff.topic == "billing_exception"
    assert "$499.00" in event.handoff.reason
    attrs = event.customer.attributes
    assert attrs["first_message_id"] == meta["expected"]["metadata_first_message_id"]
    assert attrs["switchboard_integration"] == meta["expected"]["new_active_integration"]
    assert f"{attrs['refund_amount']:.2f}" == meta["expected"]["billing"]["amount"]
    assert attrs["refund_currency"] == meta["expected"]["billing"]["currency"]


def envelope(*events: dict) -> bytes:
    return json.dumps({"app": {"id": APP}, "webhook": {"id": "w", "version": "v2"}, "events": list(events)}).encode()


def event_of(name: str) -> dict:
    return CASE.data(name)["events"][0]


@pytest.mark.parametrize("kind", sorted(sc.SUPPORTED_EVENTS))
def test_every_declared_event_type_parses(kind: str) -> None:
    base = event_of("conversation-message-human-request" if kind == "conversation:message"
                    else "switchboard-passcontrol-billing")
    event = CASE.parse_one(envelope(base | {"type": kind}))
    expected = "handoff.requested" if kind in ("switchboard:passControl", "switchboard:offerControl") \
        else "conversation.updated"
    assert event.type == expected


def test_offer_names_the_pending_integration_and_ticket_closed_closes() -> None:
    offer = event_of("switchboard-passcontrol-billing") | {"type": "switchboard:offerControl"}
    offer["payload"] = {"conversation": {"id": "c1", "pendingSwitchboardIntegration": {"name": "zd-agentWorkspace"}}}
    event = CASE.parse_one(envelope(offer))
    assert event.handoff.reason == "the bot offered control to zd-agentWorkspace"
    closed = event_of("switchboard-passcontrol-billing")
    closed["payload"] = {"conversation": {"id": "c1"}, "reason": "ticketClosed"}
    assert CASE.parse_one(envelope(closed)).type == "conversation.closed"


def test_a_batch_gives_one_event_each_and_skips_what_it_cannot_use() -> None:
    message = event_of("conversation-message-human-request")
    image = json.loads(json.dumps(message))
    image["id"], image["payload"]["message"]["id"] = "e2", "m2"
    image["payload"]["message"]["content"] = {"type": "image", "mediaUrl": "https://media.example.com/s.png",
                                              "mediaType": "image/png", "altText": "screen"}
    image["payload"]["message"]["author"] = {"type": "user", "userId": "u1", "displayName": "Zoë 李"}
    broken = {"id": "e3", "type": "conversation:message", "payload": {"conversation": {"id": "c"}}}
    other = {"id": "e4", "type": "conversation:read", "payload": {}}
    events = CASE.parse(envelope(message, image, broken, other))
    assert [e.event_id for e in events] == ["ccf0858e96ad4b4dba0a3743", "e2"]
    assert events[1].evidence.screenshots[0].url == "https://media.example.com/s.png"
    assert events[1].customer.name == "Zoë 李" and events[1].customer.email is None


def test_batches_of_nothing_useful() -> None:
    with pytest.raises(UnsupportedEvent):
        CASE.parse(envelope({"id": "e", "type": "conversation:read"}))
    with pytest.raises(MalformedPayload):
        CASE.parse(envelope({"id": "e", "type": "conversation:message", "payload": {}}))
    with pytest.raises(MalformedPayload):
        CASE.parse(b'{"events": []}')
    with pytest.raises(MalformedPayload):
        CASE.parse(b"\xff\xfe")
    with pytest.raises(InvalidPayload) as info:
        CASE.parse(envelope({"id": "e", "type": "switchboard:passControl", "payload": {}}))
    assert info.value.field == "payload.conversation.id"


# ---- authentication ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["conversation-message-human-request", "switchboard-passcontrol-billing"])
def test_fixture_key_verifies(name: str) -> None:
    CASE.verify(name, secrets=[CASE.meta(name)["signature"]["secret"]])


def test_wrong_missing_and_rotated_keys() -> None:
    body = CASE.body("switchboard-passcontrol-billing")
    for headers in ({}, {"X-API-Key": ""}, {"X-API-Key": SECRET + "x"}, {"X-API-Key": SECRET[:-1]},
                    {"Authorization": SECRET}):
        with pytest.raises(Unauthorized):
            CASE.verify(body, headers, [SECRET])
    CASE.verify(body, {"X-API-Key": "old"}, ["new", "old"])
    # No timestamp exists: the clock plays no part (stale/future cannot be detected; dedupe on events[].id).
    CASE.verify(body, {"X-API-Key": SECRET}, [SECRET], now=10**10)


# ---- fetcher -----------------------------------------------------------------------------------

def listing() -> dict:
    return CASE.data("conversation-messages-list-billing")


def two_pages(query: dict) -> tuple[int, dict]:
    messages = listing()["messages"]
    if "page[before]" in query:
        assert query["page[before]"] == ["0073a486589e3c1c46fa9cdf"]
        return 200, {"messages": messages[:2], "meta": {"hasMore": False}, "links": {}}
    return 200, {"messages": messages[2:], "meta": {"hasMore": True, "beforeCursor": "0073a486589e3c1c46fa9cdf"},
                 "links": {"prev": "..."}}


def sc_settings(settings: Settings, url: str) -> Settings:
    return settings.with_overrides(extra={"SUNSHINE_CONVERSATIONS_API_URL": url,
                                          "SUNSHINE_CONVERSATIONS_KEY_ID": "app_key",
                                          "SUNSHINE_CONVERSATIONS_KEY_SECRET": "key_secret"})


def user_answer(query: dict) -> tuple[int, dict]:
    return 200, {"user": {"id": "8b3c4d5e6f708192a3b4c5d6", "profile": {"givenName": "Marcus", "surname": "Oyelaran",
                                                                       "email": "marcus@example.org"}}}


def test_companion_listing_gives_the_whole_transcript(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("switchboard-passcontrol-billing")
    meta = CASE.meta("conversation-messages-list-billing")
    assert meta["transport"]["path"] == messages_path(APP, event.conversation.id)
    routes = {messages_path(APP, event.conversation.id): lambda q: (200, listing()),
              user_path(APP, "8b3c4d5e6f708192a3b4c5d6"): user_answer}
    with Stub(routes) as stub:
        done = ADAPTER.complete(event, sc_settings(settings, stub.url))
    messages = done.conversation.messages
    assert done.conversation.partial is False
    assert len(messages) == meta["expected"]["transcript_turns"]
    assert sum(m.role == "customer" for m in messages) == meta["expected"]["customer_turns"]
    assert sum(m.role == "bot" for m in messages) == meta["expected"]["bot_turns"]
    assert done.customer.id == meta["expected"]["customer"]["id"]
    assert done.customer.name == meta["expected"]["customer"]["name"]
    assert done.customer.email == "marcus@example.org"
    assert stub.requests[0]["headers"]["Authorization"].startswith("Basic ")


def test_fetch_follows_page_before(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("switchboard-passcontrol-billing")
    routes = {messages_path(APP, event.conversation.id): two_pages,
              user_path(APP, "8b3c4d5e6f708192a3b4c5d6"): user_answer}
    with Stub(routes) as stub:
        done = ADAPTER.complete(event, sc_settings(settings, stub.url))
    assert [m.id for m in done.conversation.messages][0] == "a24cef7dbac5dfd1d62de912"  # oldest first
    assert len(done.conversation.messages) == 6
    paged = [r for r in stub.requests if r["path"].endswith("/messages")]
    assert [set(r["query"]) for r in paged] == [set(), {"page[before]"}]


def test_the_paging_and_paths_the_fetcher_uses_are_the_specs() -> None:
    # page[before] as a deepObject query, the messages listing and the user lookup, as the vendor's
    # OpenAPI document defines them (shared material, not part of the repository).
    document = spec(shared_path("specs/sunshine-conversations/openapi.yaml"))
    listing_op = document["paths"]["/v2/apps/{appId}/conversations/{conversationId}/messages"]["get"]
    page = document["components"]["parameters"]["pageQuery"]
    assert page["name"] == "page" and page["style"] == "deepObject"
    assert "before" in document["components"]["schemas"]["page"]["properties"]
    assert {"$ref": "#/components/parameters/pageQuery"} in listing_op["parameters"]
    assert "get" in document["paths"]["/v2/apps/{appId}/users/{userIdOrExternalId}"]


def test_fetch_failures(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("switchboard-passcontrol-billing")
    path = messages_path(APP, event.conversation.id)
    with Stub({path: lambda q: (429, {})}) as stub, pytest.raises(RetryableError):
        ADAPTER.complete(event, sc_settings(settings, stub.url))
    with Stub({path: lambda q: (403, {})}) as stub:
        done = ADAPTER.complete(event, sc_settings(settings, stub.url))
    assert done.conversation.partial is True and done.customer.attributes["transcript_partial"] is True
    assert done.type == "handoff.requested"


# ---- HTTP and end to end -----------------------------------------------------------------------

def test_http_statuses(settings: Settings) -> None:
    _, client = CASE.app(settings, ("rotated-out-sunshine-secret", SECRET))
    body = CASE.body("conversation-message-human-request")
    assert CASE.post(client, body).status_code == 202
    assert CASE.post(client, body).status_code == 200
    assert CASE.post(client, body, "nope").status_code == 401
    assert CASE.post(client, b"{").status_code == 400
    bad = envelope({"id": "e", "type": "switchboard:passControl", "payload": {}})
    assert CASE.post(client, bad).status_code == 422
    answer = CASE.post(client, envelope({"id": "e", "type": "conversation:read", "payload": {}}))
    assert answer.status_code == 200 and answer.get_json() == {"ignored": "conversation:read"}
    batch = json.loads(body)
    batch["events"].append(event_of("switchboard-passcontrol-billing"))
    answer = CASE.post(client, batch)
    assert answer.status_code == 202 and len(answer.get_json()["events"]) == 2
    assert answer.get_json()["events"][0].get("duplicate") is True


def test_end_to_end_pass_control_reaches_the_outbox_with_the_fetched_transcript(settings: Settings) -> None:
    conversation_id = "8e4f3a2b1c0d9e8f7a6b5c4d"
    routes = {messages_path(APP, conversation_id): two_pages, user_path(APP, "8b3c4d5e6f708192a3b4c5d6"): user_answer}
    with Stub(routes) as stub:
        rt, client = CASE.app(settings, SUNSHINE_CONVERSATIONS_API_URL=stub.url, SUNSHINE_CONVERSATIONS_KEY_ID="k",
                              SUNSHINE_CONVERSATIONS_KEY_SECRET="s")
        CASE.check_webhook(client, "switchboard-passcontrol-billing")
        run_due(rt)
    document = json.dumps(ticket(rt, case_id_for(SLUG, conversation_id)), ensure_ascii=False)
    assert "Please refund the duplicate." in document and "I was charged twice" in document


@pytest.mark.parametrize("answer, flag, words", [
    (lambda q: (200, listing()), "fetched", "transcript missing from the hand-off: fetched from the platform"),
    (lambda q: (403, {}), "not_fetchable", "transcript missing from the hand-off: not fetchable from the platform"),
])
def test_a_handoff_without_transcript_is_flagged_on_the_case_and_in_the_ticket(settings: Settings, answer, flag,
                                                                                words) -> None:
    conversation_id = "8e4f3a2b1c0d9e8f7a6b5c4d"
    routes = {messages_path(APP, conversation_id): answer, user_path(APP, "8b3c4d5e6f708192a3b4c5d6"): user_answer}
    with Stub(routes) as stub:
        rt, client = CASE.app(settings, SUNSHINE_CONVERSATIONS_API_URL=stub.url, SUNSHINE_CONVERSATIONS_KEY_ID="k",
                              SUNSHINE_CONVERSATIONS_KEY_SECRET="s")
        # pass-control: no message in the payload
        CASE.check_webhook(client, "switchboard-passcontrol-billing")
        run_due(rt)
    case_id = case_id_for(SLUG, conversation_id)
    document = ticket(rt, case_id)
    assert f"rb_transcript_missing_{flag}" in json.dumps(document)
    assert words in json.dumps(document, ensure_ascii=False)
    from bridge.store import repo

    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        assert case.event["conversation"]["transcript_missing"] == flag
        escalated = [t for t in repo.timeline_of(s, case_id) if t.kind == "case.escalated"]
    assert escalated[0].detail["transcript_missing"] == flag
    assert escalated[0].detail["at_message"] is not None

"""Freshchat: webhook fixtures → canonical events, RSA signatures, transcript and user fetched from a stub."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bridge.adapters import freshchat
from bridge.adapters.base import InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.config import Settings
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import Stub, ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "freshchat"
NAME = "message-create-human-request"
BODY, META = WebhookCase(SLUG).load(NAME)
FIXTURE_KEY = META["signature"]["test_public_key_pem"]
CONVERSATION = META["expected"]["conversation_id"]
USER = META["expected"]["customer"]["user_id"]
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_PEM = OTHER_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa_signed(body: bytes, public_pem: str, key: rsa.RSAPrivateKey = OTHER_KEY) -> Credentials:
    # Freshchat signs with its private key; the bridge is configured with the public one
    # (``public_pem``, the case's secret), so the test signs with the private half it holds.
    signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return {"X-Freshchat-Signature": base64.b64encode(signature).decode()}, {}


CASE = WebhookCase(SLUG, OTHER_PEM, rsa_signed, secrets=(OTHER_PEM, FIXTURE_KEY))
ADAPTER = CASE.adapter


def sign(body: bytes, key: rsa.RSAPrivateKey = OTHER_KEY) -> dict[str, str]:
    return rsa_signed(body, OTHER_PEM, key)[0]


def conversation_event(action: str, key: str, **body: Any) -> dict[str, Any]:
    conversation = {"conversation_id": CONVERSATION, "app_id": "app-1", "status": "assigned"}
    return {"actor": {"actor_type": "system", "actor_id": "sys"}, "action": action,
            "action_time": "2025-03-11T09:13:45.000Z", "data": {key: {**body, "conversation": conversation}}}


ASSIGNMENT = conversation_event("conversation_assignment", "assignment", assignor="bot", to_group_id="grp-billing")


def test_every_fixture_is_used_and_every_declared_event_is_covered() -> None:
    assert CASE.fixture_names() == {NAME}
    assert {"message_create", "conversation_assignment", "conversation_resolution",
                                          "conversation_reopen"} == freshchat.SUPPORTED_EVENTS
    kinds = {action: CASE.parse_one(conversation_event(action, key)).type
             for action, key in (("conversation_resolution", "resolve"), ("conversation_reopen", "reopen"))}
    assert kinds == {"conversation_resolution": "conversation.closed", "conversation_reopen": "conversation.updated"}
    handoff = CASE.parse_one(ASSIGNMENT)
    assert handoff.type == "handoff.requested" and handoff.handoff is not None
    assert handoff.handoff.topic == "grp-billing" and handoff.conversation.id == CONVERSATION


def test_fixture_facts() -> None:
    [event], meta = CASE.parse_fixture(NAME)
    expected = meta["expected"]
    # A customer's message: whether it escalates is the trigger engine's call (it asks for a person).
    assert event.type == "conversation.updated" and expected["is_handoff"]
    assert "talk to a person" in event.conversation.messages[0].text
    assert event.conversation.id == CONVERSATION and event.conversation.partial is True
    assert len(event.conversation.messages) == expected["transcript_turns_in_payload"]
    assert event.conversation.messages[0].role == "customer"
    assert event.customer is not None and event.customer.id == USER and event.customer.email is None
    assert event.evidence is None and expected["evidence_urls"] == []


def test_older_payloads_private_notes_and_attachments() -> None:
    old = {"actor": {"actor_type": "agent"}, "action": "message_create", "action_time": "2018-10-19T10:16:08.013Z",
           "data": {"message": {"msg_parts": [{"properties": {"text": "Older 📦 payload"}, "part_type": "text"}],
                                "id": "m-old", "conversation_id": "c-old", "message_type": "private",
                                "actor_type": "agent", "created_time": "2018-10-19T10:16:07.973Z"}}}
    event = CASE.parse_one(old)
    assert event.conversation.messages[0].text == "(private note) Older 📦 payload"
    assert event.conversation.messages[0].role == "system"
    image = json.loads(BODY)
    image["data"]["message"]["message_parts"].append({"image": {"url": "https://cdn.example.com/shot.png"}})
    event = CASE.parse_one(image)
    assert event.evidence is not None and event.evidence.screenshots[0].url == "https://cdn.example.com/shot.png"


def test_bad_shapes() -> None:
    with pytest.raises(UnsupportedEvent):
        CASE.parse(b'{"action": "user_update", "data": {}}')
    with pytest.raises(MalformedPayload):
        CASE.parse(b'{"data": {}}')
    with pytest.raises(InvalidPayload):
        CASE.parse(b'{"action": "message_create", "data": {"message": {"id": "x"}}}')


def test_rsa_signature_from_the_fixture_with_rotation_and_forgeries() -> None:
    CASE.verify(NAME, secrets=[FIXTURE_KEY])
    CASE.verify(NAME, secrets=[OTHER_PEM, FIXTURE_KEY.replace("\n", "\\n")])
    CASE.verify(BODY, sign(BODY), [FIXTURE_KEY, OTHER_PEM])
    for headers in ({}, sign(BODY + b" "), {"X-Freshchat-Signature": "***"}, CASE.headers(NAME)):
        with pytest.raises(Unauthorized):
            CASE.verify(BODY, headers, [OTHER_PEM, "not a key"])


def stub_routes(pages: list[list[dict[str, Any]]]) -> dict[str, Any]:
    def messages(query: dict[str, list[str]]) -> tuple[int, Any]:
        page = int(query["page"][0])
        more = page < len(pages)
        # Freshworks' own client (jaya-lib ``GetMessagesResponse``): ``link`` = {href, rel}, absent on the last page.
        link = {"href": f"/v2/conversations/{CONVERSATION}/messages?page={page + 1}&items_per_page=50",
                "rel": "next_page"}
        return 200, {"messages": pages[page - 1], **({"link": link} if more else {})}

    return {f"/v2/conversations/{CONVERSATION}/messages": messages,
            f"/v2/users/{USER}": lambda q: (200, {"id": USER, "email": "ana@example.com", "first_name": "Ana",
                                                  "last_name": "Lima"})}


def history(count: int) -> list[dict[str, Any]]:
    return [{"id": f"h{i}", "actor_type": "bot" if i % 2 else "user", "message_type": "normal",
             "created_time": f"2025-03-11T09:{i // 60:02d}:{i % 60:02d}.000Z",
             "message_parts": [{"text": {"content": f"turn {i}"}}]} for i in range(count)]


def test_complete_fetches_every_page_and_the_users_email(settings: Settings) -> None:
    event = CASE.parse_one(BODY)
    old = history(70)
    with Stub(stub_routes([old[:50], old[50:]])) as stub:
        full = ADAPTER.complete(event, settings.with_overrides(extra={
            "FRESHCHAT_API_URL": f"{stub.url}/v2", "FRESHCHAT_API_TOKEN": "tok"}))
        assert stub.requests[0]["headers"]["Authorization"] == "Bearer tok"
    assert full.conversation.partial is False and len(full.conversation.messages) == 71
    assert full.conversation.messages[-1].text.endswith("talk to a person please?")
    assert full.customer is not None and (full.customer.email, full.customer.name) == ("ana@example.com", "Ana Lima")


def test_a_failing_fetch_keeps_the_partial_event(settings: Settings) -> None:
    event = CASE.parse_one(BODY)
    with Stub({}) as stub:
        kept = ADAPTER.complete(event, settings.with_overrides(extra={
            "FRESHCHAT_API_URL": f"{stub.url}/v2", "FRESHCHAT_API_TOKEN": "tok"}))
    assert kept == event and kept.conversation.partial is True
    assert ADAPTER.complete(event, settings) == event  # not configured


def test_http(settings: Settings) -> None:
    _, client = CASE.app(settings)
    first = CASE.post_as_recorded(client, NAME)
    assert first.status_code == 202
    again = CASE.post_as_recorded(client, NAME)
    assert again.status_code == 200 and again.get_json()["event"] == first.get_json()["event"]
    assert again.get_json()["duplicate"] is True
    assert client.post(CASE.url, data=BODY + b" ", headers=CASE.headers(NAME)).status_code == 401
    assert CASE.post(client, b'{"action": "agent_status_update", "data": {}}').status_code == 200
    assert CASE.post(client, b"{").status_code == 400


def test_handoff_reaches_the_dry_run_ticket_with_the_fetched_transcript(settings: Settings) -> None:
    with Stub(stub_routes([history(4)])) as stub:
        rt, client = CASE.app(settings, FRESHCHAT_API_URL=f"{stub.url}/v2", FRESHCHAT_API_TOKEN="tok")
        assert CASE.post_as_recorded(client, NAME).status_code == 202
        CASE.check_webhook(client, ASSIGNMENT)
        run_due(rt)
    rendered = json.dumps(ticket(rt, case_id_for(SLUG, CONVERSATION)), ensure_ascii=False)
    assert "turn 0" in rendered and "talk to a person please?" in rendered and "ana@example.com" in rendered


# --- Checked against the sources named in bridge/adapters/freshchat.py (issue 21) -------------------

def test_a_key_as_freshchat_admin_shows_it_verifies_a_pkcs1v15_sha256_signature() -> None:
    # Freshchat Admin > Webhooks shows the key as an X.509 SubjectPublicKeyInfo labelled
    # "RSA PUBLIC KEY", on one line; the delivery is signed with RSASSA-PKCS1-v1_5 / SHA-256 over the
    # raw body (the scheme RapidPro's courier verifies Freshchat's deliveries with; its test vector is
    # not copied here: it is not under an open licence). Our own key, in that form.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    shown = f"-----BEGIN RSA PUBLIC KEY----- {base64.b64encode(spki).decode()} -----END RSA PUBLIC KEY-----"
    body = json.dumps({"actor": {"actor_type": "user", "actor_id": "u-1"}, "action": "message_create",
                       "action_time": "2026-12-06T07:00:00.000Z", "data": {"message": {
                           "message_parts": [{"text": {"content": "Test 2"}}], "actor_type": "user",
                           "conversation_id": "c-1", "user_id": "u-1"}}}).encode()
    signed = {"X-Freshchat-Signature": base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()}
    CASE.verify(body, signed, [shown])
    CASE.verify(body, signed, [OTHER_PEM, shown])
    for tampered in (body.replace(b"Test 2", b"Test 3"), body + b"\n"):
        with pytest.raises(Unauthorized):
            CASE.verify(tampered, signed, [shown])
    pss = {"X-Freshchat-Signature": base64.b64encode(key.sign(
        body, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH), hashes.SHA256())).decode()}
    with pytest.raises(Unauthorized):  # another padding is another scheme
        CASE.verify(body, pss, [shown])
    event = CASE.parse_one(body)
    assert event.conversation.messages[0].text == "Test 2" and event.conversation.messages[0].role == "customer"


def test_the_message_list_is_followed_through_link_href_and_stops_without_it(settings: Settings) -> None:
    event = CASE.parse_one(BODY)
    old = history(120)
    with Stub(stub_routes([old[:50], old[50:100], old[100:]])) as stub:
        full = ADAPTER.complete(event, settings.with_overrides(extra={
            "FRESHCHAT_API_URL": f"{stub.url}/v2", "FRESHCHAT_API_TOKEN": "tok"}))
        pages = [r["query"]["page"][0] for r in stub.requests if r["path"].endswith("/messages")]
    assert pages == ["1", "2", "3"] and len(full.conversation.messages) == 121
    # A full page with no ``link`` is the last one.
    with Stub({f"/v2/conversations/{CONVERSATION}/messages": lambda q: (200, {"messages": old[:50]}),
               f"/v2/users/{USER}": lambda q: (200, {"id": USER})}) as stub:
        ADAPTER.complete(event, settings.with_overrides(extra={
            "FRESHCHAT_API_URL": f"{stub.url}/v2", "FRESHCHAT_API_TOKEN": "tok"}))
        assert len([r for r in stub.requests if r["path"].endswith("/messages")]) == 1


def test_nested_parts_videos_url_buttons_and_system_messages() -> None:
    payload = json.loads(BODY)
    message = payload["data"]["message"]
    message["message_parts"] = [
        {"collection": {"sub_parts": [{"text": {"content": "Pick one"}},
                                      {"url_button": {"label": "Billing FAQ", "url": "https://example.com/faq"}}]}},
        {"template_content": {"type": "carousel", "sections": [
            {"name": "hero", "parts": [{"image": {"url": "https://cdn.example.com/card.png"}}]}]}},
        {"video": {"url": "https://cdn.example.com/clip.mp4", "content_type": "video/mp4"}},
    ]
    message["message_type"] = "system"
    event = CASE.parse_one(payload)
    turn = event.conversation.messages[0]
    assert turn.role == "system" and turn.text == "Pick one\nBilling FAQ: https://example.com/faq"
    assert event.evidence is not None
    assert [s.url for s in event.evidence.screenshots] == ["https://cdn.example.com/card.png"]
    files = [(f.url, f.content_type) for f in event.evidence.files]
    assert files == [("https://cdn.example.com/clip.mp4", "video/mp4")]


def assignment(**body: Any) -> Any:
    return CASE.parse_one(conversation_event("conversation_assignment", "assignment", **body))


def test_assignment_shapes_handoff_only_from_no_agent_to_a_human() -> None:
    # data.assignment: assignor, assignor_id, from_/to_agent_id, from_/to_group_id (botpress's typed model).
    to_agent = assignment(assignor="bot", assignor_id="b1", to_agent_id="ag-7", from_agent_id="", to_group_id="",
                          from_group_id="")
    assert to_agent.type == "handoff.requested" and to_agent.handoff is not None
    assert to_agent.handoff.requested_by == "bot" and "agent ag-7" in (to_agent.handoff.reason or "")
    by_agent = assignment(assignor="agent", assignor_id="ag-7", to_agent_id="ag-7", from_agent_id="")
    assert by_agent.type == "handoff.requested" and by_agent.handoff is not None
    assert by_agent.handoff.requested_by is None
    for body in ({"assignor": "agent", "from_agent_id": "ag-1", "to_agent_id": "ag-2"},  # transfer between humans
                 {"assignor": "agent", "from_agent_id": "ag-1", "to_agent_id": "ag-1"},  # no change
                 {"assignor": "agent", "to_agent_id": "", "to_group_id": ""}):  # unassigned
        assert assignment(**body).type == "conversation.updated", body

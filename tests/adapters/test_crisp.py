"""Crisp: plugin-hook signature over "[timestamp;JSON.stringify(body)]", website-hook ?key=, events, REST fetch, e2e."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from bridge.adapters import crisp
from bridge.adapters.base import InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.config import Settings
from bridge.errors import RetryableError
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import Stub, ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "crisp"
USED = {"message-send-human-request", "message-send-file-screenshot"}
SECRET = "crisp_test_signing_secret_b64e91"
WEBSITE = "42286ab3-b29a-4fde-8538-da0ae501d825"


def sign(body: bytes, stamp_ms: int, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), b"[" + str(stamp_ms).encode() + b";" + body + b"]", hashlib.sha256).hexdigest()
    return {"X-Crisp-Request-Timestamp": str(stamp_ms), "X-Crisp-Signature": digest}


def plugin_hook(body: bytes, secret: str, stamp: int | None = None) -> Credentials:
    return sign(body, int(time.time() * 1000) if stamp is None else stamp, secret), {}


CASE = WebhookCase(SLUG, SECRET, plugin_hook)
ADAPTER = CASE.adapter


def test_every_fixture_is_used() -> None:
    assert CASE.fixture_names() == USED


@pytest.mark.parametrize("name", sorted(USED))
def test_fixture_facts(name: str) -> None:
    [event], meta = CASE.parse_fixture(name)
    expected = meta["expected"]
    assert event.conversation.id == expected["session_id"]
    assert event.customer.attributes["crisp_website_id"] == WEBSITE
    assert [a.url for m in event.conversation.messages for a in m.attachments] == expected["evidence_urls"]
    assert event.conversation.url == f"https://app.crisp.chat/website/{WEBSITE}/inbox/{expected['session_id']}/"


def test_human_request_is_left_to_the_trigger_engine() -> None:
    [event], meta = CASE.parse_fixture("message-send-human-request")
    assert event.type == "conversation.updated"  # Crisp has no handoff event
    assert event.customer.name == meta["expected"]["customer"]["nickname"]
    assert event.customer.email is meta["expected"]["customer"]["email"]
    assert len(event.conversation.messages) == meta["expected"]["transcript_turns_in_payload"]
    assert "talk to a person" in event.conversation.messages[0].text


def test_file_message_is_screenshot_evidence() -> None:
    [event], meta = CASE.parse_fixture("message-send-file-screenshot")
    [shot] = event.evidence.screenshots
    assert (shot.name, shot.content_type) == (meta["expected"]["file"]["name"], meta["expected"]["file"]["mime"])


def envelope(event: str, **data) -> bytes:
    base = {"website_id": WEBSITE, "session_id": "session_x", "timestamp": 1741684421218}
    return json.dumps({"website_id": WEBSITE, "event": event, "data": base | data, "timestamp": 1741684421218},
                      ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("kind", sorted(crisp.SUPPORTED_EVENTS))
def test_every_declared_event_type_parses(kind: str) -> None:
    event = CASE.parse_one(envelope(kind, type="text", content="hé", **{"from": "operator"},
                                    email="v@example.com", state="resolved", fingerprint=1))
    expected = "conversation.closed" if kind in ("session:set_state", "session:removed") else "conversation.updated"
    assert event.type == expected
    if kind == "session:set_email":
        assert event.customer.email == "v@example.com"
    if kind.startswith("message:"):
        assert event.conversation.messages[0].role == "agent"


def test_unknown_and_malformed() -> None:
    with pytest.raises(UnsupportedEvent):
        CASE.parse(envelope("people:profile:created"))
    with pytest.raises(MalformedPayload):
        CASE.parse(b'{"event": "message:send"}')
    with pytest.raises(InvalidPayload) as info:
        CASE.parse(b'{"website_id": "w", "event": "message:send", "data": {"content": "x"}}')
    assert info.value.field == "data.session_id"


# ---- signature ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(USED))
def test_fixture_signature_verifies_at_its_clock(name: str) -> None:
    body, meta = CASE.load(name)
    stamp = int(meta["headers"]["X-Crisp-Request-Timestamp"])
    assert sign(body, stamp, meta["signature"]["secret"])["X-Crisp-Signature"] == meta["signature"]["header_value"]
    now = meta["signature"]["verify_at_unix_ms"] / 1000
    CASE.verify(name, secrets=[meta["signature"]["secret"]], now=now)


def test_signature_over_a_reserialized_body() -> None:
    # Pretty-printed bytes on the wire, signature over JSON.stringify (compact, non-ASCII kept).
    compact = envelope("message:send", content="Grüße, 你好", type="text", **{"from": "user"})
    pretty = json.dumps(json.loads(compact), indent=2, ensure_ascii=True).encode()
    now = 1741684421.5
    CASE.verify(pretty, sign(compact, int(now * 1000)), [SECRET], now=now)


def test_stale_future_forged_missing_and_rotated() -> None:
    body, meta = CASE.load("message-send-human-request")
    now = meta["signature"]["verify_at_unix_ms"] / 1000
    ms = int(now * 1000)
    for headers in (sign(body, ms - 301_000), sign(body, ms + 301_000), sign(body, ms, "forged"), sign(b"{}", ms),
                    {"X-Crisp-Signature": "zz", "X-Crisp-Request-Timestamp": str(ms)},
                    {"X-Crisp-Signature": sign(body, ms)["X-Crisp-Signature"]}, {}):
        with pytest.raises(Unauthorized):
            CASE.verify(body, headers, [SECRET], now=now)
    CASE.verify(body, sign(body, ms, "old"), ["new", "old"], now=now)


def test_website_hooks_use_the_url_key() -> None:
    body = CASE.body("message-send-human-request")
    CASE.verify(body, {}, ["new", "old"], query={"key": "old"})
    for query in ({}, {"key": ""}, {"key": "wrong"}):
        with pytest.raises(Unauthorized):
            CASE.verify(body, {}, ["new", "old"], query=query)


# ---- fetcher -----------------------------------------------------------------------------------

SESSION = "session_5e0b7c1a-2d3f-4a5b-8c6d-7e8f9a0b1c2d"
ROOT = f"/v1/website/{WEBSITE}/conversation/{SESSION}"
HISTORY = {"error": False, "reason": "resolved", "data": [
    {"type": "text", "from": "user", "origin": "chat", "content": "Hi, I can't export my invoices to CSV anymore.",
     "fingerprint": 1, "timestamp": 1741684324218},
    {"type": "text", "from": "operator", "automated": True, "content": "Try Invoices > Export > CSV.",
     "fingerprint": 2, "timestamp": 1741684327218},
    {"type": "note", "from": "operator", "content": "private", "fingerprint": 3, "timestamp": 1741684328218},
    {"type": "text", "from": "user", "content": "I tried one month only, same thing. This isn't helping - "
     "can I talk to a person please?", "fingerprint": 174168432518803, "timestamp": 1741684421218},
]}
META = {"error": False, "data": {"email": "priya.raman@example.com", "nickname": "Priya Raman"}}


def crisp_settings(settings: Settings, url: str) -> Settings:
    return settings.with_overrides(extra={"CRISP_API_URL": url, "CRISP_API_IDENTIFIER": "id", "CRISP_API_KEY": "key"})


def test_fetch_history_and_email(settings: Settings) -> None:
    [event], _ = CASE.parse_fixture("message-send-human-request")
    with Stub({ROOT + "/messages": lambda q: (200, HISTORY), ROOT + "/meta": lambda q: (200, META)}) as stub:
        done = ADAPTER.complete(event, crisp_settings(settings, stub.url))
    assert [m.role for m in done.conversation.messages] == ["customer", "bot", "customer"]
    assert done.customer.email == "priya.raman@example.com" and done.conversation.partial is False
    assert all(r["headers"]["X-Crisp-Tier"] == "plugin" for r in stub.requests)
    with Stub({ROOT + "/messages": lambda q: (502, {})}) as stub, pytest.raises(RetryableError):
        ADAPTER.complete(event, crisp_settings(settings, stub.url))
    with Stub({}) as stub:
        assert ADAPTER.complete(event, crisp_settings(settings, stub.url)).conversation.partial is True


# ---- HTTP and end to end -----------------------------------------------------------------------

def test_http_statuses(settings: Settings) -> None:
    _, client = CASE.app(settings)
    body = CASE.body("message-send-human-request")
    assert CASE.post(client, body).status_code == 202
    assert CASE.post(client, body).status_code == 200
    assert CASE.post(client, body, "forged").status_code == 401
    assert CASE.post(client, body, stamp=int(time.time() * 1000) - 3_600_000).status_code == 401
    assert CASE.post(client, b"{]").status_code == 400
    assert CASE.post(client, b'{"website_id": "w", "event": "message:send", "data": {}}').status_code == 422
    answer = CASE.post(client, envelope("people:profile:created"))
    assert answer.status_code == 200 and answer.get_json() == {"ignored": "people:profile:created"}
    unsigned = client.post(f"/webhooks/crisp?key={SECRET}", data=envelope("session:set_email", email="a@example.com"),
                           headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 202


def test_end_to_end_request_reaches_the_outbox_with_the_fetched_transcript(settings: Settings) -> None:
    # Crisp has no handoff event: the trigger engine reads the customer's request for a person.
    with Stub({ROOT + "/messages": lambda q: (200, HISTORY), ROOT + "/meta": lambda q: (200, META)}) as stub:
        rt, client = CASE.app(settings, CRISP_API_URL=stub.url, CRISP_API_IDENTIFIER="i", CRISP_API_KEY="k")
        CASE.check_webhook(client, "message-send-human-request")
        run_due(rt)
    document = json.dumps(ticket(rt, case_id_for(SLUG, SESSION)), ensure_ascii=False)
    assert "export my invoices to CSV" in document and "priya.raman@example.com" in document


def test_fetch_reads_every_page(settings: Settings) -> None:
    # Crisp pages the history newest first; ?timestamp_before=<oldest seen> gives the older page.
    items = HISTORY["data"]
    pages = {None: [items[2], items[3]], str(items[2]["timestamp"]): [items[0], items[1]],
             str(items[0]["timestamp"]): []}
    [event], _ = CASE.parse_fixture("message-send-human-request")
    routes = {ROOT + "/messages": lambda q: (200, {"error": False, "data": pages[(q.get("timestamp_before") or
                                                                                   [None])[0]]}),
              ROOT + "/meta": lambda q: (200, META)}
    with Stub(routes) as stub:
        done = ADAPTER.complete(event, crisp_settings(settings, stub.url))
    assert [m.role for m in done.conversation.messages] == ["customer", "bot", "customer"]
    assert done.conversation.messages[0].text.startswith("Hi, I can't export")
    assert len([r for r in stub.requests if r["path"].endswith("/messages")]) == 3

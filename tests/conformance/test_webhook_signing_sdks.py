"""Signing conformance: the vendors' own signers against the adapters that verify their schemes.

``svix`` signs Ada deliveries (Ada sends through Svix); ``standardwebhooks`` signs the generic
endpoint's events and verifies what the bridge itself signs (the bot callback); ``slack_sdk``'s
``SignatureVerifier`` signs Slack interactivity posts. A signature made by the SDK must pass, the
same one on another body or another secret must not. Test dependencies only.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
from slack_sdk.signature import SignatureVerifier
from svix.webhooks import Webhook as SvixWebhook

from bridge.adapters.ada import AdaAdapter
from bridge.adapters.base import Unauthorized
from bridge.adapters.generic import GenericAdapter
from bridge.config import Settings
from tests.adapters.support import app_for, inbound, load

ADA_SECRET = "whsec_c2RrLWFkYS10ZXN0LXNlY3JldC0wMDAx"
GENERIC_SECRET = "whsec_c2RrLWdlbmVyaWMtc2VjcmV0LTAwMDAx"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def svix_headers(body: bytes, msg_id: str, at: int, secret: str = ADA_SECRET) -> dict[str, str]:
    signature = SvixWebhook(secret).sign(msg_id, datetime.fromtimestamp(at, UTC), body.decode())
    return {"svix-id": msg_id, "svix-timestamp": str(at), "svix-signature": signature}


def test_svix_signed_ada_delivery_is_accepted_and_read(settings: Settings) -> None:
    body, _ = load("ada", "conversation-message-human-request")
    at = int(time.time())
    headers = svix_headers(body, "msg_sdk_1", at)
    SvixWebhook(ADA_SECRET).verify(body.decode(), headers)  # the SDK agrees with itself
    AdaAdapter().verify(inbound(body, headers, now=at), [ADA_SECRET], 300)
    with pytest.raises(Unauthorized):
        AdaAdapter().verify(inbound(body + b" ", headers, now=at), [ADA_SECRET], 300)
    with pytest.raises(Unauthorized):
        AdaAdapter().verify(inbound(body, svix_headers(body, "msg_sdk_1", at - 3600), now=at), [ADA_SECRET], 300)
    _, client = app_for(settings, "ada", (ADA_SECRET,))
    answer = client.post("/webhooks/ada", data=body, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == 202
    [event] = AdaAdapter().parse(inbound(body, headers))
    assert event.event_id == "msg_sdk_1"  # Svix's message id is the dedupe key
    assert event.conversation.id == json.loads(body)["data"]["conversation_id"]


def test_standard_webhooks_signed_generic_event(settings: Settings) -> None:
    event = {"event_id": "sdk-evt-1", "type": "handoff.requested",
             "conversation": {"id": "sdk-conv-1", "messages": [{"role": "customer", "text": "A person please"}]},
             "customer": {"email": "ola@example.com"}}
    body = json.dumps(event).encode()
    at = datetime.now(UTC)
    signature = standardwebhooks.Webhook(GENERIC_SECRET).sign("msg_sdk_2", at, body.decode())
    headers = {"webhook-id": "msg_sdk_2", "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": signature}
    GenericAdapter().verify(inbound(body, headers, now=at.timestamp()), [GENERIC_SECRET], 300)
    # Ada accepts the Standard Webhooks header names too (Svix is a Standard Webhooks sender).
    AdaAdapter().verify(inbound(body, headers, now=at.timestamp()), [GENERIC_SECRET], 300)
    with pytest.raises(Unauthorized):
        GenericAdapter().verify(inbound(body, headers, now=at.timestamp()), [ADA_SECRET], 300)
    _, client = app_for(settings, "generic", (GENERIC_SECRET,))
    answer = client.post("/webhooks/generic", data=body, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == 202, answer.get_json()


def test_the_bot_callback_the_bridge_signs_verifies_with_standard_webhooks() -> None:
    from connectors.base import Context
    from connectors.botcallback import BotCallbackConnector

    sent: dict = {}

    class Session:
        trust_env = True

        def post(self, url, data, headers, **_):
            sent.update(body=data, headers=headers)
            return type("Answer", (), {"status_code": 204, "headers": {}})()

    settings = Settings().with_overrides(extra={"BOT_CALLBACK_URL": "http://127.0.0.1:9/bot",
                                                "BOT_CALLBACK_SECRET": GENERIC_SECRET})
    connector = BotCallbackConnector(settings, session=Session())
    connector.send(None, {"type": "handoff.accepted", "case": "c-1"}, Context("c-1", "c-1-bot.callback", {}, 1))
    verified = standardwebhooks.Webhook(GENERIC_SECRET).verify(sent["body"], sent["headers"])
    assert verified == {"type": "handoff.accepted", "case": "c-1"}


def slack_post(client, body: bytes, secret: str = SLACK_SECRET, at: int | None = None):
    at = int(time.time()) if at is None else at
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(at), body=body)
    return client.post("/slack/actions", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(at),
        "X-Slack-Signature": signature})


def test_slack_sdk_signatures_are_what_the_bridge_checks(settings: Settings) -> None:
    from urllib.parse import urlencode

    _, client = app_for(settings, "generic", (GENERIC_SECRET,), SLACK_SIGNING_SECRET=SLACK_SECRET)
    payload = {"type": "block_actions", "user": {"id": "U0SDK"}, "channel": {"id": "C0SDK"},
               "actions": [{"action_id": "take_case", "block_id": "case:c-missing", "value": "c-missing"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    at = int(time.time())
    signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=str(at), body=body)
    assert SignatureVerifier(SLACK_SECRET).is_valid(body=body, timestamp=str(at), signature=signature)
    assert slack_post(client, body).status_code != 401  # signed by the SDK: past the check
    assert slack_post(client, body, secret="another-signing-secret").status_code == 401
    assert slack_post(client, body, at=at - 3600).status_code == 401  # slack_sdk refuses it too
    late = type("Clock", (), {"now": staticmethod(lambda: at + 3600)})()
    assert not SignatureVerifier(SLACK_SECRET, clock=late).is_valid(body=body, timestamp=str(at), signature=signature)

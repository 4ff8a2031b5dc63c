"""Every inbound route, with a way to sign any body validly and the bodies it is fuzzed from.

A ``Route`` knows its path, the settings that configure its secret, how a real sender signs a body
(headers and query) and the well-formed bodies the mutations start from: the adapter fixtures and
examples for the chatbot platforms, a block action for Slack, ticket and issue events for Zendesk
and Jira. Secrets are strong (16+ random bytes) so they pass the start-up checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bridge.adapters import ADAPTERS
from bridge.cli.sender import credentials
from tests.adapters.support import FIXTURES
from tests.helpers import generic_event

ROOT = Path(__file__).resolve().parents[2]
WHSEC = "whsec_" + base64.b64encode(hashlib.sha256(b"fuzz-standard-webhooks").digest()).decode()
PLAIN = "fuzz-" + hashlib.sha256(b"fuzz-shared-secret").hexdigest()[:32]
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
ADMIN = "fuzz-admin-token-" + "k" * 24  # BRIDGE_ADMIN_TOKEN of the fuzzed apps (24+ characters)
BOT_APP = "3f0b7a52-1c9e-4d2b-9a61-0c7e2b5d8f11"
BOT_TENANT = "8a1d7c3e-5b2f-4e90-a6d4-1f3c9b7e2a50"
Signer = Callable[[bytes], tuple[dict[str, str], dict[str, str]]]


@dataclass(frozen=True)
class Route:
    name: str  # what the report calls it
    path: str
    secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # webhook_secrets entries
    extra: dict[str, str] = field(default_factory=dict)  # settings.extra
    sign: Signer = lambda body: ({}, {})  # noqa: E731
    bodies: tuple[bytes, ...] = ()
    content_type: str = "application/json"
    form_field: str | None = None  # Slack: the JSON travels in one form field
    prepare: Callable[[Any], Any] = lambda doc: doc  # noqa: E731

    def encode(self, doc: Any) -> bytes:
        text = json.dumps(self.prepare(doc), ensure_ascii=False)
        return urlencode({self.form_field: text}).encode() if self.form_field else text.encode()

    def encode_raw(self, raw: bytes) -> bytes:
        """Raw bytes where the JSON goes: the form field for Slack, the whole body otherwise."""
        return urlencode({self.form_field: raw}).encode() if self.form_field else raw


def _shared_secret(slug: str) -> Signer:
    secret = WHSEC if slug in ("generic", "ada") else PLAIN
    return lambda body: credentials(slug, body, secret)


def _freshchat(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    signature = RSA_KEY.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return {"Content-Type": "application/json", "X-Freshchat-Signature": base64.b64encode(signature).decode()}, {}


def _jwks() -> str:
    key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    return json.dumps({"keys": [key | {"kid": "fuzz", "use": "sig", "alg": "RS256"}]})


def _botframework(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    now = int(time.time())
    claims = {"aud": "https://api.botframework.com", "iss": f"https://sts.windows.net/{BOT_TENANT}/",
              "appid": BOT_APP, "iat": now, "nbf": now, "exp": now + 3600, "tid": BOT_TENANT}
    token = jwt.encode(claims, RSA_KEY, algorithm="RS256", headers={"kid": "fuzz"})
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}, {}


def _slack(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    stamp = str(int(time.time()))
    digest = hmac.new(PLAIN.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest}"}, {}


def _zendesk(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    signature = base64.b64encode(hmac.new(PLAIN.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": signature,
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Invocation-Id": uuid.uuid4().hex}, {}


def _jira(body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    digest = hmac.new(PLAIN.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}"}, {}


def _drift_token(doc: Any) -> Any:
    # Drift repeats its verification token in the body: a copy that does not match is a forgery.
    if isinstance(doc, dict) and isinstance(doc.get("token"), str):
        return {**doc, "token": PLAIN}
    return doc


def _inbound(body: Path) -> bool:
    """A delivery to the bridge (not an API answer the bridge reads, nor what it sends)."""
    meta = json.loads(body.with_name(body.stem + ".meta.json").read_text())
    return str(meta.get("direction", "")).lower().startswith("inbound")


def _fixtures(slug: str) -> tuple[bytes, ...]:
    found = sorted(p for p in (FIXTURES / slug).glob("*.json") if not p.name.endswith(".meta.json") and _inbound(p))
    found += sorted((ROOT / "examples" / slug).glob("*.json"))
    return tuple(p.read_bytes() for p in found)


def _generic() -> tuple[bytes, ...]:
    made = generic_event(event_id="evt-fuzz")
    made["customer"]["account"] = {"id": "acc-1", "mrr": 1200.5, "renewal_date": "2027-01-31"}
    made["evidence"] = {"screenshots": [{"kind": "screenshot", "url": "https://evidence.example/s.png"}],
                        "console_logs": [{"level": "error", "message": "TypeError: x is undefined"}]}
    return (json.dumps(made).encode(), *_fixtures("generic"))


SLACK_ACTION = {"type": "block_actions", "user": {"id": "U0ANA", "name": "ana"}, "channel": {"id": "C0SUPPORT"},
                "actions": [{"action_id": "take_case", "block_id": "case:c-0000", "value": "c-0000"}]}
ZENDESK_EVENT = {"type": "zen:event-type:ticket.comment_added", "id": "zd-1",
                 "detail": {"id": "4242", "external_id": "c-0000", "status": "OPEN"},
                 "event": {"comment": {"id": 1, "body": "hello", "is_public": True, "author": {"id": 901}}}}
JIRA_EVENT = {"webhookEvent": "jira:issue_updated", "timestamp": 1760000000000,
              "issue": {"key": "SUP-1", "fields": {"status": {"name": "Done", "statusCategory": {"key": "done"}},
                                                   "labels": ["rb-case-c-0000"], "fixVersions": []}},
              "changelog": {"items": [{"field": "status", "toString": "Done"}]}}


def routes() -> list[Route]:
    found = []
    for slug in ADAPTERS:
        secret = {"freshchat": RSA_PUBLIC, "botframework": BOT_APP}.get(slug, WHSEC if slug in ("generic", "ada")
                                                                       else PLAIN)
        sign = {"freshchat": _freshchat, "botframework": _botframework}.get(slug) or _shared_secret(slug)
        extra = {"BOTFRAMEWORK_JWKS": _jwks()} if slug == "botframework" else {}
        found.append(Route(slug, f"/webhooks/{slug}", {slug: (secret,)}, extra, sign,
                           _generic() if slug == "generic" else _fixtures(slug),
                           prepare=_drift_token if slug == "drift" else (lambda doc: doc)))
    found.append(Route("slack-actions", "/slack/actions", {}, {"SLACK_SIGNING_SECRET": PLAIN}, _slack,
                       (json.dumps(SLACK_ACTION).encode(),), "application/x-www-form-urlencoded", "payload"))
    found.append(Route("zendesk-events", "/events/zendesk", {"zendesk": (PLAIN,)}, {}, _zendesk,
                       (json.dumps(ZENDESK_EVENT).encode(),)))
    found.append(Route("jira-events", "/events/jira", {"jira": (PLAIN,)}, {}, _jira,
                       (json.dumps(JIRA_EVENT).encode(),)))
    return found


ROUTES = {route.name: route for route in routes()}

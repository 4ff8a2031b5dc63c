"""``POST /events/zendesk`` and ``POST /events/jira``: verify, store, enqueue, answer 200.

Same durable pattern as the chatbot intake: nothing is applied in the request. A 200 means the
delivery is committed to ``vendor_events``; a repeat of the same delivery id answers 200 with
``"duplicate": true`` and changes nothing; a store failure answers 503 with ``Retry-After``.

Zendesk (https://developer.zendesk.com/documentation/webhooks/verifying/):
  ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp_header + raw_body)), no
  separator. The timestamp header is ISO 8601 (``2026-07-22T10:00:00Z``): it is HMACed exactly as
  received and parsed only for the ±``BRIDGE_TIMESTAMP_TOLERANCE`` window. The secret is used as
  the string Zendesk shows (not base64-decoded). Zendesk barely retries and trips a circuit breaker
  on errors, so everything past the signature answers 2xx; the reconciler covers lost events.
  Dedupe key: ``X-Zendesk-Webhook-Invocation-Id``, else the event ``id`` in the body.

Jira (``JIRA_WEBHOOK_SECRET``, comma list for rotation), either of:
  * ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`` — what Jira Cloud sends for a
    webhook registered with a secret;
  * the secret itself in ``X-Bridge-Webhook-Secret`` or ``?secret=`` — for Jira Automation's
    "Send web request" and Data Center, which cannot sign. Compared in constant time.
  Dedupe key: ``X-Atlassian-Webhook-Identifier`` (stable across Jira's retries), else a body hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from datetime import datetime

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from bridge import jsonsafe
from bridge.runtime import Runtime
from bridge.signing import SignatureError, hmac_digest, matches_any
from bridge.store import loop_repo
from bridge.store.models import RECEIVED
from bridge.web.errors import ApiError
from bridge.worker import intake

bp = Blueprint("vendor_events", __name__)
log = logging.getLogger("bridge.vendor_events")

JOB = "bridge.loop.process_vendor_event"
# Zendesk's published secret for webhooks tested in the admin UI before they exist: fine for a
# test, refused when BRIDGE_ENV=production.
ZENDESK_TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


def _runtime() -> Runtime:
    return current_app.extensions["bridge.runtime"]  # type: ignore[no-any-return]


def parse_iso_timestamp(value: str) -> float:
    """Zendesk's signature timestamp (ISO 8601, ``Z`` or an offset) as unix seconds."""
    text = value.strip()
    if not text:
        raise SignatureError("missing timestamp")
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise SignatureError("timestamp is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise SignatureError("timestamp has no offset")
    return parsed.timestamp()


def zendesk_signature(body: bytes, timestamp: str, secret: str) -> str:
    """The ``X-Zendesk-Webhook-Signature`` value for a body (tests, seed-demo, docs)."""
    return base64.b64encode(hmac_digest(secret.encode(), timestamp.encode() + body)).decode()


def verify_zendesk(
    body: bytes, signature: str, timestamp: str, secrets: tuple[str, ...], now: float, tolerance: int,
    production: bool = False,
) -> None:
    usable = [s for s in secrets if not (production and s == ZENDESK_TEST_SECRET)]
    if not usable:
        raise SignatureError("no usable secret configured")
    if not signature:
        raise SignatureError("missing signature")
    ts = parse_iso_timestamp(timestamp)
    if ts < now - tolerance:
        raise SignatureError("timestamp too old")
    if ts > now + tolerance:
        raise SignatureError("timestamp in the future")
    try:
        presented = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not base64") from None
    expected = [hmac_digest(s.encode(), timestamp.encode() + body) for s in usable]
    if not matches_any(expected, [presented]):
        raise SignatureError("signature mismatch")


def verify_jira(body: bytes, hub_signature: str, token: str, secrets: tuple[str, ...]) -> None:
    if not secrets:
        raise SignatureError("no secret configured")
    if hub_signature:
        scheme, _, value = hub_signature.strip().partition("=")
        if scheme != "sha256" or not value:
            raise SignatureError("X-Hub-Signature is not sha256=<hex>")
        presented = value.strip().lower().encode()
        expected = [hmac.new(s.encode(), body, hashlib.sha256).hexdigest().encode() for s in secrets]
        if not matches_any(expected, [presented]):
            raise SignatureError("signature mismatch")
        return
    if not token:
        raise SignatureError("no signature and no shared secret")
    if not matches_any([s.encode() for s in secrets], [token.encode()]):
        raise SignatureError("shared secret mismatch")


def _body(rt: Runtime) -> bytes:
    limit = rt.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"body exceeds {limit} bytes")
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
    return request.get_data(cache=True)


def _store(rt: Runtime, source: str, delivery_id: str, event_type: str, body: bytes) -> ResponseReturnValue:
    now = rt.clock()
    values = dict(
        source=source, delivery_id=delivery_id[:200], event_type=event_type[:100], body=body,
        headers=intake.audit_headers(request.headers.items()), received_at=now, state=RECEIVED,
        attempts=0, next_attempt_at=now, updated_at=now,
    )
    try:
        with rt.store.session() as s:
            ident, duplicate = loop_repo.insert_vendor_event(s, values)
            s.commit()
    except (SQLAlchemyError, OSError) as exc:
        log.error("bridge.vendor_events.store_failed", extra={"source": source, "error": type(exc).__name__})
        raise ApiError(503, "store_unavailable", "the event could not be stored; retry later",
                       {"Retry-After": "5"}) from None
    if not duplicate:
        try:
            rt.queue.enqueue(JOB, ident)
        except Exception as exc:  # durable already: the sweeper enqueues it later
            log.warning("bridge.vendor_events.enqueue_failed", extra={"id": ident, "error": type(exc).__name__})
    return jsonify({"received": ident} | ({"duplicate": True} if duplicate else {})), 200


def _parse(rt: Runtime, body: bytes) -> dict[str, object]:
    try:
        data = jsonsafe.loads(body, rt.settings.max_json_depth)
    except jsonsafe.JSONError as exc:
        raise ApiError(400, "invalid_json", str(exc)) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_payload", "the body must be a JSON object")
    return data


@bp.post("/events/zendesk")
def zendesk() -> ResponseReturnValue:
    rt = _runtime()
    body = _body(rt)
    try:
        verify_zendesk(
            body,
            request.headers.get("X-Zendesk-Webhook-Signature", ""),
            request.headers.get("X-Zendesk-Webhook-Signature-Timestamp", ""),
            rt.settings.secrets_for("zendesk"),
            time.time(),
            rt.settings.timestamp_tolerance,
            production=rt.settings.get("BRIDGE_ENV", "").strip().lower() == "production",
        )
    except SignatureError as exc:
        log.info("bridge.vendor_events.rejected", extra={"source": "zendesk", "reason": str(exc),
                                                         "body_sha256": hashlib.sha256(body).hexdigest()[:16]})
        raise ApiError(401, "unauthorized", "invalid or missing signature") from None
    account = rt.settings.get("ZENDESK_ACCOUNT_ID", "").strip()
    presented_account = request.headers.get("X-Zendesk-Account-Id", "").strip()
    if account and presented_account and presented_account != account:
        raise ApiError(403, "wrong_account", "the webhook comes from another Zendesk account")
    data = _parse(rt, body)
    delivery = request.headers.get("X-Zendesk-Webhook-Invocation-Id", "").strip() or str(data.get("id") or "")
    if not delivery:
        delivery = "sha256:" + hashlib.sha256(body).hexdigest()
    event_type = str(data.get("type") or data.get("bridge_event") or "ticket")
    return _store(rt, "zendesk", delivery, event_type, body)


@bp.post("/events/jira")
def jira() -> ResponseReturnValue:
    rt = _runtime()
    body = _body(rt)
    token = request.headers.get("X-Bridge-Webhook-Secret", "") or request.args.get("secret", "")
    try:
        verify_jira(body, request.headers.get("X-Hub-Signature", ""), token, rt.settings.secrets_for("jira"))
    except SignatureError as exc:
        log.info("bridge.vendor_events.rejected", extra={"source": "jira", "reason": str(exc),
                                                         "body_sha256": hashlib.sha256(body).hexdigest()[:16]})
        raise ApiError(401, "unauthorized", "invalid or missing signature") from None
    data = _parse(rt, body)
    delivery = request.headers.get("X-Atlassian-Webhook-Identifier", "").strip()
    if not delivery:
        delivery = "sha256:" + hashlib.sha256(body).hexdigest()
    return _store(rt, "jira", delivery, str(data.get("webhookEvent") or "jira"), body)

"""Chatwoot account, agent-bot and API-inbox webhooks (flat JSON with an ``event`` key).

Docs: chatwoot/docs ``docs/product/others/webhook-events.md``; fetch ``GET /api/v1/accounts/{account}/
conversations/{id}/messages``. Signature (v4.11.2+ account webhooks, v4.13.0+ agent bots and API
inboxes): ``X-Chatwoot-Signature: sha256=<hex HMAC-SHA256("<X-Chatwoot-Timestamp>.<raw body>")>`` with
``X-Chatwoot-Timestamp`` in a ±tolerance window; ``CHATWOOT_WEBHOOK_SECRET`` (comma list = rotation).
Dedupe on ``X-Chatwoot-Delivery`` (same across retries). Events: ``message_created``/``message_updated``
(one message), ``conversation_created``/``conversation_updated``/``conversation_status_changed``
(the conversation with its last message). Handoff: status pending → open. ``resolved`` closes.
The conversation's own ``priority`` (urgent | high | medium | low) becomes ``handoff.priority``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge import signing
from bridge.adapters import vendor_api as v
from bridge.adapters.base import (
    Adapter,
    Delivery,
    Handler,
    Inbound,
    MalformedPayload,
    Unauthorized,
    handoff_priority,
    validate_event as _validate,
)
from bridge.adapters.fetch import chatwoot as fetch
from bridge.adapters.shapes.chatwoot import chat_message
from bridge.config import Settings
from bridge.events import Event

SLUG = "chatwoot"


# ---- payload → canonical -----------------------------------------------------------------------

def _with_nested(message: dict[str, Any], conv: dict[str, Any]) -> dict[str, Any]:
    """The message event as a turn source, with what only its copy in ``conversation.messages`` holds.

    Chatwoot's ``message_created`` body is the message without its files (``content`` is null for a
    file-only message); the same message, attachments and all, sits in ``conversation.messages``."""
    copy = next((m for m in v.items(conv.get("messages")) if isinstance(m, dict)
                 and m.get("id") is not None and m.get("id") == message.get("id")), None)
    if copy is None:
        return message
    merged = {**copy, **{k: val for k, val in message.items() if val not in (None, [], {})}}
    if not message.get("attachments") and copy.get("attachments"):
        merged["attachments"] = copy["attachments"]
    return merged


def _conversation_of(payload: dict[str, Any], event: str) -> dict[str, Any]:
    if event.startswith("message_"):
        conv = payload.get("conversation")
        if not isinstance(conv, dict):
            raise MalformedPayload("conversation must be a JSON object")
        return conv
    return payload


def _customer(payload: dict[str, Any], conv: dict[str, Any], account_id: str | None) -> dict[str, Any] | None:
    sender = v.dig(conv, "meta", "sender")
    if not isinstance(sender, dict) and v.dig(payload, "sender", "type") == "contact":
        sender = payload.get("sender")
    sender = sender if isinstance(sender, dict) else {}
    custom = sender.get("custom_attributes") if isinstance(sender.get("custom_attributes"), dict) else {}
    conv_custom = conv.get("custom_attributes") if isinstance(conv.get("custom_attributes"), dict) else {}
    labels = [str(label) for label in v.items(conv.get("labels")) if isinstance(label, str | int)]
    team = v.opt_str(v.dig(conv, "meta", "team", "name"))
    attributes = v.drop_empty({
        **{k: val for k, val in {**custom, **conv_custom}.items() if isinstance(val, str | int | float | bool)},
        "identifier": v.opt_str(sender.get("identifier")),
        "chatwoot_account_id": account_id,
        "inbox": v.opt_str(v.dig(payload, "inbox", "name")),
        "team": team,
        "labels": labels,
        "status": v.opt_str(conv.get("status")),
    })
    account = v.opt_str(custom.get("account_id"))
    data = v.drop_empty({
        "id": v.opt_str(sender.get("id")),
        "email": v.opt_str(sender.get("email")),
        "name": v.opt_str(sender.get("name")),
        "phone": v.opt_str(sender.get("phone_number")),
        "plan": v.opt_str(custom.get("plan")),
        "account": {"id": account} if account else None,
        "attributes": attributes,
    })
    return data or None


def _evidence(conv: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    browser = v.mapping(v.dig(conv, "additional_attributes", "browser"))
    device = v.drop_empty({
        "browser": " ".join(filter(None, [v.opt_str(browser.get("browser_name")),
                                          v.opt_str(browser.get("browser_version"))])) or None,
        "os": " ".join(filter(None, [v.opt_str(browser.get("platform_name")),
                                     v.opt_str(browser.get("platform_version"))])) or None,
    }) if isinstance(browser, dict) else {}
    page = v.opt_str(v.dig(conv, "additional_attributes", "referer"))
    return v.evidence_from(messages, page_url=page, device=device or None)


def _status_change(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    for change in v.items(payload.get("changed_attributes")):
        status = v.dig(change, "status")
        if isinstance(status, dict):
            return v.opt_str(status.get("previous_value")), v.opt_str(status.get("current_value"))
    return None, None


def build_event(payload: dict[str, Any], event: str, delivery: str | None) -> Event:
    conv = _conversation_of(payload, event)
    conversation_id = v.text_id(conv, "id", field="conversation.id" if event.startswith("message_") else "id")
    if event.startswith("message_"):
        found = [chat_message(_with_nested(payload, conv))]
    else:
        found = [chat_message(m) for m in v.items(conv.get("messages"))]
    messages = v.trim_transcript([m for m in found if m])
    account_id = v.opt_str(v.dig(payload, "account", "id")) or v.opt_str(v.dig(conv, "messages", 0, "account_id"))
    previous, current = _status_change(payload)
    kind, handoff = "conversation.updated", None
    if current == "open" and previous == "pending":
        kind = "handoff.requested"
        reason = v.opt_str(v.dig(conv, "custom_attributes", "handoff_reason"))
        team = v.opt_str(v.dig(conv, "meta", "team", "name"))
        handoff = v.drop_empty({
            "requested_by": "customer" if reason == "customer_requested_human" else "bot",
            "reason": reason or "the bot opened the conversation for a human (pending → open)",
            "topic": team,
            "priority": handoff_priority(conv.get("priority")),  # null | low | medium | high | urgent
        })
    elif (current or (conv.get("status") if event == "conversation_status_changed" else None)) == "resolved":
        kind = "conversation.closed"
    updated = v.opt_str(conv.get("updated_at")) or v.opt_str(payload.get("created_at")) or ""
    fallback_id = f"{event}:{conversation_id}:{payload.get('id') if event.startswith('message_') else ''}:{updated}"
    data = {
        "event_id": v.clip(delivery or fallback_id, 200),
        "type": kind,
        "occurred_at": v.iso(payload.get("created_at") if event.startswith("message_") else conv.get("updated_at")),
        "bot": {"platform": SLUG},
        "conversation": v.drop_empty({
            "id": conversation_id,
            "channel": v.opt_str(conv.get("channel")),
            "partial": True,  # Chatwoot sends one message (or the last one); the worker fetches the rest
        }) | {"messages": messages},
        "customer": _customer(payload, conv, account_id),
        "handoff": handoff,
        "evidence": _evidence(conv, messages),
    }
    return _validate(v.drop_empty(data))


def _handle(payload: dict[str, Any], d: Delivery) -> Event:
    return build_event(payload, d.kind, v.opt_str(d.inbound.header("x-chatwoot-delivery")))


EVENT_HANDLERS: dict[str, Handler] = {
    "message_created": _handle,
    "message_updated": _handle,
    "conversation_created": _handle,
    "conversation_updated": _handle,
    "conversation_status_changed": _handle,
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class ChatwootAdapter(Adapter):
    slug = SLUG
    handlers = EVENT_HANDLERS

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        scheme, _, digest = inbound.header("x-chatwoot-signature").strip().partition("=")
        if scheme != "sha256" or not digest:
            raise Unauthorized("missing or malformed X-Chatwoot-Signature")
        timestamp = inbound.header("x-chatwoot-timestamp")
        try:
            signing.check_timestamp(timestamp, inbound.now, tolerance)
            presented = bytes.fromhex(digest)
        except (signing.SignatureError, ValueError) as exc:
            raise Unauthorized(str(exc) or "bad signature") from None
        signed = timestamp.strip().encode() + b"." + inbound.body
        if not signing.matches_any([signing.hmac_digest(s.encode(), signed) for s in secrets], [presented]):
            raise Unauthorized("signature mismatch")

    def event_type(self, body: dict[str, Any]) -> str:
        if not isinstance(body.get("event"), str):
            raise MalformedPayload("not a Chatwoot webhook (no 'event' key)")
        return body["event"]

    def complete(self, event: Event, settings: Settings) -> Event:
        return fetch.complete(event, settings)

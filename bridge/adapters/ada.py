"""Ada conversation webhooks, delivered by Svix.

Docs: docs.ada.cx/reference/webhooks/overview and the conversation webhook references. Signature: Svix /
Standard Webhooks — ``svix-id``, ``svix-timestamp``, ``svix-signature: v1,<base64 HMAC-SHA256>`` over
``id.timestamp.body`` keyed with the decoded ``whsec_`` secret (``ADA_WEBHOOK_SECRET``, comma list =
rotation); the ``webhook-*`` header names are accepted too. Dedupe on ``svix-id``.
Events: ``v1.conversation.created`` (identity from metadata), ``v1.conversation.message`` (one message;
a non-null ``handoff_integration`` means a handoff is under way), ``v1.conversation.ended`` and
``v1.conversation.handoff.ended`` (close the case; never open one). Ada has no transcript API we can
rely on here, so message events stay flagged partial and the package says so.
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
    validate_event as _validate,
)
from bridge.config import Settings
from bridge.events import Event

SLUG = "ada"
ROLES = {"end_user": "customer", "ai_agent": "bot", "human_agent": "agent"}


def _content(content: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(content, dict):
        return "", []
    kind = content.get("type")
    if kind == "link":
        text = " ".join(filter(None, [v.opt_str(content.get("link_text")), v.opt_str(content.get("url"))]))
        return text, []
    if kind == "file":
        att = v.attachment(content.get("url"), content.get("filename"), content.get("mime_type"))
        return "", [att] if att else []
    return v.opt_str(content.get("body")) or v.opt_str(content.get("text")) or "", []


def _customer(data: dict[str, Any], name: str | None = None) -> dict[str, Any] | None:
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    account = v.opt_str(metadata.get("account_id"))
    # Ada's metadata keys are the bot builder's own (``email``, ``user_email``, ``Email Address``).
    found = v.identity_from_params(metadata)
    return v.drop_empty({
        "id": v.opt_str(data.get("end_user_id")),
        "email": v.opt_str(metadata.get("email")) or found.get("email"),
        "name": name or v.opt_str(metadata.get("name")) or found.get("name"),
        "phone": found.get("phone"),
        "locale": v.opt_str(metadata.get("language")) or v.opt_str(metadata.get("locale")),
        "plan": v.opt_str(metadata.get("plan")),
        "account": {"id": account} if account else None,
        "attributes": v.drop_empty({
            **{k: val for k, val in metadata.items() if isinstance(val, str | int | float | bool)},
            "ai_agent_domain": v.opt_str(data.get("ai_agent_domain")),
            "handoff_integration": v.opt_str(data.get("handoff_integration")),
        }),
    }) or None


def _event(envelope: dict[str, Any], d: Delivery, kind: str, messages: list[dict[str, Any]],
           customer: dict[str, Any] | None, handoff: dict[str, Any] | None = None,
           channel: str | None = None) -> Event:
    data = envelope["data"]
    fallback = f"{d.kind}:{data.get('conversation_id')}:{data.get('message_id') or envelope.get('timestamp')}"
    return _validate(v.drop_empty({
        "event_id": v.clip(_svix_headers(d.inbound)["webhook-id"] or fallback, 200),
        "type": kind,
        "occurred_at": v.iso(envelope.get("timestamp")),
        "bot": {"platform": SLUG, "name": v.opt_str(data.get("ai_agent_domain"))},
        "conversation": v.drop_empty({
            "id": v.text_id(data, "conversation_id", field="data.conversation_id"),
            "channel": channel,
            "partial": bool(messages),
        }) | {"messages": messages},
        "customer": customer,
        "handoff": handoff,
        "evidence": v.evidence_from(messages),
    }))


def parse_created(envelope: dict[str, Any], d: Delivery) -> Event:
    return _event(envelope, d, "conversation.updated", [], _customer(envelope["data"]))


def parse_message(envelope: dict[str, Any], d: Delivery) -> Event:
    data = envelope["data"]
    author = data.get("author") if isinstance(data.get("author"), dict) else {}
    role = ROLES.get(v.word(author.get("role")) or "", "system")
    text, attachments = _content(data.get("content"))
    messages = [v.message(role, text, id=data.get("message_id"), sent_at=data.get("created_at"),
                          attachments=attachments)] if text or attachments else []
    integration = v.opt_str(data.get("handoff_integration"))
    reason = f"Ada handed the conversation to {integration}"
    handoff = {"requested_by": "bot", "reason": reason} if integration else None
    name = v.opt_str(author.get("display_name")) if role == "customer" else None
    return _event(envelope, d, "handoff.requested" if handoff else "conversation.updated", messages,
                  _customer(data, name), handoff, v.opt_str(v.dig(data, "channel", "name")))


def parse_ended(envelope: dict[str, Any], d: Delivery) -> Event:
    return _event(envelope, d, "conversation.closed", [], _customer(envelope["data"]))


EVENT_HANDLERS: dict[str, Handler] = {
    "v1.conversation.created": parse_created,
    "v1.conversation.message": parse_message,
    "v1.conversation.ended": parse_ended,
    "v1.conversation.handoff.ended": parse_ended,
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


def _svix_headers(inbound: Inbound) -> dict[str, str]:
    return {
        name: inbound.header(f"svix-{name[8:]}") or inbound.header(name)
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }


class AdaAdapter(Adapter):
    slug = SLUG
    handlers = EVENT_HANDLERS

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        try:
            signing.verify_standard_webhook(inbound.body, _svix_headers(inbound), secrets, inbound.now, tolerance)
        except (signing.SignatureError, ValueError) as exc:
            raise Unauthorized(str(exc)) from None

    def event_type(self, body: dict[str, Any]) -> str:
        if not isinstance(body.get("type"), str) or not isinstance(body.get("data"), dict):
            raise MalformedPayload("not an Ada webhook (type and data required)")
        return body["type"]

    def complete(self, event: Event, settings: Settings) -> Event:
        # No documented read API for the transcript: say so in the package instead of guessing.
        return v.mark_partial(event, "Ada webhooks carry one message at a time; no transcript API configured")

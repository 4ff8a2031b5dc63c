"""Intercom webhooks (notification_event envelope, conversation topics).

Docs: developers.intercom.com/docs/references/webhooks/webhook-models; fetch API 2.14
(``GET /conversations/{id}``, ``GET /contacts/{id}``). Signature: ``X-Hub-Signature: sha1=<hex>``,
HMAC-SHA1 of the raw body keyed with the app's ``client_secret`` (``INTERCOM_WEBHOOK_SECRET``, comma
list for rotation); no timestamp exists, so dedupe on the notification ``id`` is the replay defence.
Handoff: ``conversation.admin.assigned`` with a bot-authored ``assignment`` part or
``ai_agent.resolution_state == "routed_to_team"``. Other conversation topics update the conversation;
``ping`` and unknown topics are answered 200 and ignored. The webhook carries only the opening message
and the new parts, so the worker fetches the whole conversation (``INTERCOM_ACCESS_TOKEN``,
``INTERCOM_API_URL``). Items of apps pinned to API 1.x (``conversation_message``, ``user``) parse too.
A handover of a conversation flagged ``"priority": "priority"`` gets ``handoff.priority`` high.
"""

from __future__ import annotations

import logging
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
from bridge.adapters.fetch import intercom as fetch
from bridge.adapters.shapes.intercom import CUSTOMER_AUTHORS, role, transcript
from bridge.config import Settings
from bridge.events import Event

SLUG = "intercom"
log = logging.getLogger("bridge.adapters.intercom")


# ---- payload → canonical -----------------------------------------------------------------------

def _customer(item: dict[str, Any]) -> dict[str, Any] | None:
    authors = [v.dig(item, "source", "author"), v.dig(item, "conversation_message", "author")]
    parts = v.dig(item, "conversation_parts", "conversation_parts")
    authors += [v.dig(p, "author") for p in (parts if isinstance(parts, list) else [])]
    people = [a for a in [item.get("user"), *authors] if v.word(v.dig(a, "type")) in CUSTOMER_AUTHORS]

    def first(key: str) -> str | None:
        return next((v.opt_str(p.get(key)) for p in people if v.opt_str(p.get(key))), None)

    contact = v.mapping(v.dig(item, "contacts", "contacts", 0))
    attrs = item.get("custom_attributes") if isinstance(item.get("custom_attributes"), dict) else {}
    attributes = v.drop_empty({
        **{k: val for k, val in attrs.items() if isinstance(val, str | int | float | bool)},
        "external_id": v.opt_str(contact.get("external_id")) or first("user_id"),
        "intercom_app_id": v.opt_str(item.get("_app_id")),
        "ai_agent_participated": item.get("ai_agent_participated"),
        "ai_resolution_state": v.opt_str(v.dig(item, "ai_agent", "resolution_state")),
    })
    account_id = v.opt_str(attrs.get("account_id"))
    data = v.drop_empty({
        "id": v.opt_str(contact.get("id")) or first("id"),
        "email": first("email"),
        "name": first("name"),
        "plan": v.opt_str(attrs.get("plan")),
        "account": {"id": account_id} if account_id else None,
        "attributes": attributes,
    })
    return data or None


def _handoff(item: dict[str, Any]) -> dict[str, Any] | None:
    parts = v.dig(item, "conversation_parts", "conversation_parts")
    assignment = next(
        (p for p in (parts if isinstance(parts, list) else [])
         if str(v.dig(p, "part_type") or "").startswith(("assignment", "default_assignment"))
         and role(v.dig(p, "author")) == "bot"),
        None,
    )
    routed = v.dig(item, "ai_agent", "resolution_state") == "routed_to_team"
    if not assignment and not routed:
        return None
    target = v.mapping(v.dig(assignment, "assigned_to"))
    team = v.opt_str(item.get("team_assignee_id")) or v.opt_str(target.get("id"))
    who = f"{target.get('type') or 'team'} {team}" if team else "a human"
    return v.drop_empty({
        "requested_by": "bot",
        "reason": f"Intercom's bot routed the conversation to {who}",
        "priority": handoff_priority(item.get("priority")),  # "priority" (flagged) → high; "not_priority" → none
        "topic": v.clip(v.opt_str(v.dig(item, "ai_agent", "source_title")), 200) or None,
    })


def build_event(notification_id: str, topic: str, item: dict[str, Any], app_id: str | None,
                event_type: str, handoff: dict[str, Any] | None = None) -> Event:
    conversation_id = v.text_id(item, "id", field="data.item.id")
    item = {**item, "_app_id": app_id}
    messages = transcript(item)
    page_url = v.opt_str(v.dig(item, "source", "url"))
    data = {
        "event_id": notification_id,
        "type": event_type,
        "occurred_at": v.iso(item.get("updated_at")),
        "bot": {"name": "Fin" if item.get("ai_agent_participated") else None, "platform": SLUG},
        "conversation": {
            "id": conversation_id,
            "channel": "intercom",
            "url": f"https://app.intercom.com/a/apps/{app_id}/conversations/{conversation_id}" if app_id else None,
            "messages": messages,
            "partial": True,  # the webhook carries the opening message and the new parts only
        },
        "customer": _customer(item),
        "handoff": handoff,
        "evidence": v.evidence_from(messages, page_url=page_url),
    }
    data["conversation"] = v.drop_empty(data["conversation"]) | {"messages": messages}
    return _validate(v.drop_empty(data))


def _build(item: dict[str, Any], d: Delivery, event_type: str, handoff: dict[str, Any] | None = None) -> Event:
    return build_event(v.text_id(d.body, "id"), d.kind, item, v.opt_str(d.body.get("app_id")), event_type, handoff)


def _updated(item: dict[str, Any], d: Delivery) -> Event:
    return _build(item, d, "conversation.updated")


def _assigned(item: dict[str, Any], d: Delivery) -> Event:
    handoff = _handoff(item)
    return _build(item, d, "handoff.requested" if handoff else "conversation.updated", handoff)


def _closed(item: dict[str, Any], d: Delivery) -> Event:
    return _build(item, d, "conversation.closed")


EVENT_HANDLERS: dict[str, Handler] = {
    "conversation.user.created": _updated,
    "conversation.user.replied": _updated,
    "conversation.admin.replied": _updated,
    "conversation.operator.replied": _updated,
    "conversation.admin.noted": _updated,
    "conversation.admin.single.created": _updated,
    "conversation.admin.assigned": _assigned,
    "conversation.admin.open.assigned": _assigned,
    "conversation.admin.closed": _closed,
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class IntercomAdapter(Adapter):
    slug = SLUG
    handlers = EVENT_HANDLERS

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        scheme, _, digest = inbound.header("x-hub-signature").strip().partition("=")
        if scheme != "sha1" or not digest:
            raise Unauthorized("missing or malformed X-Hub-Signature")
        try:
            presented = bytes.fromhex(digest)
        except ValueError:
            raise Unauthorized("X-Hub-Signature is not hex") from None
        expected = [signing.hmac_digest(s.encode(), inbound.body, "sha1") for s in secrets]
        if not signing.matches_any(expected, [presented]):
            raise Unauthorized("signature mismatch")

    def event_type(self, body: dict[str, Any]) -> str:
        if body.get("type") != "notification_event" or not isinstance(body.get("topic"), str):
            raise MalformedPayload("not an Intercom notification_event (type/topic missing)")
        return body["topic"]

    def subject(self, delivery: Delivery) -> dict[str, Any]:
        v.text_id(delivery.body, "id")  # the notification id is the event id (422 when missing)
        item = v.dig(delivery.body, "data", "item")
        if not isinstance(item, dict) or item.get("type", "conversation") != "conversation":
            raise MalformedPayload("data.item must be a conversation object")
        return item

    def complete(self, event: Event, settings: Settings) -> Event:
        return fetch.complete(event, settings)

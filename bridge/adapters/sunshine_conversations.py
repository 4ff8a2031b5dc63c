"""Zendesk Sunshine Conversations (Smooch) webhooks, v2.

Docs: zendesk/sunshine-conversations-api-spec ``openapi.yaml`` (Webhooks tag, ``conversationMessageEvent``,
``switchboard*`` events); fetch ``GET /v2/apps/{appId}/conversations/{conversationId}/messages``.
Authentication: no HMAC — the webhook's shared secret comes verbatim in ``X-API-Key`` and is compared in
constant time against ``SUNSHINE_CONVERSATIONS_WEBHOOK_SECRET`` (comma list = rotation); no timestamp.
One POST batches several events (``events[]``), each deduped on its own ``id``.
Events: ``conversation:message`` (one message; updates the conversation), ``switchboard:passControl``
(handoff) and ``switchboard:offerControl`` (handoff offered, pending acceptance),
``switchboard:acceptControl``/``releaseControl`` (updates); others are acknowledged and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bridge.adapters import vendor_api as v
from bridge.adapters.base import (
    Adapter,
    AdapterError,
    Delivery,
    Handler,
    Inbound,
    MalformedPayload,
    UnsupportedEvent,
    require_token,
    validate_event as _validate,
)
from bridge.adapters.fetch import sunshine_conversations as fetch
from bridge.adapters.shapes.sunshine_conversations import customer_of, sc_message
from bridge.config import Settings
from bridge.events import Event

SLUG = "sunshine-conversations"
log = logging.getLogger("bridge.adapters.sunshine")


# ---- payload → canonical -----------------------------------------------------------------------

def _event(item: dict[str, Any], app_id: str | None, kind: str, messages: list[dict[str, Any]],
           customer: dict[str, Any] | None, handoff: dict[str, Any] | None = None) -> Event:
    conversation_id = v.text_id(item, "payload", "conversation", "id")
    conversation = v.mapping(v.dig(item, "payload", "conversation"))
    metadata = conversation.get("metadata") if isinstance(conversation.get("metadata"), dict) else {}
    bot_confidence = v.confidence(metadata.get("bot_confidence"))
    if bot_confidence is not None:  # a bot's own score, carried in conversation metadata
        customer = {**(customer or {}), "attributes": {**(customer or {}).get("attributes", {}),
                                                        "bot_confidence": bot_confidence}}
    data = {
        "event_id": v.text_id(item, "id", field="events[].id"),
        "type": kind,
        "occurred_at": v.iso(item.get("createdAt")),
        "bot": {"name": v.opt_str(v.dig(conversation, "activeSwitchboardIntegration", "name"))
                if kind == "conversation.updated" else None, "platform": SLUG},
        "conversation": {"id": conversation_id, "channel": v.opt_str(conversation.get("type")),
                         "messages": messages, "partial": True},
        "customer": customer or ({"attributes": {"sunshine_app_id": app_id}} if app_id else None),
        "handoff": handoff,
        "evidence": v.evidence_from(messages),
    }
    data["conversation"] = v.drop_empty(data["conversation"]) | {"messages": messages}
    data["bot"] = v.drop_empty(data["bot"])
    return _validate(v.drop_empty(data))


def _app_id(d: Delivery) -> str | None:
    return v.opt_str(v.dig(d.body, "app", "id"))


def parse_message(item: dict[str, Any], d: Delivery) -> Event:
    app_id = _app_id(d)
    msg = v.dig(item, "payload", "message")
    if not isinstance(msg, dict):
        raise MalformedPayload("events[].payload.message must be a JSON object")
    turn = sc_message(msg)
    author = msg.get("author")
    customer = customer_of(author, app_id) if v.dig(author, "type") == "user" else (
        {"attributes": {"sunshine_app_id": app_id}} if app_id else None)
    return _event(item, app_id, "conversation.updated", [turn] if turn else [], customer)


def _switch_handoff(item: dict[str, Any], offered: bool) -> tuple[str, dict[str, Any] | None, dict[str, Any]]:
    payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    target_key = "pendingSwitchboardIntegration" if offered else "activeSwitchboardIntegration"
    target = v.opt_str(v.dig(payload, "conversation", target_key, "name")) or "another integration"
    if payload.get("reason") == "ticketClosed":
        return "conversation.closed", None, metadata
    verb = "offered control to" if offered else "passed control to"
    reason = v.opt_str(metadata.get("bot_summary")) or v.opt_str(metadata.get("handoff_reason"))
    handoff = v.drop_empty({
        "requested_by": "bot",
        "reason": v.clip(reason or f"the bot {verb} {target}", 2000),
        "topic": v.clip(v.opt_str(metadata.get("handoff_reason")) or "", 200) or None,
    })
    return "handoff.requested", handoff, metadata


def parse_pass_control(item: dict[str, Any], d: Delivery) -> Event:
    return _control(item, _app_id(d), offered=False)


def _control(item: dict[str, Any], app_id: str | None, offered: bool) -> Event:
    kind, handoff, metadata = _switch_handoff(item, offered)
    attributes = v.drop_empty({
        **{f"handoff_{k}" if k in ("reason",) else k: val for k, val in metadata.items()
           if isinstance(val, str | int | float | bool)},
        "sunshine_app_id": app_id,
        "switchboard_integration": v.opt_str(v.dig(item, "payload", "conversation", "activeSwitchboardIntegration",
                                                   "name")),
    })
    account = v.opt_str(metadata.get("account_id"))
    customer = v.drop_empty({"account": {"id": account} if account else None, "attributes": attributes})
    return _event(item, app_id, kind, [], customer or None, handoff)


def parse_offer_control(item: dict[str, Any], d: Delivery) -> Event:
    return _control(item, _app_id(d), offered=True)


def parse_control_change(item: dict[str, Any], d: Delivery) -> Event:
    app_id = _app_id(d)
    return _event(item, app_id, "conversation.updated", [], {"attributes": {"sunshine_app_id": app_id}}
                  if app_id else None)


EVENT_HANDLERS: dict[str, Handler] = {
    "conversation:message": parse_message,
    "switchboard:passControl": parse_pass_control,
    "switchboard:offerControl": parse_offer_control,
    "switchboard:acceptControl": parse_control_change,
    "switchboard:releaseControl": parse_control_change,
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class SunshineConversationsAdapter(Adapter):
    slug = SLUG
    handlers = EVENT_HANDLERS

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        require_token(inbound, secrets, "X-API-Key does not match", missing="missing X-API-Key", header="x-api-key")

    def parse(self, inbound: Inbound, max_depth: int = 64) -> list[Event]:
        # One delivery carries a batch of events (``events[]``), each with its own type: unknown ones
        # are skipped, and one bad event must not lose its batch-mates (a 4xx is never retried).
        body = self.decode(inbound, max_depth)
        items = body.get("events")
        if not isinstance(items, list) or not items:
            raise MalformedPayload("events must be a non-empty list")
        events: list[Event] = []
        ignored: list[str] = []
        failures: list[AdapterError] = []
        for item in items:
            kind = v.dig(item, "type")
            handler = self.handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                ignored.append(str(kind))
                continue
            try:
                events.append(handler(item, Delivery(inbound, body, kind)))
            except AdapterError as exc:
                failures.append(exc)
                log.warning("bridge.inbound.event_skipped", extra={"platform": SLUG, "reason": str(exc)})
        if events:
            return events
        if failures:
            raise failures[0]
        raise UnsupportedEvent(",".join(sorted(set(ignored))))

    def complete(self, event: Event, settings: Settings) -> Event:
        return fetch.complete(event, settings)

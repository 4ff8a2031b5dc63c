"""Drift webhooks.

Sources (read through a search index, not live, for issue 21):
- https://devdocs.drift.com/docs/webhook-events-1: the envelope ``{type, token, orgId, data}``; the
  Verification Token in the body (``token``) and in ``X-Verification-Token``; ``new_message`` (scope
  conversation_read); ``conversation_status_updated`` deprecated
  (https://devdocs.drift.com/docs/webhooks-deprecating-conversation-status).
- https://devdocs.drift.com/docs/message-model (and /v1.3/docs/message-model): a message is ``id``,
  ``orgId``, ``body``, ``author {type: contact | user, id, bot}``, ``type`` (chat | private_note; v1.3
  adds private_prompt, suggestion and edit, with ``editedMessageId``/``editType``),
  ``conversationId``, ``createdAt`` (Unix ms in the docs' examples), ``buttons``, ``attributes``.
- https://devdocs.drift.com/docs/conversation-model: ``participants`` (user ids), ``status``,
  ``contactId``; https://devdocs.drift.com/docs/listing-conversations: Drift's paging convention
  ``pagination {more, next}`` beside ``data``.
Not in the index, so assumed: the ``conversation_participant_added`` data (``conversationId`` and
``addedParticipants``, or ``participants``), where the messages endpoint puts ``pagination`` (read
beside ``data`` or inside it), the shape of ``attributes.preMessages`` (not read) and the body's
markup (kept as sent).

Authentication: a static verification token, no HMAC. Drift sends the app's Verification Token in
the body (``token``) and as ``X-Verification-Token``; each one present must equal a secret of
``DRIFT_WEBHOOK_SECRET`` (constant-time, rotation list), and at least one must be present.

Events (``type``): ``new_message`` (one message; updates the conversation; ``private_note``
messages are kept as system notes), ``conversation_status_updated`` (legacy; ``closed`` closes),
``conversation_participant_added`` (a human joined: the bot handed off). Others are acknowledged
and ignored. Drift's webhook carries one message and no email, so events are ``partial`` and
``complete`` fetches the messages and the contact with ``DRIFT_API_URL`` (default
``https://driftapi.com``) and ``DRIFT_API_TOKEN``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from bridge import signing
from bridge.adapters import vendor_api
from bridge.adapters.base import (
    Adapter,
    Delivery,
    Handler,
    Inbound,
    InvalidPayload,
    MalformedPayload,
    Unauthorized,
    as_dict as _dict,
    drop_none as _drop_none,
    load_json,
    text_or_none as _text,
    validate_event,
)
from bridge.config import Settings, api_url_env_name, check_vendor_url
from bridge.events import Event, Message

log = logging.getLogger("bridge.adapters.drift")

SLUG = "drift"
DEFAULT_API_URL = "https://driftapi.com"
MAX_PAGES = 100


def _id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _text(value, 200)


def _sent_at(millis: Any) -> str | None:
    if not isinstance(millis, int | float) or isinstance(millis, bool) or not 0 < millis < 32_503_680_000_000:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat().replace("+00:00", "Z")


def to_message(message: dict[str, Any]) -> dict[str, Any] | None:
    author = _dict(message.get("author"))
    body = _text(message.get("body"))
    if body is None:
        return None
    kind, message_type = author.get("type"), message.get("type")
    if message_type == "edit":
        return None  # changes an earlier message (editedMessageId); not a turn of its own
    role = "bot" if author.get("bot") is True else {"contact": "customer", "user": "agent"}.get(str(kind), "system")
    if message_type in ("private_note", "private_prompt", "suggestion"):
        # Seen by users only, never by the contact.
        role, body = "system", f"({str(message_type).replace('_', ' ')}) {body}"
    return {"id": _id(message.get("id")), "role": role, "text": body, "sent_at": _sent_at(message.get("createdAt"))}


def _event(event_id: str, type_: str, conversation_id: Any, messages: list[dict[str, Any]],
           contact_id: str | None, handoff: dict[str, Any] | None = None) -> Event:
    conversation = _id(conversation_id)
    if not conversation:
        raise InvalidPayload("the conversation id is missing", field="data.conversationId")
    data: dict[str, Any] = {
        "event_id": event_id[:200],
        "type": type_,
        "bot": {"platform": SLUG},
        "conversation": {"id": conversation, "channel": SLUG, "messages": messages, "partial": True},
        "customer": {"id": contact_id} if contact_id else None,
        "handoff": handoff,
    }
    return validate_event(_drop_none(data))


def parse_new_message(data: dict[str, Any], d: Delivery) -> Event:
    turn = to_message(data)
    author = _dict(data.get("author"))
    contact = _id(author.get("id")) if author.get("type") == "contact" else None
    message_id = _id(data.get("id"))
    if not message_id:
        raise InvalidPayload("the message id is missing", field="data.id")
    return _event(f"new_message:{message_id}", "conversation.updated", data.get("conversationId"),
                  [turn] if turn else [], contact)


def parse_status_updated(data: dict[str, Any], d: Delivery) -> Event:
    conversation_id = data.get("conversationId", data.get("id"))
    status = _text(data.get("status"), 40) or "unknown"
    closed = status.lower() == "closed"
    return _event(f"conversation_status_updated:{_id(conversation_id)}:{status}:{data.get('updatedAt')}",
                  "conversation.closed" if closed else "conversation.updated", conversation_id, [], None)


def parse_participant_added(data: dict[str, Any], d: Delivery) -> Event:
    conversation_id = data.get("conversationId", data.get("id"))
    added = vendor_api.items(data.get("addedParticipants")) or vendor_api.items(data.get("participants"))
    who = ", ".join(str(p) for p in added[:10]) if isinstance(added, list) else ""
    return _event(
        f"conversation_participant_added:{_id(conversation_id)}:{who}:{data.get('createdAt', '')}",
        "handoff.requested", conversation_id, [], None,
        {"requested_by": "bot", "reason": f"Drift added a human participant ({who or 'unknown'})"},
    )


EVENT_HANDLERS: dict[str, Handler] = {
    "new_message": parse_new_message,
    "conversation_status_updated": parse_status_updated,
    "conversation_participant_added": parse_participant_added,
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class DriftAdapter(Adapter):
    slug = SLUG
    handlers = EVENT_HANDLERS
    not_an_object = "the body must be a Drift webhook object with a type"

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        presented: list[bytes] = []
        if header := inbound.header("x-verification-token"):
            presented.append(header.encode())
        try:
            body = load_json(inbound.body)
        except MalformedPayload:
            body = None
        if isinstance(body, dict) and isinstance(body.get("token"), str):
            presented.append(body["token"].encode())
        expected = [s.encode() for s in secrets]
        # Every token present must match; one forged copy beside a good one is a forgery.
        if not presented or not all(signing.matches_any(expected, [token]) for token in presented):
            raise Unauthorized("missing or wrong verification token")

    def event_type(self, body: dict[str, Any]) -> str:
        if not isinstance(body.get("type"), str):
            raise MalformedPayload(self.not_an_object)
        return body["type"][:100]

    def subject(self, delivery: Delivery) -> dict[str, Any]:
        data = delivery.body.get("data")
        if not isinstance(data, dict):
            raise InvalidPayload("data must be an object", field="data")
        return data

    def complete(self, event: Event, settings: Settings) -> Event:
        """Fetch the conversation's messages and the contact's email; on failure keep what we have."""
        base = (settings.api_url(SLUG) or DEFAULT_API_URL).rstrip("/")
        token = settings.platforms.drift_api_token
        if not token:
            return event
        try:
            check_vendor_url(api_url_env_name(SLUG), base)
            return _fetch(event, base, token)
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            log.warning("bridge.adapters.fetch_failed", extra={"platform": SLUG, "error": type(exc).__name__})
            return event


def _fetch(event: Event, base: str, token: str) -> Event:
    with vendor_api.session() as session:
        session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        fetched: list[Message] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            body = vendor_api.get_dict(session, f"{base}/conversations/{event.conversation.id}/messages",
                        {"next": cursor} if cursor else None)
            data = _dict(body.get("data"))
            fetched += [Message.model_validate(m) for raw in vendor_api.items(data.get("messages"))
                        if (m := to_message(_dict(raw)))]
            # Drift's documented paging sits beside ``data``; the messages page is not in the index, so
            # a ``pagination`` inside ``data`` is read too.
            pagination = _dict(body.get("pagination")) or _dict(data.get("pagination"))
            cursor = _id(pagination.get("next"))
            if not pagination.get("more") or not cursor:
                break
        customer = event.customer
        if customer and customer.id and not customer.email:
            contact = _dict(vendor_api.get_dict(session, f"{base}/contacts/{customer.id}").get("data"))
            attributes = _dict(contact.get("attributes"))
            customer = customer.model_copy(update={
                "email": _text(attributes.get("email"), 320),
                "name": _text(attributes.get("name"), 500) or customer.name,
            })
    known = {m.id for m in fetched if m.id}
    messages = fetched + [m for m in event.conversation.messages if not m.id or m.id not in known]
    messages.sort(key=lambda m: m.sent_at.timestamp() if m.sent_at else float("inf"))
    conversation = event.conversation.model_copy(update={"messages": messages[-5000:], "partial": False})
    return event.model_copy(update={"conversation": conversation, "customer": customer})

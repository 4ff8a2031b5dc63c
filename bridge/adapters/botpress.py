"""Botpress Cloud human handoff through the "HITL API" integration (plus/hitl-api).

Docs: botpress/growth ``integrations/hitl-api`` (``src/externalService.ts``, ``src/types.ts``,
``docs/output/openapi-external-service.json``); botpress/botpress ``interfaces/hitl``.

Authentication: the integration sends none of its own. Its ``endpointBaseUrl`` may carry
credentials, which axios turns into HTTP basic auth (``https://botpress:<secret>@bridge.example.com/
webhooks/botpress``), so the bridge checks ``Authorization: Basic`` (secret ``username:password``) or
a ``?token=<secret>`` query parameter, constant-time, against ``BOTPRESS_WEBHOOK_SECRET``.

Events (``type`` in the body; the integration posts to ``<base>/<type>``): ``createRemoteConversation``
(startHitl: the handoff; answered ``{"id": <conversation id>}``), ``botSendsMessage`` (a message of the
HITL conversation; updates it), ``createRemoteUser`` (answered ``{"id": <user id>}``; the id encodes
the user's email and name so later messages carry them without any lookup), ``ping`` (answered 200)
and ``closeRemoteTicket`` (acknowledged: it names Botpress's own conversation id, which the bridge
never sees, so it cannot be tied to a case). No transcript arrives at handoff time: the starter
integration drops ``messageHistory``; the handoff is ``partial`` and later ``botSendsMessage`` calls
add to it. Botpress has no public API the bridge could fetch the history from with this id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from bridge.adapters.base import (
    Adapter,
    Delivery,
    Handler,
    Handshake,
    Inbound,
    InvalidPayload,
    MalformedPayload,
    UnsupportedEvent,
    as_dict as _dict,
    drop_none as _drop_none,
    require_token,
    text_or_none as _text,
    validate_event,
)
from bridge.events import Event

SLUG = "botpress"
USER_PREFIX = "bpu_"
BOT_USER = "BOT"  # remoteUserId the integration uses for the bot's own messages
HUMAN_REQUEST = re.compile(
    r"\b(human|person|agent|someone|representative|operator|humano|persona|agente|mensch|personne|persoon)\b", re.I
)


def user_id_for(payload: dict[str, Any]) -> str:
    """A remote user id that carries the user's email and name (base64url JSON), stable per user."""
    identity = {"e": _text(payload.get("email"), 320), "n": _text(payload.get("name"), 200)}
    if not any(identity.values()):
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return USER_PREFIX + "h" + hashlib.sha256(raw).hexdigest()[:24]
    packed = json.dumps({k: v for k, v in identity.items() if v}, separators=(",", ":"), ensure_ascii=False)
    return USER_PREFIX + base64.urlsafe_b64encode(packed.encode()).decode().rstrip("=")


def customer_for(user_id: str) -> dict[str, Any] | None:
    """The customer a remote user id stands for (the inverse of ``user_id_for``); None for the bot."""
    if not user_id or user_id == BOT_USER:
        return None
    customer: dict[str, Any] = {"id": user_id[:200]}
    if user_id.startswith(USER_PREFIX) and not user_id.startswith(USER_PREFIX + "h"):
        encoded = user_id[len(USER_PREFIX):]
        try:
            identity = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        except (binascii.Error, ValueError):
            identity = {}
        if isinstance(identity, dict):
            customer["email"] = _text(identity.get("e"), 320)
            customer["name"] = _text(identity.get("n"), 500)
    return customer


def parse_create_remote_user(data: dict[str, Any], d: Delivery) -> Event:
    payload = _dict(data.get("payload"))
    raise Handshake({"id": user_id_for(payload)})


def parse_ping(data: dict[str, Any], d: Delivery) -> Event:
    raise Handshake({"ok": True})


def parse_close_remote_ticket(data: dict[str, Any], d: Delivery) -> Event:
    raise UnsupportedEvent("closeRemoteTicket")


def _history(messages: Any) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for item in messages if isinstance(messages, list) else []:
        item = _dict(item)
        if text := _text(item.get("text")):
            author = (_text(item.get("author"), 40) or "").lower()
            role = "bot" if author in ("bot", "assistant") else "customer" if author else "system"
            turns.append({"role": role, "text": text, "sent_at": None})
    return turns[-5000:]


def parse_create_remote_conversation(data: dict[str, Any], d: Delivery) -> Event:
    payload = _dict(data.get("payload"))
    title = _text(payload.get("title"), 200)
    description = _text(payload.get("description"), 2000)
    # Botpress sends no id and does not retry (plain axios), while the title is often a fixed text:
    # the id joins the body with the second it arrived, so two handoffs never share a case.
    digest = hashlib.sha256(d.inbound.body).hexdigest()[:24]
    conversation_id = f"bp-{digest}-{int(d.inbound.now)}"
    asked = bool(HUMAN_REQUEST.search(f"{title or ''} {description or ''}"))
    note = "\n".join(t for t in (title, description) if t)
    history = _history(payload.get("messages"))
    if note:  # the bot's own handoff note is all the human gets until messages follow
        history.append({"id": f"{conversation_id}:note", "role": "bot", "text": note})
    event = {
        "event_id": f"createRemoteConversation:{conversation_id}",
        "type": "handoff.requested",
        "bot": {"platform": SLUG},
        "conversation": {"id": conversation_id, "channel": SLUG, "messages": history,
                         "partial": True},
        "handoff": {"requested_by": "customer" if asked else "bot", "reason": description or title, "topic": title},
    }
    return validate_event(_drop_none(event))


def _message_text(payload: dict[str, Any]) -> str | None:
    for key in ("text", "markdown", "title", "caption"):
        if text := _text(payload.get(key)):
            return text
    for key in ("imageUrl", "fileUrl", "videoUrl", "audioUrl"):
        if url := _text(payload.get(key), 2000):
            return url
    return None


def parse_bot_sends_message(data: dict[str, Any], d: Delivery) -> Event:
    conversation_id = _text(data.get("remoteConversationId"), 200)
    if not conversation_id:
        raise InvalidPayload("remoteConversationId is missing", field="remoteConversationId")
    user_id = _text(data.get("remoteUserId"), 2000) or BOT_USER
    payload = _dict(data.get("payload"))
    text = _message_text(payload) or f"({_text(payload.get('type'), 40) or 'message'})"
    attachments = []
    if url := _text(payload.get("imageUrl"), 2000):
        attachments.append({"kind": "screenshot", "url": url})
    elif url := _text(payload.get("fileUrl"), 2000):
        attachments.append({"kind": "document", "url": url, "name": _text(payload.get("title"), 255)})
    digest = hashlib.sha256(d.inbound.body).hexdigest()[:32]
    message = {"id": f"bp-msg-{digest}", "role": "bot" if user_id == BOT_USER else "customer", "text": text,
               "attachments": attachments}
    event = {
        "event_id": f"botSendsMessage:{digest}",
        "type": "conversation.updated",
        "bot": {"platform": SLUG},
        "conversation": {"id": conversation_id, "channel": SLUG, "messages": [message]},
        "customer": customer_for(user_id),
        "evidence": {"screenshots": attachments} if attachments and attachments[0]["kind"] == "screenshot" else None,
    }
    return validate_event(_drop_none(event))


EVENT_HANDLERS: dict[str, Handler] = {
    "createRemoteConversation": parse_create_remote_conversation,
    "botSendsMessage": parse_bot_sends_message,
    "createRemoteUser": parse_create_remote_user,
    "closeRemoteTicket": parse_close_remote_ticket,
    "ping": parse_ping,
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class BotpressAdapter(Adapter):
    slug = SLUG
    handlers = EVENT_HANDLERS
    emits = frozenset({"handoff.requested", "conversation.updated"})
    not_an_object = "the body must be a Botpress HITL API object with a type"

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        require_token(inbound, secrets, "missing or wrong Basic credentials / ?token=", query="token", basic=True)

    def event_type(self, body: dict[str, Any]) -> str:
        if not isinstance(body.get("type"), str):
            raise MalformedPayload(self.not_an_object)
        return body["type"][:100]

    def respond(
        self, accepted: list[dict[str, Any]], events: Sequence[Event] | None = None, inbound: Inbound | None = None
    ) -> tuple[Any, int] | None:
        """``{"id": <remote conversation id>}``, which the integration stores and sends back later."""
        event = events[0] if events else None
        if event is None or event.type != "handoff.requested":
            return None if event is None else ({"ok": True}, 200)
        return {"id": event.conversation.id, "case": accepted[0].get("case") if accepted else None}, 200

"""Freshchat conversation webhooks.

Docs: Freshchat support article 239404 / Freshworks 50000004461 "Webhooks payload structure and
authentication"; REST API https://developers.freshchat.com/api/ (v2 conversations, users).
Checked against those articles (issue 21, read through a search index, not live): they list the headers
``X-Retry-Count``, ``X-Freshchat-Payload-Version``, ``X-Freshchat-Signature`` (a string), the four
events handled here, ``actor_type`` user | agent | system, ``message_type`` normal | private, and both
message shapes (``message_parts[].text.content`` and the 2018 ``msg_parts[].properties.text``), plus
``data.<reopen|resolve>.conversation`` with ``assigned_group_id``/``assigned_agent_id``. The
``conversation_assignment`` body (``assignor``, ``to_group_id``/``to_agent_id``) is not shown there:
it is assumed by symmetry with ``reopen``/``resolve`` and the fields' names in the REST API.

Authentication: ``X-Freshchat-Signature`` is an RSA signature of the raw body, checked with the
public key shown in Admin > Webhooks (``FRESHCHAT_WEBHOOK_SECRET`` = that PEM key; several keys
separated by commas for rotation; ``\\n`` escapes are accepted). The articles name the header and
the key but not the padding or hash: RSASSA-PKCS1-v1_5 with SHA-256 of the raw body is assumed (the
usual RSA webhook scheme); a live delivery is the only confirmation.

Events (``action``): ``message_create`` (one message; updates the conversation),
``conversation_assignment`` (the bot hands the conversation to a group/agent: a handoff),
``conversation_resolution`` (closed), ``conversation_reopen`` (updated). Message text sits in
``message_parts[].text.content`` (current) or ``msg_parts[].properties.text`` (older payloads).
The webhook carries one message and no email, so events are ``partial`` and ``complete`` fetches the
messages (``GET /conversations/{id}/messages``, paged) and the user (``GET /users/{id}``) with
``FRESHCHAT_API_URL`` (e.g. ``https://<account>.freshchat.com/v2``) and ``FRESHCHAT_API_TOKEN``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Sequence
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bridge.adapters import vendor_api
from bridge.adapters.base import (
    Adapter,
    Inbound,
    InvalidPayload,
    MalformedPayload,
    Unauthorized,
    UnsupportedEvent,
    as_dict as _dict,
    drop_none as _drop_none,
    load_json,
    text_or_none as _text,
    validate_event,
)
from bridge.config import Settings, api_url_env_name, check_vendor_url
from bridge.events import Event, Message

log = logging.getLogger("bridge.adapters.freshchat")

SLUG = "freshchat"
ROLES = {"user": "customer", "agent": "agent", "bot": "bot", "system": "system"}
PAGE_SIZE = 50
MAX_PAGES = 100


def public_keys(secrets: Sequence[str]) -> list[rsa.RSAPublicKey]:
    keys: list[rsa.RSAPublicKey] = []
    for secret in secrets:
        text = secret.replace("\\n", "\n").strip()
        if "BEGIN" not in text:
            text = "-----BEGIN PUBLIC KEY-----\n" + text + "\n-----END PUBLIC KEY-----\n"
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError:
            log.warning("bridge.inbound.bad_key", extra={"platform": SLUG})
            continue
        if isinstance(key, rsa.RSAPublicKey):
            keys.append(key)
    return keys


def _parts(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Text and attachments of a message, current (``message_parts``) or older (``msg_parts``)."""
    texts: list[str] = []
    files: list[dict[str, Any]] = []
    parts = vendor_api.items(message.get("message_parts")) or vendor_api.items(message.get("msg_parts"))
    for part in parts if isinstance(parts, list) else []:
        part = _dict(part)
        if text := _text(_dict(part.get("text")).get("content")) or _text(_dict(part.get("properties")).get("text")):
            texts.append(text)
        if url := _text(_dict(part.get("image")).get("url"), 2000):
            files.append({"kind": "screenshot", "url": url, "content_type": "image/*"})
        if (file := _dict(part.get("file"))) and (url := _text(file.get("url"), 2000)):
            size = file.get("file_size_in_bytes")
            files.append({"kind": "document", "url": url, "name": _text(file.get("name"), 255),
                          "content_type": _text(file.get("content_type"), 100),
                          "size_bytes": size if isinstance(size, int) and size >= 0 else None})
        if url := _text(_dict(part.get("url")).get("url"), 2000):
            texts.append(url)
    return "\n".join(texts), files


def to_message(message: dict[str, Any]) -> dict[str, Any] | None:
    text, files = _parts(message)
    if not text and not files:
        return None
    role = ROLES.get(str(message.get("actor_type") or ""), "system")
    if message.get("message_type") == "private":
        role, text = "system", f"(private note) {text}"
    return {
        "id": _text(message.get("id"), 200),
        "role": role,
        "text": text[:100_000] or "(attachment)",
        "sent_at": _text(message.get("created_time"), 40),
        "attachments": files[:50],
    }


def _event(
    event_id: str, type_: str, conversation_id: Any, messages: list[dict[str, Any]], user_id: Any,
    handoff: dict[str, Any] | None = None, occurred_at: Any = None,
) -> Event:
    conversation = _text(conversation_id, 200) if isinstance(conversation_id, str) else None
    if not conversation:
        raise InvalidPayload("the conversation id is missing", field="data.*.conversation_id")
    screenshots = [f for m in messages for f in m.get("attachments", []) if f.get("kind") == "screenshot"]
    files = [f for m in messages for f in m.get("attachments", []) if f.get("kind") != "screenshot"]
    data: dict[str, Any] = {
        "event_id": event_id[:200],
        "type": type_,
        "occurred_at": _text(occurred_at, 40),
        "bot": {"platform": SLUG},
        "conversation": {"id": conversation, "channel": SLUG, "messages": messages, "partial": True},
        "customer": {"id": _text(user_id, 200)} if _text(user_id, 200) else None,
        "handoff": handoff,
        "evidence": {"screenshots": screenshots[:20], "files": files[:20]} if screenshots or files else None,
    }
    return validate_event(_drop_none(data))


def parse_message_create(data: dict[str, Any], payload: dict[str, Any]) -> Event:
    message = _dict(data.get("message"))
    if not message:
        raise InvalidPayload("data.message is missing", field="data.message")
    turn = to_message(message)
    user_id = message.get("user_id") if message.get("actor_type") == "user" or not message.get("actor_type") else None
    fallback_id = f"message_create:{message.get('conversation_id')}:{payload.get('action_time')}"
    event_id = _text(message.get("id"), 200) or fallback_id
    return _event(event_id, "conversation.updated", message.get("conversation_id"), [turn] if turn else [],
                  user_id or message.get("user_id"), occurred_at=payload.get("action_time"))


def _conversation_event(key: str, type_: str, handoff: Callable[[dict[str, Any]], dict[str, Any]] | None):
    def parse(data: dict[str, Any], payload: dict[str, Any]) -> Event:
        body = _dict(data.get(key))
        conversation = _dict(body.get("conversation"))
        conversation_id = conversation.get("conversation_id")
        event_id = f"{payload.get('action')}:{conversation_id}:{payload.get('action_time')}"
        return _event(event_id, type_, conversation_id, [], conversation.get("user_id"),
                      handoff(body) if handoff else None, payload.get("action_time"))

    return parse


def _assignment_handoff(body: dict[str, Any]) -> dict[str, Any]:
    conversation = _dict(body.get("conversation"))
    group = _text(body.get("to_group_id"), 200) or _text(conversation.get("assigned_group_id"), 200)
    agent = _text(body.get("to_agent_id"), 200) or _text(conversation.get("assigned_agent_id"), 200)
    target = f"group {group}" if group else f"agent {agent}" if agent else "a human"
    assignor = _text(body.get("assignor"), 40) or "system"
    return {"requested_by": "bot", "reason": f"Freshchat ({assignor}) assigned the conversation to {target}",
            "topic": group}


EVENT_HANDLERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Event]] = {
    "message_create": parse_message_create,
    "conversation_assignment": _conversation_event("assignment", "handoff.requested", _assignment_handoff),
    "conversation_resolution": _conversation_event("resolve", "conversation.closed", None),
    "conversation_reopen": _conversation_event("reopen", "conversation.updated", None),
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class FreshchatAdapter(Adapter):
    slug = SLUG

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        header = inbound.header("x-freshchat-signature").strip()
        if not header:
            raise Unauthorized("missing X-Freshchat-Signature")
        try:
            signature = base64.b64decode(header, validate=True)
        except (binascii.Error, ValueError):
            raise Unauthorized("X-Freshchat-Signature is not base64") from None
        for key in public_keys(secrets):
            try:
                key.verify(signature, inbound.body, padding.PKCS1v15(), hashes.SHA256())
                return
            except InvalidSignature:
                continue
        raise Unauthorized("signature mismatch")

    def parse(self, inbound: Inbound, max_depth: int = 64) -> list[Event]:
        payload = load_json(inbound.body, max_depth)
        if not isinstance(payload, dict) or not isinstance(payload.get("action"), str):
            raise MalformedPayload("the body must be a Freshchat webhook object with an action")
        handler = EVENT_HANDLERS.get(payload["action"])
        if handler is None:
            raise UnsupportedEvent(payload["action"][:100])
        return [handler(_dict(payload.get("data")), payload)]

    def complete(self, event: Event, settings: Settings) -> Event:
        """Fetch the whole conversation and the user's profile; on any failure keep what we have."""
        base, token = settings.get(api_url_env_name(SLUG)).rstrip("/"), settings.get("FRESHCHAT_API_TOKEN")
        if not base or not token:
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
        for page in range(1, MAX_PAGES + 1):
            body = vendor_api.get_dict(session, f"{base}/conversations/{event.conversation.id}/messages",
                        {"page": page, "items_per_page": PAGE_SIZE})
            items = body.get("messages") if isinstance(body.get("messages"), list) else []
            fetched += [Message.model_validate(m) for raw in items if (m := to_message(_dict(raw)))]
            if len(items) < PAGE_SIZE or not _dict(body.get("link")).get("next_page"):
                break
        customer = event.customer
        if customer and customer.id and not customer.email:
            user = vendor_api.get_dict(session, f"{base}/users/{customer.id}")
            name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if isinstance(p, str) and p)
            customer = customer.model_copy(update={
                "email": _text(user.get("email"), 320), "name": name[:500] or customer.name,
                "phone": _text(user.get("phone"), 50) or customer.phone,
            })
    known = {m.id for m in fetched if m.id}
    messages = fetched + [m for m in event.conversation.messages if not m.id or m.id not in known]
    messages.sort(key=lambda m: m.sent_at.timestamp() if m.sent_at else float("inf"))
    conversation = event.conversation.model_copy(update={"messages": messages[-5000:], "partial": False})
    return event.model_copy(update={"conversation": conversation, "customer": customer})

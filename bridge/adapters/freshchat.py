"""Freshchat conversation webhooks.

Sources (read through a search index, not live), and what each one settles:
- https://crmsupport.freshworks.com/support/solutions/articles/50000004461-freshchat-webhooks-payload-structure-and-authentication
  (same article: https://support.freshchat.com/support/solutions/articles/239404): the headers
  ``X-Retry-Count``, ``X-Freshchat-Payload-Version``, ``X-Freshchat-Signature``; the four actions
  handled here; ``actor_type`` user | agent | system; ``message_type`` normal | private; both message
  shapes (``message_parts[].text.content`` and the 2018 ``msg_parts[].properties.text``);
  ``data.reopen`` / ``data.resolve`` with a ``conversation`` holding ``assigned_group_id`` /
  ``assigned_agent_id``. The article names the signature header and the public key, not the algorithm.
- botpress/botpress ``integrations/freshchat/src/definitions/freshchat-events.ts`` (typed from the
  article above): ``data.assignment`` = ``assignor``, ``assignor_id``, ``to_agent_id``,
  ``to_group_id``, ``from_agent_id``, ``from_group_id``, ``conversation``, ``interaction_id``; its
  handler ignores an assignment with no ``to_agent_id`` or with ``from_agent_id == to_agent_id``.
- freshworks/jaya-lib ``packages/freshchat-api`` (Freshworks' own v2 client): the message list is
  ``{"messages": [...], "link": {"href", "rel"}}`` with ``page``/``items_per_page``, the next page
  being ``link.href`` (absent on the last page); ``message_type`` also takes ``system``; message
  parts include ``collection.sub_parts``, ``template_content.sections[].parts``, ``url_button``;
  a user has ``email``, ``first_name``, ``last_name``, ``phone``.
- nyaruka/courier ``handlers/freshchat`` (RapidPro's Freshchat channel): verifies
  ``X-Freshchat-Signature`` as base64 RSASSA-PKCS1-v1_5 with SHA-256 over the raw body, with the key
  as Freshchat's admin page shows it (``-----BEGIN RSA PUBLIC KEY-----`` around an X.509
  SubjectPublicKeyInfo, on one line). Its published test delivery, key and signature verified with
  this adapter on 2026-12-06; they are not kept here (courier is under the Business Source License),
  so ``tests/adapters/test_freshchat.py`` signs the same way with a key of its own.

Authentication: ``X-Freshchat-Signature`` checked with the public key shown in Admin > Webhooks
(``FRESHCHAT_WEBHOOK_SECRET`` = that key, PEM or one line; several keys separated by commas for
rotation; ``\\n`` escapes are accepted). Freshchat's own pages do not state the padding and hash; the
scheme above is what an independent integration verifies a real-shaped delivery with.

Events (``action``): ``message_create`` (one message; updates the conversation),
``conversation_assignment`` (a handoff when the conversation goes from no agent to an agent or a
group; a transfer between agents, a no-op or an unassignment only updates the conversation),
``conversation_resolution`` (closed), ``conversation_reopen`` (updated). The webhook carries one
message and no email, so events are ``partial`` and ``complete`` fetches the messages
(``GET /conversations/{id}/messages``, following ``link.href``) and the user (``GET /users/{id}``)
with ``FRESHCHAT_API_URL`` (e.g. ``https://<account>.freshchat.com/v2``) and ``FRESHCHAT_API_TOKEN``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Sequence
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

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


def _walk_parts(parts: Any, texts: list[str], files: list[dict[str, Any]], depth: int = 0) -> None:
    """Text and attachments of ``parts``, descending into collections and template sections."""
    for part in vendor_api.items(parts)[:200]:
        part = _dict(part)
        if text := _text(_dict(part.get("text")).get("content")) or _text(_dict(part.get("properties")).get("text")):
            texts.append(text)
        if url := _text(_dict(part.get("image")).get("url"), 2000):
            files.append({"kind": "screenshot", "url": url, "content_type": "image/*"})
        for key in ("file", "video"):
            if (file := _dict(part.get(key))) and (url := _text(file.get("url"), 2000)):
                size = file.get("file_size_in_bytes")
                files.append({"kind": "document", "url": url, "name": _text(file.get("name"), 255),
                              "content_type": _text(file.get("content_type"), 100),
                              "size_bytes": size if isinstance(size, int) and size >= 0 else None})
        if (button := _dict(part.get("url_button"))) and (url := _text(button.get("url"), 2000)):
            texts.append(f"{_text(button.get('label'), 200) or 'link'}: {url}")
        if url := _text(_dict(part.get("url")).get("url"), 2000):
            texts.append(url)
        if depth < 4:
            _walk_parts(_dict(part.get("collection")).get("sub_parts"), texts, files, depth + 1)
            for section in vendor_api.items(_dict(part.get("template_content")).get("sections")):
                _walk_parts(_dict(section).get("parts"), texts, files, depth + 1)


def _parts(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Text and attachments of a message, current (``message_parts``) or older (``msg_parts``)."""
    texts: list[str] = []
    files: list[dict[str, Any]] = []
    parts = vendor_api.items(message.get("message_parts")) or vendor_api.items(message.get("msg_parts"))
    _walk_parts(parts, texts, files)
    return "\n".join(texts), files


def to_message(message: dict[str, Any]) -> dict[str, Any] | None:
    text, files = _parts(message)
    if not text and not files:
        return None
    role = ROLES.get(str(message.get("actor_type") or ""), "system")
    if message.get("message_type") == "private":
        role, text = "system", f"(private note) {text}"
    elif message.get("message_type") == "system":
        role = "system"
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


def parse_message_create(data: dict[str, Any], d: Delivery) -> Event:
    message = _dict(data.get("message"))
    if not message:
        raise InvalidPayload("data.message is missing", field="data.message")
    turn = to_message(message)
    user_id = message.get("user_id") if message.get("actor_type") == "user" or not message.get("actor_type") else None
    fallback_id = f"message_create:{message.get('conversation_id')}:{d.body.get('action_time')}"
    event_id = _text(message.get("id"), 200) or fallback_id
    return _event(event_id, "conversation.updated", message.get("conversation_id"), [turn] if turn else [],
                  user_id or message.get("user_id"), occurred_at=d.body.get("action_time"))


def _conversation_event(key: str, type_: str) -> Handler:
    def parse(data: dict[str, Any], d: Delivery) -> Event:
        body = _dict(data.get(key))
        conversation = _dict(body.get("conversation"))
        conversation_id = conversation.get("conversation_id")
        event_id = f"{d.body.get('action')}:{conversation_id}:{d.body.get('action_time')}"
        return _event(event_id, type_, conversation_id, [], conversation.get("user_id"),
                      occurred_at=d.body.get("action_time"))

    return parse


def parse_assignment(data: dict[str, Any], d: Delivery) -> Event:
    """A handoff when the conversation goes from no agent to an agent or a group.

    An assignment that names no target (unassigned), changes nothing, or moves the conversation from
    one agent to another (a human already had it) is a conversation update, not a new handoff."""
    body = _dict(data.get("assignment"))
    conversation = _dict(body.get("conversation"))
    conversation_id = conversation.get("conversation_id")
    to_group = _text(body.get("to_group_id"), 200) or _text(conversation.get("assigned_group_id"), 200)
    to_agent = _text(body.get("to_agent_id"), 200) or _text(conversation.get("assigned_agent_id"), 200)
    from_group, from_agent = _text(body.get("from_group_id"), 200), _text(body.get("from_agent_id"), 200)
    event_id = f"conversation_assignment:{conversation_id}:{d.body.get('action_time')}"
    if not (to_group or to_agent) or (to_group, to_agent) == (from_group, from_agent) or from_agent:
        return _event(event_id, "conversation.updated", conversation_id, [], conversation.get("user_id"),
                      occurred_at=d.body.get("action_time"))
    assignor = _text(body.get("assignor"), 40) or "system"
    target = f"group {to_group}" if to_group else f"agent {to_agent}"
    handoff = {"requested_by": "bot" if assignor in ("bot", "system") else None,
               "reason": f"Freshchat ({assignor}) assigned the conversation to {target}", "topic": to_group}
    return _event(event_id, "handoff.requested", conversation_id, [], conversation.get("user_id"),
                  _drop_none(handoff), d.body.get("action_time"))


EVENT_HANDLERS: dict[str, Handler] = {
    "message_create": parse_message_create,
    "conversation_assignment": parse_assignment,
    "conversation_resolution": _conversation_event("resolve", "conversation.closed"),
    "conversation_reopen": _conversation_event("reopen", "conversation.updated"),
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class FreshchatAdapter(Adapter):
    slug = SLUG
    handlers = EVENT_HANDLERS
    not_an_object = "the body must be a Freshchat webhook object with an action"

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

    def event_type(self, body: dict[str, Any]) -> str:
        if not isinstance(body.get("action"), str):
            raise MalformedPayload(self.not_an_object)
        return body["action"][:100]

    def subject(self, delivery: Delivery) -> dict[str, Any]:
        return _dict(delivery.body.get("data"))

    def complete(self, event: Event, settings: Settings) -> Event:
        """Fetch the whole conversation and the user's profile; on any failure keep what we have."""
        base, token = settings.api_url(SLUG).rstrip("/"), settings.platforms.freshchat_api_token
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
            items = vendor_api.items(body.get("messages"))
            fetched += [Message.model_validate(m) for raw in items if (m := to_message(_dict(raw)))]
            # The next page is announced by ``link`` (``{"href", "rel"}``), absent on the last one.
            if not items or not _text(_dict(body.get("link")).get("href"), 2000):
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

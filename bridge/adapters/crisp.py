"""Crisp web hooks (website and plugin hooks; envelope ``{website_id, event, data, timestamp}``).

Docs: docs.crisp.chat/references/web-hooks/v1; fetch REST v1 ``GET /v1/website/{website_id}/conversation/
{session_id}/messages`` and ``…/meta``. Signature (plugin hooks): ``X-Crisp-Signature`` = hex
HMAC-SHA256 of ``"[" + X-Crisp-Request-Timestamp + ";" + JSON.stringify(body) + "]"`` — a re-serialization
of the parsed body, checked against the raw bytes first (Crisp sends compact JSON) and then against a
compact, non-ASCII-preserving re-serialization; the millisecond timestamp must be within the window.
The history is read page by page (``timestamp_before``), every page.
Website hooks are unsigned: their URL carries ``?key=<secret>``. Both use ``CRISP_WEBHOOK_SECRET``
(comma list = rotation). Crisp has no handoff event: ``message:send``/``message:received`` update the
conversation and the trigger engine decides; ``session:set_email`` adds the email;
``session:set_state`` resolved and ``session:removed`` close.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from bridge import signing
from bridge.adapters import vendor_api as v
from bridge.adapters.base import (
    Adapter,
    Delivery,
    Handler,
    Inbound,
    MalformedPayload,
    Unauthorized,
    require_token,
    validate_event as _validate,
)
from bridge.config import Settings, api_url_env_name
from bridge.events import Customer, Event, Message
from bridge.pipeline.transcript import merge_messages

SLUG = "crisp"
DEFAULT_API_URL = "https://api.crisp.chat"
log = logging.getLogger("bridge.adapters.crisp")


def crisp_message(data: Any) -> dict[str, Any] | None:
    """A Crisp message (hook ``data`` or REST item) as a turn."""
    if not isinstance(data, dict):
        return None
    origin = data.get("from")
    role = "customer" if origin == "user" else ("bot" if data.get("automated") is True else "agent")
    if origin not in ("user", "operator") or data.get("type") == "note":
        return None  # private operator notes are not turns
    content, kind = data.get("content"), data.get("type")
    attachments: list[dict[str, Any]] = []
    if kind == "text" or isinstance(content, str):
        text = content if isinstance(content, str) else ""
    elif kind in ("file", "audio") and isinstance(content, dict):
        att = v.attachment(content.get("url"), content.get("name"), content.get("type"))
        attachments, text = ([att] if att else []), ""
    else:
        text = f"[{kind}]" if kind else ""
    if not text and not attachments:
        return None
    ident = data.get("fingerprint")
    return v.message(role, text, id=ident, sent_at=data.get("timestamp"), attachments=attachments)


def _customer(data: dict[str, Any], website_id: str, email: str | None = None) -> dict[str, Any] | None:
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    return v.drop_empty({
        "id": v.opt_str(user.get("user_id")),
        "name": v.opt_str(user.get("nickname")) if data.get("from", "user") == "user" else None,
        "email": email,
        "attributes": {"crisp_website_id": website_id},
    }) or None


def _event(envelope: dict[str, Any], event: str, kind: str, messages: list[dict[str, Any]],
           customer: dict[str, Any] | None) -> Event:
    data = envelope["data"]
    website_id = v.text_id(envelope, "website_id")
    session_id = v.text_id(data, "session_id", field="data.session_id")
    unique = data.get("fingerprint") or data.get("timestamp") or envelope.get("timestamp")
    return _validate(v.drop_empty({
        "event_id": v.clip(f"{event}:{session_id}:{unique}", 200),
        "type": kind,
        "occurred_at": v.iso(envelope.get("timestamp")),
        "bot": {"platform": SLUG},
        "conversation": {
            "id": session_id,
            "channel": v.opt_str(data.get("origin")),
            "url": f"https://app.crisp.chat/website/{quote(website_id)}/inbox/{quote(session_id)}/",
            "messages": messages,
            "partial": bool(messages),
        },
        "customer": customer,
        "evidence": v.evidence_from(messages),
    }))


def parse_message(envelope: dict[str, Any], d: Delivery) -> Event:
    turn = crisp_message(envelope["data"])
    customer = _customer(envelope["data"], str(envelope.get("website_id")))
    return _event(envelope, d.kind, "conversation.updated", [turn] if turn else [], customer)


def parse_set_email(envelope: dict[str, Any], d: Delivery) -> Event:
    email = v.opt_str(envelope["data"].get("email"))
    return _event(envelope, d.kind, "conversation.updated", [],
                  _customer(envelope["data"], str(envelope.get("website_id")), email))


def parse_state(envelope: dict[str, Any], d: Delivery) -> Event:
    state = envelope["data"].get("state")
    kind = "conversation.closed" if d.kind == "session:removed" or state == "resolved" else "conversation.updated"
    return _event(envelope, d.kind, kind, [], _customer(envelope["data"], str(envelope.get("website_id"))))


EVENT_HANDLERS: dict[str, Handler] = {
    "message:send": parse_message,
    "message:received": parse_message,
    "session:set_email": parse_set_email,
    "session:set_state": parse_state,
    "session:removed": parse_state,
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


def _stringify(body: bytes) -> bytes | None:
    """``JSON.stringify(JSON.parse(body))`` as far as Python can reproduce it."""
    try:
        return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        return None


MAX_PAGES = 100


def _all_messages(http: Any, url: str, headers: dict[str, str], auth: tuple[str, str]) -> list[Any]:
    """Every page of the history. Crisp answers the newest messages first, a page at a time; the
    next (older) page is ``?timestamp_before=<oldest timestamp seen>``, and a page with nothing
    older ends it (an empty one, or one repeating what we have)."""
    found: list[Any] = []
    before: int | None = None
    for _ in range(MAX_PAGES):
        answer = v.get_json(http, url, params={"timestamp_before": before} if before else None, headers=headers,
                            auth=auth)
        page = v.dig(answer, "data")
        if not isinstance(page, list):
            raise v.FetchFailed("the messages answer has no data list")
        stamps = [m["timestamp"] for m in page if isinstance(m, dict) and isinstance(m.get("timestamp"), int)
                  and not isinstance(m.get("timestamp"), bool)]
        older = [m for m in page if before is None or (isinstance(m, dict) and isinstance(m.get("timestamp"), int)
                                                       and m["timestamp"] < before)]
        found = older + found
        if not older or not stamps or min(stamps) == before:
            break
        before = min(stamps)
    return found


class CrispAdapter(Adapter):
    slug = SLUG
    handlers = EVENT_HANDLERS
    emits = frozenset({"conversation.updated", "conversation.closed"})

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        signature = inbound.header("x-crisp-signature").strip()
        if not signature:  # website hooks: the URL's ?key= is the only credential
            require_token(inbound, secrets, "no X-Crisp-Signature and no valid ?key=", query="key")
            return
        stamp = inbound.header("x-crisp-request-timestamp").strip()
        try:
            signing.check_timestamp(str(int(stamp) // 1000) if stamp.isdigit() else stamp, inbound.now, tolerance)
            presented = bytes.fromhex(signature)
        except (signing.SignatureError, ValueError) as exc:
            raise Unauthorized(str(exc) or "bad signature") from None
        bodies = [inbound.body] + [b for b in [_stringify(inbound.body)] if b and b != inbound.body]
        expected = [
            signing.hmac_digest(secret.encode(), b"[" + stamp.encode() + b";" + body + b"]")
            for secret in secrets for body in bodies
        ]
        if not signing.matches_any(expected, [presented]):
            raise Unauthorized("signature mismatch")

    def event_type(self, body: dict[str, Any]) -> str:
        if not isinstance(body.get("event"), str) or not isinstance(body.get("data"), dict):
            raise MalformedPayload("not a Crisp web hook (event and data required)")
        return body["event"]

    def complete(self, event: Event, settings: Settings) -> Event:
        """History and email from the REST API (``CRISP_API_IDENTIFIER``/``CRISP_API_KEY``, plugin tier)."""
        customer = event.customer or Customer()
        website_id = v.opt_str(customer.attributes.get("crisp_website_id"))
        ident, key = settings.platforms.crisp_api_identifier, settings.platforms.crisp_api_key
        try:
            if not (website_id and ident and key):
                raise v.FetchFailed("CRISP_API_IDENTIFIER/CRISP_API_KEY or the website id is missing")
            base = v.base_url(api_url_env_name(SLUG), settings.api_url(SLUG), DEFAULT_API_URL)
            session_id = quote(event.conversation.id, safe="")
            root = f"{base}/v1/website/{quote(website_id, safe='')}/conversation/{session_id}"
            http, headers = v.session(), {"X-Crisp-Tier": "plugin"}
            raw = _all_messages(http, root + "/messages", headers, (ident, key))
            if not customer.email:
                meta = v.get_json(http, root + "/meta", headers=headers, auth=(ident, key))
                customer = customer.model_copy(update={"email": v.opt_str(v.dig(meta, "data", "email"))})
        except v.FetchFailed as exc:
            log.warning("bridge.fetch.failed", extra={"platform": SLUG, "reason": str(exc)})
            return v.mark_partial(event, str(exc))
        fetched = [Message.model_validate(m) for m in map(crisp_message, raw) if m]
        messages = v.trim_transcript(merge_messages(fetched, event.conversation.messages))
        conversation = event.conversation.model_copy(update={"messages": messages, "partial": False})
        return event.model_copy(update={"conversation": conversation, "customer": customer})

"""Rasa action server call: the bridge is the endpoint of a custom handoff action.

Docs: RasaHQ/rasa ``docs/static/spec/action-server.yml``; https://rasa.com/docs/rasa/custom-actions

Authentication: Rasa signs nothing. ``endpoints.yml`` ``action_endpoint`` adds ``?token=<secret>``
(query parameter ``token``) or HTTP basic auth (secret ``username:password``); either is compared in
constant time against every secret in ``RASA_WEBHOOK_SECRET``.

Events: one request per predicted custom action (``next_action``). A handoff when the action is a
handoff action (``HANDOFF_ACTIONS``: ``action_handoff_to_human`` and names containing handoff /
human / agent / escalate); other actions only update the conversation. The transcript is inline:
``tracker.events`` of type ``user`` and ``bot``. A user turn's NLU intent confidence
(``parse_data.intent.confidence``; ``latest_message`` for the newest turn) goes on the bot messages
that answer it (the ``bot`` events up to the next user turn), or on the user message itself when no
bot text answered it (typically the turn that ran the handoff action). With the FallbackClassifier
(``nlu_fallback``) that confidence is the classifier's threshold as Rasa reports it; the real best
intent is the next ranking entry, kept in ``customer.attributes["best_real_intent"]``. Rasa sends no
sentiment (none of its shipped NLU components produce one). The answer is the action server response
``{"events": [{"event": "pause"}], "responses": [{"text": <receipt>}]}`` on a handoff.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bridge.adapters import receipts, vendor_api
from bridge.adapters.base import (
    Adapter,
    Delivery,
    Handler,
    Inbound,
    MalformedPayload,
    drop_none as _drop_none,
    require_token,
    text_or_none as _text,
    validate_event,
)
from bridge.events import Event

HANDOFF_ACTIONS = re.compile(r"(handoff|hand_off|human|live_?agent|escalat)", re.I)
FALLBACK_INTENT = "nlu_fallback"
EMAIL_SLOTS = ("customer_email", "email", "user_email")
NAME_SLOTS = ("customer_name", "name", "user_name")
LANGUAGE_KEYS = ("language", "locale", "lang")
MAX_TRANSCRIPT = 5000


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _scalar(mapping: dict[str, Any], names: Sequence[str], limit: int = 200) -> str | None:
    for name in names:
        value = mapping.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value)[:limit]
    return None


def _sent_at(timestamp: Any) -> str | None:
    seconds = _number(timestamp)
    if seconds is None or not 0 < seconds < 32_503_680_000:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rich(data: Any) -> list[dict[str, Any]]:
    """The image or attachment URL of a bot event's ``data`` (Rasa's rich responses)."""
    found = []
    for key in ("image", "attachment"):
        value = _dict(data).get(key)
        nested = _dict(value)
        url = value if isinstance(value, str) else nested.get("url") or _dict(nested.get("payload")).get("src")
        if att := vendor_api.attachment(url, None, "image/*" if key == "image" else None):
            found.append(att)
    return found


def _intent(parse_data: Any) -> tuple[str | None, float | None]:
    if not isinstance(parse_data, dict) or not isinstance(parse_data.get("intent"), dict):
        return None, None
    intent = parse_data["intent"]
    confidence = _number(intent.get("confidence"))
    return _text(intent.get("name"), 200), None if confidence is None else min(max(confidence, 0.0), 1.0)


def _transcript(events: list[Any], latest: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    turns: list[tuple[dict[str, Any], float | None]] = []  # each user message with its NLU confidence
    unanswered: set[int] = set()  # positions in ``turns`` no bot text has answered yet
    for index, item in enumerate(events):
        if not isinstance(item, dict) or item.get("event") not in ("user", "bot"):
            continue
        text, attachments = _text(item.get("text")), _rich(item.get("data"))
        if text is None and item["event"] == "bot":  # a rich answer: buttons, a custom payload, an image
            data = _dict(item.get("data"))
            text = vendor_api.card_text(data.get("custom")) or vendor_api.card_text(data.get("buttons")) \
                or ("[attachment]" if attachments else None)
        if text is None:
            continue
        message: dict[str, Any] = {
            "id": _text(item.get("message_id"), 200) or f"{item['event']}-{item.get('timestamp', index)}",
            "role": "customer" if item["event"] == "user" else "bot",
            "text": text,
            "sent_at": _sent_at(item.get("timestamp")),
            "attachments": attachments,
        }
        if item["event"] == "user":
            parse_data = item.get("parse_data")
            if not isinstance(parse_data, dict) and item.get("message_id") and \
                    item.get("message_id") == latest.get("message_id"):
                parse_data = latest
            message["intent"], confidence = _intent(parse_data)
            turns.append((message, confidence))
            unanswered.add(len(turns) - 1)
        elif turns:  # a bot answer: the confidence of the user turn it answers
            message["confidence"] = turns[-1][1]
            unanswered.discard(len(turns) - 1)
        messages.append(message)
    for position in unanswered:
        turn, confidence = turns[position]
        turn["confidence"] = confidence
    return messages[-MAX_TRANSCRIPT:]


def _best_real_intent(latest: dict[str, Any]) -> dict[str, Any] | None:
    ranking = latest.get("intent_ranking") if isinstance(latest.get("intent_ranking"), list) else []
    for entry in ranking:
        if isinstance(entry, dict) and entry.get("name") != FALLBACK_INTENT and _text(entry.get("name")):
            return {"name": entry["name"][:200], "confidence": _number(entry.get("confidence"))}
    return None


def _language(tracker: dict[str, Any], latest: dict[str, Any]) -> str | None:
    for source in (latest.get("metadata"), tracker.get("slots")):
        if isinstance(source, dict) and (value := _scalar(source, LANGUAGE_KEYS, 20)):
            return value
    return None


def parse_action_call(data: dict[str, Any], d: Delivery) -> Event:
    tracker = data.get("tracker")
    if not isinstance(tracker, dict):
        raise MalformedPayload("tracker is missing: not a Rasa action server call")
    sender = _text(data.get("sender_id"), 200) or _text(tracker.get("sender_id"), 200)
    if not sender:
        raise MalformedPayload("sender_id is missing")
    action = _text(data.get("next_action"), 200) or ""
    slots = tracker.get("slots") if isinstance(tracker.get("slots"), dict) else {}
    latest = tracker.get("latest_message") if isinstance(tracker.get("latest_message"), dict) else {}
    events = tracker.get("events") if isinstance(tracker.get("events"), list) else []
    messages = _transcript(events, latest)
    if not messages and (text := _text(latest.get("text"))):  # trackers sent without events
        intent, confidence = _intent(latest)
        messages = [{"id": _text(latest.get("message_id"), 200), "role": "customer", "text": text,
                     "intent": intent, "confidence": confidence}]
    language = _language(tracker, latest)
    anchor = _text(latest.get("message_id"), 200) or str(tracker.get("latest_event_time"))
    event_id = "rasa-" + hashlib.sha256(f"{sender}|{action}|{anchor}|{len(events)}".encode()).hexdigest()[:40]

    attributes: dict[str, Any] = {"slots": {k: v for k, v in slots.items() if v is not None}}
    latest_intent, _ = _intent(latest)
    if latest_intent == FALLBACK_INTENT and (best := _best_real_intent(latest)):
        attributes["best_real_intent"] = best
    is_handoff = bool(HANDOFF_ACTIONS.search(action))
    # Slots under names of the assistant's choosing, then what the channel put in the message metadata.
    found = vendor_api.identity_from_params(slots, latest.get("metadata"))
    event: dict[str, Any] = {
        "event_id": event_id,
        "type": "handoff.requested" if is_handoff else "conversation.updated",
        "bot": {"platform": "rasa", "name": _text((data.get("domain") or {}).get("assistant_id"), 200)
                if isinstance(data.get("domain"), dict) else None},
        "conversation": {
            "id": sender,
            "channel": _text(tracker.get("latest_input_channel"), 100),
            "language": language,
            "messages": messages,
        },
        "customer": {
            "id": _scalar(slots, ("customer_id", "user_id")) or found.get("id"),
            "email": _scalar(slots, EMAIL_SLOTS, 320) or found.get("email"),
            "name": _scalar(slots, NAME_SLOTS, 500) or found.get("name"),
            "phone": found.get("phone", "")[:50] or None,
            "locale": language,
            "account": {"id": account} if (account := _scalar(slots, ("account_id",))) else None,
            "attributes": attributes,
        },
    }
    if is_handoff:
        reason = f"the assistant ran {action}"
        if latest_intent == FALLBACK_INTENT:
            reason += " after the last message fell below the NLU fallback threshold"
        event["handoff"] = {"requested_by": "bot", "reason": reason, "topic": latest_intent}
    return validate_event(_drop_none(event))


EVENT_HANDLERS: dict[str, Handler] = {"action_call": parse_action_call}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class RasaAdapter(Adapter):
    slug = "rasa"
    handlers = EVENT_HANDLERS
    emits = frozenset({"handoff.requested", "conversation.updated"})
    not_an_object = "the body must be a JSON object (action server call)"

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        require_token(inbound, secrets, "missing or wrong ?token= / Basic credentials", query="token", basic=True)

    def event_type(self, body: dict[str, Any]) -> str:
        return "action_call"  # the action server API has one request

    def respond(
        self, accepted: list[dict[str, Any]], events: Sequence[Event] | None = None, inbound: Inbound | None = None
    ) -> tuple[Any, int] | None:
        """The action server response: pause the bot and tell the customer, on a handoff."""
        event = events[0] if events else None
        if event is not None and event.type != "handoff.requested":
            return {"events": [], "responses": []}, 200
        text = receipts.receipt(event.conversation.language if event else None)
        return {"events": [{"event": "pause"}], "responses": [{"text": text}]}, 200

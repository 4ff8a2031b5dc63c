"""Google Dialogflow CX webhook (``WebhookRequest``), called synchronously during a turn.

Docs: googleapis ``google/cloud/dialogflow/cx/v3/webhook.proto`` and ``response_message.proto``;
https://cloud.google.com/dialogflow/cx/docs/concept/webhook

Authentication: Dialogflow signs nothing. The Webhook resource is configured with HTTP Basic
(secret ``DIALOGFLOW_CX_WEBHOOK_SECRET=username:password``) or a static request header
``X-Bridge-Token: <secret>``; both are compared in constant time against every secret in the list.

Events: every request is one turn. It is a handoff when the turn queued a ``liveAgentHandoff``
response message or the fulfillment tag names one (``HANDOFF_TAGS``); otherwise it only updates
the conversation. The request carries the current utterance and this turn's bot responses, never the
history (the Conversation History API needs Google credentials and is not fetched here).

Platform signals: ``intentInfo.confidence`` (how well the agent matched the customer's words) goes on
the bot messages queued this turn, which answer them, or on the customer turn when the request
carries no bot text. ``sentimentAnalysisResult.score`` (only when sentiment analysis is enabled) is
already on the canonical -1..1 scale and goes as is onto the customer turn's ``sentiment``; score and
magnitude are also kept in ``customer.attributes["sentiment"] = {"score", "magnitude", "source"}``.
A ``priority`` in the ``liveAgentHandoff`` metadata (free-form, set by the agent designer) becomes
``handoff.priority`` when it is a priority word.
The answer is a ``WebhookResponse`` whose message is the customer receipt in ``languageCode``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from bridge.adapters import receipts, vendor_api
from bridge.adapters.base import (
    Adapter,
    Delivery,
    Handler,
    Inbound,
    MalformedPayload,
    drop_none as _drop_none,
    handoff_priority,
    require_token,
    sentiment_or_none,
    text_or_none as _text,
    validate_event,
)
from bridge.events import Event

HANDOFF_TAGS = re.compile(r"(escalat|handoff|hand-off|human|live[-_ ]?agent|billing[-_]exception)", re.I)
EMAIL_PARAMS = ("customer_email", "email", "user_email")
CUSTOMER_ID_PARAMS = ("customer_id", "user_id")
ACCOUNT_ID_PARAMS = ("account_id", "account")
PLAN_PARAMS = ("plan", "customer_plan")
NAME_PARAMS = ("customer_name", "name", "user_name")
TURN_TYPES = ("text", "transcript", "triggerIntent", "triggerEvent", "dtmfDigits")


def _first(params: dict[str, Any], names: Sequence[str]) -> str | None:
    for name in names:
        value = params.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value)[:200]
    return None


def _customer_text(data: dict[str, Any]) -> str | None:
    if text := _text(data.get("text")):
        return text
    if text := _text(data.get("transcript")):
        return text
    if intent := _text(data.get("triggerIntent")):
        return f"[intent {intent}]"
    if event := _text(data.get("triggerEvent")):
        return f"[event {event}]"
    return None


def _bot_texts(messages: list[Any]) -> list[str]:
    texts: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("text"), dict):
            continue
        parts = message["text"].get("text") if isinstance(message["text"].get("text"), list) else []
        joined = " ".join(p for p in parts if isinstance(p, str)).strip()
        if joined:
            texts.append(joined)
    return texts


def _handoff_metadata(messages: list[Any]) -> dict[str, Any] | None:
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("liveAgentHandoff"), dict):
            metadata = message["liveAgentHandoff"].get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return None


def _form_parameters(page: dict[str, Any]) -> dict[str, Any]:
    """The page's form parameters (``pageInfo.formInfo.parameterInfo[]``: ``displayName`` → ``value``):
    what the form has collected so far, often the customer's e-mail before it reaches the session."""
    infos = page.get("formInfo", {}).get("parameterInfo") if isinstance(page.get("formInfo"), dict) else None
    return {info["displayName"]: info.get("value") for info in infos if isinstance(info, dict)
            and isinstance(info.get("displayName"), str)} if isinstance(infos, list) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_webhook_request(data: dict[str, Any], d: Delivery) -> Event:
    session_info = data.get("sessionInfo") if isinstance(data.get("sessionInfo"), dict) else {}
    session = session_info.get("session") if isinstance(session_info.get("session"), str) else ""
    session_id = session.rstrip("/").rsplit("/", 1)[-1] if session else ""
    if not session_id:
        raise MalformedPayload("sessionInfo.session is missing: not a Dialogflow CX WebhookRequest")
    params = session_info.get("parameters") if isinstance(session_info.get("parameters"), dict) else {}
    intent = data.get("intentInfo") if isinstance(data.get("intentInfo"), dict) else {}
    page = data.get("pageInfo") if isinstance(data.get("pageInfo"), dict) else {}
    tag = (data.get("fulfillmentInfo") or {}).get("tag") if isinstance(data.get("fulfillmentInfo"), dict) else None
    queued = data.get("messages") if isinstance(data.get("messages"), list) else []
    language = _text(data.get("languageCode"), 20)
    response_id = _text(data.get("detectIntentResponseId"), 150)
    event_id = response_id or "body-" + hashlib.sha256(d.inbound.body).hexdigest()[:40]

    confidence = _number(intent.get("confidence"))
    if confidence is not None:
        confidence = min(max(confidence, 0.0), 1.0)
    sentiment = data.get("sentimentAnalysisResult") if isinstance(data.get("sentimentAnalysisResult"), dict) else {}
    answers = [{"id": f"{event_id}:bot:{index}", "role": "bot", "text": text[:100_000], "confidence": confidence}
               for index, text in enumerate(_bot_texts(queued))]
    messages: list[dict[str, Any]] = []
    if said := _customer_text(data):
        turn: dict[str, Any] = {"id": f"{event_id}:customer", "role": "customer", "text": said,
                                "intent": _text(intent.get("displayName"), 200),
                                # Dialogflow's score is already -1 (negative) … 1 (positive): as is.
                                "sentiment": sentiment_or_none(sentiment.get("score"))}
        if not answers:  # no bot text this turn: the match confidence stays with the customer's words
            turn["confidence"] = confidence
        messages.append(turn)
    messages += answers

    form = _form_parameters(page)
    # Known parameter names first, then any name the agent's author chose (``customer-email``, ``Email``).
    found = vendor_api.identity_from_params(params, form)
    attributes: dict[str, Any] = {"session_parameters": params} if params else {}
    if form:
        attributes["form_parameters"] = {k: vendor_api.param_value(val) for k, val in form.items()}
    if page_name := _text(page.get("displayName"), 200):
        attributes["page"] = page_name
    if _number(sentiment.get("score")) is not None:
        attributes["sentiment"] = {
            "score": _number(sentiment.get("score")),
            "magnitude": _number(sentiment.get("magnitude")),
            "source": "dialogflow-cx",
        }
    if isinstance(intent.get("parameters"), dict) and intent["parameters"]:
        attributes["intent_parameters"] = {
            name: value.get("resolvedValue", value.get("originalValue")) if isinstance(value, dict) else value
            for name, value in intent["parameters"].items()
        }

    metadata = _handoff_metadata(queued)
    is_handoff = metadata is not None or bool(isinstance(tag, str) and HANDOFF_TAGS.search(tag))
    event: dict[str, Any] = {
        "event_id": event_id,
        "type": "handoff.requested" if is_handoff else "conversation.updated",
        "bot": {"platform": "dialogflow-cx"},
        "conversation": {
            "id": session_id[:200],
            "channel": "dialogflow-cx",
            "language": language,
            "messages": messages,
            "partial": True,  # one turn only; no history in the request
        },
        "customer": {
            "id": _first(params, CUSTOMER_ID_PARAMS) or found.get("id"),
            "email": _first(params, EMAIL_PARAMS) or found.get("email"),
            "name": _first(params, NAME_PARAMS) or found.get("name"),
            "phone": found.get("phone", "")[:50] or None,
            "locale": language,
            "plan": (_first(params, PLAN_PARAMS) or "")[:100] or None,
            "account": {"id": account} if (account := _first(params, ACCOUNT_ID_PARAMS)) else None,
            "attributes": attributes,
        },
    }
    if is_handoff:
        metadata = metadata or {}
        reason = _text(metadata.get("reason"), 2000) or _text(metadata.get("summary"), 2000) or tag
        summary = _text(metadata.get("summary"), 1500)
        event["handoff"] = {
            "requested_by": "bot",
            "reason": f"{reason}: {summary}" if summary and reason != summary else reason,
            "topic": _text(metadata.get("queue"), 200) or _text(intent.get("displayName"), 200) or tag,
            "priority": handoff_priority(metadata.get("priority")),
        }
    return validate_event(_drop_none(event))


EVENT_HANDLERS: dict[str, Handler] = {"WebhookRequest": parse_webhook_request}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class DialogflowCXAdapter(Adapter):
    slug = "dialogflow-cx"
    handlers = EVENT_HANDLERS
    emits = frozenset({"handoff.requested", "conversation.updated"})
    not_an_object = "the body must be a JSON object (WebhookRequest)"

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        require_token(inbound, secrets, "missing or wrong Basic credentials / X-Bridge-Token", basic=True,
                      header="x-bridge-token")

    def event_type(self, body: dict[str, Any]) -> str:
        return "WebhookRequest"  # the only request Dialogflow CX sends a webhook

    def respond(
        self, accepted: list[dict[str, Any]], events: Sequence[Event] | None = None, inbound: Inbound | None = None
    ) -> tuple[Any, int] | None:
        """A ``WebhookResponse``: the receipt on a handoff, an empty (valid) answer otherwise."""
        event = events[0] if events else None
        if event is not None and event.type != "handoff.requested":
            return {}, 200
        answer = accepted[0] if accepted else {}
        text = receipts.receipt(event.conversation.language if event else None)
        return {
            "fulfillmentResponse": {"messages": [{"text": {"text": [text]}}], "mergeBehavior": "APPEND"},
            "sessionInfo": {"parameters": {"bridge_case": answer.get("case"), "bridge_event": answer.get("event")}},
        }, 200

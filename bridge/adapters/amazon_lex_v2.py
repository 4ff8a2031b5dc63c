"""Amazon Lex V2 code hook event, forwarded as JSON by a Lambda (or API Gateway) shim.

Docs: https://docs.aws.amazon.com/lexv2/latest/dg/lambda-input-format.html and
lambda-response-format.html (AWS SDK models for ``Interpretation``).

Authentication: Lex itself has no webhook; trust comes from IAM, so the shim that forwards the event
authenticates to the bridge with ``Authorization: Bearer <secret>`` or ``X-Bridge-Token: <secret>``
(``AMAZON_LEX_V2_WEBHOOK_SECRET``, comma list for rotation), compared in constant time.

Events: one per code hook invocation (``DialogCodeHook`` / ``FulfillmentCodeHook``). A handoff when
the session's intent is ``FallbackIntent`` or names a handoff (``HANDOFF_INTENTS``), or the session
attribute ``handoff`` is set; otherwise the turn only updates the conversation. The event carries
``inputTranscript`` only, never history (no Lex API returns past turns).

Platform signals, both on the customer turn (the event carries no bot text: the bot's answer is what
the Lambda returns): ``confidence`` is the best interpretation's ``nluConfidence`` (a number here,
``{score}`` in the runtime API; ``FallbackIntent`` carries none); ``sentiment`` is
``sentimentResponse.sentimentScore`` positive minus negative (each 0..1, so the difference is
-1..1; neutral and mixed pull it towards 0 by taking their share), present only when sentiment
analysis is enabled. The label and raw scores stay in ``customer.attributes["sentiment"] =
{"label": "NEGATIVE", "scores": {...}, "source": "amazon-lex-v2"}``.

The answer is a Lex V2 Lambda response: on a handoff ``Close`` with the intent ``Fulfilled`` and the
receipt message, otherwise ``Delegate``.
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
    as_dict as _dict,
    drop_none as _drop_none,
    load_json,
    require_token,
    sentiment_or_none,
    text_or_none as _text,
    validate_event,
)
from bridge.events import Event

FALLBACK_INTENT = "FallbackIntent"
HANDOFF_INTENTS = re.compile(r"(human|agent|handoff|escalat|representative|operator|speak.?to)", re.I)
EMAIL_ATTRIBUTES = ("customerEmail", "email", "customer_email")
NAME_ATTRIBUTES = ("customerName", "name", "customer_name")
ID_ATTRIBUTES = ("customerId", "userId", "customer_id")
ACCOUNT_ATTRIBUTES = ("accountId", "account_id")


def _confidence(interpretation: dict[str, Any]) -> float | None:
    value = interpretation.get("nluConfidence")
    if isinstance(value, dict):  # runtime API shape
        value = value.get("score")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(max(float(value), 0.0), 1.0)
    return None


def _best_interpretation(interpretations: list[Any]) -> dict[str, Any]:
    scored = [i for i in interpretations if isinstance(i, dict) and _confidence(i) is not None]
    return max(scored, key=lambda i: _confidence(i) or 0.0) if scored else {}


def _sentiment(interpretations: list[Any]) -> dict[str, Any] | None:
    for interpretation in interpretations:
        response = _dict(interpretation).get("sentimentResponse")
        if isinstance(response, dict) and _text(response.get("sentiment")):
            return {
                "label": response["sentiment"][:20],
                "scores": {k: v for k, v in _dict(response.get("sentimentScore")).items()
                           if isinstance(v, int | float) and not isinstance(v, bool)},
                "source": "amazon-lex-v2",
            }
    return None


def _sentiment_value(sentiment: dict[str, Any] | None) -> float | None:
    """Comprehend's scores (positive, negative, neutral, mixed; each 0..1) as one -1..1 number:
    positive minus negative. A label without both scores gives no number rather than a guess."""
    scores = sentiment["scores"] if sentiment else {}
    if "positive" not in scores or "negative" not in scores:
        return None
    return sentiment_or_none(float(scores["positive"]) - float(scores["negative"]))


def _attribute(attributes: dict[str, Any], names: Sequence[str], limit: int = 200) -> str | None:
    for name in names:
        if isinstance(value := attributes.get(name), str) and value.strip():
            return value[:limit]
    return None


def parse_code_hook(data: dict[str, Any], d: Delivery) -> Event:
    session_id = _text(data.get("sessionId"), 200)
    session_state = _dict(data.get("sessionState"))
    if not session_id or not session_state and "inputTranscript" not in data:
        raise MalformedPayload("sessionId/sessionState are missing: not a Lex V2 code hook event")
    attributes = {k: v for k, v in _dict(session_state.get("sessionAttributes")).items() if isinstance(v, str)}
    interpretations = data.get("interpretations") if isinstance(data.get("interpretations"), list) else []
    intent_name = _text(_dict(session_state.get("intent")).get("name"), 200) or ""
    bot = _dict(data.get("bot"))
    locale = _text(bot.get("localeId"), 20)
    language = locale.replace("_", "-") if locale else None
    request_id = _text(session_state.get("originatingRequestId"), 100)
    source = _text(data.get("invocationSource"), 40) or "CodeHook"
    anchor = request_id or hashlib.sha256(d.inbound.body).hexdigest()[:32]
    event_id = f"{session_id}:{anchor}:{source}"[:200]

    # Identity the bot collected as slots of the current intent (``{"value": {"interpretedValue"}}``)
    # or keeps in session attributes under names of its author's choosing.
    slots = _dict(_dict(session_state.get("intent")).get("slots"))
    found = vendor_api.identity_from_params(attributes, slots)
    best = _best_interpretation(interpretations)
    sentiment = _sentiment(interpretations)
    messages: list[dict[str, Any]] = []
    # Voice turns: ``inputTranscript`` is what Lex acted on; when a forwarder drops it the best
    # ``transcriptions[]`` entry (speech input, highest ``transcriptionConfidence``) is the same words.
    heard = [t for t in vendor_api.items(data.get("transcriptions"))
             if isinstance(t, dict) and _text(t.get("transcription"))]
    heard.sort(key=lambda t: -(_confidence({"nluConfidence": t.get("transcriptionConfidence")}) or 0.0))
    if said := _text(data.get("inputTranscript")) or (_text(heard[0]["transcription"]) if heard else None):
        turn: dict[str, Any] = {"id": f"{anchor}:input", "role": "customer", "text": said,
                                "sentiment": _sentiment_value(sentiment)}
        if (confidence := _confidence(best)) is not None:
            turn["confidence"] = confidence
            turn["intent"] = _text(_dict(best.get("intent")).get("name"), 200)
        elif intent_name:
            turn["intent"] = intent_name
        messages.append(turn)

    customer_attributes: dict[str, Any] = {"session_attributes": attributes} if attributes else {}
    if sentiment:
        customer_attributes["sentiment"] = sentiment
    flagged = attributes.get("handoff", "").strip().lower() in ("true", "1", "yes", "requested")
    is_handoff = intent_name == FALLBACK_INTENT or bool(HANDOFF_INTENTS.search(intent_name)) or flagged
    event: dict[str, Any] = {
        "event_id": event_id,
        "type": "handoff.requested" if is_handoff else "conversation.updated",
        "bot": {"platform": "amazon-lex-v2", "name": _text(bot.get("name"), 200)},
        "conversation": {
            "id": session_id,
            "channel": _text(data.get("inputMode"), 100),
            "language": language,
            "messages": messages,
            "partial": True,  # the code hook sees the current utterance only
        },
        "customer": {
            "id": _attribute(attributes, ID_ATTRIBUTES) or found.get("id"),
            "email": _attribute(attributes, EMAIL_ATTRIBUTES, 320) or found.get("email"),
            "name": _attribute(attributes, NAME_ATTRIBUTES, 500) or found.get("name"),
            "phone": found.get("phone", "")[:50] or None,
            "locale": language,
            "account": {"id": account} if (account := _attribute(attributes, ACCOUNT_ATTRIBUTES)) else None,
            "attributes": customer_attributes,
        },
    }
    if is_handoff:
        reason = "Lex fell back: no intent matched" if intent_name == FALLBACK_INTENT else f"intent {intent_name}"
        topic = _text(_dict(best.get("intent")).get("name"), 200) if best else None
        event["handoff"] = {"requested_by": "bot" if intent_name == FALLBACK_INTENT else "customer",
                            "reason": reason, "topic": topic}
    return validate_event(_drop_none(event))


def lex_response(request: dict[str, Any], handoff: bool, text: str, case: str | None) -> dict[str, Any]:
    """The Lambda response for the request: close and tell the customer, or let Lex carry on."""
    state = _dict(request.get("sessionState"))
    attributes = {k: v for k, v in _dict(state.get("sessionAttributes")).items() if isinstance(v, str)}
    intent = dict(_dict(state.get("intent"))) or {"name": FALLBACK_INTENT}
    if not handoff:
        return {"sessionState": {"sessionAttributes": attributes, "dialogAction": {"type": "Delegate"},
                                 "intent": intent}}
    if case:
        attributes["bridgeCase"] = case
    intent["state"] = "Fulfilled"
    return {
        "sessionState": {"sessionAttributes": attributes, "dialogAction": {"type": "Close"}, "intent": intent},
        "messages": [{"contentType": "PlainText", "content": text}],
    }


EVENT_HANDLERS: dict[str, Handler] = {"DialogCodeHook": parse_code_hook, "FulfillmentCodeHook": parse_code_hook}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


class AmazonLexV2Adapter(Adapter):
    slug = "amazon-lex-v2"
    handlers = EVENT_HANDLERS
    emits = frozenset({"handoff.requested", "conversation.updated"})
    not_an_object = "the body must be a JSON object (Lex V2 code hook event)"

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        require_token(inbound, secrets, "missing or wrong Bearer / X-Bridge-Token", bearer=True,
                      header="x-bridge-token")

    def event_type(self, body: dict[str, Any]) -> str:
        source = body.get("invocationSource")
        if not isinstance(source, str) or not source:
            raise MalformedPayload("invocationSource is missing: not a Lex V2 code hook event")
        return source[:100]

    def respond(
        self, accepted: list[dict[str, Any]], events: Sequence[Event] | None = None, inbound: Inbound | None = None
    ) -> tuple[Any, int] | None:
        """The Lex V2 Lambda response; ``inbound`` lets it echo the session exactly as Lex sent it."""
        event = events[0] if events else None
        request: dict[str, Any] = {}
        if inbound is not None:
            try:
                request = _dict(load_json(inbound.body))
            except MalformedPayload:
                request = {}
        handoff = event is None or event.type == "handoff.requested"
        text = receipts.receipt(event.conversation.language if event else None)
        case = accepted[0].get("case") if accepted else None
        return lex_response(request, handoff, text, case), 200

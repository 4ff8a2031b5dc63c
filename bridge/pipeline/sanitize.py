"""What must never leave the bridge, and what must never reach a Slack channel.

Two levels, both built on the LLM redactor's detectors (``bridge.pipeline.redact``):

- ``sanitize_event``: card numbers, credentials, tokens and keys are masked in everything the
  bridge renders (ticket, bug, alert, case page). A customer who pastes a card number into the
  chat, or a console log that captured a session token, does not put it into Zendesk (PCI), a
  widely readable Jira bug, or Slack. The card keeps its last four digits so the agent can match
  it; a token keeps nothing.
- ``for_channel``: a Slack channel is read by many people, so on top of that every e-mail address,
  phone number, IBAN and national id is removed, and the customer's own phone number in any
  spelling (``+52 55 1234 8890``, ``5512348890``, inside a WhatsApp conversation id or link).
  The ticket keeps them: the agent may have to call back or write to a DPO.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from bridge.events import Customer, Decision, Event, Package
from bridge.pipeline.redact import DETECTORS, Detector
from bridge.pipeline.trigger_prefilter import LiteralGate

SECRET_KINDS = frozenset({"PRIVATE_KEY", "TOKEN", "URL_CREDENTIALS", "API_KEY", "PASSWORD", "CARD"})
CONTACT_KINDS = SECRET_KINDS | {"EMAIL", "PHONE", "IBAN", "NATIONAL_ID"}
_DIGIT_RUN = re.compile(r"\+?\d[\d\s().\-/]{5,}\d")
# A number read out by speech-to-text: "three one two five five five zero one four seven".
_SPOKEN = re.compile(r"(?i)\b(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double)\b[\s,.-]*){7,}")


def _mask(kind: str, value: str) -> str:
    if kind == "CARD":
        last4 = re.sub(r"\D", "", value)[-4:]
        return f"[card ending {last4}]"
    return {"EMAIL": "[email]", "PHONE": "[phone]", "IBAN": "[iban]", "NATIONAL_ID": "[id]",
            "PASSWORD": "[secret]", "URL_CREDENTIALS": "[credentials]"}.get(kind, "[token]")


@cache
def _gate(detectors: tuple[Detector, ...]) -> LiteralGate[Detector]:
    return LiteralGate(detectors, lambda d: d.pattern)


def runnable(text: str, detectors: tuple[Detector, ...]) -> list[Detector]:
    """The detectors that can match ``text``, in their order. Every text the bridge renders is
    masked; a pasted log of 50 KB took 19 ms for the secrets alone, most of it in detectors (a
    password said in words, a session token) whose words the log does not contain."""
    return _gate(detectors)(text)


def _spans(text: str, detectors: tuple[Detector, ...], gated: bool = True) -> list[tuple[int, int, str]]:
    taken: list[tuple[int, int, str]] = []
    for detector in runnable(text, detectors) if gated else detectors:
        for m in detector.pattern.finditer(text):
            group = "v" if "v" in detector.pattern.groupindex and m.group("v") else 0
            start, end = m.span(group)
            if start < end and detector.valid(m.group(group)) and all(end <= s or start >= e for s, e, _ in taken):
                taken.append((start, end, detector.kind))
    return sorted(taken)


def _replace(text: str, spans: list[tuple[int, int, str]]) -> str:
    out, cursor = [], 0
    for start, end, kind in spans:
        out += [text[cursor:start], _mask(kind, text[start:end])]
        cursor = end
    return "".join(out) + text[cursor:]


_SECRETS = tuple(d for d in DETECTORS if d.kind in SECRET_KINDS)
_CONTACT = (*(d for d in DETECTORS if d.kind in CONTACT_KINDS),
            Detector("PHONE", re.compile(r"(?<![\w-])\(?\d{3}\)? \d{3} \d{4}(?![\w-])")))  # "312 555 0147"


def scrub(text: str) -> str:
    """Cards, credentials, tokens and keys masked (they never leave the bridge)."""
    return _replace(text, _spans(text, _SECRETS)) if text else text


def _phone_tails(customer: Customer | None) -> list[str]:
    digits = re.sub(r"\D", "", customer.phone or "") if customer else ""
    return [digits[-7:]] if len(digits) >= 7 else []


def for_channel(text: str, customer: Customer | None = None) -> str:
    """``scrub`` plus every e-mail, phone number and national id, and the customer's own phone in any
    spelling, even inside an id or a link: text fit for a Slack channel."""
    if not text:
        return text
    text = _replace(text, _spans(text, _CONTACT))
    text = _SPOKEN.sub("[phone] ", text)
    tails = _phone_tails(customer)
    if customer and customer.email:
        text = re.sub(re.escape(customer.email), "[email]", text, flags=re.I)
    if tails:
        text = _DIGIT_RUN.sub(lambda m: "[phone]" if any(t in re.sub(r"\D", "", m.group(0)) for t in tails)
                              else m.group(0), text)
        text = re.sub(r"\d{7,}", lambda m: "[phone]" if any(t in m.group(0) for t in tails) else m.group(0), text)
    return text


def channel_safe_url(url: str | None, customer: Customer | None = None) -> str | None:
    """A link for a Slack channel, or None when it carries contact details (a WhatsApp id, an e-mail)."""
    if not url:
        return None
    return url if for_channel(url, customer) == url else None


# Identifiers and machine fields stay as they are (a conversation id is how the case is found).
_KEEP = frozenset({"id", "case_id", "event_id", "type", "role", "kind", "sent_at", "occurred_at", "renewal_date",
                   "schema_version", "content_type", "language", "locale", "channel", "currency", "at"})


def _scrub_data(value: Any, key: str = "") -> Any:
    if key in _KEEP:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrub_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_data(v, k) for k, v in value.items()}
    return value


def sanitize_event(event: Event) -> Event:
    """The event with cards and secrets masked in every text a person will read."""
    data = event.model_dump(mode="json", exclude_none=True)
    cleaned = _scrub_data(data)
    if cleaned == data:
        return event
    return Event.model_validate(cleaned)


def sanitize_decision(decision: Decision) -> Decision:
    """The trigger evidence quotes the customer's sentence: cards and secrets masked there too."""
    hits = [hit.model_copy(update={"evidence": scrub(hit.evidence)}) for hit in decision.triggers]
    if all(a.evidence == b.evidence for a, b in zip(hits, decision.triggers, strict=True)):
        return decision
    return decision.model_copy(update={"triggers": hits})


# Machine data an engineer debugs with: left as sanitize_event made it (cards and secrets masked).
_ENGINEER_KEEPS = frozenset({"evidence", "route", "bot", "waiting", "completeness", "bug_evidence"})


def _channel_data(value: Any, customer: Customer | None, key: str = "") -> Any:
    if key in _KEEP or key in _ENGINEER_KEEPS:
        return value
    if isinstance(value, str):
        return for_channel(value, customer)
    if isinstance(value, list):
        return [_channel_data(v, customer) for v in value]
    if isinstance(value, dict):
        return {k: _channel_data(v, customer, k) for k, v in value.items()}
    return value


def for_engineers(package: Package) -> Package:
    """The package as a bug tracker's wide audience may read it: no e-mail address, phone number, IBAN
    or national id, in the profile or in what anyone wrote; the product evidence as captured."""
    data = _channel_data(package.model_dump(mode="json", exclude_none=True), package.customer)
    if isinstance(data.get("customer"), dict):
        data["customer"] = {k: v for k, v in data["customer"].items() if k not in ("email", "phone")}
    return Package.model_validate(data)

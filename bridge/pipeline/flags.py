"""Things the human must check before answering: an unsure bot answer the customer is acting on,
and a request with privacy or legal weight.

A customer who builds on a 0.38-confidence answer ("Good. I've just deleted it.") may already have
acted on something wrong; the first human reply must verify that answer, and correct it if needed,
before confirming anything. A data-protection request (GDPR erasure, access, a DPO) or a legal
threat needs the privacy or legal team, not only first-line support. Pure and deterministic.
"""

from __future__ import annotations

import re
from functools import cache

from bridge.events import Event, Flag, Message
from bridge.pipeline.trigger_prefilter import LiteralGate

CONFIDENCE = 0.5  # below this a bot answer is unsure (the trigger engine's default threshold)
UNCITED_CONFIDENCE = 0.7  # an answer without a source needs more than this to count as sure
QUOTE = 240

# The bot saying it cannot help is not an answer anyone acts on.
_NOT_AN_ANSWER = re.compile(
    r"(?i)\b(?:i(?:'m| am) (?:not (?:sure|able)|unable)|i can(?:not|'t)|let me (?:get|connect|transfer)|"
    r"hand(?:ing)? (?:you )?over|connect you|pass(?:ing)? (?:this|you|your request)|no (?:puedo|sé)|"
    r"kann ich (?:leider )?nicht|je ne (?:suis|peux) pas|não (?:posso|consigo)|non (?:posso|riesco)|"
    r"kan ik niet)|できません|引き継"
)
# A claim: figures, durations, policy and what happens to data or money.
_CLAIM = re.compile(
    r"(?i)\d|\b(?:always|never|permanent\w*|immediate\w*|right away|deleted|removed|kept|retain\w*|refund\w*|"
    r"policy|guarantee\w*|included|free|no (?:further )?action|you can|it will|will be|is (?:not )?possible)\b"
)
# The customer builds on what the bot said (rather than rejecting it).
_ACCEPTS = re.compile(
    r"(?i)^\W*(?:ok(?:ay)?|good|great|perfect|thanks?|thank you|got it|understood|alright|fine|cool|"
    r"vale|perfecto|gracias|entendido|de acuerdo|gut|danke|alles klar|verstanden|d'accord|parfait|merci|"
    r"entendi|beleza|obrigad[oa]|perfeito|va bene|grazie|perfetto|capito|prima|bedankt|goed|begrepen|"
    r"了解|ありがとう|わかりました|承知)\b|\b(?:so (?:i|we)(?:'ll| will)?|i(?:'ve| have) (?:just )?(?:done|deleted|"
    r"changed|set|removed|cancelled|told|sent|filed|confirmed)|i(?:'ll| will) (?:tell|let|confirm|do)|"
    r"did that|based on (?:that|what you said))\b"
)
_REJECTS = re.compile(
    r"(?i)^\W*(?:no\b|nope|not\b|already|tried|still|wrong|that'?s (?:not|wrong)|didn'?t|doesn'?t|won'?t|"
    r"nein|non\b|não|eso no|no me sirve|ya lo|schon|déjà|già|al gedaan)"
)
_PRIVACY = re.compile(
    r"(?i)\b(?:gdpr|rgpd|dsgvo|lgpd|ccpa|uk gdpr|article (?:15|16|17|18|20|21)|art\. ?(?:15|17)|"
    r"right to (?:be forgotten|erasure|access)|erasure|data subjects?|dsar|subject access|personal data|"
    r"données personnelles|datos personales|personenbezogene\w*|dados pessoais|dati personali|"
    r"persoonsgegevens|dpo|data protection|datenschutz\w*|protection des données|protección de datos|"
    r"lawyer|attorney|legal action|lawsuit|sue you|subpoena|court order|regulator|ico complaint)\b|個人情報"
)


def _text(message: Message) -> str:
    text = " ".join(message.text.split())
    return text if len(text) <= QUOTE else text[: QUOTE - 1] + "…"


def _unsure(message: Message) -> bool:
    if message.role != "bot" or _NOT_AN_ANSWER.search(message.text) or not _CLAIM.search(message.text):
        return False
    if message.text.strip().endswith("?") and len(message.text.split()) < 25:
        return False  # a question to the customer asserts nothing
    conf = message.confidence
    if conf is not None and conf < CONFIDENCE:
        return True
    return not message.sources and conf is not None and conf < UNCITED_CONFIDENCE


def unverified_answers(event: Event) -> list[Flag]:
    """Unsure or uncited bot answers that the customer's next message builds on."""
    messages = event.conversation.messages
    found = []
    for index, message in enumerate(messages, start=1):
        if not _unsure(message):
            continue
        reply = next((m for m in messages[index:] if m.role == "customer"), None)
        if reply is None or _REJECTS.search(reply.text) or not _ACCEPTS.search(reply.text):
            continue
        conf = f"confidence {message.confidence:.2f}" if message.confidence is not None else "no confidence given"
        cited = ("citing " + ", ".join(f"\u201c{s.title or s.url}\u201d" + (f" <{s.url}>" if s.url and s.title else "")
                                       for s in message.sources[:3])) if message.sources else "citing no source"
        found.append(Flag(
            kind="unverified_answer", message_index=index,
            text=(f"The bot may have told the customer something wrong, and they acted on it: message {index} "
                  f"({conf}, {cited}) said \u201c{_text(message)}\u201d; the customer then wrote "
                  f"\u201c{_text(reply)}\u201d. Verify that answer before confirming anything; correct it if wrong."),
        ))
    return found[:3]


@cache
def _privacy_gate() -> LiteralGate[re.Pattern[str]]:
    """``_PRIVACY`` runs only on a text holding one of its words (exact: ``trigger_prefilter``)."""
    return LiteralGate([_PRIVACY], lambda pattern: pattern)


def privacy_legal(event: Event) -> list[Flag]:
    texts = [(i, m.text) for i, m in enumerate(event.conversation.messages, start=1) if m.role == "customer"]
    if event.handoff and event.handoff.reason:
        texts.append((None, event.handoff.reason))  # type: ignore[arg-type]
    terms: list[str] = []
    first = None
    for index, text in texts:
        for match in _PRIVACY.finditer(text) if _privacy_gate()(text) else ():
            term = match.group(0)
            if term.lower() not in [t.lower() for t in terms]:
                terms.append(term)
                first = first or index
    if not terms:
        return []
    return [Flag(kind="privacy_legal", message_index=first,
                 text=(f"Privacy/legal: the customer's request has legal weight ({', '.join(terms[:6])}). Involve "
                       "the privacy or legal team; a dated, written answer may be required."))]


def flags(event: Event) -> list[Flag]:
    return [*privacy_legal(event), *unverified_answers(event)]


def flags_text(found: list[Flag]) -> str:
    return "\n".join(f"- {flag.text}" for flag in found)

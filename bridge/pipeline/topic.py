"""The case's topic in the customer's own words: the ticket subject and the Slack headline.

Zendesk's default triggers e-mail the ticket subject to the requester, so the subject is what the
customer said the problem is, never a triage label ("[negative sentiment] Unhappy customer"), a
revenue figure or a bot's internal category (``billing/refund``). Triggers, priority and plan go in
tags and fields. Deterministic: no LLM text, so a prompt injection cannot write to the customer.
"""

from __future__ import annotations

import re

from bridge.events import Event
from bridge.pipeline.completeness import language_of
from bridge.pipeline.window import window

CAP = 90
FALLBACK = {
    "en": "Your conversation with our assistant",
    "es": "Tu conversación con nuestro asistente",
    "de": "Ihr Gespräch mit unserem Assistenten",
    "fr": "Votre conversation avec notre assistant",
    "pt": "Sua conversa com nosso assistente",
    "it": "La sua conversazione con il nostro assistente",
    "nl": "Uw gesprek met onze assistent",
    "ja": "アシスタントとの会話について",
}
# An e-mail's own subject line, when the bot forwards the whole mail as the first message.
_MAIL_SUBJECT = re.compile(r"(?im)^\s*(?:subject|betreff|objet|asunto|assunto|oggetto|onderwerp|件名)\s*[:：]\s*(.+)$")
_MARKUP = re.compile(r"<[^>\n]{0,300}>|\[[^\]\n]{0,300}\]|\{[^}\n]{0,100}\}|!\S+!|\b\w+://\S+|\bjavascript:\S*")
_GREETING = re.compile(
    r"(?i)^\W*(?:(?:hi|hello|hey|hiya|dear \w+|good (?:morning|afternoon|evening)|hola|buenos días|buenas|"
    r"hallo|guten (?:tag|morgen)|sehr geehrte damen und herren|bonjour|bonsoir|salut|olá|oi|bom dia|"
    r"ciao|buongiorno|salve|hoi|goedemorgen|goedendag|yeah|yes|ok(?:ay)?|so|uh+|um+)\b[\s,.!:;-]*)+"
)
_HUMAN_ONLY = re.compile(
    r"(?i)\b(?:human|person|agent|someone|somebody|representative|operator|persona|alguien|mensch|"
    r"mitarbeiter|humain|quelqu'un|pessoa|alguém|persoon|iemand|担当者|人間)\b"
)
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")


def _clean(text: str) -> str:
    text = _MARKUP.sub(" ", text)
    text = re.sub(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]", " ", text)
    return " ".join(text.split()).strip(" -–—,;:")


def _cap(text: str, cap: int = CAP) -> str:
    if len(text) <= cap:
        return text
    cut = text[: cap - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > cap // 2 else cut).rstrip(" ,;:-–—") + "…"


def _first_sentence(text: str) -> str:
    subject = _MAIL_SUBJECT.search(text)
    if subject:
        return _clean(subject.group(1))
    for part in _SENTENCE.split(text):
        cleaned = _clean(_GREETING.sub("", _clean(part)))
        words = len(cleaned.split()) if cleaned.isascii() else len(cleaned) // 3
        if words >= 3 and not (words <= 8 and _HUMAN_ONLY.search(cleaned)):
            return cleaned
    return ""


def _readable_topic(topic: str | None) -> str:
    """A bot's topic is used only when it reads as words, not as a category (``billing/refund``)."""
    if not topic or re.search(r"[/_.:]|^\S+$", topic.strip()):
        return ""
    return _clean(topic)


def customer_topic(event: Event) -> str:
    """What the customer says the problem is, in their words and language, one line."""
    topic = _readable_topic(event.handoff.topic if event.handoff else None)
    if not topic:
        for message in event.conversation.messages:
            if message.role == "customer":
                topic = _first_sentence(window(message.text))
                if topic:
                    break
    if not topic:
        topic = FALLBACK.get(language_of(event), FALLBACK["en"])
    first = next((i for i, ch in enumerate(topic) if ch.isalpha()), 0)
    return _cap(topic[:first] + topic[first:first + 1].upper() + topic[first + 1:])

"""The short receipt a synchronous bot shows its customer once the bridge has the conversation.

Dialogflow CX, Rasa and Lex V2 read the bridge's answer and can say something to the customer
before a human picks the case up. The text promises only what is true at that moment: the
conversation and its details are with a specialist's queue, and a reply will follow.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "en"

RECEIPTS: dict[str, str] = {
    "en": "A specialist has your conversation and all its details; you'll hear from us soon.",
    "es": "Un especialista ya tiene tu conversación con todos los detalles; te responderemos pronto.",
    "de": "Ein Spezialist hat Ihr Gespräch mit allen Details erhalten; Sie hören bald von uns.",
    "fr": "Un spécialiste a votre conversation et tous ses détails ; nous vous répondrons bientôt.",
    "pt": "Um especialista já tem a sua conversa e todos os detalhes; entraremos em contato em breve.",
    "it": "Uno specialista ha la tua conversazione con tutti i dettagli; ti risponderemo a breve.",
    "nl": "Een specialist heeft je gesprek met alle details; je hoort snel van ons.",
    "ja": "担当のスペシャリストが会話の内容をすべて確認しています。まもなくご連絡いたします。",
}


def language_of(code: str | None) -> str:
    """The receipt language for a locale code (``es-419``, ``pt_BR``, ``ja-JP``…); English otherwise."""
    if not code:
        return DEFAULT_LANGUAGE
    base = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in RECEIPTS else DEFAULT_LANGUAGE


def receipt(code: str | None) -> str:
    return RECEIPTS[language_of(code)]

"""Is the package complete enough that the human never has to ask the customer to repeat anything?

Each trigger has a checklist (a bug needs steps, an error, the environment and a screenshot or
replay; a billing exception needs the account, the amount or invoice and the outcome the customer
wants). The score is the share of checklist items present across the decision's triggers, 0-100.
Missing items the customer can answer become short questions in the conversation's language; the
intake's 202 response and the status endpoint hand them back to the bot (``needs_more``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain, islice

from bridge.events import Completeness, Event
from bridge.pipeline.evidence import reference_time, telling_requests

LANGUAGES = ("en", "es", "de", "fr", "pt", "it", "nl", "ja")

# Small stop-word profiles: enough to tell eight languages apart on a few chat lines. Declared
# language (conversation, customer locale, device) wins; this is only the fallback.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the and is it my i you to not can with this that what does for please have"),
    "es": _words("el la los las que es mi no con por para una un de quiero puedo hablar pero"),
    "de": _words("der die das und ist ich nicht mit mein meine ein eine bitte kann zu es auf"),
    "fr": _words("le la les et est je ne pas mon ma une un avec pour de vous il ça"),
    "pt": _words("o a os as que é meu minha não com para uma um de eu quero você está"),
    "it": _words("il lo la gli le che è mio mia non con per una un di io voglio sono"),
    "nl": _words("de het een en is ik niet met mijn voor van je dat wil kan graag"),
}
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def normalize_language(tag: str | None) -> str | None:
    """``pt-BR`` -> ``pt``; anything outside the eight supported languages -> None."""
    if not tag:
        return None
    base = tag.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def detect_language(text: str) -> str:
    if next(islice(_JAPANESE.finditer(text), 1, None), None) is not None:  # two Japanese characters
        return "ja"
    # Each distinct word is looked up once: a customer who pastes a log sends thousands of words.
    counts = Counter(re.findall(r"[a-zà-ÿ']+", text.lower()))
    scores = {lang: sum(counts[w] for w in stop if w in counts) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] > 0 else "en"


def language_of(event: Event) -> str:
    """The customer's language: declared on the conversation or customer, else detected."""
    customer = event.customer
    device = event.evidence.device if event.evidence else None
    for tag in (event.conversation.language, customer.locale if customer else None, device.locale if device else None):
        lang = normalize_language(tag)
        if lang:
            return lang
    text = " ".join(m.text for m in event.conversation.messages if m.role == "customer")
    return detect_language(text)


# --- checks -----------------------------------------------------------------------------------

# An error the customer quotes: a code ("E-4031", "ERR_502", "error 500", "HTTP 403") or the words on
# screen in quotes ("it says 'Export failed'"). The word "error" alone, or a number like "400 users",
# tells an engineer nothing.
_ERROR_TEXT = re.compile(
    r"(?i)\b(?:error|err|code|http|status|fehler|erreur|errore|erro|fout|código|codice|エラー)\s*[:#]?\s*"
    r"[A-Z]{0,5}[-_]?\d{3,}\b"
    r"|\b[A-Z]{1,5}[-_]\d{2,}\b|\bE\d{3,}\b|\bERR_[A-Z0-9_]+\b|\b[A-Z][a-zA-Z]+(?:Error|Exception)\b|Traceback"
    r"|(?:says|said|shows|showing|message|meldung|mensaje|error|dice|muestra|zeigt|steht|affiche|indique|diz|mostra|dice|zegt|"
    r"toont)\W{0,4}['\"“‘«„]([^'\"”’»“]{4,120})['\"”’»“]"
)
_AMOUNT = re.compile(
    r"(?i)[$€£¥]\s?\d[\d.,]*|\b\d[\d.,]*\s?(?:usd|eur|gbp|jpy|brl|dollars?|euros?|€|円)"
    r"|\b(?:invoice|factura|rechnung|facture|fatura|fattura|factuur|請求書)\b\s*(?:no\.?|nr\.?|#|n[º°o])?\s*[:#]?\s*[A-Z0-9-]*\d"
    r"|\binv[-_ ]?\d{3,}\b"
)
_WANTS = re.compile(
    r"(?i)\b(?:refund|reimburse|credit|cancel|chargeback|money back|waive|discount|downgrade|"
    r"reembolso|devolución|cancelar|erstattung|rückerstattung|zurück|kündigen|stornieren|"
    r"rembourse\w*|annuler|avoir|reembolso|estorno|devolução|rimborso|annullare|disdire|"
    r"terugbetaling|geld terug|opzeggen|annuleren)\b|返金|解約|キャンセル"
)
# Steps the customer wrote as steps: at least two numbered or bulleted lines ("1. open reports").
# Words like "then" or "first" are not steps.
_STEP_LINE = re.compile(r"(?m)^\s*(?:\d+[.)]|[-*•])\s+\S")
# A request for a person, in the eight languages: it says who the customer wants, not what is wrong.
_ASK_PERSON = re.compile(
    r"(?i)\b(?:hi|hello|hey|hola|hallo|bonjour|olá|oi|ciao|hoi|please|pls|por favor|bitte|s'il vous plaît|"
    r"per favore|alsjeblieft|now|ahora|jetzt|maintenant|agora|adesso|nu|yes|ok|sí|ja|oui|sim)\b"
    r"|\b(?:can|could|may) i\b|\bi (?:want|need|would like|'d like) to\b|\blet me\b"
    r"|\b(?:talk|speak|chat) (?:to|with) (?:a |an |some)?(?:real )?(?:human|person|agent|someone|somebody|"
    r"representative|operator|people)\b|\b(?:get|give) me (?:a |an )?(?:human|person|agent|someone)\b"
    r"|\b(?:quiero|necesito|puedo)? ?hablar con (?:una |un |alguien|algún)? ?(?:persona|humano|agente|alguien)\b"
    r"|\b(?:ich )?(?:möchte|will) (?:mit )?(?:einem|einer)? ?(?:menschen|mitarbeiter\w*|person) sprechen\b"
    r"|\bje (?:veux|voudrais) parler à (?:un |une |quelqu'un)?(?:humain|personne|agent|conseiller)?\b"
    r"|\b(?:eu )?quero falar com (?:uma |um |alguém)?(?:pessoa|humano|atendente)?\b"
    r"|\bvoglio parlare con (?:una |un |qualcuno)?(?:persona|operatore)?\b"
    r"|\bik wil (?:graag )?(?:met )?(?:een )?(?:mens|medewerker|persoon) (?:spreken|praten)\b"
    r"|担当者と話したい|人と話したい|オペレーター"
)


def _customer_texts(event: Event) -> list[str]:
    return [m.text for m in event.conversation.messages if m.role == "customer"]


# No phrase of ``_ASK_PERSON`` contains any of these (its phrases are words, spaces and apostrophes),
# and they are not word characters, so the phrases can be removed between them piece by piece.
_OUTSIDE_A_PHRASE = re.compile(r"([^\w ']+)")
_WORD = re.compile(r"\w+")
_NOT_WORD = re.compile(r"\W")


def _says_what_is_wrong(text: str) -> bool:
    """Whether the text says something beyond greeting and asking for a person: at least four words
    (ten letters in Japanese) once those phrases are removed.

    The phrases are removed a sentence at a time and the answer given as soon as the words seen
    settle it: scanning a whole pasted log with the phrase alternation cost 3.5 ms per 10 KB (155 ms
    for 500 KB), in the webhook's answer. Exact: the rest is the same text ``_ASK_PERSON.sub(" ",
    text)`` gives, since no phrase spans a separator, and once four words of ten letters are seen
    either test passes however the text goes on."""
    pieces: list[str] = []  # the rest so far: each piece with its phrases removed, the separators as they are
    words = letters = start = 0
    for separator in chain(_OUTSIDE_A_PHRASE.finditer(text), (None,)):
        end = separator.start() if separator else len(text)
        rest = _ASK_PERSON.sub(" ", text[start:end])
        pieces += (rest, separator.group()) if separator else (rest,)
        words += len(_WORD.findall(rest))  # a separator is never a word character: words never span two
        letters += len(_NOT_WORD.sub("", rest))
        if words >= 4 and letters >= 10:
            return True
        start = separator.end() if separator else end
    rest = "".join(pieces)
    if _JAPANESE.search(rest):
        return len(_NOT_WORD.sub("", rest)) >= 10
    return len(_WORD.findall(rest)) >= 4


def _has_issue(event: Event) -> bool:
    if event.handoff and event.handoff.topic:
        return True
    return any(_says_what_is_wrong(t) for t in _customer_texts(event))


def _has_contact(event: Event) -> bool:
    c = event.customer
    return bool(c and (c.email or c.phone))


def _has_account(event: Event) -> bool:
    c = event.customer
    return bool(c and ((c.account and (c.account.id or c.account.name)) or c.id or c.email))


def _has_steps(event: Event) -> bool:
    """Real steps: captured by the bot, a session replay that shows them, or a list the customer wrote."""
    ev = event.evidence
    if ev and (ev.steps_to_reproduce or ev.session_replay_url):
        return True
    return any(len(_STEP_LINE.findall(t)) >= 2 for t in _customer_texts(event))


def _has_error(event: Event) -> bool:
    ev = event.evidence
    if ev and (
        any((log.level or "").lower() in ("error", "fatal", "critical") for log in ev.console_logs)
        or telling_requests(ev, reference_time(event))
    ):
        return True
    return any(_ERROR_TEXT.search(t) for t in _customer_texts(event))


def _has_environment(event: Event) -> bool:
    d = event.evidence.device if event.evidence else None
    return bool(d and (d.app_version or d.browser or d.os))


def _has_visual(event: Event) -> bool:
    ev = event.evidence
    attachments = [a for m in event.conversation.messages for a in m.attachments]
    if any(a.kind in ("screenshot", "video") or (a.content_type or "").startswith("image/") for a in attachments):
        return True
    return bool(ev and (ev.screenshots or ev.session_replay_url))


def _has_amount(event: Event) -> bool:
    attrs = event.customer.attributes if event.customer else {}
    if any(k in attrs for k in ("invoice", "invoice_id", "amount", "order_id")):
        return True
    return any(_AMOUNT.search(t) for t in _customer_texts(event))


def _has_outcome(event: Event) -> bool:
    return any(_WANTS.search(t) for t in _customer_texts(event))


def _has_reason(event: Event) -> bool:
    return bool(event.handoff and (event.handoff.reason or event.handoff.topic))


@dataclass(frozen=True)
class Item:
    id: str
    label: str  # for the human, English
    check: Callable[[Event], bool]
    askable: bool = True  # can the bot ask the customer for it?


ITEMS: dict[str, Item] = {
    item.id: item
    for item in (
        Item("issue", "a description of the problem", _has_issue),
        Item("contact", "a way to reach the customer (email or phone)", _has_contact),
        Item("account", "the customer's account", _has_account),
        Item("steps", "steps to reproduce", _has_steps),
        Item("error", "an error message or console error", _has_error),
        Item("environment", "app version, browser or device", _has_environment),
        Item("visual", "a screenshot or session replay", _has_visual),
        Item("amount", "the amount or invoice number", _has_amount),
        Item("outcome", "what the customer wants (refund, credit, cancellation...)", _has_outcome),
        Item("reason", "the bot's reason for handing off", _has_reason, askable=False),
    )
}

CHECKLISTS: dict[str, tuple[str, ...]] = {
    "product_bug": ("issue", "steps", "error", "environment", "visual"),
    "billing_exception": ("account", "amount", "outcome"),
    "customer_requested_human": ("issue", "contact"),
    "negative_sentiment": ("issue", "contact"),
    "low_confidence": ("issue",),
    "bot_handoff": ("reason", "issue"),
}
DEFAULT_CHECKLIST = ("issue", "contact")

QUESTIONS: dict[str, dict[str, str]] = {
    "issue": {
        "en": "Could you describe the problem in a sentence or two?",
        "es": "¿Podría describir el problema en una o dos frases?",
        "de": "Könnten Sie das Problem in ein, zwei Sätzen beschreiben?",
        "fr": "Pourriez-vous décrire le problème en une ou deux phrases ?",
        "pt": "Pode descrever o problema em uma ou duas frases?",
        "it": "Può descrivere il problema in una o due frasi?",
        "nl": "Kunt u het probleem in een of twee zinnen beschrijven?",
        "ja": "問題の内容を一、二文で教えていただけますか?",
    },
    "contact": {
        "en": "Which email address or phone number can we reach you at?",
        "es": "¿En qué correo electrónico o teléfono podemos contactarle?",
        "de": "Unter welcher E-Mail-Adresse oder Telefonnummer erreichen wir Sie?",
        "fr": "À quelle adresse e-mail ou quel numéro pouvons-nous vous joindre ?",
        "pt": "Em qual e-mail ou telefone podemos falar com você?",
        "it": "A quale indirizzo email o numero di telefono possiamo contattarla?",
        "nl": "Op welk e-mailadres of telefoonnummer kunnen we u bereiken?",
        "ja": "ご連絡先のメールアドレスまたは電話番号を教えていただけますか?",
    },
    "account": {
        "en": "Which account or email address is this about?",
        "es": "¿A qué cuenta o correo electrónico se refiere?",
        "de": "Um welches Konto oder welche E-Mail-Adresse geht es?",
        "fr": "De quel compte ou quelle adresse e-mail s'agit-il ?",
        "pt": "De qual conta ou e-mail se trata?",
        "it": "Di quale account o indirizzo email si tratta?",
        "nl": "Om welk account of e-mailadres gaat het?",
        "ja": "対象のアカウントまたはメールアドレスを教えていただけますか?",
    },
    "steps": {
        "en": "What steps lead to the problem, one by one?",
        "es": "¿Qué pasos llevan al problema, uno por uno?",
        "de": "Welche Schritte führen zu dem Problem, einer nach dem anderen?",
        "fr": "Quelles étapes mènent au problème, une par une ?",
        "pt": "Quais passos levam ao problema, um por um?",
        "it": "Quali passaggi portano al problema, uno per uno?",
        "nl": "Welke stappen leiden tot het probleem, stap voor stap?",
        "ja": "問題が起きるまでの手順を順番に教えていただけますか?",
    },
    "error": {
        "en": "What exact error message do you see?",
        "es": "¿Qué mensaje de error exacto ve?",
        "de": "Welche Fehlermeldung sehen Sie genau?",
        "fr": "Quel message d'erreur exact voyez-vous ?",
        "pt": "Qual é a mensagem de erro exata que aparece?",
        "it": "Quale messaggio di errore esatto vede?",
        "nl": "Welke foutmelding ziet u precies?",
        "ja": "表示されるエラーメッセージを正確に教えていただけますか?",
    },
    "environment": {
        "en": "Which app version, browser or device are you using?",
        "es": "¿Qué versión de la app, navegador o dispositivo usa?",
        "de": "Welche App-Version, welchen Browser oder welches Gerät verwenden Sie?",
        "fr": "Quelle version de l'application, quel navigateur ou quel appareil utilisez-vous ?",
        "pt": "Qual versão do app, navegador ou dispositivo você usa?",
        "it": "Quale versione dell'app, browser o dispositivo usa?",
        "nl": "Welke app-versie, browser of welk apparaat gebruikt u?",
        "ja": "ご利用のアプリのバージョン、ブラウザ、または端末を教えていただけますか?",
    },
    "visual": {
        "en": "Could you share a screenshot of the problem?",
        "es": "¿Podría compartir una captura de pantalla del problema?",
        "de": "Könnten Sie einen Screenshot des Problems schicken?",
        "fr": "Pourriez-vous partager une capture d'écran du problème ?",
        "pt": "Pode enviar uma captura de tela do problema?",
        "it": "Può condividere uno screenshot del problema?",
        "nl": "Kunt u een screenshot van het probleem delen?",
        "ja": "問題のスクリーンショットを共有していただけますか?",
    },
    "amount": {
        "en": "Which invoice or amount is this about?",
        "es": "¿A qué factura o importe se refiere?",
        "de": "Um welche Rechnung oder welchen Betrag geht es?",
        "fr": "De quelle facture ou de quel montant s'agit-il ?",
        "pt": "De qual fatura ou valor se trata?",
        "it": "Di quale fattura o importo si tratta?",
        "nl": "Om welke factuur of welk bedrag gaat het?",
        "ja": "対象の請求書または金額を教えていただけますか?",
    },
    "outcome": {
        "en": "What would you like us to do: a refund, a credit, a correction or a cancellation?",
        "es": "¿Qué desea que hagamos: un reembolso, un abono, una corrección o una cancelación?",
        "de": "Was sollen wir tun: eine Erstattung, eine Gutschrift, eine Korrektur oder eine Kündigung?",
        "fr": "Que souhaitez-vous : un remboursement, un avoir, une correction ou une annulation ?",
        "pt": "O que deseja: um reembolso, um crédito, uma correção ou um cancelamento?",
        "it": "Cosa desidera: un rimborso, un credito, una correzione o una disdetta?",
        "nl": "Wat wilt u: een terugbetaling, een tegoed, een correctie of een opzegging?",
        "ja": "返金、クレジット、修正、解約のうち、どの対応をご希望ですか?",
    },
}


def checklist(trigger_ids: list[str]) -> list[Item]:
    ids: list[str] = []
    for trigger in trigger_ids or ["_default"]:
        for item_id in CHECKLISTS.get(trigger, DEFAULT_CHECKLIST):
            if item_id not in ids:
                ids.append(item_id)
    return [ITEMS[i] for i in ids]


def assess(event: Event, trigger_ids: list[str], language: str | None = None) -> Completeness:
    lang = normalize_language(language) or language_of(event)
    items = checklist(trigger_ids)
    present = [item for item in items if item.check(event)]
    missing = [item for item in items if item not in present]
    score = round(100 * len(present) / len(items)) if items else 100
    return Completeness(
        score=score,
        present=[item.label for item in present],
        missing=[item.id for item in missing],
        missing_labels=[item.label for item in missing],
        questions=[QUESTIONS[item.id][lang] for item in missing if item.askable and item.id in QUESTIONS],
        language=lang,
    )


def needs_more(event: Event, trigger_ids: list[str]) -> list[str]:
    """Short questions, in the conversation's language, the bot can ask before a human has to."""
    return assess(event, trigger_ids).questions

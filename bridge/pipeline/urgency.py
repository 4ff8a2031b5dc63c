"""The facts behind the urgency, in the customer's own words.

"40 users are locked out", "payroll closes today at 5pm", "I've been waiting 3 hours", "we will not
renew": a summary that keeps the topic but drops these sends the owner a low-urgency case. Each
customer sentence that carries a number of people affected,
a deadline, a date or time, how long they have waited, or a churn or legal statement is kept
verbatim (trimmed around the fact when long). Deterministic, in the eight package languages; the
LLM summary gets the same list, so it never depends on the model keeping them.
"""

from __future__ import annotations

import re
from functools import cache

from bridge.events import Event
from bridge.pipeline.trigger_prefilter import LiteralGate
from bridge.pipeline.window import window

MAX_FACTS = 8
CAP = 170

_PEOPLE = (
    r"users?|people|persons?|employees?|staff|carers|workers|members|seats|accounts|agents|drivers|dispatchers|"
    r"customers|clients|data subjects|licen[cs]es|colleagues|technicians|nurses|students|patients|locations|"
    r"sites|stores|usuarios|empleados|personas|trabajadores|clientes|sucursales|nutzer(?:innen)?|benutzer|"
    r"mitarbeiter(?:innen)?|personen|kunden|standorte|utilisateurs|personnes|salariés|employés|saisonniers|"
    r"usuários|funcionários|pessoas|utenti|dipendenti|persone|gebruikers|medewerkers|mensen|werknemers"
)
_MONTHS = (
    r"jan(?:uary|\.)?|feb(?:ruary|\.)?|mar(?:ch|\.)?|apr(?:il|\.)?|may|june?|july?|aug(?:ust|\.)?|sep(?:t(?:ember)?|\.)?|"
    r"oct(?:ober|\.)?|nov(?:ember|\.)?|dec(?:ember|\.)?|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre|januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|"
    r"février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre|janeiro|fevereiro|março|maio|"
    r"junho|julho|setembro|outubro|dezembro|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|"
    r"dicembre|januari|februari|maart|mei|augustus"
)
_DAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|miércoles|jueves|viernes|sábado|"
    r"domingo|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|"
    r"samedi|dimanche|segunda|terça|quarta|quinta|sexta|lunedì|martedì|mercoledì|giovedì|venerdì|sabato|"
    r"maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag"
)
_RELATIVE = (
    r"today|tonight|tomorrow|this (?:morning|afternoon|evening|week)|end of (?:the )?(?:day|week|month)|eod|"
    r"asap|right now|hoy|mañana|esta (?:tarde|noche|semana)|heute|morgen|übermorgen|diese woche|aujourd'hui|"
    r"demain|ce (?:soir|matin)|cette semaine|hoje|amanhã|esta semana|oggi|domani|stasera|vandaag|vanavond"
)
_UNITS = (
    r"min(?:ute)?s?|hours?|hrs?|days?|weeks?|months?|minutos?|horas?|días?|semanas?|minuten|stunden|tage?n?|"
    r"wochen|heures?|jours?|semaines?|minuti|ore|giorni|settimane|uur|dagen|weken"
)
_NUMBER_WORDS = (
    r"two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|dos|tres|cuatro|cinco|zwei|drei|vier|fünf|"
    r"deux|trois|quatre|cinq"
)
_BY = (
    r"by|before|until|no later than|due|deadline|antes del?|hasta el|bis (?:zum|spätestens)?|spätestens|avant|"
    r"d'ici|até|entro|uiterlijk|voor"
)
_MUST = (
    r"have to|has to|need to|needs to|must|closes|is due|tengo que|tenemos que|hay que|necesito|cierra|muss|müssen|"
    r"brauche|je dois|nous devons|il faut|tenho que|preciso|fecha|devo|dobbiamo|moet|moeten"
)
_WEEKDAY_EN = r"friday|monday|tuesday|wednesday|thursday|saturday|sunday|yesterday|last week"
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("scale", re.compile(
        rf"(?i)\b\d[\d,.]*\s+(?:[a-zà-ÿ-]+\s+)?(?:{_PEOPLE})\b|\d+\s*(?:名|人|拠点|店舗)"
        r"|\b(?:all|none|every one) of (?:our|my|us|the)\b|\bwhole (?:team|company|office)\b"
        r"|\beveryone\b|\btodos (?:los|nuestros)\b|\balle (?:unsere|user)\b|\btous (?:nos|les)\b")),
    ("deadline", re.compile(
        rf"(?i)\b(?:{_BY}|{_MUST})\b[^.!?\n]{{0,50}}?\b(?:\d|{_MONTHS}|{_DAYS}|{_RELATIVE})|までに|締め")),
    ("date", re.compile(
        # Every branch but the last starts at a word start: a digit (then no month name can start there) or a
        # word followed by a dot maybe, spaces and a digit (then no digit branch can). re tried the ~90 month
        # names at every word start of every sentence: 39 µs a log line of 95 characters, now 13.
        rf"(?i)\b(?:(?=\d)(?:\d{{1,2}}(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|de\s+)?(?:{_MONTHS})\b"
        r"|\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\d{4}-\d{2}-\d{2}\b)"
        rf"|(?=[^\W\d_]+\.?\s+\d)(?:{_MONTHS})\s+\d{{1,2}}\b)|\d+月\d+日")),
    ("when", re.compile(rf"(?i)\b(?:{_DAYS}|{_RELATIVE})\b|今日|明日|本日|今朝|至急")),
    ("time", re.compile(  # every branch starts at a digit or a "b": one test per position, not five
        r"(?i)(?=[\db])(?:\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\b\d{1,2}:\d{2}\b|\b\d{1,2}h(?:\d{2})?\b"
        r"|\bbetween \d{1,2} and \d{1,2}\b|\d{1,2}時)")),
    ("waiting", re.compile(
        rf"(?i)\b(?:\d+|{_NUMBER_WORDS})\s+(?:{_UNITS})\b|\b(?:second|third|fourth|fifth) (?:day|time|week)\b"
        rf"|\bsince (?:{_WEEKDAY_EN})\b|\b(?:still|been) waiting\b|\bnobody (?:has )?(?:answered|replied)\b")),
    ("churn", re.compile(
        r"(?i)\b(?:will not|won't|not going to) renew|\bcancel\w*|\bchurn|\bcompetitor|another vendor"
        r"|\bswitch(?:ing)? to\b|\blawyer|\blegal action|\bchargeback|\bgdpr\b|\barticle \d+\b|\bdsar\b"
        r"|\bk[üu]ndig\w*|\brésili\w*|\bcancelar\b|\bdisdire\b|\bopzeggen\b|解約")),
)
# The cheapest assertion first: at a position not after a stop the others are not tried (a third faster).
_SPLIT = re.compile(r"(?<=[.!?])(?<![ap]\.m\.)(?<!e\.g\.)(?<!i\.e\.)\s+|(?<=[。！？])|\n+")
# What an owner skims for first: who is hit and by when, then how long they waited and churn.
RANK = {"scale": 0, "deadline": 0, "waiting": 1, "churn": 1, "time": 2, "date": 2, "when": 3}


def _trim(text: str, start: int, end: int) -> str:
    if len(text) <= CAP:
        return text
    left = max(0, min(start, len(text)) - (CAP - (end - start)) // 2)
    piece = text[left:left + CAP]
    return ("…" if left else "") + piece.strip() + ("…" if left + CAP < len(text) else "")


def _sentences(text: str) -> list[str]:
    return [" ".join(s.split()) for s in _SPLIT.split(text) if s and s.strip()]


@cache
def _gate() -> LiteralGate[tuple[str, re.Pattern[str]]]:
    """Each pattern is a case-insensitive alternation that ``re`` tries at every position, about
    1.2 ms for the seven per KB: a pasted log of 50 KB spent 58 ms here."""
    return LiteralGate(PATTERNS, lambda item: item[1])


def hits(sentence: str, gated: bool = True) -> list[tuple[str, re.Pattern[str], re.Match[str]]]:
    """The kinds of fact a sentence carries, with the first match of each (``gated=False``: every
    pattern searched, the reference the gate is held to)."""
    patterns = _gate()(sentence) if gated else PATTERNS
    return [(kind, pattern, m) for kind, pattern in patterns for m in [pattern.search(sentence)] if m]


def urgency_facts(event: Event, ranked: bool = False) -> list[str]:
    """Customer sentences that carry scale, deadlines, waiting or churn, in the order they were
    written (``ranked``: most pressing kind first, for a headline with room for a few)."""
    found: list[tuple[int, int, str]] = []
    texts = [window(m.text) for m in event.conversation.messages if m.role == "customer"]
    for text in texts:
        for sentence in _sentences(text):
            if re.match(r"(?i)^(?:betreff|subject|objet|asunto)\s*:", sentence):
                continue
            carried = hits(sentence)
            if not carried:
                continue
            start = min(m.start() for _, _, m in carried)
            fact = _trim(sentence, start, max(m.end() for _, _, m in carried))
            if fact not in [f for _, _, f in found]:
                found.append((min(RANK[kind] for kind, _, _ in carried), len(found), fact))
    if ranked:
        found.sort()
    elif len(found) > MAX_FACTS:
        found = sorted(sorted(found)[:MAX_FACTS], key=lambda item: item[1])
    return [fact for _, _, fact in found[:MAX_FACTS]]


def rank(facts: list[str]) -> list[str]:
    """The same facts, most pressing kind first (who is hit and by when), for a headline."""
    def score(fact: str) -> int:
        kinds = [RANK[kind] for kind, pattern in PATTERNS if pattern.search(fact)]
        return min(kinds) if kinds else 9
    return [fact for _, _, fact in sorted((score(f), i, f) for i, f in enumerate(facts))]

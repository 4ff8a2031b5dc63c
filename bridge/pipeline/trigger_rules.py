"""Per-message detectors of the trigger engine: pure functions of one message and the config.

Each returns the evidence (the matched phrase, or a short description) or ``None``. The engine in
``triggers.py`` feeds them one message at a time and keeps the little state that needs history
(the frustration level, the bot's earlier answers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

from bridge.events import Event, Handoff, Message, TriggerHit
from bridge.pipeline.trigger_config import Patterns, ReasonMap, TriggerConfig
from bridge.pipeline.trigger_prefilter import Gate, Prefilter

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# Quoted passages: UI labels, error banners, a message from the customer's own customer. Their
# words are not the customer's voice, so sentiment and requests ignore them.
_QUOTED = re.compile(
    r"\"[^\"\n]{2,}\"|“[^”\n]{2,}”|«[^»\n]{2,}»|„[^“”\n]{2,}[“”]|(?<!\w)'[^'\n]{2,}'(?!\w)|^>.*$", re.M
)
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_CAPS_WORD = re.compile(r"\b[A-ZÄÖÜÀ-ÝÑ]{4,}\b")
_FRAGMENTS = re.compile(r"[^.!?。]+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "´": "'"})


def normalize(text: str) -> str:
    return text.translate(_APOSTROPHES)


def prose(text: str) -> str:
    """The customer's own words: no code blocks or inline code."""
    return _INLINE_CODE.sub(" ", _CODE_BLOCK.sub(" ", normalize(text)))


def own_voice(text: str) -> str:
    """Prose without quoted passages."""
    return _QUOTED.sub(" ", prose(text))


def in_context(phrase: str, text: str, width: int = 160) -> str:
    """Evidence a human can check: the matched phrase and the sentence it was found in."""
    for sentence in _SENTENCE.split(normalize(text)):
        if phrase.lower() in sentence.lower():
            sentence = " ".join(sentence.split())
            if sentence.lower() != phrase.lower():
                cut = sentence if len(sentence) <= width else sentence[: width - 1] + "…"
                return f"“{phrase}” in “{cut}”"
            break
    return f"“{phrase}”"


def _gate(text: str, cfg: TriggerConfig) -> Gate | None:
    """Per phrase list, the regexes that may match this message (``trigger_prefilter``); None on
    the reference path, where every regex runs.

    Every text the detectors search is cut from ``normalize(text)``: its code and quotes replaced
    by a space, its sentences split or joined with one. A literal (never whitespace) found in such
    a text is in ``normalize(text)`` itself, so the gate of the message holds for all of them."""
    return None if cfg.prefilter is None else _gate_of(text, cfg.prefilter)


@lru_cache(maxsize=256)  # a customer turn is read by four detectors, and again for the evidence
def _gate_of(text: str, prefilter: Prefilter) -> Gate:
    return prefilter.gate(normalize(text))


def _spans(patterns: Patterns, text: str, gate: Gate | None) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0).strip()) for rx in patterns.runnable(gate) for m in rx.finditer(text)]


# ── customer_requested_human ─────────────────────────────────────────────────────────────────

def human_request(text: str, cfg: TriggerConfig) -> str | None:
    """A request for a person, unless the phrase is part of asking whether people exist."""
    body, gate = own_voice(text), _gate(text, cfg)
    blocked = _spans(cfg.human_not_request, body, gate)
    for start, end, phrase in _spans(cfg.human_request, body, gate):
        if not any(start < b_end and b_start < end for b_start, b_end, _ in blocked):
            return phrase
    return None


# ── low_confidence ──────────────────────────────────────────────────────────────────────────

def _not_an_answer(message: Message, cfg: TriggerConfig) -> bool:
    """Greetings, small talk and clarifying questions: a low score there is no failed answer."""
    if message.intent and cfg.exempt_intents.search(message.intent):
        return True
    text = prose(message.text)
    return "?" in text and cfg.clarifying.search(text, _gate(message.text, cfg)) is not None


def low_confidence(message: Message, cfg: TriggerConfig) -> tuple[str, float | None] | None:
    if message.role != "bot" or _not_an_answer(message, cfg):
        return None
    reasons = []
    if message.confidence is not None and message.confidence < cfg.low_confidence_threshold:
        reasons.append(f"confidence {message.confidence:.2f} < {cfg.low_confidence_threshold:.2f}")
    phrase = cfg.admission.search(prose(message.text), _gate(message.text, cfg))
    if phrase:
        reasons.append(in_context(phrase, message.text))
    return ("; ".join(reasons), message.confidence) if reasons else None


# ── product_bug ─────────────────────────────────────────────────────────────────────────────

_FAILURE_ATTACHMENTS = {"screenshot", "video", "console_log", "network_log"}


def product_bug(message: Message, cfg: TriggerConfig) -> str | None:
    """One strong cue (code, trace, crash, regression) or two weak ones outside a how-to."""
    text = normalize(message.text)  # code blocks stay: stack traces live there
    gate = _gate(message.text, cfg)
    strong = cfg.bug_strong.search(text, gate)
    if strong:
        return strong
    body = prose(message.text)
    if cfg.howto.search(body, gate):
        return None  # "What am I doing wrong?": the customer expects a how-to, not a defect
    # Count kinds of evidence, not words: "failed" and "empty" are one kind, "since this
    # morning" plus "my teammates see the same" are two.
    weak = [match for rx in cfg.bug_weak.runnable(gate) if (match := rx.search(body))]
    kinds = [m.group(0).strip() for m in weak]
    if any(a.kind in _FAILURE_ATTACHMENTS for a in message.attachments):
        kinds.append("attachment")
    return " + ".join(kinds) if len(kinds) >= 2 else None


# ── billing_exception ───────────────────────────────────────────────────────────────────────

def billing_exception(text: str, cfg: TriggerConfig) -> str | None:
    body = own_voice(text)  # a quoted demand from the customer's own customer is not theirs
    gate = _gate(text, cfg)
    for sentence in _SENTENCE.split(body):
        # "How do I refund a double-charged customer?" is a merchant's how-to, not their dispute.
        phrase = cfg.billing_request.search(sentence, gate)
        if phrase and not cfg.howto.search(sentence, gate):
            return phrase
    phrase = None if cfg.howto.search(body, gate) else cfg.billing_request.search(body, gate)  # across sentences
    if phrase:
        return phrase
    gone = cfg.owner_gone.search(body, gate)
    control = cfg.billing_control.search(body, gate) if gone else None
    return f"{gone} + {control}" if gone and control else None


# ── negative_sentiment ──────────────────────────────────────────────────────────────────────

@dataclass(frozen=True)
class Mood:
    points: float
    cues: tuple[str, ...]
    accepted: bool


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    """VADER's compound score of a text, cached under the text with its whitespace collapsed.

    VADER reads only ``text.split()`` (after swapping emoji for words, with a space before each)
    and the counts of "!" and "?", so collapsing whitespace changes nothing it reads. The collapse
    is what lets a customer turn's two readings share one call: the feature reads the turn's own
    voice, ``mood`` the same sentences joined by single spaces (when none is about someone else)."""
    return _compound(" ".join(text.split()))


@lru_cache(maxsize=512)
def _compound(collapsed: str) -> float:
    return float(_vader().polarity_scores(collapsed)["compound"])


def _about_service(text: str, cfg: TriggerConfig, gate: Gate | None) -> str:
    """Drop sentences about someone else (the old vendor, the boss, the customer's customer)."""
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    return " ".join(s for s in sentences if not cfg.not_about_service.search(s, gate))


def _staccato(text: str) -> bool:
    """Three or more one- or two-word sentences in a row: "Custom. Column. Cost center."."""
    run = 0
    for fragment in _FRAGMENTS.findall(text):
        words = re.findall(r"[^\W\d_]+", fragment)
        run = run + 1 if 0 < len(words) <= 2 and len(fragment.split()) <= 2 else 0
        if run >= 3:
            return True
    return False


def mood(text: str, cfg: TriggerConfig, *, english: bool, after_repeat: bool) -> Mood:
    """Frustration points of one customer turn, with the cues that earned them."""
    gate = _gate(text, cfg)
    body = _about_service(own_voice(text), cfg, gate)
    strong = cfg.negative_strong.findall(body, gate) + cfg.churn.findall(body, gate)
    opener = cfg.sarcasm_opener.search(body, gate)
    failure = cfg.sarcasm_failure.search(body, gate) if opener else None
    if opener and failure:
        strong.append(f"sarcasm: {opener} … {failure}")
    mild = cfg.negative_mild.findall(body, gate)
    shouted = [w for w in _CAPS_WORD.findall(body) if w not in cfg.acronyms]
    if shouted:
        mild.append("shouting: " + " ".join(shouted[:3]))
    if _staccato(body):
        mild.append("clipped one-word sentences")
    accepted = cfg.acceptance.search(body, gate) is not None
    if cfg.shortcuts and accepted and not strong:
        return Mood(0.0, (), True)  # as below, without reading VADER, whose score it would drop
    # A customer still asking after the bot repeated its last answer is being looped; a fresh
    # how-to question after a templated answer is just the next question.
    if after_repeat and not accepted and not cfg.howto.search(body, gate):
        mild.append("rephrased after the bot repeated itself")
    points = cfg.strong_points * len(strong) + cfg.mild_points * len(mild)
    cues = strong + mild
    if english and body.strip():
        compound = vader_compound(body) if cfg.shortcuts else _vader().polarity_scores(body)["compound"]
        if compound <= cfg.vader_threshold:
            points += cfg.vader_points
            cues.append(f"vader {compound:.2f}")
    if accepted and not strong:
        return Mood(0.0, (), True)  # a customer who says it worked is not getting angrier
    return Mood(points, tuple(dict.fromkeys(c.lower() for c in cues)), accepted)


def repeats(text: str, previous: str | None, threshold: float) -> bool:
    """The bot gives (nearly) the same answer as its previous one: it is looping."""
    now, old = prose(text).strip().lower(), prose(previous or "").strip().lower()
    if not now or not old:
        return False
    return (len(old) > 40 and old in now) or SequenceMatcher(None, now, old).ratio() >= threshold


# --- the bot's own hand-off ----------------------------------------------------------------------

def _hit(trigger: str, index: int | None, evidence: str) -> TriggerHit:
    # Trigger ids come from code or from the validated config, so they are always in TRIGGERS.
    return TriggerHit.model_validate({"trigger": trigger, "message_index": index, "evidence": evidence})


def handoff_hits(handoff: Handoff | None, index: int | None, cfg: TriggerConfig) -> list[TriggerHit]:
    """The bot's own hand-off, mapped onto the vocabulary; ``bot_handoff`` only as the fallback."""
    return mapped_handoff(handoff, index, cfg.reason_map)


def mapped_handoff(handoff: Handoff | None, index: int | None, reason_map: ReasonMap) -> list[TriggerHit]:
    """``handoff_hits`` with the reason map alone (``trigger_config.load_reason_map``)."""
    reason = (handoff.reason if handoff else None) or ""
    text = " ".join(part for part in (reason, handoff.topic if handoff else None) if part)
    ids: list[str] = []
    if handoff and handoff.requested_by == "customer":
        ids.append("customer_requested_human")
    ids += [trigger for trigger, patterns in reason_map if patterns.search(text) and trigger not in ids]
    evidence = f"handoff.requested: {reason or 'the bot handed off without a reason'}"
    return [_hit(trigger, index, evidence) for trigger in ids or ["bot_handoff"]]


def stated_reasons(event: Event, found: list[str], cfg: TriggerConfig) -> list[TriggerHit]:
    """On a bot's hand-off that the transcript already explains, the triggers its stated reason
    names too (a bot that hands off a "disputed duplicate charge" names billing_exception), never
    the ``bot_handoff`` fallback."""
    if event.type != "handoff.requested":
        return []
    at = handoff_index(event.conversation.messages)
    return [hit for hit in handoff_hits(event.handoff, at, cfg)
            if hit.trigger != "bot_handoff" and hit.trigger not in found]


def handoff_index(messages: list[Message]) -> int:
    """Where the hand-off happened: the bot's last message (it says "I'm connecting you"); without
    one the last customer turn known; with no message at all (a switchboard pass-control alone)
    the hand-off itself, counted as the first message. Never None: a hand-off has a moment."""
    for role in ("bot", "customer"):
        for index in range(len(messages), 0, -1):
            if messages[index - 1].role == role:
                return index
    return len(messages) or 1

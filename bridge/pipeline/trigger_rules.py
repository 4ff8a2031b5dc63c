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

from bridge.events import Handoff, Message, TriggerHit
from bridge.pipeline.trigger_config import Patterns, TriggerConfig

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


def _spans(patterns: Patterns, text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0).strip()) for rx in patterns.regexes for m in rx.finditer(text)]


# ── customer_requested_human ─────────────────────────────────────────────────────────────────

def human_request(text: str, cfg: TriggerConfig) -> str | None:
    """A request for a person, unless the phrase is part of asking whether people exist."""
    body = own_voice(text)
    blocked = _spans(cfg.human_not_request, body)
    for start, end, phrase in _spans(cfg.human_request, body):
        if not any(start < b_end and b_start < end for b_start, b_end, _ in blocked):
            return phrase
    return None


# ── low_confidence ──────────────────────────────────────────────────────────────────────────

def _not_an_answer(message: Message, cfg: TriggerConfig) -> bool:
    """Greetings, small talk and clarifying questions: a low score there is no failed answer."""
    if message.intent and cfg.exempt_intents.search(message.intent):
        return True
    text = prose(message.text)
    return "?" in text and cfg.clarifying.search(text) is not None


def low_confidence(message: Message, cfg: TriggerConfig) -> tuple[str, float | None] | None:
    if message.role != "bot" or _not_an_answer(message, cfg):
        return None
    reasons = []
    if message.confidence is not None and message.confidence < cfg.low_confidence_threshold:
        reasons.append(f"confidence {message.confidence:.2f} < {cfg.low_confidence_threshold:.2f}")
    phrase = cfg.admission.search(prose(message.text))
    if phrase:
        reasons.append(in_context(phrase, message.text))
    return ("; ".join(reasons), message.confidence) if reasons else None


# ── product_bug ─────────────────────────────────────────────────────────────────────────────

_FAILURE_ATTACHMENTS = {"screenshot", "video", "console_log", "network_log"}


def product_bug(message: Message, cfg: TriggerConfig) -> str | None:
    """One strong cue (code, trace, crash, regression) or two weak ones outside a how-to."""
    text = normalize(message.text)  # code blocks stay: stack traces live there
    strong = cfg.bug_strong.search(text)
    if strong:
        return strong
    body = prose(message.text)
    if cfg.howto.search(body):
        return None  # "What am I doing wrong?": the customer expects a how-to, not a defect
    # Count kinds of evidence, not words: "failed" and "empty" are one kind, "since this
    # morning" plus "my teammates see the same" are two.
    weak = [found for rx in cfg.bug_weak.regexes if (found := rx.search(body))]
    kinds = [m.group(0).strip() for m in weak]
    if any(a.kind in _FAILURE_ATTACHMENTS for a in message.attachments):
        kinds.append("attachment")
    return " + ".join(kinds) if len(kinds) >= 2 else None


# ── billing_exception ───────────────────────────────────────────────────────────────────────

def billing_exception(text: str, cfg: TriggerConfig) -> str | None:
    body = own_voice(text)  # a quoted demand from the customer's own customer is not theirs
    for sentence in _SENTENCE.split(body):
        # "How do I refund a double-charged customer?" is a merchant's how-to, not their dispute.
        phrase = cfg.billing_request.search(sentence)
        if phrase and not cfg.howto.search(sentence):
            return phrase
    phrase = None if cfg.howto.search(body) else cfg.billing_request.search(body)  # across sentences
    if phrase:
        return phrase
    gone = cfg.owner_gone.search(body)
    control = cfg.billing_control.search(body) if gone else None
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


def _about_service(text: str, cfg: TriggerConfig) -> str:
    """Drop sentences about someone else (the old vendor, the boss, the customer's customer)."""
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    return " ".join(s for s in sentences if not cfg.not_about_service.search(s))


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
    body = _about_service(own_voice(text), cfg)
    strong = cfg.negative_strong.findall(body) + cfg.churn.findall(body)
    opener = cfg.sarcasm_opener.search(body)
    failure = cfg.sarcasm_failure.search(body) if opener else None
    if opener and failure:
        strong.append(f"sarcasm: {opener} … {failure}")
    mild = cfg.negative_mild.findall(body)
    shouted = [w for w in _CAPS_WORD.findall(body) if w not in cfg.acronyms]
    if shouted:
        mild.append("shouting: " + " ".join(shouted[:3]))
    if _staccato(body):
        mild.append("clipped one-word sentences")
    accepted = cfg.acceptance.search(body) is not None
    # A customer still asking after the bot repeated its last answer is being looped; a fresh
    # how-to question after a templated answer is just the next question.
    if after_repeat and not accepted and not cfg.howto.search(body):
        mild.append("rephrased after the bot repeated itself")
    points = cfg.strong_points * len(strong) + cfg.mild_points * len(mild)
    cues = strong + mild
    if english and body.strip():
        compound = _vader().polarity_scores(body)["compound"]
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
    reason = (handoff.reason if handoff else None) or ""
    text = " ".join(part for part in (reason, handoff.topic if handoff else None) if part)
    ids: list[str] = []
    if handoff and handoff.requested_by == "customer":
        ids.append("customer_requested_human")
    ids += [trigger for trigger, patterns in cfg.reason_map if patterns.search(text) and trigger not in ids]
    evidence = f"handoff.requested: {reason or 'the bot handed off without a reason'}"
    return [_hit(trigger, index, evidence) for trigger in ids or ["bot_handoff"]]

"""The trigger engine: does this conversation need a human now, and why.

The engine reads a conversation the way a support lead watching it live would: one message at a
time, never looking ahead. It escalates after the first message at which any of the six triggers
(docs/architecture.md) fires, and reports that message's 1-based index as ``at_message`` together with
every trigger that fired there, each with its evidence. Later messages do not change the verdict:
a 0.31-confidence answer that the customer later confirms still justified stepping in when it
was given, because nobody could know then.

What needs history lives in a small state: the customer's frustration level (each turn adds the
points of its cues, older turns fade) and the bot's previous answer (a bot that repeats itself
while the customer rephrases is looping). The per-message judgment is in ``trigger_rules``; the
phrase lists and thresholds are configuration (``triggers.yaml``, ``BRIDGE_TRIGGERS_FILE``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.events import Decision, Event, Handoff, Message, TriggerHit
from bridge.pipeline import trigger_config, trigger_rules
from bridge.pipeline.trigger_config import TriggerConfig

__all__ = ["TriggerConfig", "decide", "evaluate_incrementally", "handoff_hits", "load_config"]

load_config = trigger_config.from_settings


@dataclass
class _State:
    frustration: float = 0.0
    last_answer: str | None = None
    bot_repeated: bool = False


def _is_english(language: str | None) -> bool:
    # VADER only knows English; an unlabelled conversation is read as English too.
    return not language or language.lower().startswith("en")


def _hit(trigger: str, index: int | None, evidence: str, score: float | None = None) -> TriggerHit:
    # Trigger ids come from code or from the validated config, so they are always in TRIGGERS.
    return TriggerHit.model_validate(
        {"trigger": trigger, "message_index": index, "evidence": evidence, "score": score}
    )


def _context(phrase: str, message: Message) -> str:
    return trigger_rules.in_context(phrase, message.text)


def _customer_hits(state: _State, index: int, message: Message, cfg: TriggerConfig, english: bool) -> list[TriggerHit]:
    hits: list[TriggerHit] = []
    phrase = trigger_rules.human_request(message.text, cfg)
    if phrase:
        hits.append(_hit("customer_requested_human", index, _context(phrase, message)))
    phrase = trigger_rules.product_bug(message, cfg)
    if phrase:
        hits.append(_hit("product_bug", index, _context(phrase, message)))
    phrase = trigger_rules.billing_exception(message.text, cfg)
    if phrase:
        hits.append(_hit("billing_exception", index, _context(phrase, message)))
    mood = trigger_rules.mood(message.text, cfg, english=english, after_repeat=state.bot_repeated)
    state.bot_repeated = False
    # Frustration builds and fades: the level is a decayed sum over the customer's turns, so two
    # irritated turns in a row cross the line where one mild word never does.
    state.frustration = state.frustration * cfg.decay + mood.points
    if mood.accepted and not mood.points:
        state.frustration = 0.0
    if state.frustration >= cfg.fire_at and mood.points:
        hits.append(_hit("negative_sentiment", index, "; ".join(mood.cues), round(state.frustration, 2)))
    return hits


def _bot_hits(state: _State, index: int, message: Message, cfg: TriggerConfig) -> list[TriggerHit]:
    hits: list[TriggerHit] = []
    low = trigger_rules.low_confidence(message, cfg)
    if low:
        evidence, score = low
        hits.append(_hit("low_confidence", index, evidence, score))
    exempt = bool(message.intent and cfg.exempt_intents.search(message.intent))
    if not exempt:
        state.bot_repeated = trigger_rules.repeats(message.text, state.last_answer, cfg.repeat_similarity)
        state.last_answer = message.text
    return hits


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


def _handoff_index(messages: list[Message]) -> int | None:
    """Where the hand-off happened: the bot's last message (it says "I'm connecting you")."""
    for index in range(len(messages), 0, -1):
        if messages[index - 1].role == "bot":
            return index
    return len(messages) or None


def _unique(hits: list[TriggerHit]) -> list[TriggerHit]:
    seen: set[str] = set()
    out = []
    for hit in hits:
        if hit.trigger not in seen:
            seen.add(hit.trigger)
            out.append(hit)
    return out


def evaluate_incrementally(event: Event, config: TriggerConfig | None = None) -> Decision:
    """Feed the messages one at a time; escalate after the first one at which a trigger fires."""
    cfg = config or load_config()
    messages = event.conversation.messages
    english = _is_english(event.conversation.language)
    is_handoff = event.type == "handoff.requested"
    handoff_at = _handoff_index(messages) if is_handoff else None
    state = _State()
    for index, message in enumerate(messages, start=1):
        if message.role == "customer":
            hits = _customer_hits(state, index, message, cfg, english)
        elif message.role == "bot":
            hits = _bot_hits(state, index, message, cfg)
        else:
            hits = []  # system notes and human agents' messages are not the customer or the bot
        if is_handoff and (hits or index == handoff_at):
            # The event itself says the bot handed off; the human should see its reason too.
            hits += handoff_hits(event.handoff, handoff_at, cfg)
        if hits:
            return Decision(escalate=True, triggers=_unique(hits), at_message=index)
    if is_handoff:  # a hand-off with no transcript still escalates
        return Decision(escalate=True, triggers=handoff_hits(event.handoff, None, cfg), at_message=None)
    return Decision(escalate=False)


def decide(event: Event, config: TriggerConfig | None = None) -> Decision:
    """The engine's verdict on a conversation as it stands (see ``evaluate_incrementally``)."""
    return evaluate_incrementally(event, config)

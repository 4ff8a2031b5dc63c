"""The trigger engine's entry point: does this conversation need a human now, and why.

``decide`` runs the learned judge (``judge.py``): one message at a time, never looking ahead, it
escalates after the first message at which one of the six triggers (DESIGN.md §2) fires and
reports that message's 1-based index as ``at_message`` with every trigger that fired there, each
with its evidence. Later messages do not change the verdict: a 0.31-confidence answer that the
customer later confirms still justified stepping in when it was given.

The hand-written detectors (``trigger_rules``, phrase lists in ``triggers.yaml`` /
``BRIDGE_TRIGGERS_FILE``) are features of the judge and the readable evidence of its decisions;
the bot's own hand-off is mapped onto the vocabulary here (``handoff_hits``).
"""

from __future__ import annotations

from bridge.events import Decision, Event, Handoff, TriggerHit
from bridge.pipeline import trigger_config
from bridge.pipeline.trigger_config import TriggerConfig

__all__ = ["TriggerConfig", "decide", "evaluate_incrementally", "handoff_hits", "load_config"]

load_config = trigger_config.from_settings


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


def decide(event: Event, config: TriggerConfig | None = None) -> Decision:
    """The engine's verdict on a conversation as it stands: the learned judge (``judge``)."""
    from bridge.pipeline import judge

    return judge.judge(event, config or load_config())


evaluate_incrementally = decide  # the name ``bridge triage`` and older callers use

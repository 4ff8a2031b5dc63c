"""The trigger engine's entry point: does this conversation need a human now, and why.

``decide`` runs the learned judge (``judge.py``): one message at a time, never looking ahead, it
escalates after the first message at which one of the six triggers (DESIGN.md §2) fires and
reports that message's 1-based index as ``at_message`` with every trigger that fired there, each
with its evidence. Later messages do not change the verdict: a 0.31-confidence answer that the
customer later confirms still justified stepping in when it was given.

The hand-written detectors (``trigger_rules``, phrase lists in ``triggers.yaml`` /
``BRIDGE_TRIGGERS_FILE``) are features of the judge and the readable evidence of its decisions;
the bot's own hand-off is mapped onto the vocabulary there too (``handoff_hits``).
"""

from __future__ import annotations

from bridge.events import Decision, Event
from bridge.pipeline import judge, trigger_config
from bridge.pipeline.trigger_config import TriggerConfig
from bridge.pipeline.trigger_rules import handoff_hits

__all__ = ["TriggerConfig", "decide", "evaluate_incrementally", "handoff_hits", "load_config"]

load_config = trigger_config.from_settings


def decide(event: Event, config: TriggerConfig | None = None) -> Decision:
    """The engine's verdict on a conversation as it stands: the learned judge (``judge``)."""
    return judge.judge(event, config or load_config())


evaluate_incrementally = decide  # the name ``bridge triage`` and older callers use

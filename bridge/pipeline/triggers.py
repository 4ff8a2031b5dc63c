"""The trigger engine: does this conversation need a human now, and why.

Seam for the full engine (its own issue). Today only an explicit ``handoff.requested`` escalates.
"""

from __future__ import annotations

from bridge.events import Decision, Event, TriggerHit


def decide(event: Event) -> Decision:
    if event.type != "handoff.requested":
        return Decision(escalate=False)
    handoff = event.handoff
    trigger = "customer_requested_human" if handoff and handoff.requested_by == "customer" else "bot_handoff"
    reason = (handoff.reason if handoff else None) or "the bot handed off"
    at = len(event.conversation.messages) or None
    return Decision(
        escalate=True, triggers=[TriggerHit(trigger=trigger, message_index=at, evidence=reason)], at_message=at
    )

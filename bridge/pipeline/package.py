"""Build the handoff package from a case's merged conversation and the engine's decision."""

from __future__ import annotations

from bridge.events import Decision, Event, Package


def build_package(case_id: str, platform: str, event: Event, decision: Decision) -> Package:
    return Package(
        case_id=case_id,
        platform=platform,
        event_type=event.type,
        bot=event.bot,
        conversation=event.conversation,
        customer=event.customer,
        handoff=event.handoff,
        evidence=event.evidence,
        decision=decision,
    )

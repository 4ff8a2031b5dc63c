"""Build the handoff package from a case's merged conversation and the engine's decision.

Pure: everything here is derived from the event and the decision. The summary is the one part
that may come from outside (the LLM, via ``bridge.worker.summarizer.summarize``);
without one, the deterministic extractive summary is used, so a package is always complete.
"""

from __future__ import annotations

from bridge.events import Attempt, Decision, Event, Package, RouteInfo, Summary
from bridge.pipeline.completeness import assess, language_of
from bridge.pipeline.evidence import earlier_tickets, failure_evidence
from bridge.pipeline.flags import flags
from bridge.pipeline.opening import opening_line
from bridge.pipeline.priority import prioritize
from bridge.pipeline.sanitize import sanitize_decision, sanitize_event
from bridge.pipeline.summary import extractive_summary
from bridge.pipeline.topic import customer_topic
from bridge.pipeline.waiting import where_customer_waits


def attempts(event: Event) -> list[Attempt]:
    """Every answer the bot gave, with what it cited and how sure it was."""
    return [
        Attempt(message_index=index, text=message.text, confidence=message.confidence, sources=message.sources)
        for index, message in enumerate(event.conversation.messages, start=1)
        if message.role == "bot" and message.text.strip()
    ]


def build_package(
    case_id: str,
    platform: str,
    event: Event,
    decision: Decision,
    *,
    summary: Summary | None = None,
    route: RouteInfo | None = None,
    previous_tickets: list[str] | None = None,
) -> Package:
    event = sanitize_event(event)  # no card number or token reaches a ticket, bug or alert
    decision = sanitize_decision(decision)  # nor the evidence quoting it
    trigger_ids = decision.trigger_ids
    language = language_of(event)
    priority, reason = prioritize(event, decision)
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
        route=route,
        language=language,
        transcript_partial=event.conversation.partial,
        transcript_missing=event.conversation.transcript_missing,
        priority=priority,
        priority_reason=reason,
        summary=summary or extractive_summary(event, decision),
        attempts=attempts(event),
        completeness=assess(event, trigger_ids, language),
        opening_line=opening_line(event, trigger_ids, language),
        topic=customer_topic(event),
        waiting=where_customer_waits(event),
        flags=flags(event),
        bug_evidence=failure_evidence(event),
        earlier_tickets=earlier_tickets(event),
        previous_tickets=list(previous_tickets or []),
    )

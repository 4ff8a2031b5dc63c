"""Fold accepted events into their case, judge the transcript and, when warranted, escalate it:
route the case to a team and an owner and plan its deliveries (``process_event``'s work)."""

from __future__ import annotations

import logging
from typing import Any

import connectors
from bridge.adapters import get_adapter
from bridge.events import Decision, Event
from bridge.pipeline import llm_judge, transcript, trigger_config, triggers
from bridge.pipeline.route import RouteFacts, route
from bridge.pipeline.sanitize import sanitize_decision
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.intake_rows import inbox_event
from bridge.store.models import CLOSED, OPEN, CaseRow, InboxRow
from bridge.worker import followups
from bridge.worker.packages import base_package
from connectors.base import RetryableError

log = logging.getLogger("bridge.jobs")


def fold_into_case(rt: Runtime, s: Any, rows: list[InboxRow]) -> list[int]:
    """Fold accepted events of one conversation (arrival order) into its case; judge once, on the
    newest transcript (the engine reads message by message, so ``at_message`` is the same as if
    each update had been judged on its own)."""
    now = rt.clock()
    first = rows[0]
    actor = f"bot:{first.platform}"
    case = repo.lock_case(s, first.case_id)
    events = [Event.from_json(inbox_event(row.event, row.body)) for row in rows]
    if case is None:
        case = repo.open_case(s, first.case_id, first.platform, events[0].conversation.id, events[0].to_json(), now)
        repo.add_timeline(s, case.id, "case.opened", actor, now, {"event": first.key})
        previous = None
    else:
        previous = Event.from_json(case.event) if case.event else None
    merged, row, event = previous, first, events[0]
    asked = False
    for row, event in zip(rows, events, strict=True):
        merged = transcript.merge(merged, event)
        asked = asked or event.type == "handoff.requested"
        if event.type == "conversation.closed" and case.status == OPEN:
            repo.close_case(case, now)
            repo.add_timeline(s, case.id, "case.closed", actor, now, {"event": row.key})
    assert merged is not None
    if asked and merged.type != "handoff.requested":
        merged = merged.model_copy(update={"type": "handoff.requested"})  # a folded handoff request stands
    repo.set_transcript(case, merged.to_json(), now)
    if case.status not in (OPEN, CLOSED):
        # Already with a human: what the customer adds reaches them (ticket, thread, bug, timeline),
        # even when the platform reports it with the conversation's close.
        _remember_customer(case, merged)
        created = followups.record(s, case, followups.added(previous, merged), now, merged)
        return [d for d in repo.due_deliveries(s, now, case_id=case.id)
                if repo.get_delivery(s, d).step in created] if created else []
    if event.type == "conversation.closed":
        return []
    config = trigger_config.from_settings(rt.settings)
    decision = triggers.decide(merged, config)
    judge = llm_judge.options_from_settings(rt.settings)
    if judge.applies(merged, decision):
        _remember_customer(case, merged)
        case, decision = _ask_llm_judge(s, case, merged, decision, judge)
        if case is None or decision is None:
            return []  # no longer ours to escalate: taken meanwhile, or a newer update is being judged
    if decision.escalate:
        before = merged
        if event.conversation.partial:
            merged, decision = _with_full_transcript(rt, row, previous, merged, decision, config)
        merged = transcript.flag_missing(before, merged)  # a hand-off with no transcript says so
        repo.set_transcript(case, merged.to_json())
    _remember_customer(case, merged)
    if not decision.escalate:
        return []
    _escalate(s, case, decision, row, now, rt)
    s.flush()
    return repo.due_deliveries(s, now, case_id=case.id)


def _ask_llm_judge(
    s: Any, case: CaseRow, merged: Event, local: Decision, judge: llm_judge.JudgeOptions
) -> tuple[CaseRow | None, Decision | None]:
    """The LLM judge's verdict, asked with no transaction open (the call may take seconds).

    The folded transcript is committed first, which releases the case row; afterwards the row is
    locked again and the verdict stands only if the case is still open (or closed) with the very
    transcript that was judged. Otherwise (None, None): a human has it, or a newer update has been
    folded in and its own job judges it. The inbox rows stay claimed throughout, so a crash in
    between replays the batch, and the cached answer makes that replay cost no second call.
    """
    case_id, judged = case.id, case.event
    s.commit()
    decision = llm_judge.judge(merged, local, judge)
    case = repo.relock_case(s, case)  # the row as it is now, not as this session last wrote it
    if case is None or case.status not in (OPEN, CLOSED) or case.event != judged:
        log.info("bridge.judge.superseded", extra={"case": case_id})
        return None, None
    return case, decision


def _remember_customer(case: CaseRow, event: Event) -> None:
    if event.customer:
        repo.remember_customer(case, event.customer.id, event.customer.email)


def _with_full_transcript(
    rt: Runtime, row: InboxRow, previous: Event | None, event: Event, decision: Decision, config: Any
) -> tuple[Event, Decision]:
    """Fetch the rest of the conversation from the platform before the human gets it.

    Only for escalations (no API call per chat message). A transient failure retries the event; on
    its last attempt the handoff goes ahead with the partial transcript, which the package flags.
    """
    adapter = get_adapter(row.platform)
    if adapter is None:
        return transcript.merge(previous, event), decision
    try:
        full = adapter.complete(event, rt.settings)
    except RetryableError:
        if row.attempts < rt.settings.max_attempts:
            raise
        log.warning("bridge.jobs.partial_transcript", extra={"key": row.key, "platform": row.platform})
        return transcript.merge(previous, event), decision
    merged = transcript.merge(previous, full)
    if decision.judge != "local":  # the LLM judged what the bot sent; the human gets the whole of it
        return merged, decision
    again = triggers.decide(merged, config)
    return merged, again if again.escalate else decision


def _escalate(s: Any, case: CaseRow, decision: Decision, row: InboxRow, now: Any, rt: Runtime) -> None:
    decision = sanitize_decision(decision)  # stored, shown and sent: the quotes keep no card or secret
    stored = decision.to_json()
    # The package the delivery steps will use too (bridge.worker.packages): built once per version.
    package = base_package(case.id, case.platform, case.event, stored)
    facts = RouteFacts.from_event(Event.from_json(case.event), decision, package.priority, platform=case.platform)
    routing = rt.routing()
    routed = route(facts, routing, now, {}, {})  # which team: rules and hours, never the load
    if routed.owner is not None:
        # Someone on shift can take it: the load and the turn pick who. Until commit, the next
        # escalation into this team waits here and then sees this owner. With no one to pick (a
        # team without members, or nobody on shift who could take it) the load changes nothing.
        repo.lock_routing(s, routed.team.id)
        routed = route(facts, routing, now, repo.open_case_counts(s), repo.last_assigned(s, [routed.team.id]))
    repo.escalate_case(case, now, decision.trigger_ids, stored, routed.priority, routed.team.id,
                       routed.owner.key if routed.owner else None, routed.info().to_json())
    repo.add_timeline(
        s, case.id, "case.escalated", "bridge:triggers", now,
        {"event": row.key, "triggers": decision.trigger_ids, "at_message": decision.at_message,
         "evidence": [hit.to_json() for hit in decision.triggers],
         **({"transcript_missing": package.transcript_missing} if package.transcript_missing else {})},
    )
    repo.add_timeline(s, case.id, "case.routed", "bridge:routing", now, routed.to_json())
    timeout = routed.policy.ack_timeout_minutes * 60 if routed.team.members else None
    plan = connectors.plan(decision.trigger_ids, routed.file_jira, owner=routed.owner is not None, ack_timeout=timeout)
    repo.ensure_deliveries(s, case.id, plan, now)

"""Queue entry points. Each takes an id, claims its row, calls the pipeline or a connector, records.

A job that fails records the attempt and schedules the next one itself, after the backoff interval
or the vendor's Retry-After, whichever is longer; on its last attempt (or on a permanent error) it
marks the row dead. Jobs never raise for a recorded failure, so RQ's own retry and failed registry
stay out of the way and the store is the one truth. The in-process runner calls the same functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

import connectors
from bridge import followups, ownership, runtime as rt_module
from bridge.adapters import get_adapter
from bridge.events import Decision, Event, RouteInfo, Summary
from bridge.logs import case_context
from bridge.pipeline import llm_judge, transcript, trigger_config, triggers
from bridge.pipeline.package import build_package
from bridge.pipeline.route import RouteFacts, route
from bridge.pipeline.sanitize import sanitize_decision, sanitize_event
from bridge.pipeline.summary import summarize
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.bug_index import StoreBugIndex
from bridge.store.models import CLOSED, DEAD, DONE, ESCALATED, OPEN, PROCESSED, CaseRow, DeliveryRow, InboxRow
from bridge.web.auth import case_link
from connectors.base import Context, PermanentError, Result, RetryableError

log = logging.getLogger("bridge.jobs")

PROCESS, PROCESS_BATCH, DELIVER = "process_event", "process_events", "deliver"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def process_event(key: str, rt: Runtime | None = None) -> str:
    """Fold one accepted event into its case; escalate and plan deliveries when warranted."""
    rt = rt or rt_module.current()
    with rt.store.session() as s:
        row = repo.get_inbox(s, key)
        case_id = row.case_id if row else None
    with case_context(case_id):
        return _process_event(key, rt)


def _process_event(key: str, rt: Runtime) -> str:
    with rt.store.session() as s:
        keys = [row.key for row in repo.claim_case_inbox(s, key, rt.clock(), rt.settings.lease_seconds)]
        s.commit()
    if not keys:
        return "skipped"
    try:
        with rt.store.session() as s:
            rows = repo.inbox_rows(s, keys)
            ready = _fold_into_case(rt, s, rows)
            row_case = rows[0].case_id
            now = rt.clock()
            for row in rows:
                row.state, row.claimed_until, row.last_error, row.updated_at = PROCESSED, None, None, now
            s.commit()
    except Exception as exc:
        outcomes = {each: _record_failure(rt, InboxRow, each, exc) for each in keys}
        return outcomes.get(key, "retry")
    log.info("bridge.event.processed", extra={"key": key, "folded": len(keys), "escalated_steps": len(ready)})
    for delivery_id in ready:
        rt.queue.enqueue(DELIVER, delivery_id)
    if ready:
        _enqueue_scheduled(rt, row_case, ["slack.page#1"])
    return "processed"


def _fold_into_case(rt: Runtime, s: Any, rows: list[InboxRow]) -> list[int]:
    """Fold accepted events of one conversation (arrival order) into its case; judge once, on the
    newest transcript (the engine reads message by message, so ``at_message`` is the same as if
    each update had been judged on its own)."""
    now = rt.clock()
    first = rows[0]
    actor = f"bot:{first.platform}"
    case = repo.lock_case(s, first.case_id)
    events = [Event.from_json(row.event) for row in rows]
    if case is None:
        case = CaseRow(
            id=first.case_id, platform=first.platform, conversation_id=events[0].conversation.id, status=OPEN,
            triggers=[], refs={}, event=events[0].to_json(), created_at=now, updated_at=now,
        )
        s.add(case)
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
            case.status, case.closed_at = CLOSED, now
            repo.add_timeline(s, case.id, "case.closed", actor, now, {"event": row.key})
    assert merged is not None
    if asked and merged.type != "handoff.requested":
        merged = merged.model_copy(update={"type": "handoff.requested"})  # a folded handoff request stands
    case.event, case.updated_at = merged.to_json(), now
    if case.status not in (OPEN, CLOSED):
        # Already with a human: what the customer adds reaches them (ticket, thread, bug, timeline),
        # even when the platform reports it with the conversation's close.
        _remember_customer(case, merged)
        created = followups.record(s, case, followups.added(previous, merged), now, merged)
        return [d for d in repo.due_deliveries(s, now, case_id=case.id)
                if s.get(DeliveryRow, d).step in created] if created else []
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
        case.event = merged.to_json()
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
    s.expire(case)  # read the row as it is now, not as this session last wrote it
    case = repo.lock_case(s, case_id)
    if case is None or case.status not in (OPEN, CLOSED) or case.event != judged:
        log.info("bridge.judge.superseded", extra={"case": case_id})
        return None, None
    return case, decision


def _remember_customer(case: CaseRow, event: Event) -> None:
    if event.customer:
        case.customer_id = event.customer.id or case.customer_id
        case.customer_email = event.customer.email or case.customer_email


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
    event = Event.from_json(case.event)
    decision = sanitize_decision(decision)  # stored, shown and sent: the quotes keep no card or secret
    package = build_package(case.id, case.platform, event, decision)
    facts = RouteFacts.from_event(event, decision, package.priority, platform=case.platform)
    routing = rt.routing()
    team = route(facts, routing, now, {}, {}).team.id  # which team: rules and hours, never the load
    repo.lock_routing(s, team)  # until commit: the next escalation into this team sees this owner
    routed = route(facts, routing, now, repo.open_case_counts(s), repo.last_assigned(s))
    case.status, case.escalated_at = ESCALATED, now
    case.triggers, case.decision = decision.trigger_ids, decision.to_json()
    case.priority, case.team = routed.priority, routed.team.id
    case.owner = routed.owner.key if routed.owner else None
    case.route = routed.info().to_json()
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


def deliver(delivery_id: int, rt: Runtime | None = None) -> str:
    """Run one outbound step of a case, exactly once as far as the vendor lets us check."""
    rt = rt or rt_module.current()
    with rt.store.session() as s:
        row = s.get(DeliveryRow, delivery_id)
        case_id = row.case_id if row else None
    with case_context(case_id):
        return _deliver(delivery_id, rt)


def _deliver(delivery_id: int, rt: Runtime) -> str:
    with rt.store.session() as s:
        claimed = repo.claim_delivery(s, delivery_id, rt.clock(), rt.settings.lease_seconds)
        s.commit()
    if not claimed:
        return "skipped"
    try:
        summary = _summary_for(rt, delivery_id)
        with rt.store.session() as s:
            delivery = s.get(DeliveryRow, delivery_id)
            case = repo.get_case(s, delivery.case_id) if delivery else None
            assert delivery is not None and case is not None
            step = connectors.step_for(delivery.step)
            extra = ownership.prepare(rt, s, case, delivery)
            if extra is None:  # no longer needed (e.g. a page for a case someone took meanwhile)
                result = Result(external_id="skipped: no longer needed", dry_run=True)
            else:
                decision = Decision.model_validate(case.decision or {"escalate": True})
                route_info = RouteInfo.model_validate(case.route) if case.route else None
                event = Event.from_json(case.event)
                package = build_package(case.id, case.platform, event, decision, summary=summary, route=route_info,
                                        previous_tickets=repo.earlier_tickets(s, case))
                refs = repo.refs_of(s, case.id, case.refs)
                links = {"case.url": case_link(rt.settings, case.id, rt.clock()),
                         **connectors.vendor_links(rt.settings, refs), **_times(case)}
                request = step.build(package, {**refs, **links, **extra})
                connector = connectors.connector_for(step.connector, rt.settings, StoreBugIndex(rt.store))
                # An earlier effect is possible only after a failed (or replayed) attempt: that is
                # when connectors look before they write. A replay keeps last_error, so it counts.
                attempt = delivery.attempts + (1 if delivery.last_error and delivery.attempts == 1 else 0)
                context = Context(case.id, f"{case.id}-{delivery.step}", refs, attempt, delivery.step)
                result = connector.send(step, request, context)
            now = rt.clock()
            delivery.status, delivery.external_id, delivery.dry_run = DONE, result.external_id, result.dry_run
            delivery.claimed_until, delivery.last_error, delivery.updated_at = None, None, now
            new_refs = {delivery.step: result.external_id}
            if result.url:
                new_refs[f"{delivery.step}.url"] = result.url
            repo.merge_refs(s, case.id, new_refs)
            repo.add_timeline(
                s, case.id, "delivery.done", f"connector:{step.connector}", now,
                {"step": delivery.step, "external_id": result.external_id, "dry_run": result.dry_run},
            )
            follow_ups = ownership.after(rt, s, case, delivery, extra or {})
            s.commit()
    except Exception as exc:
        return _record_failure(rt, DeliveryRow, delivery_id, exc)
    log.info("bridge.delivery.done", extra={"step": delivery.step, "external_id": result.external_id,
                                            "dry_run": result.dry_run, "attempts": delivery.attempts})
    _release_dependents(rt, delivery.case_id)
    _enqueue_scheduled(rt, delivery.case_id, follow_ups)
    return "done"


def _times(case: CaseRow) -> dict[str, str]:
    """When the case was escalated and taken: builders show the owner the reply time promised."""
    return {name: at.isoformat() for name, at in (("case.escalated_at", case.escalated_at),
                                                  ("case.acknowledged_at", case.acknowledged_at)) if at}


def _enqueue_scheduled(rt: Runtime, case_id: str, steps: list[str]) -> None:
    """Steps due later (re-escalation pages) go to the queue's scheduler at their time."""
    if not steps:
        return
    with rt.store.session() as s:
        due = [(d.id, d.next_attempt_at) for d in repo.deliveries_of(s, case_id) if d.step in steps]
    for delivery_id, at in due:
        rt.queue.enqueue(DELIVER, delivery_id, at=at)


def _summary_for(rt: Runtime, delivery_id: int) -> Summary:
    """The case's summary, made once (an LLM call may take seconds: no transaction is held open)."""
    with rt.store.session() as s:
        delivery = s.get(DeliveryRow, delivery_id)
        case = repo.get_case(s, delivery.case_id) if delivery else None
        assert case is not None
        if case.summary:
            return Summary.model_validate(case.summary)
        case_id, decision = case.id, Decision.model_validate(case.decision)
        event = sanitize_event(Event.from_json(case.event))  # the extractive summary quotes the customer
    summary = summarize(event, decision, rt.settings, case_id=case_id)
    with rt.store.session() as s:
        s.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.summary.is_(None))
                  .values(summary=summary.to_json()))
        s.commit()
    return summary


def _release_dependents(rt: Runtime, case_id: str) -> None:
    """Enqueue the case's steps that are due now that one of its steps is settled."""
    with rt.store.session() as s:
        ready = repo.due_deliveries(s, rt.clock(), case_id=case_id)
    for other in ready:
        rt.queue.enqueue(DELIVER, other)


REACH_A_PERSON = ("zendesk.ticket", "slack.alert")  # the steps that tell a person about the case


def _tell_the_bot_nobody_came(s: Any, case_id: str, now: datetime) -> list[str]:
    """When every step that reaches a person is a dead letter, the hand-off failed: plan one
    ``handoff.failed`` to the bot (``bot.failed#1``: once, however the steps died)."""
    repo.lock_case(s, case_id)  # two steps dying at once: the second sees the first (PostgreSQL)
    steps = {d.step: d.status for d in repo.deliveries_of(s, case_id) if d.step in REACH_A_PERSON}
    if not steps or any(status != DEAD for status in steps.values()):
        return []
    repo.add_timeline(s, case_id, "handoff.failed", "bridge:worker", now,
                      {"dead": sorted(steps), "told": "bot"})
    return ownership.follow_up(s, case_id, ["bot.failed#1"], now)


def _record_failure(rt: Runtime, model: type[InboxRow] | type[DeliveryRow], ident: str | int, exc: Exception) -> str:
    """Store the failed attempt and schedule the next one, or settle the row as dead."""
    permanent = isinstance(exc, PermanentError)
    retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
    with rt.store.session() as s:
        row: Any = repo.get_inbox(s, str(ident)) if model is InboxRow else s.get(DeliveryRow, int(ident))
        failure = repo.fail(row, _describe(exc), rt.clock(), rt.settings.retry_intervals, permanent, retry_after)
        if model is DeliveryRow and getattr(exc, "external_id", None):
            row.external_id = str(exc.external_id)  # the vendor holds it already: never lose it
            repo.merge_refs(s, row.case_id, {row.step: row.external_id})
        next_at = row.next_attempt_at
        if failure.dead:
            detail: dict[str, Any] = {"error": _describe(exc)[:500], "attempts": failure.attempts}
            if model is DeliveryRow:
                detail["step"] = row.step
            repo.add_timeline(s, row.case_id, "delivery.dead" if model is DeliveryRow else "event.dead",
                              "bridge:worker", rt.clock(), detail)
            if model is DeliveryRow and row.step in REACH_A_PERSON:
                _tell_the_bot_nobody_came(s, row.case_id, rt.clock())  # enqueued with the dependents below
        s.commit()
    log.warning(
        "bridge.job.failed",
        extra={"job": model.__tablename__, "id": ident, "attempts": failure.attempts, "dead": failure.dead,
               "retry_in": failure.retry_in},
        exc_info=not isinstance(exc, (RetryableError, PermanentError)),
    )
    if failure.dead:
        if model is DeliveryRow:
            _release_dependents(rt, row.case_id)
        return DEAD
    try:
        urgent = True
        if model is InboxRow:
            with rt.store.session() as s:
                urgent = repo.inbox_urgent(s, str(ident))
        rt.queue.enqueue(PROCESS if model is InboxRow else DELIVER, ident, at=next_at, attempt=failure.attempts,
                         urgent=urgent)
    except Exception:  # the sweeper re-enqueues it when it is due
        log.warning("bridge.job.reschedule_failed", extra={"id": ident})
    return "retry"


@dataclass(frozen=True)
class JobSource:
    """A kind of durable job: the store says which rows are due, the queue runs the job on each.

    ``job`` is what the queue runs (a name in this module, or a dotted path for jobs that live
    elsewhere); ``due`` lists ids due now (the in-process runner), ``stale`` ids due before a
    cutoff that may have been lost by the queue (the sweeper).
    """

    job: str
    run: Callable[..., str]
    due: Callable[[Any, datetime], list[Any]]
    stale: Callable[[Any, datetime, datetime], list[tuple[Any, int]]]


def sources() -> list[JobSource]:
    """The explicit registry of durable job kinds (one line per kind)."""
    from bridge import loop
    from bridge.store import loop_repo

    return [
        JobSource(PROCESS, process_event, repo.due_inbox, _stale_inbox),
        JobSource(DELIVER, deliver, repo.due_deliveries, repo.stale_deliveries),
        JobSource(loop.PROCESS_VENDOR_EVENT, loop.process_vendor_event, loop_repo.due_vendor_events,
                  loop_repo.stale_vendor_events),
        JobSource(loop.RECONCILE_TICKET, loop.reconcile_ticket, loop_repo.due_reconciles, loop_repo.stale_reconciles),
    ]


BATCH_SIZE = 50  # routine updates per process_events job: RQ's fixed cost per job, shared


def dispatch(rt: Runtime | None = None, limit: int = 500) -> int:
    """Hand accepted events to the queue in batches (RQ mode: the request only commits them).

    Each row is handed over once. An urgent row gets a ``process_event`` job of its own in the
    urgent queue; routine rows travel by fifty in ``process_events`` jobs. A row gets no job when a
    job of its conversation already waits in a queue at least as urgent (that job folds every due
    row of the conversation when it runs). Returns how many rows were handed over."""
    rt = rt or rt_module.current()
    from bridge.queue import RQQueue

    if not isinstance(rt.queue, RQQueue):
        return 0
    total = 0
    while True:
        with rt.store.session() as s:
            taken = repo.take_for_dispatch(s, rt.clock(), limit)
            keys = {key for key, _, _ in taken}
            waiting = [w for w in repo.waiting_rows(s, {case for _, _, case in taken}) if w[1] not in keys]
            covered = _covering_queues(rt.queue, waiting)
            singles: list[tuple[str, str | int, bool]] = []
            routine: list[str] = []
            for key, urgent, case in taken:
                queues = covered.setdefault(case, set())
                if rt.queue.urgent.name in queues or (not urgent and rt.queue.routine.name in queues):
                    continue
                queues.add(rt.queue.urgent.name if urgent else rt.queue.routine.name)
                if urgent:
                    singles.append((PROCESS, key, True))
                else:
                    routine.append(key)
            batches = [routine[i:i + BATCH_SIZE] for i in range(0, len(routine), BATCH_SIZE)]
            for batch in batches:
                repo.set_batch(s, batch[0], batch)
            s.commit()
        rt.queue.enqueue_batch([*singles, *[(PROCESS_BATCH, batch[0], False) for batch in batches]])
        total += len(taken)
        if len(taken) < limit:
            return total


def _job_ids(queue: Any, key: str, attempts: int, batch: str | None) -> list[str]:
    """The jobs that may carry an inbox row: its own (per attempt) and its batch's."""
    from bridge.queue import job_id

    ids = [job_id(queue.name, PROCESS, key, attempts)]
    if batch:
        ids.append(job_id(queue.name, PROCESS_BATCH, batch))
    return ids


def _covering_queues(queue: Any, rows: list[tuple[str, str, int, str | None]]) -> dict[str, set[str]]:
    """Per case, the queues in which a job carrying one of its rows waits to start."""
    ids: dict[str, set[str]] = {}
    for case, key, attempts, batch in rows:
        for jid in _job_ids(queue, key, attempts, batch):
            ids.setdefault(jid, set()).add(case)  # a batch job carries rows of many cases
    covered: dict[str, set[str]] = {}
    for jid, (state, origin) in queue.states(ids).items():
        if state == "queued" and origin:
            for case in ids[jid]:
                covered.setdefault(case, set()).add(origin)
    return covered


def process_events(leader: str, rt: Runtime | None = None) -> str:
    """A batch of routine updates: each conversation in it is folded and judged on its own.

    The batch keeps within half the job's timeout: what is left when that budget is spent moves to
    a new batch job at the back of the routine queue, so a slow store never turns a batch into a
    timeout."""
    rt = rt or rt_module.current()
    with rt.store.session() as s:
        rows = repo.batch_rows(s, leader)
    firsts: dict[str, str] = {}
    for key, case_id in rows:
        firsts.setdefault(case_id, key)
    budget = time.monotonic() + rt.settings.job_timeout / 2
    done = 0
    for key in firsts.values():
        if time.monotonic() > budget:
            break
        process_event(key, rt)
        done += 1
    if done < len(firsts):
        with rt.store.session() as s:
            rest = [key for key, _ in repo.batch_rows(s, leader)]
            if rest:
                repo.set_batch(s, rest[0], rest)
            s.commit()
        if rest:
            rt.queue.enqueue(PROCESS_BATCH, rest[0], urgent=False)
    return f"{done} of {len(firsts)} conversations"


MAX_SWEEP_ROWS = 20_000  # per sweep; a bigger backlog is looked at over several sweeps
SWEEP_PAGE = 500


def _stale_inbox(s: Any, cutoff: datetime, now: datetime) -> list[tuple[Any, int]]:
    """The first page of stale handed-over rows (the in-process runner needs no sweep; the RQ sweep
    pages through the whole backlog itself, see ``_sweep_inbox``)."""
    return [(key, attempts) for _, key, attempts in repo.stale_inbox(s, cutoff, now, limit=SWEEP_PAGE)]


def _sweep_inbox(rt: Runtime, cutoff: datetime, now: datetime) -> int:
    """Page by page through stale accepted rows, enqueueing one job per conversation no live job
    will fold. One page in memory at a time: a big backlog does not grow the dispatcher."""
    count, after, seen = 0, 0, 0
    while seen < MAX_SWEEP_ROWS:
        with rt.store.session() as s:
            page = repo.stale_inbox(s, cutoff, now, limit=SWEEP_PAGE, after_id=after)
            rows = _uncovered_events(rt, s, [(key, attempts) for _, key, attempts in page]) if page else []
            urgent = {key: repo.inbox_urgent(s, key) for key, _ in rows}
        for key, attempts in rows:
            rt.queue.enqueue(PROCESS, key, attempt=attempts, urgent=urgent[key])
        count += len(rows)
        seen += len(page)
        if len(page) < SWEEP_PAGE:
            break
        after = page[-1][0]
    return count


def sweep(rt: Runtime | None = None) -> int:
    """Re-enqueue what the store says is due but Redis no longer holds (down, flushed, or a job
    whose worker was killed); a job still waiting, scheduled or running is left alone, and so is an
    event whose conversation has another job waiting or running (that job folds it)."""
    rt = rt or rt_module.current()
    from bridge.queue import RQQueue, job_id

    now = rt.clock()
    cutoff = now - timedelta(seconds=rt.settings.sweep_age)
    count = 0
    for source in sources():
        if source.job == PROCESS and isinstance(rt.queue, RQQueue):
            count += _sweep_inbox(rt, cutoff, now)
            continue
        with rt.store.session() as s:
            rows = source.stale(s, cutoff, now)
        if isinstance(rt.queue, RQQueue) and rows:
            ids = {ident: job_id(rt.queue.name, source.job, ident, attempts) for ident, attempts in rows}
            alive = rt.queue.alive(ids.values())
            rows = [(ident, attempts) for ident, attempts in rows if not alive[ids[ident]]]
        for ident, attempts in rows:
            rt.queue.enqueue(source.job, ident, attempt=attempts)
        count += len(rows)
    return count


def _uncovered_events(rt: Runtime, s: Any, stale: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    """Of these stale inbox rows, one per conversation that no live job will fold."""
    refs = repo.job_refs(s, [key for key, _ in stale])
    siblings = repo.waiting_rows(s, {case for case, _, _ in refs.values()})
    ids: dict[str, set[str]] = {}
    for case, key, attempts, batch in [*siblings, *[(c, k, a, b) for k, (c, a, b) in refs.items()]]:
        for jid in _job_ids(rt.queue, key, attempts, batch):
            ids.setdefault(jid, set()).add(case)
    live = {case for jid, (state, _) in rt.queue.states(ids).items()  # type: ignore[attr-defined]
            if state in ("queued", "running") for case in ids[jid]}
    chosen: dict[str, tuple[Any, int]] = {}
    for key, attempts in stale:
        case = refs[key][0]
        if case not in live and case not in chosen:
            chosen[case] = (key, attempts)
    return list(chosen.values())


def replay(ident: str, rt: Runtime | None = None) -> bool:
    """Bring a dead inbox row (``hb-…``), delivery (``dl-<n>``) or vendor event (``ve-<n>``) back."""
    from bridge import loop
    from bridge.store import loop_repo
    from bridge.store.models import VendorEventRow

    rt = rt or rt_module.current()
    now = rt.clock()
    with rt.store.session() as s:
        if ident.startswith("dl-") and ident[3:].isdigit():
            job, arg, ok = DELIVER, int(ident[3:]), repo.revive_delivery(s, int(ident[3:]), now)
        elif ident.startswith("ve-") and ident[3:].isdigit():
            arg = int(ident[3:])
            job, ok = loop.PROCESS_VENDOR_EVENT, loop_repo.revive_vendor_event(s, arg, now)
        else:
            job, arg, ok = PROCESS, ident, repo.revive_inbox(s, ident, now)
        if ok and job != loop.PROCESS_VENDOR_EVENT:
            row: Any = s.get(DeliveryRow, arg) if job == DELIVER else repo.get_inbox(s, str(arg))
            repo.add_timeline(s, row.case_id, "replayed", "cli:replay", now, {"id": ident})
        elif ok:
            assert s.get(VendorEventRow, arg) is not None
        s.commit()
    if ok:
        rt.queue.enqueue(job, arg)  # a replay is somebody waiting for it: urgent
    return ok

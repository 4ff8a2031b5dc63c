"""Queue entry points. Each takes an id, claims its row, calls the pipeline or a connector, records.

A job that fails records the attempt and schedules the next one itself, after the backoff interval
or the vendor's Retry-After, whichever is longer; on its last attempt (or on a permanent error) it
marks the row dead. Jobs never raise for a recorded failure, so RQ's own retry and failed registry
stay out of the way and the store is the one truth. The in-process runner calls the same functions.

RQ stores each job's function by its dotted path (``bridge.worker.jobs.deliver``): see
``bridge.queue.MOVED`` before renaming or moving one.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

import connectors
from bridge import runtime as rt_module
from bridge.config.keys import case_link
from bridge.events import Decision, Event, RouteInfo, Summary
from bridge.logs import case_context
from bridge.loop import ownership
from bridge.pipeline.sanitize import sanitize_event
from bridge.queue import DELIVER, PROCESS, PROCESS_BATCH
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.models import DEAD, CaseRow, DeliveryRow, InboxRow
from bridge.worker import escalate
from bridge.worker.bug_index import StoreBugIndex
from bridge.worker.packages import base_package, package_for
from bridge.worker.summarizer import summarize
from connectors.base import Context, PermanentError, Result, RetryableError

log = logging.getLogger("bridge.jobs")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# One job runs up to this many steps of its case (each claimed by compare-and-set and recorded on
# its own, as when each was a job): RQ's fixed cost per job (15 Redis commands) was a quarter of a
# job process. The bound, and a time budget of a quarter of the job's timeout, keep a job within
# its timeout when vendors are slow, and the urgent queue moving for other cases.
CHAIN_STEPS = 8
CHAIN_BUDGET = 0.25  # of the job timeout: after it a job starts no further step


def process_event(key: str, rt: Runtime | None = None) -> str:
    """Fold one accepted event into its case; escalate and plan deliveries when warranted."""
    rt = rt or rt_module.current()
    # One session for the claim and the fold: the claimed rows stay as the claim returned them
    # (nothing else may change them while the claim holds), so they are not read again.
    with rt.store.session() as s:
        rows = repo.claim_case_inbox(s, key, rt.clock(), rt.settings.lease_seconds)
        s.commit()
        if not rows:
            return "skipped"
        with case_context(rows[0].case_id):
            return _process_event(rt, s, key, rows)


def _process_event(rt: Runtime, s: Any, key: str, rows: list[InboxRow]) -> str:
    keys, row_case = [row.key for row in rows], rows[0].case_id
    try:
        ready = escalate.fold_into_case(rt, s, rows)
        pages = _scheduled(s, row_case, ["slack.page#1"]) if ready else []
        repo.mark_processed(rows, rt.clock())
        s.commit()
    except Exception as exc:
        s.rollback()
        outcomes = {each: _record_failure(rt, InboxRow, each, exc) for each in keys}
        return outcomes.get(key, "retry")
    log.info("bridge.event.processed", extra={"key": key, "folded": len(keys), "escalated_steps": len(ready)})
    for delivery_id in ready:
        rt.queue.enqueue(DELIVER, delivery_id)
    for delivery_id, at in pages:
        rt.queue.enqueue(DELIVER, delivery_id, at=at)
    return "processed"


def deliver(delivery_id: int, rt: Runtime | None = None, chain: int = CHAIN_STEPS) -> str:
    """Run one outbound step of a case, exactly once as far as the vendor lets us check; then (up to
    ``chain`` steps in all) the case's next step that is due now, in the same job. Answers for the
    step it was given."""
    rt = rt or rt_module.current()
    with rt.store.session() as s:  # the claim names the case: one statement, committed before the vendor call
        case_id = repo.claim_delivery_case(s, delivery_id, rt.clock(), rt.settings.lease_seconds)
        s.commit()
    if case_id is None:
        return "skipped"
    with case_context(case_id):
        return _chain(rt, delivery_id, case_id, chain)


def _chain(rt: Runtime, delivery_id: int, case_id: str, steps: int) -> str:
    """The claimed step, then each next step it claimed for this job (see ``_deliver``).

    A step the chain claimed is held like any claimed step: a job killed inside it leaves the claim
    to run out, and the sweeper hands the step to a new job (the connector looks before it writes
    again). Due steps of the case the chain did not claim yet have no job of their own: when the
    chain ends on a failure they are enqueued here; when its process dies the sweeper finds them."""
    deadline = time.monotonic() + rt.settings.job_timeout * CHAIN_BUDGET
    left, held = steps, False
    first: str | None = None
    current: int | None = delivery_id
    while current is not None:
        left -= 1
        outcome, current, held_now = _deliver(current, rt, lambda n=left: n > 0 and time.monotonic() < deadline)
        first = first or outcome
        if outcome != "done" and held:
            _release_dependents(rt, case_id)  # the steps the last one left for this job to find
        held = held_now
    return first or "skipped"


def _deliver(delivery_id: int, rt: Runtime, go_on: Any = None) -> tuple[str, int | None, bool]:
    """The claimed step: one transaction reads the case, records the result, finds the steps it
    makes due and, when ``go_on()`` allows, claims the first of them for this job (the claim commits
    with the record: no moment where the next step is due and nobody's). The others are enqueued
    once that is committed, or, when a step was claimed, left for it to find.

    Returns (outcome, the step claimed next or None, whether due steps were left unenqueued)."""
    try:
        with rt.store.session() as s:
            found = repo.delivery_and_case(s, delivery_id)
            assert found is not None
            delivery, case = found
            summary, new_summary = _summary_for(rt, s, case)
            step = connectors.step_for(delivery.step)
            extra = ownership.prepare(rt, s, case, delivery)
            if extra is None:  # no longer needed (e.g. a page for a case someone took meanwhile)
                result = Result(external_id="skipped: no longer needed", dry_run=True)
            else:
                route_info = RouteInfo.model_validate(case.route) if case.route else None
                package = package_for(case.id, case.platform, case.event, case.decision or ESCALATE,
                                      summary=summary, route=route_info, previous_tickets=repo.earlier_tickets(s, case))
                refs = repo.refs_of(s, case.id, case.refs)
                links = {"case.url": case_link(rt.settings, case.id, rt.clock()),
                         **connectors.vendor_links(rt.settings, refs), **_times(case)}
                request = step.build(package, {**refs, **links, **extra})
                connector = _connector(rt, step.connector)
                # An earlier effect is possible only after a failed (or replayed) attempt: that is
                # when connectors look before they write. A replay keeps last_error, so it counts.
                attempt = delivery.attempts + (1 if delivery.last_error and delivery.attempts == 1 else 0)
                context = Context(case.id, f"{case.id}-{delivery.step}", refs, attempt, delivery.step)
                result = connector.send(step, request, context)
            if new_summary:
                repo.save_summary(s, case.id, summary.to_json())
            repo.record_delivery_done(s, delivery, result.external_id, result.dry_run, result.url, step.connector,
                                      rt.clock())
            follow_ups = ownership.after(rt, s, case, delivery, extra or {})
            s.flush()
            ready = repo.due_deliveries(s, rt.clock(), case_id=delivery.case_id)
            later = _scheduled(s, delivery.case_id, follow_ups) if follow_ups else []
            following = _claim_next(rt, s, ready) if ready and go_on is not None and go_on() else None
            s.commit()
    except Exception as exc:
        return _record_failure(rt, DeliveryRow, delivery_id, exc), None, False
    log.info("bridge.delivery.done", extra={"step": delivery.step, "external_id": result.external_id,
                                            "dry_run": result.dry_run, "attempts": delivery.attempts,
                                            **({"next": following} if following else {})})
    if following is None:
        _enqueue_ready(rt, ready)
    for other, at in later:
        rt.queue.enqueue(DELIVER, other, at=at)
    return "done", following, following is not None and len(ready) > 1


def _claim_next(rt: Runtime, s: Any, ready: list[int]) -> int | None:
    """Claim (compare-and-set) the first of these due steps that nobody else holds, in the caller's
    transaction."""
    for candidate in ready:
        if repo.claim_delivery_case(s, candidate, rt.clock(), rt.settings.lease_seconds) is not None:
            return candidate
    return None


ESCALATE = {"escalate": True}  # the decision of a case escalated before decisions were stored


def _connector(rt: Runtime, vendor: str) -> Any:
    """The vendor's connector, made once per thread for this runtime (a Zendesk client and its HTTP
    session cost more to make than the call they send; one per thread, as a session is not shared
    between threads)."""
    cache = _CONNECTORS.__dict__.setdefault("by_vendor", {})
    held = cache.get(vendor)
    if held is not None and held[0] is rt.settings and held[1] is rt.store:
        return held[2]
    connector = connectors.connector_for(vendor, rt.settings, StoreBugIndex(rt.store))
    cache[vendor] = (rt.settings, rt.store, connector)
    return connector


_CONNECTORS = threading.local()


def _times(case: CaseRow) -> dict[str, str]:
    """When the case was escalated and taken: builders show the owner the reply time promised."""
    return {name: at.isoformat() for name, at in (("case.escalated_at", case.escalated_at),
                                                  ("case.acknowledged_at", case.acknowledged_at)) if at}


def _scheduled(s: Any, case_id: str, steps: list[str]) -> list[tuple[int, datetime]]:
    """Steps due later (re-escalation pages): (id, when), for the queue's scheduler."""
    return [(ident, at) for ident, at in repo.steps_at(s, case_id, steps)]


def _summary_for(rt: Runtime, s: Any, case: CaseRow) -> tuple[Summary, bool]:
    """The case's summary, made once, and whether it is new (then it is stored with the step's result).

    Without an LLM it is the extractive summary, which the case's package already holds. An LLM call
    may take seconds: it is made with no transaction open, and its answer stored at once."""
    if case.summary:
        return Summary.model_validate(case.summary), False
    decision = case.decision or ESCALATE
    if not rt.settings.openai.api_key:
        return base_package(case.id, case.platform, case.event, decision).summary, True
    case_id, parsed = case.id, Decision.model_validate(decision)
    event = sanitize_event(Event.from_json(case.event))  # the summary quotes the customer
    s.commit()  # ends the read: no transaction while the LLM answers
    summary = summarize(event, parsed, rt.settings, case_id=case_id)
    repo.save_summary(s, case_id, summary.to_json())
    s.commit()
    s.expire_all()  # what the step reads next is read as it is now
    return summary, False


def _enqueue_ready(rt: Runtime, ready: list[int]) -> None:
    """Enqueue the steps a settled step made due (read in its transaction, enqueued after commit)."""
    for other in ready:
        rt.queue.enqueue(DELIVER, other)


def _release_dependents(rt: Runtime, case_id: str) -> None:
    """Enqueue the case's steps that are due now that one of its steps is settled."""
    with rt.store.session() as s:
        ready = repo.due_deliveries(s, rt.clock(), case_id=case_id)
    _enqueue_ready(rt, ready)


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
        row: Any = repo.get_inbox(s, str(ident)) if model is InboxRow else repo.get_delivery(s, int(ident))
        failure = repo.fail(row, _describe(exc), rt.clock(), rt.settings.retry_intervals, permanent, retry_after)
        if model is DeliveryRow and getattr(exc, "external_id", None):
            repo.record_external_id(s, row, str(exc.external_id))  # the vendor holds it already: never lose it
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

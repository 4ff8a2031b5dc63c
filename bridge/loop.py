"""Close the loop: apply Zendesk and Jira events to cases (``docs/timeline.md``), reconcile.

Jobs (ids are their only argument, like ``bridge.worker.jobs``):

* ``process_vendor_event(id)`` applies one stored ``vendor_events`` row. Every outcome that is not
  a crash settles the row: ``processed`` (something changed) or ``ignored`` with a ``result``
  (``unknown_ticket``, ``own_change``, ``stale``, ``duplicate``, ``not_human``, ...). Unknown tickets
  are never an error: Zendesk pauses webhooks that fail often.
* ``reconcile_ticket(case_id)`` polls a live bridge ticket every ``RECONCILE_EVERY`` and applies
  what the webhooks missed, read from the ticket's audits, through the same code (so a repeat
  changes nothing): ``bridge.loop_reconcile``.

Rules applied to each Zendesk change, in order:
1. Changes made by the bridge's own API user (``ZENDESK_BRIDGE_USER_ID``) are ignored (no loops).
2. A status, assignee or rating change is applied only when its vendor time is not older than the
   one stored for that field (out-of-order safe); a comment only once per comment id.
3. Only public comments by people on the support side count as replies (bots, the API, triggers
   and the customer never do); holding replies are recorded but never set ``first_response_at``.
4. A reopen sets the case back to ``escalated`` and restarts nothing else: escalation,
   acknowledgement and first-response times stay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bridge import jsonsafe, loop_zendesk as zd, runtime as rt_module
from bridge.events import Event
from bridge.pipeline.redact import Redactor
from bridge.runtime import Runtime
from bridge.store import loop_repo, repo
from bridge.store.models import (
    ACKNOWLEDGED,
    ESCALATED,
    IGNORED,
    PROCESSED,
    RESOLVED,
    CaseRow,
    TicketStateRow,
    VendorEventRow,
)
from connectors.base import PermanentError, RetryableError

if TYPE_CHECKING:
    from bridge.loop_reconcile import TicketSource

log = logging.getLogger("bridge.loop")

PROCESS_VENDOR_EVENT = "bridge.loop.process_vendor_event"
RECONCILE_TICKET = "bridge.loop.reconcile_ticket"
MAX_SEEN_COMMENTS = 500
MAX_REPLIES, MAX_REPLY_CHARS = 10, 2000


@dataclass
class Outcome:
    """What applying one delivery did: the row's ``result`` and follow-ups to run after commit."""

    results: list[str] = field(default_factory=list)
    kb_cases: list[str] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return "applied" in self.results

    @property
    def result(self) -> str:
        if not self.results:
            return "no_change"
        return ",".join(sorted(set(self.results)))[:200]


# --- jobs ----------------------------------------------------------------------------------------

def process_vendor_event(ident: int | str, rt: Runtime | None = None) -> str:
    rt = rt or rt_module.current()
    ident = int(ident)
    with rt.store.session() as s:
        claimed = loop_repo.claim_vendor_event(s, ident, rt.clock(), rt.settings.lease_seconds)
        s.commit()
    if not claimed:
        return "skipped"
    try:
        with rt.store.session() as s:
            row = s.get(VendorEventRow, ident)
            assert row is not None
            outcome = apply_delivery(rt, s, row.source, row.body)
            row.state = PROCESSED if outcome.applied else IGNORED
            row.result, row.claimed_until, row.last_error, row.updated_at = outcome.result, None, None, rt.clock()
            s.commit()
    except Exception as exc:
        return _record_failure(rt, ident, exc)
    after_commit(rt, outcome)
    return "processed" if outcome.applied else "ignored"


def after_commit(rt: Runtime, outcome: Outcome) -> None:
    """Slow follow-ups (a KB draft may call an LLM) run outside the transaction, each idempotent."""
    from bridge import kb

    for case_id in outcome.kb_cases:
        try:
            kb.suggest_for_case(rt, case_id)
        except Exception:  # the next solve or `bridge kb` can draft it again; never fail the event
            log.exception("bridge.loop.kb_suggest_failed", extra={"case": case_id})


def _record_failure(rt: Runtime, ident: int, exc: Exception) -> str:
    retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
    with rt.store.session() as s:
        row = s.get(VendorEventRow, ident)
        assert row is not None
        dead = loop_repo.fail_vendor_event(row, f"{type(exc).__name__}: {exc}", rt.clock(),
                                           rt.settings.retry_intervals, isinstance(exc, PermanentError), retry_after)
        next_at, attempts = row.next_attempt_at, row.attempts
        s.commit()
    log.warning("bridge.loop.failed", extra={"id": ident, "attempts": attempts, "dead": dead}, exc_info=True)
    if dead:
        return "dead"
    try:
        rt.queue.enqueue(PROCESS_VENDOR_EVENT, ident, at=next_at, attempt=attempts)
    except Exception:  # the sweeper finds it
        log.warning("bridge.loop.reschedule_failed", extra={"id": ident})
    return "retry"


def apply_delivery(rt: Runtime, s: Session, source: str, body: bytes) -> Outcome:
    try:
        data = jsonsafe.loads(body, rt.settings.max_json_depth)
    except jsonsafe.JSONError:
        return Outcome(["invalid_json"])
    if not isinstance(data, dict):
        return Outcome(["invalid_payload"])
    if source == "jira":
        from bridge import loop_jira

        return loop_jira.apply_jira(rt, s, data)
    return apply_zendesk(rt, s, data)


# --- Zendesk -------------------------------------------------------------------------------------

def apply_zendesk(rt: Runtime, s: Session, data: dict[str, Any]) -> Outcome:
    event_style = str(data.get("type") or "").startswith("zen:event-type:ticket.")
    changes = zd.from_ticket_event(data) if event_style else []
    snapshot = None if event_style else zd.snapshot_from(data)
    if event_style and not changes:
        return Outcome(["unsupported_event"])
    if snapshot is None and not changes:
        return Outcome(["no_ticket"])
    ticket_id = changes[0].ticket_id if changes else snapshot.ticket_id  # type: ignore[union-attr]
    external_id = changes[0].external_id if changes else snapshot.external_id  # type: ignore[union-attr]
    case = loop_repo.case_for_ticket(s, ticket_id, external_id)
    if case is None or case.escalated_at is None:
        if snapshot is not None and snapshot.score:  # the helpdesk's own CSAT: the baseline
            loop_repo.record_csat_sample(s, ticket_id, snapshot.score, snapshot.at or rt.clock())
            return Outcome(["baseline_csat"])
        return Outcome(["unknown_ticket"])
    # Deliveries about one ticket apply one after another (Zendesk sends them concurrently and
    # retries them): the ticket's state is locked first (on SQLite its insert-or-nothing takes the
    # write lock), then the case is read again, so the second sees what the first wrote and an
    # older change stays stale.
    state = loop_repo.ticket_state(s, case, ticket_id, rt.clock())
    case = repo.lock_case(s, case.id) or case
    if snapshot is not None:
        changes = zd.diff(snapshot, state.status, state.assignee_id, state.csat, state.comment_ids or [])
    outcome = Outcome()
    for change in changes:
        outcome.results.append(apply_change(rt, s, case, state, change, outcome))
    state.updated_at = rt.clock()
    return outcome


def _actor(user: str | None) -> str:
    return f"zendesk:{user or 'unknown'}"


def apply_change(
    rt: Runtime, s: Session, case: CaseRow, state: TicketStateRow, change: zd.TicketChange, outcome: Outcome
) -> str:
    own = zd.bridge_user(rt.settings)
    at = change.at or rt.clock()
    if change.kind == "comment" and change.comment is not None:
        return _apply_comment(rt, s, case, state, change.comment, at)
    if own is not None and change.actor_id == own:
        return "own_change"
    if change.kind == "status":
        return _apply_status(s, case, state, change, at, outcome)
    if change.kind == "assignee":
        return _apply_assignee(s, case, state, change, at)
    if change.kind == "csat":
        if state.csat_at is not None and at < state.csat_at:
            return "stale"
        if (change.score, change.csat_comment or None) == (state.csat, state.csat_comment or None):
            if state.csat_at is None or at > state.csat_at:
                state.csat_at = at  # the rating holds as of this later time (as for a status)
            return "unchanged"  # the same rating seen again (a trigger, then the audit that logged it)
        state.csat, state.csat_comment, state.csat_at = change.score, change.csat_comment, at
        repo.add_timeline(s, case.id, "csat.rated", _actor(change.actor_id), at,
                          {"score": change.score, "comment": change.csat_comment or "", "ticket_id": change.ticket_id})
        return "applied"
    return "unsupported_change"


def _apply_comment(rt: Runtime, s: Session, case: CaseRow, state: TicketStateRow, comment: zd.Comment,
                   at: datetime) -> str:
    seen = list(state.comment_ids or [])
    if comment.id in seen:
        return "duplicate"
    state.comment_ids = (seen + [comment.id])[-MAX_SEEN_COMMENTS:]
    if comment.author_id is not None and comment.author_id == zd.bridge_user(rt.settings):
        return "own_change"
    if not zd.is_human_reply(comment, rt.settings):
        return "not_human"
    at = comment.at or at
    holding = zd.is_holding(comment, rt.settings)
    event = Event.from_json(case.event) if case.event else None
    reasked = zd.reasked(comment, event)
    repo.add_timeline(s, case.id, "agent.replied", _actor(comment.author_id), at, {
        "ticket_id": state.ticket_id, "author_id": comment.author_id, "holding": holding,
        "comment_id": comment.id, "reasked": reasked,
    })
    if not holding:
        if case.first_response_at is None or at < case.first_response_at:
            case.first_response_at = at  # an older reply arriving late still wins (out of order)
        redactor = Redactor()
        if event and event.customer:
            redactor.add_known(event.customer.name, "NAME")
            redactor.add_known(event.customer.email, "EMAIL")
        reply = {"id": comment.id, "at": at.isoformat(), "text": redactor.redact(comment.body[:MAX_REPLY_CHARS])}
        state.replies = (list(state.replies or []) + [reply])[-MAX_REPLIES:]
    case.updated_at = rt.clock()
    return "applied"


def _apply_status(s: Session, case: CaseRow, state: TicketStateRow, change: zd.TicketChange, at: datetime,
                  outcome: Outcome) -> str:
    if state.status_at is not None and at < state.status_at:
        return "stale"
    to = change.status_to
    before = state.status or change.status_from
    if not to or to == state.status:
        if to and (state.status_at is None or at > state.status_at):
            state.status_at = at  # the status holds as of this later time: an older change is stale
        return "unchanged"
    state.status, state.status_at = to, at
    actor = _actor(change.actor_id)
    if to in zd.SOLVED_STATES and before not in zd.SOLVED_STATES:
        repo.add_timeline(s, case.id, "ticket.solved", actor, at, {"ticket_id": change.ticket_id, "from": before})
        case.status, case.resolved_at, case.updated_at = RESOLVED, at, at
        outcome.kb_cases.append(case.id)
        return "applied"
    if to in zd.OPEN_STATES and before in zd.SOLVED_STATES:
        repo.add_timeline(s, case.id, "ticket.reopened", actor, at,
                          {"ticket_id": change.ticket_id, "from": before, "to": to})
        # Back to the humans; escalated_at, acknowledged_at, first_response_at stay as they were.
        case.status, case.updated_at = ESCALATED, at
        return "applied"
    return "status_recorded"


def _apply_assignee(s: Session, case: CaseRow, state: TicketStateRow, change: zd.TicketChange, at: datetime) -> str:
    if state.assignee_at is not None and at < state.assignee_at:
        return "stale"
    if change.assignee_id == state.assignee_id:
        return "unchanged"
    state.assignee_id, state.assignee_at = change.assignee_id, at
    actor = _actor(change.actor_id)
    repo.add_timeline(s, case.id, "ticket.assignee", actor, at,
                      {"ticket_id": change.ticket_id, "assignee_id": change.assignee_id})
    if change.assignee_id and case.acknowledged_at is None:
        # Someone took the ticket in Zendesk before anyone pressed "take" in Slack: that is the
        # acknowledgement. Compare-and-set, so a Slack take racing with it wins or loses cleanly.
        # Events arrive in any order: an assignment that reaches us after a solve is the take too
        # (Zendesk solves only assigned tickets); the case stays resolved.
        took = s.execute(
            update(CaseRow)
            .where(CaseRow.id == case.id, CaseRow.acknowledged_at.is_(None), CaseRow.status == ESCALATED)
            .values(status=ACKNOWLEDGED, acknowledged_at=at, updated_at=at)
            .execution_options(synchronize_session="fetch")
        ).rowcount or s.execute(
            update(CaseRow)
            .where(CaseRow.id == case.id, CaseRow.acknowledged_at.is_(None), CaseRow.status == RESOLVED)
            .values(acknowledged_at=at, updated_at=at)
            .execution_options(synchronize_session="fetch")
        ).rowcount
        if took:
            repo.add_timeline(s, case.id, "case.acknowledged", actor, at,
                              {"owner": case.owner, "via": "zendesk", "zendesk_user": change.assignee_id})
    return "applied"


# --- reconciler ----------------------------------------------------------------------------------

def reconcile_ticket(case_id: str, rt: Runtime | None = None, source: TicketSource | None = None) -> str:
    """Poll one live bridge ticket and apply what its webhooks may have missed
    (``bridge.loop_reconcile``; the job keeps this name)."""
    from bridge import loop_reconcile

    return loop_reconcile.reconcile_ticket(case_id, rt, source)

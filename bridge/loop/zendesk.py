"""Apply Zendesk ticket changes to cases (``docs/timeline.md``).

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

from collections.abc import Sequence
from datetime import datetime

from bridge.adapters.vendor.changes import Change, Comment, Snapshot, TicketChange
from bridge.events import Event
from bridge.loop import replies
from bridge.loop.outcome import Outcome
from bridge.pipeline.redact import Redactor
from bridge.runtime import Runtime
from bridge.store import loop_repo, loop_state, ownership_repo, repo
from bridge.store.db import Session
from bridge.store.models import CaseRow, TicketStateRow

MAX_SEEN_COMMENTS = 500
MAX_REPLIES, MAX_REPLY_CHARS = 10, 2000


def apply_zendesk(rt: Runtime, s: Session, parsed: Sequence[Change]) -> Outcome:
    """Apply one delivery: ticket changes, or a snapshot diffed against what was applied."""
    changes = [c for c in parsed if isinstance(c, TicketChange)]
    snapshot = next((c for c in parsed if isinstance(c, Snapshot)), None)
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
        changes = replies.diff(snapshot, state.status, state.assignee_id, state.csat, state.comment_ids or [])
    outcome = Outcome()
    for change in changes:
        outcome.results.append(apply_change(rt, s, case, state, change, outcome))
    loop_state.touch_state(state, rt.clock())
    return outcome


def _actor(user: str | None) -> str:
    return f"zendesk:{user or 'unknown'}"


def apply_change(
    rt: Runtime, s: Session, case: CaseRow, state: TicketStateRow, change: TicketChange, outcome: Outcome
) -> str:
    own = replies.bridge_user(rt.settings)
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
                loop_state.hold_csat(state, at)  # the rating holds as of this later time (as for a status)
            return "unchanged"  # the same rating seen again (a trigger, then the audit that logged it)
        loop_state.set_csat(state, change.score, change.csat_comment, at)
        repo.add_timeline(s, case.id, "csat.rated", _actor(change.actor_id), at,
                          {"score": change.score, "comment": change.csat_comment or "", "ticket_id": change.ticket_id})
        return "applied"
    return "unsupported_change"


def _apply_comment(rt: Runtime, s: Session, case: CaseRow, state: TicketStateRow, comment: Comment,
                   at: datetime) -> str:
    if not loop_state.remember_comment(state, comment.id, MAX_SEEN_COMMENTS):
        return "duplicate"
    if comment.author_id is not None and comment.author_id == replies.bridge_user(rt.settings):
        return "own_change"
    if not replies.is_human_reply(comment, rt.settings):
        return "not_human"
    at = comment.at or at
    holding = replies.is_holding(comment, rt.settings)
    event = Event.from_json(case.event) if case.event else None
    reasked = replies.reasked(comment, event)
    repo.add_timeline(s, case.id, "agent.replied", _actor(comment.author_id), at, {
        "ticket_id": state.ticket_id, "author_id": comment.author_id, "holding": holding,
        "comment_id": comment.id, "reasked": reasked,
    })
    if not holding:
        loop_state.first_response(case, at)
        redactor = Redactor()
        if event and event.customer:
            redactor.add_known(event.customer.name, "NAME")
            redactor.add_known(event.customer.email, "EMAIL")
        reply = {"id": comment.id, "at": at.isoformat(), "text": redactor.redact(comment.body[:MAX_REPLY_CHARS])}
        loop_state.add_reply(state, reply, MAX_REPLIES)
    loop_state.touch_case(case, rt.clock())
    return "applied"


def _apply_status(s: Session, case: CaseRow, state: TicketStateRow, change: TicketChange, at: datetime,
                  outcome: Outcome) -> str:
    if state.status_at is not None and at < state.status_at:
        return "stale"
    to = change.status_to
    before = state.status or change.status_from
    if not to or to == state.status:
        if to and (state.status_at is None or at > state.status_at):
            loop_state.hold_status(state, at)
        return "unchanged"
    loop_state.set_status(state, to, at)
    actor = _actor(change.actor_id)
    if to in replies.SOLVED_STATES and before not in replies.SOLVED_STATES:
        repo.add_timeline(s, case.id, "ticket.solved", actor, at, {"ticket_id": change.ticket_id, "from": before})
        loop_state.solved(case, at)
        outcome.kb_cases.append(case.id)
        return "applied"
    if to in replies.OPEN_STATES and before in replies.SOLVED_STATES:
        repo.add_timeline(s, case.id, "ticket.reopened", actor, at,
                          {"ticket_id": change.ticket_id, "from": before, "to": to})
        loop_state.reopened(case, at)
        return "applied"
    return "status_recorded"


def _apply_assignee(s: Session, case: CaseRow, state: TicketStateRow, change: TicketChange, at: datetime) -> str:
    if state.assignee_at is not None and at < state.assignee_at:
        return "stale"
    if change.assignee_id == state.assignee_id:
        return "unchanged"
    loop_state.set_assignee(state, change.assignee_id, at)
    actor = _actor(change.actor_id)
    repo.add_timeline(s, case.id, "ticket.assignee", actor, at,
                      {"ticket_id": change.ticket_id, "assignee_id": change.assignee_id})
    # Someone took the ticket in Zendesk before anyone pressed "take" in Slack: that is the
    # acknowledgement. Compare-and-set, so a Slack take racing with it wins or loses cleanly.
    # Events arrive in any order: an assignment that reaches us after a solve is the take too
    # (Zendesk solves only assigned tickets); the case stays resolved.
    if change.assignee_id and case.acknowledged_at is None and ownership_repo.acknowledge_case(s, case.id, at):
        repo.add_timeline(s, case.id, "case.acknowledged", actor, at,
                          {"owner": case.owner, "via": "zendesk", "zendesk_user": change.assignee_id})
    return "applied"

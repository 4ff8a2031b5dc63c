"""Row mutations of the loop: the applied state of a Zendesk ticket (``ticket_state``) and of a Jira
issue (``jira_issues``), and the case fields the vendors' changes set. The rows come locked from
``loop_repo.ticket_state`` / ``loop_repo.jira_issue``; nothing here commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bridge.store.models import ESCALATED, RESOLVED, CaseRow, JiraIssueRow, TicketStateRow

# --- ticket state ------------------------------------------------------------------------------


def remember_comment(state: TicketStateRow, comment_id: str, keep: int) -> bool:
    """Record a comment id as seen (the last ``keep``); False when it was seen before."""
    seen = list(state.comment_ids or [])
    if comment_id in seen:
        return False
    state.comment_ids = (seen + [comment_id])[-keep:]
    return True


def add_reply(state: TicketStateRow, reply: dict[str, Any], keep: int) -> None:
    state.replies = (list(state.replies or []) + [reply])[-keep:]


def set_status(state: TicketStateRow, status: str, at: datetime) -> None:
    state.status, state.status_at = status, at


def set_assignee(state: TicketStateRow, assignee_id: str | None, at: datetime) -> None:
    state.assignee_id, state.assignee_at = assignee_id, at


def set_csat(state: TicketStateRow, score: str | None, comment: str | None, at: datetime) -> None:
    state.csat, state.csat_comment, state.csat_at = score, comment, at


def hold_status(state: TicketStateRow, at: datetime) -> None:
    """The stored status still holds as of this later time: an older change is stale."""
    state.status_at = at


def hold_csat(state: TicketStateRow, at: datetime) -> None:
    state.csat_at = at


def touch_state(state: TicketStateRow, now: datetime) -> None:
    state.updated_at = now


def schedule_reconcile(state: TicketStateRow, at: datetime) -> None:
    state.next_reconcile_at = at


def reconciled(state: TicketStateRow, audit: tuple[str, str | None] | None, now: datetime) -> None:
    """A poll applied its audits: the cursor moves to ``audit`` (id, page) when given."""
    if audit is not None:
        state.audit_id, state.audit_page = audit
    state.reconciled_at = state.updated_at = now


# --- the case ----------------------------------------------------------------------------------

def first_response(case: CaseRow, at: datetime) -> None:
    """A useful human reply at ``at``: an older reply arriving late still wins (out of order)."""
    if case.first_response_at is None or at < case.first_response_at:
        case.first_response_at = at


def touch_case(case: CaseRow, now: datetime) -> None:
    case.updated_at = now


def solved(case: CaseRow, at: datetime) -> None:
    case.status, case.resolved_at, case.updated_at = RESOLVED, at, at


def reopened(case: CaseRow, at: datetime) -> None:
    """Back to the humans; escalated_at, acknowledged_at, first_response_at stay as they were."""
    case.status, case.updated_at = ESCALATED, at


# --- Jira issues -------------------------------------------------------------------------------

def set_fix_versions(issue: JiraIssueRow, versions: list[dict[str, str]], now: datetime) -> None:
    issue.fix_versions, issue.updated_at = versions, now


def resolve_issue(issue: JiraIssueRow, resolution: str | None, at: datetime | None) -> None:
    """Resolved as Jira says; ``None, None`` when reopened in Jira (a later resolve counts again)."""
    issue.resolution, issue.resolved_at = resolution, at


def mark_released(issue: JiraIssueRow, version: str) -> bool:
    """Record a version as announced for this issue once; False when it already was."""
    if version in (issue.released or []):
        return False
    issue.released = [*(issue.released or []), version]
    return True

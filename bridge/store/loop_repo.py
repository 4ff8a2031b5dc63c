"""Repository functions for closing the loop: vendor events, ticket state, Jira issues, KB
suggestions, case notes and the CSAT baseline. Claims follow ``repo``: compare-and-set with a lease."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bridge.store.models import (
    ACKNOWLEDGED,
    APPROVED,
    DEAD,
    DRAFTED,
    ESCALATED,
    IGNORED,
    KB_DONE,
    NOTE_UPDATE,
    PROCESSED,
    RECEIVED,
    RESOLVED,
    CaseNoteRow,
    CaseRow,
    CsatSampleRow,
    JiraIssueRow,
    JiraVersionRow,
    KbSuggestionRow,
    TicketStateRow,
    VendorEventRow,
)
from bridge.store.repo import MAX_ERROR, MAX_RETRY_AFTER, _insert

# A bridge ticket is polled while it can still change what the metrics see: open, or solved less
# than this long ago (Zendesk accepts CSAT for 28 days after solve; reopens count for 7).
RECONCILE_WINDOW = timedelta(days=28)
RECONCILE_EVERY = timedelta(minutes=15)
ZENDESK_TICKET = "zendesk.ticket"
JIRA_BUG = "jira.bug"


# --- vendor events ---------------------------------------------------------------------------

def insert_vendor_event(session: Session, values: dict[str, Any]) -> tuple[int, bool]:
    """Store a delivery; returns (id, duplicate). A repeat of (source, delivery_id) changes nothing."""
    stmt = (
        _insert(session, VendorEventRow, values)
        .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
        .returning(VendorEventRow.id)
    )
    row = session.execute(stmt).first()
    if row is not None:
        return int(row[0]), False
    existing = session.scalars(
        select(VendorEventRow.id).where(
            VendorEventRow.source == values["source"], VendorEventRow.delivery_id == values["delivery_id"]
        )
    ).one()
    return int(existing), True


def _free(now: datetime) -> Any:
    return or_(VendorEventRow.claimed_until.is_(None), VendorEventRow.claimed_until < now)


def claim_vendor_event(session: Session, ident: int, now: datetime, lease: int) -> bool:
    stmt = (
        update(VendorEventRow)
        .where(VendorEventRow.id == ident, VendorEventRow.state == RECEIVED, _free(now))
        .values(claimed_until=now + timedelta(seconds=lease), attempts=VendorEventRow.attempts + 1, updated_at=now)
    )
    return bool(session.execute(stmt).rowcount)


def due_vendor_events(session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Longest due first, read off ``(state, next_attempt_at)``: ordered by id, PostgreSQL walked the
    primary key past every processed event to reach the few live ones, the newest (as ``due_inbox``)."""
    stmt = (
        select(VendorEventRow.id)
        .where(VendorEventRow.state == RECEIVED, VendorEventRow.next_attempt_at <= now, _free(now))
        .order_by(VendorEventRow.next_attempt_at, VendorEventRow.id)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(stmt)]


def stale_vendor_events(
    session: Session, older_than: datetime, now: datetime, limit: int = 500
) -> list[tuple[int, int]]:
    stmt = (
        select(VendorEventRow.id, VendorEventRow.attempts)
        .where(VendorEventRow.state == RECEIVED, VendorEventRow.next_attempt_at <= older_than, _free(now))
        .order_by(VendorEventRow.id + 0)  # arrival order, without inviting a walk of the primary key
        .limit(limit)
    )
    return [(int(i), int(a)) for i, a in session.execute(stmt)]


def fail_vendor_event(
    row: VendorEventRow, error: str, now: datetime, intervals: Sequence[int], permanent: bool,
    retry_after: float | None = None,
) -> bool:
    """Record a failed attempt; True when the row is now dead (same policy as ``repo.fail``)."""
    row.last_error, row.claimed_until, row.updated_at = error[:MAX_ERROR], None, now
    if permanent or row.attempts > len(intervals):
        row.state = DEAD
        return True
    delay = max(float(intervals[row.attempts - 1]), min(retry_after or 0.0, MAX_RETRY_AFTER))
    row.next_attempt_at = now + timedelta(seconds=delay)
    return False


def get_vendor_event(session: Session, ident: int) -> VendorEventRow | None:
    return session.get(VendorEventRow, ident)


def settle_vendor_event(session: Session, ident: int, applied: bool, result: str, now: datetime) -> None:
    """A delivery applied (``processed``) or judged to change nothing (``ignored``), with its result."""
    row = session.get(VendorEventRow, ident)
    assert row is not None
    row.state = PROCESSED if applied else IGNORED
    row.result, row.claimed_until, row.last_error, row.updated_at = result, None, None, now


def fail_vendor_event_id(
    session: Session, ident: int, error: str, now: datetime, intervals: Sequence[int], permanent: bool,
    retry_after: float | None = None,
) -> tuple[bool, datetime, int]:
    """``fail_vendor_event`` on the row ``ident``: (dead, its next attempt, attempts so far)."""
    row = session.get(VendorEventRow, ident)
    assert row is not None
    dead = fail_vendor_event(row, error, now, intervals, permanent, retry_after)
    return dead, row.next_attempt_at, row.attempts


def revive_vendor_event(session: Session, ident: int, now: datetime) -> bool:
    stmt = (
        update(VendorEventRow)
        .where(VendorEventRow.id == ident, VendorEventRow.state == DEAD)
        .values(state=RECEIVED, attempts=0, next_attempt_at=now, claimed_until=None, updated_at=now)
    )
    return bool(session.execute(stmt).rowcount)


# --- cases by vendor reference -----------------------------------------------------------------

def case_for_ticket(session: Session, ticket_id: str | None, external_id: str | None) -> CaseRow | None:
    """The bridge case of a Zendesk ticket: its external_id is the case id (set at creation);
    otherwise the ticket id we recorded when the ticket was created."""
    if external_id:
        case = session.get(CaseRow, external_id)
        if case is not None:
            return case
    if not ticket_id:
        return None
    state = session.scalars(select(TicketStateRow).where(TicketStateRow.ticket_id == ticket_id)).first()
    if state is not None:
        return session.get(CaseRow, state.case_id)
    stmt = select(CaseRow).where(CaseRow.refs[ZENDESK_TICKET].as_string() == ticket_id)
    return session.scalars(stmt).first()


def cases_for_issue(session: Session, key: str) -> list[CaseRow]:
    """Every case whose Jira bug is this issue (several tickets may link to one bug)."""
    stmt = select(CaseRow).where(CaseRow.refs[JIRA_BUG].as_string() == key).order_by(CaseRow.created_at)
    return list(session.scalars(stmt))


def ticket_state(session: Session, case: CaseRow, ticket_id: str, now: datetime) -> TicketStateRow:
    """The ticket's applied state, row-locked until commit and read fresh (PostgreSQL): two
    deliveries about one ticket apply one after the other, the second seeing what the first wrote.
    Created when missing without racing a concurrent creator (insert-or-nothing, then read)."""
    values = dict(case_id=case.id, ticket_id=ticket_id, comment_ids=[], replies=[], updated_at=now)
    session.execute(_insert(session, TicketStateRow, values).on_conflict_do_nothing(index_elements=["case_id"]))
    return session.scalars(select(TicketStateRow).where(TicketStateRow.case_id == case.id).with_for_update()
                           .execution_options(populate_existing=True)).one()


def ticket_state_of(session: Session, case_id: str) -> TicketStateRow | None:
    """The ticket's applied state as it is, unlocked (None before any event or poll)."""
    return session.get(TicketStateRow, case_id)


def mark_reconciled(session: Session, case_id: str, now: datetime) -> None:
    state = session.get(TicketStateRow, case_id)
    if state is not None:
        state.reconciled_at = now


def detach(session: Session, row: Any) -> None:
    """Keep a row readable after its session closes (its attributes as loaded)."""
    session.expunge(row)


# --- reconciler ------------------------------------------------------------------------------

def _reconcilable(now: datetime) -> Any:
    live_ticket = CaseRow.refs[ZENDESK_TICKET].as_string()
    return (
        select(CaseRow.id)
        .outerjoin(TicketStateRow, TicketStateRow.case_id == CaseRow.id)
        .where(live_ticket.is_not(None), ~live_ticket.startswith("dry-run:"))
        .where(or_(CaseRow.status.in_((ESCALATED, ACKNOWLEDGED)),
                   (CaseRow.status == RESOLVED) & (CaseRow.resolved_at >= now - RECONCILE_WINDOW)))
    )


def due_reconciles(session: Session, now: datetime, limit: int = 50) -> list[str]:
    """Live bridge tickets whose events may have been missed: polled every RECONCILE_EVERY."""
    stmt = _reconcilable(now).where(
        or_(TicketStateRow.next_reconcile_at <= now,
            TicketStateRow.next_reconcile_at.is_(None) & (CaseRow.escalated_at <= now - RECONCILE_EVERY))
    )
    return list(session.scalars(stmt.order_by(CaseRow.escalated_at).limit(limit)))


def stale_reconciles(
    session: Session, older_than: datetime, now: datetime, limit: int = 200
) -> list[tuple[str, int]]:
    stmt = _reconcilable(now).where(
        or_(TicketStateRow.next_reconcile_at <= older_than,
            TicketStateRow.next_reconcile_at.is_(None) & (CaseRow.escalated_at <= older_than - RECONCILE_EVERY))
    )
    return [(case_id, 0) for case_id in session.scalars(stmt.limit(limit))]  # one job id: no attempts


# --- Jira issues -----------------------------------------------------------------------------

def jira_issue(session: Session, key: str, now: datetime) -> JiraIssueRow:
    """The issue's applied state, row-locked and read fresh like ``ticket_state``."""
    values = dict(key=key, fix_versions=[], released=[], updated_at=now)
    session.execute(_insert(session, JiraIssueRow, values).on_conflict_do_nothing(index_elements=["key"]))
    return session.scalars(select(JiraIssueRow).where(JiraIssueRow.key == key).with_for_update()
                           .execution_options(populate_existing=True)).one()


def issues_with_version(session: Session, version_id: str, version_name: str) -> list[JiraIssueRow]:
    """Issues whose stored fix versions include this one (JSON filtered in Python: few rows)."""
    rows = session.scalars(select(JiraIssueRow))
    return [r for r in rows if any(str(v.get("id")) == version_id or (version_name and v.get("name") == version_name)
                                    for v in r.fix_versions or [])]


def record_release(session: Session, version_id: str, name: str, at: datetime) -> None:
    """Remember a released version (once; a repeated announcement keeps the first time)."""
    values = dict(version_id=version_id[:100], name=name[:200], released_at=at)
    session.execute(_insert(session, JiraVersionRow, values).on_conflict_do_nothing(index_elements=["version_id"]))


def released_versions(session: Session, versions: Sequence[dict[str, str]]) -> dict[str, datetime]:
    """Of these ``{"id", "name"}`` versions, the ones announced as released: id (else name) → when."""
    wanted = {v.get("id") or v.get("name") or "" for v in versions} - {""}
    names = {v.get("name") or "" for v in versions} - {""}
    if not wanted and not names:
        return {}
    rows = session.scalars(select(JiraVersionRow).where(
        or_(JiraVersionRow.version_id.in_(wanted | names), JiraVersionRow.name.in_(names))))
    found: dict[str, datetime] = {}
    for row in rows:
        for v in versions:
            if row.version_id in (v.get("id"), v.get("name")) or (row.name and row.name == v.get("name")):
                found[v.get("id") or v.get("name") or ""] = row.released_at
    return found


# --- notes -----------------------------------------------------------------------------------

def add_note(
    session: Session, case_id: str, kind: str, reason: str, text: str, status: str, now: datetime
) -> int | None:
    """Record a note once per (case, kind, reason): its id, or None when it was already there."""
    values = dict(case_id=case_id, kind=kind, reason=reason, text=text, status=status, created_at=now, updated_at=now)
    stmt = (
        _insert(session, CaseNoteRow, values)
        .on_conflict_do_nothing(index_elements=["case_id", "kind", "reason"])
        .returning(CaseNoteRow.id)
    )
    row = session.execute(stmt).first()
    return int(row[0]) if row else None


def notes_of(session: Session, case_id: str) -> list[CaseNoteRow]:
    return list(session.scalars(select(CaseNoteRow).where(CaseNoteRow.case_id == case_id).order_by(CaseNoteRow.id)))


def approve_draft(session: Session, note_id: int, by: str, now: datetime) -> CaseNoteRow | None:
    """Approve a drafted customer update once (compare-and-set); None when unknown or approved already."""
    took = session.execute(
        update(CaseNoteRow)
        .where(CaseNoteRow.id == note_id, CaseNoteRow.kind == NOTE_UPDATE, CaseNoteRow.status == DRAFTED)
        .values(status=APPROVED, by=by, updated_at=now)
    ).rowcount
    return session.get(CaseNoteRow, note_id) if took else None


# --- KB suggestions --------------------------------------------------------------------------

def insert_suggestion(session: Session, values: dict[str, Any]) -> int | None:
    stmt = (
        _insert(session, KbSuggestionRow, values)
        .on_conflict_do_nothing(index_elements=["case_id"])
        .returning(KbSuggestionRow.id)
    )
    row = session.execute(stmt).first()
    return int(row[0]) if row else None


def suggestions(session: Session, status: str | None = None) -> list[KbSuggestionRow]:
    stmt = select(KbSuggestionRow).order_by(KbSuggestionRow.id)
    if status:
        stmt = stmt.where(KbSuggestionRow.status == status)
    return list(session.scalars(stmt))


def suggestion_for_case(session: Session, case_id: str) -> KbSuggestionRow | None:
    return session.scalars(select(KbSuggestionRow).where(KbSuggestionRow.case_id == case_id)).first()


def mark_suggestion_done(
    session: Session, ident: int, by: str, url: str | None, now: datetime
) -> KbSuggestionRow | None:
    """The KB change is made; the suggestion, or None when it is unknown or already done."""
    row = session.get(KbSuggestionRow, ident)
    if row is None or row.status == KB_DONE:
        return None
    row.status, row.done_at, row.done_by, row.kb_url = KB_DONE, now, by, url or row.kb_url
    return row


# --- CSAT baseline ---------------------------------------------------------------------------

def record_csat_sample(session: Session, ticket_id: str, score: str, at: datetime) -> None:
    """The latest rating of a non-bridge ticket (a customer may change it; the newest wins)."""
    row = session.get(CsatSampleRow, ticket_id)
    if row is None:
        session.add(CsatSampleRow(ticket_id=ticket_id, score=score, rated_at=at))
    elif at >= row.rated_at:
        row.score, row.rated_at = score, at


def csat_baseline(session: Session, since: datetime, until: datetime) -> tuple[int, int]:
    """(good, bad) ratings of non-bridge tickets rated in [since, until)."""
    rows = session.execute(
        select(CsatSampleRow.score, func.count())
        .where(CsatSampleRow.rated_at >= since, CsatSampleRow.rated_at < until)
        .group_by(CsatSampleRow.score)
    )
    counts = {score: int(n) for score, n in rows}
    return counts.get("good", 0), counts.get("bad", 0)

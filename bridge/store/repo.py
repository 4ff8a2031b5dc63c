"""Repository functions: every read and write the jobs, views and CLI make goes through here.

Claims are compare-and-set updates with a lease, so two workers (or an orphaned RQ work horse and
its retry) never run the same inbox row or delivery at the same time.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from bridge.store.models import (
    ACKNOWLEDGED,
    CLOSED,
    DEAD,
    DONE,
    ESCALATED,
    OPEN,
    PENDING,
    PROCESSED,
    RECEIVED,
    CaseRow,
    DeliveryRow,
    InboxRow,
    TimelineRow,
)

MAX_ERROR = 2000


def _insert(session: Session, model: type, values: dict[str, Any]) -> Any:
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(model).values(**values)


_INBOX_INSERT: dict[str, Any] = {}


def insert_inbox(session: Session, values: dict[str, Any]) -> bool:
    """Insert an accepted delivery; False when its key is already stored (a duplicate).

    The request path: a Core statement built once per dialect and run with parameters, which skips
    the ORM's per-call statement building. RETURNING, not rowcount: drivers disagree on rowcount
    for ON CONFLICT DO NOTHING.
    """
    dialect = session.get_bind().dialect.name
    stmt = _INBOX_INSERT.get(dialect)
    if stmt is None:
        builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = InboxRow.__table__
        stmt = builder(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)
        _INBOX_INSERT[dialect] = stmt
    return session.execute(stmt, values).first() is not None


def get_inbox(session: Session, key: str) -> InboxRow | None:
    return session.scalars(select(InboxRow).where(InboxRow.key == key)).first()


def inbox_rows(session: Session, keys: list[str]) -> list[InboxRow]:
    """These rows, in arrival order."""
    return list(session.scalars(select(InboxRow).where(InboxRow.key.in_(keys)).order_by(InboxRow.id)))


def _free(model: Any, now: datetime) -> Any:
    return or_(model.claimed_until.is_(None), model.claimed_until < now)


def claim_inbox(session: Session, key: str, now: datetime, lease: int) -> bool:
    """Take the row for one attempt (counts the attempt even if the worker then dies)."""
    stmt = (
        update(InboxRow)
        .where(InboxRow.key == key, InboxRow.state == RECEIVED, _free(InboxRow, now))
        .values(claimed_until=now + timedelta(seconds=lease), attempts=InboxRow.attempts + 1, updated_at=now)
    )
    return bool(session.execute(stmt).rowcount)


_CLAIM_DELIVERY = (
    update(DeliveryRow)
    .where(DeliveryRow.id == bindparam("delivery_id"), DeliveryRow.status == PENDING,
           or_(DeliveryRow.claimed_until.is_(None), DeliveryRow.claimed_until < bindparam("now")))
    .values(claimed_until=bindparam("until"), attempts=DeliveryRow.attempts + 1, updated_at=bindparam("now"))
)  # built once: one claim per delivery attempt


def claim_delivery(session: Session, delivery_id: int, now: datetime, lease: int) -> bool:
    params = {"delivery_id": delivery_id, "now": now, "until": now + timedelta(seconds=lease)}
    return bool(session.execute(_CLAIM_DELIVERY, params).rowcount)


@dataclass(frozen=True)
class Failure:
    dead: bool
    attempts: int
    retry_in: float | None


MAX_RETRY_AFTER = 6 * 3600  # a vendor asking for more than this gets this


def fail(
    row: InboxRow | DeliveryRow,
    error: str,
    now: datetime,
    intervals: Sequence[int],
    permanent: bool,
    retry_after: float | None = None,
) -> Failure:
    """Record a failed attempt: schedule the next one, or mark the row dead when none is left.

    The next attempt waits for the backoff interval or the vendor's Retry-After, whichever is longer.
    """
    row.last_error = error[:MAX_ERROR]
    row.claimed_until = None
    row.updated_at = now
    if isinstance(row, InboxRow):
        row.batch = None  # its retry is a job of its own
    if permanent or row.attempts > len(intervals):
        if isinstance(row, InboxRow):
            row.state = DEAD
        else:
            row.status = DEAD
        return Failure(True, row.attempts, None)
    delay = max(float(intervals[row.attempts - 1]), min(retry_after or 0.0, MAX_RETRY_AFTER))
    row.next_attempt_at = now + timedelta(seconds=delay)
    return Failure(False, row.attempts, delay)


def take_for_dispatch(session: Session, now: datetime, limit: int = 500) -> list[tuple[str, bool, str]]:
    """Atomically take accepted rows never handed to RQ: several dispatchers never take the same row,
    and a row is taken once (``queued_at``); if its job is lost on the way, the sweeper finds it.

    Returns ``(key, urgent, case_id)`` in arrival order: a handoff request, or any event of a case
    already escalated, is urgent; a routine conversation update is not.
    """
    due = (
        select(InboxRow.id)
        .where(InboxRow.state == RECEIVED, InboxRow.queued_at.is_(None), InboxRow.next_attempt_at <= now)
        .order_by(InboxRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(InboxRow)
        .where(InboxRow.id.in_(due.scalar_subquery()))
        .values(queued_at=now)
        .returning(InboxRow.id, InboxRow.key, InboxRow.event_type, InboxRow.case_id)
    )
    taken = sorted(session.execute(stmt), key=lambda row: row[0])  # RETURNING order is not promised
    taken = [(key, kind, case_id) for _, key, kind, case_id in taken]
    cases = {case_id for _, _, case_id in taken}
    escalated = set(session.scalars(
        select(CaseRow.id).where(CaseRow.id.in_(cases), CaseRow.status.not_in((OPEN, CLOSED)))
    )) if cases else set()
    return [(key, kind == "handoff.requested" or case_id in escalated, case_id) for key, kind, case_id in taken]


def waiting_rows(session: Session, case_ids: set[str]) -> list[tuple[str, str, int, str | None]]:
    """Handed-over rows still waiting (``received``, not claimed) of these cases: ``(case_id, key,
    attempts, batch)``. Any job of a case folds every due row of it, so their jobs cover new rows."""
    if not case_ids:
        return []
    # Only (case_id, state) in SQL: the case index then matches more terms than (state, queued_at),
    # so a big backlog of received rows is not read for a handful of cases. The rest is filtered here.
    stmt = select(InboxRow.case_id, InboxRow.key, InboxRow.attempts, InboxRow.batch, InboxRow.queued_at,
                  InboxRow.claimed_until).where(InboxRow.case_id.in_(case_ids), InboxRow.state == RECEIVED)
    return [(c, k, int(a), b) for c, k, a, b, queued, claimed in session.execute(stmt)
            if queued is not None and claimed is None]


def set_batch(session: Session, leader: str, keys: list[str]) -> None:
    session.execute(update(InboxRow).where(InboxRow.key.in_(keys)).values(batch=leader))


def batch_rows(session: Session, leader: str) -> list[tuple[str, str]]:
    """``(key, case_id)`` of the rows a ``process_events`` job carries that still wait, in order."""
    stmt = (select(InboxRow.key, InboxRow.case_id).where(InboxRow.batch == leader, InboxRow.state == RECEIVED)
            .order_by(InboxRow.id))
    return [(k, c) for k, c in session.execute(stmt)]


def job_refs(session: Session, keys: list[str]) -> dict[str, tuple[str, int, str | None]]:
    """Inbox key → ``(case_id, attempts, batch)``: what names its jobs."""
    stmt = select(InboxRow.key, InboxRow.case_id, InboxRow.attempts, InboxRow.batch).where(InboxRow.key.in_(keys))
    return {k: (c, int(a), b) for k, c, a, b in session.execute(stmt)}


def claim_case_inbox(session: Session, key: str, now: datetime, lease: int) -> list[InboxRow]:
    """Claim every accepted row of ``key``'s conversation that is due and free (``key`` included
    when it is), in arrival order: updates of one conversation that waited in the queue are folded
    and judged once, on the newest transcript. One statement; empty when there is nothing to do."""
    case_id = select(InboxRow.case_id).where(InboxRow.key == key).scalar_subquery()
    # next_attempt_at is never NULL: the coalesce only keeps the planner from answering through
    # (state, next_attempt_at), which reads every due row of the whole backlog (SQLite, with no
    # statistics, did), instead of the conversation's rows through (case_id, state).
    due = func.coalesce(InboxRow.next_attempt_at, InboxRow.received_at) <= now
    stmt = (
        update(InboxRow)
        .where(InboxRow.case_id == case_id, InboxRow.state == RECEIVED, due, _free(InboxRow, now))
        .values(claimed_until=now + timedelta(seconds=lease), attempts=InboxRow.attempts + 1, updated_at=now)
        .returning(InboxRow)
    )
    rows = list(session.scalars(stmt))
    return sorted(rows, key=lambda row: row.id)


def inbox_urgent(session: Session, key: str) -> bool:
    """The queue a retry of this row goes to (same rule as the dispatcher)."""
    row = session.execute(
        select(InboxRow.event_type, CaseRow.status).outerjoin(CaseRow, CaseRow.id == InboxRow.case_id)
        .where(InboxRow.key == key)
    ).first()
    return row is not None and (row[0] == "handoff.requested" or row[1] not in (None, OPEN, CLOSED))


def due_inbox(session: Session, now: datetime, limit: int = 100) -> list[str]:
    stmt = (
        select(InboxRow.key)
        .where(InboxRow.state == RECEIVED, InboxRow.next_attempt_at <= now, _free(InboxRow, now))
        .order_by(InboxRow.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _due_deliveries_stmt() -> Any:
    before = aliased(DeliveryRow)
    now = bindparam("now")
    settled = (
        select(before.id)
        .where(before.case_id == DeliveryRow.case_id, before.step == DeliveryRow.after)
        .where(before.status.in_((DONE, DEAD)))
        .exists()
    )
    return select(DeliveryRow.id).where(
        DeliveryRow.status == PENDING,
        DeliveryRow.next_attempt_at <= now,
        or_(DeliveryRow.claimed_until.is_(None), DeliveryRow.claimed_until < now),
        or_(DeliveryRow.after.is_(None), settled),
    ).order_by(DeliveryRow.id).limit(bindparam("limit"))


# Built once: the worker asks after every delivery, and building the statement (not running it)
# was most of the cost.
_DUE_DELIVERIES = _due_deliveries_stmt()
_CASE_STEPS = select(DeliveryRow.id, DeliveryRow.step, DeliveryRow.after, DeliveryRow.status,
                     DeliveryRow.next_attempt_at, DeliveryRow.claimed_until).where(
    DeliveryRow.case_id == bindparam("case_id")).order_by(DeliveryRow.id)


def due_deliveries(session: Session, now: datetime, limit: int = 100, case_id: str | None = None) -> list[int]:
    """Pending deliveries whose time has come and whose prerequisite step is settled."""
    if case_id is None:
        return list(session.scalars(_DUE_DELIVERIES, {"now": now, "limit": limit}))
    # One case has a handful of steps: read them through the case index and decide here. In SQL,
    # with a backlog waiting, SQLite's planner took the (status, next_attempt_at) index and read
    # every due step of every case after each delivery (39 % of a job process's time at 40,000).
    rows = session.execute(_CASE_STEPS, {"case_id": case_id}).all()
    settled = {row.step for row in rows if row.status in (DONE, DEAD)}
    return [row.id for row in rows
            if row.status == PENDING and row.next_attempt_at <= now
            and (row.claimed_until is None or row.claimed_until < now)
            and (row.after is None or row.after in settled)][:limit]


def get_case(session: Session, case_id: str) -> CaseRow | None:
    return session.get(CaseRow, case_id)


def lock_case(session: Session, case_id: str) -> CaseRow | None:
    """The case, row-locked until commit and re-read (PostgreSQL): two jobs folding events into one
    case serialize instead of overwriting each other's transcript. SQLite serializes writers anyway."""
    return session.scalars(select(CaseRow).where(CaseRow.id == case_id).with_for_update()
                           .execution_options(populate_existing=True)).first()  # as committed, not as cached


def delete_old_inbox(session: Session, cutoff: datetime, limit: int = 5000) -> int:
    """Delete up to ``limit`` processed inbox rows received before ``cutoff`` (past the dedupe
    window): the inbox is the sender's dedupe memory, not an archive; the case and its timeline keep
    the story. Dead rows stay for ``bridge dlq``; rows of cases a human is working on stay too."""
    held = select(CaseRow.id).where(CaseRow.status.in_((ESCALATED, ACKNOWLEDGED)))
    ids = select(InboxRow.id).where(InboxRow.state == PROCESSED, InboxRow.received_at < cutoff,
                                    InboxRow.case_id.not_in(held)).limit(limit)
    doomed = list(session.scalars(ids))
    if doomed:
        session.execute(delete(InboxRow).where(InboxRow.id.in_(doomed)))
    return len(doomed)


def lock_routing(session: Session, team: str) -> None:
    """Serialize routing into one team until this transaction ends: two workers escalating at the same
    instant would otherwise both read the same open-case counts and pick the same least-loaded person.
    PostgreSQL: a transaction-scoped advisory lock per team. SQLite: the write lock (a write statement
    that matches no row takes it; SQLite has one writer at a time, so the counts read next are current)."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"bridge.route:{team}".encode()) - 2**31  # a signed 32-bit advisory key
        session.execute(select(func.pg_advisory_xact_lock(ROUTING_LOCK_NS, key)))
    else:
        # A write statement takes SQLite's write lock even when it matches no row.
        session.execute(update(CaseRow).where(false()).values(updated_at=CaseRow.updated_at))


ROUTING_LOCK_NS = 0x5242  # "RB": the bridge's advisory-lock namespace (two-key form)


def open_case_counts(session: Session) -> dict[str, int]:
    """Cases each owner holds right now (escalated or acknowledged), by owner key."""
    stmt = (
        select(CaseRow.owner, func.count())
        .where(CaseRow.status.in_((ESCALATED, ACKNOWLEDGED)), CaseRow.owner.is_not(None))
        .group_by(CaseRow.owner)
    )
    return {owner: int(count) for owner, count in session.execute(stmt)}


def last_assigned(session: Session) -> dict[str, str]:
    """Per team, the owner of its most recently escalated case: where round robin continues."""
    latest = (
        select(CaseRow.team, func.max(CaseRow.escalated_at).label("at"))
        .where(CaseRow.owner.is_not(None), CaseRow.team.is_not(None))
        .group_by(CaseRow.team)
        .subquery()
    )
    stmt = select(CaseRow.team, CaseRow.owner).join(
        latest, and_(CaseRow.team == latest.c.team, CaseRow.escalated_at == latest.c.at)
    )
    return {team: owner for team, owner in session.execute(stmt) if team and owner}


_DELIVERY_INSERT: dict[str, Any] = {}


def ensure_deliveries(
    session: Session, case_id: str, plan: Sequence[tuple[str, str | None, int]], now: datetime
) -> None:
    """Create the planned steps once each: (step, prerequisite step, delay in seconds). One
    statement, built once per dialect, for the whole plan."""
    if not plan:
        return
    dialect = session.get_bind().dialect.name
    stmt = _DELIVERY_INSERT.get(dialect)
    if stmt is None:
        builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = _DELIVERY_INSERT[dialect] = builder(DeliveryRow.__table__).on_conflict_do_nothing(
            index_elements=["case_id", "step"])
    session.execute(stmt, [
        dict(case_id=case_id, step=step, after=after, status=PENDING, attempts=0,
             next_attempt_at=now + timedelta(seconds=delay), created_at=now, updated_at=now, dry_run=False,
             external_id=None, last_error=None, claimed_until=None)
        for step, after, delay in plan
    ])


def deliveries_of(session: Session, case_id: str) -> list[DeliveryRow]:
    return list(session.scalars(select(DeliveryRow).where(DeliveryRow.case_id == case_id).order_by(DeliveryRow.id)))


def refs_of(session: Session, case_id: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Vendor ids of a case's steps: finished ones, and ones whose effect exists although the step
    failed after it (a Jira issue whose attachments failed). Each delivery row owns its own
    ``external_id``, so concurrent steps never overwrite each other's result (as a shared JSON map
    could)."""
    refs = dict(base or {})
    for step, external_id in session.execute(
        select(DeliveryRow.step, DeliveryRow.external_id)
        .where(DeliveryRow.case_id == case_id, DeliveryRow.external_id.is_not(None))
        .order_by(DeliveryRow.status == DONE)  # a finished step's id wins over a failed one's
    ):
        if external_id:
            refs[step] = external_id
    return refs


def merge_refs(session: Session, case_id: str, new: dict[str, Any]) -> None:
    """Fold results into the case's denormalized ``refs`` under a row lock (PostgreSQL); SQLite
    serializes writers and refuses a write from a stale snapshot, which the job retries."""
    case = session.scalars(select(CaseRow).where(CaseRow.id == case_id).with_for_update()
                           .execution_options(populate_existing=True)).one()  # re-read, in one query
    case.refs = {**(case.refs or {}), **new}


def add_timeline(
    session: Session, case_id: str, kind: str, actor: str, now: datetime, detail: dict[str, Any] | None = None
) -> None:
    session.add(TimelineRow(case_id=case_id, at=now, kind=kind, actor=actor, detail=detail or {}))


def timeline_of(session: Session, case_id: str) -> list[TimelineRow]:
    return list(session.scalars(select(TimelineRow).where(TimelineRow.case_id == case_id).order_by(TimelineRow.id)))


def stale_inbox(
    session: Session, older_than: datetime, now: datetime, limit: int = 500, after_id: int = 0
) -> list[tuple[int, str, int]]:
    """Handed-over rows still ``received`` and due a while ago: ``(id, key, attempts)``, for the
    sweeper to ask Redis whether their job is still there (Redis may have been down or flushed)."""
    stmt = (
        select(InboxRow.id, InboxRow.key, InboxRow.attempts)
        .where(InboxRow.state == RECEIVED, InboxRow.queued_at.is_not(None), InboxRow.queued_at <= older_than,
               InboxRow.next_attempt_at <= older_than, _free(InboxRow, now), InboxRow.id > after_id)
        .order_by(InboxRow.id)
        .limit(limit)
    )
    return [(int(i), k, int(a)) for i, k, a in session.execute(stmt)]


def stale_deliveries(session: Session, older_than: datetime, now: datetime, limit: int = 500) -> list[tuple[int, int]]:
    due = set(due_deliveries(session, now, limit))
    stmt = select(DeliveryRow.id, DeliveryRow.attempts).where(
        DeliveryRow.status == PENDING, DeliveryRow.next_attempt_at <= older_than, _free(DeliveryRow, now)
    )
    return [(int(i), int(a)) for i, a in session.execute(stmt.limit(limit)) if i in due]


def dead_letters(session: Session) -> tuple[list[InboxRow], list[DeliveryRow]]:
    inbox = list(session.scalars(select(InboxRow).where(InboxRow.state == DEAD).order_by(InboxRow.id)))
    deliveries = list(session.scalars(select(DeliveryRow).where(DeliveryRow.status == DEAD).order_by(DeliveryRow.id)))
    return inbox, deliveries


def revive_inbox(session: Session, key: str, now: datetime) -> bool:
    stmt = (
        update(InboxRow)
        .where(InboxRow.key == key, InboxRow.state == DEAD)
        .values(state=RECEIVED, attempts=0, next_attempt_at=now, claimed_until=None, updated_at=now,
                queued_at=now, batch=None)  # the replay enqueues it; if that fails, the sweeper does
    )
    return bool(session.execute(stmt).rowcount)


def revive_delivery(session: Session, delivery_id: int, now: datetime) -> bool:
    stmt = (
        update(DeliveryRow)
        .where(and_(DeliveryRow.id == delivery_id, DeliveryRow.status == DEAD))
        .values(status=PENDING, attempts=0, next_attempt_at=now, claimed_until=None, updated_at=now)
    )
    return bool(session.execute(stmt).rowcount)


def earlier_tickets(session: Session, case: CaseRow, limit: int = 5) -> list[str]:
    """Zendesk tickets of the same customer's earlier cases (by e-mail or platform customer id)."""
    who = [c for c in (CaseRow.customer_email == case.customer_email if case.customer_email else None,
                       CaseRow.customer_id == case.customer_id if case.customer_id else None) if c is not None]
    if not who:
        return []
    stmt = (select(CaseRow.refs).where(CaseRow.id != case.id, or_(*who), CaseRow.created_at < case.created_at)
            .order_by(CaseRow.created_at.desc()).limit(limit))
    found = []
    for refs in session.scalars(stmt):
        ticket = str((refs or {}).get("zendesk.ticket") or "")
        if ticket.isdigit() and ticket not in found:
            found.append(ticket)
    return found

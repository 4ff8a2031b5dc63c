"""The inbox: accepted events, their claims, the dispatcher's and the sweeper's reads, dedupe purge."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bridge.store.attempts import free
from bridge.store.intake_rows import insert_all, insert_inbox  # noqa: F401 - the repo's names for them
from bridge.store.models import (
    ACKNOWLEDGED,
    CLOSED,
    DEAD,
    ESCALATED,
    OPEN,
    PROCESSED,
    RECEIVED,
    CaseRow,
    InboxRow,
)


def get_inbox(session: Session, key: str) -> InboxRow | None:
    return session.scalars(select(InboxRow).where(InboxRow.key == key)).first()


def inbox_rows(session: Session, keys: list[str]) -> list[InboxRow]:
    """These rows, in arrival order."""
    return list(session.scalars(select(InboxRow).where(InboxRow.key.in_(keys)).order_by(InboxRow.id)))


def claim_inbox(session: Session, key: str, now: datetime, lease: int) -> bool:
    """Take the row for one attempt (counts the attempt even if the worker then dies)."""
    stmt = (
        update(InboxRow)
        .where(InboxRow.key == key, InboxRow.state == RECEIVED, free(InboxRow, now))
        .values(claimed_until=now + timedelta(seconds=lease), attempts=InboxRow.attempts + 1, updated_at=now)
    )
    return bool(session.execute(stmt).rowcount)


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
        .where(InboxRow.case_id == case_id, InboxRow.state == RECEIVED, due, free(InboxRow, now))
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
    """Accepted rows due now, longest due first (arrival order among rows due at one instant).

    Ordered by ``(state, next_attempt_at)``'s own order, so the first ``limit`` are read off that
    index. Ordered by ``id``, PostgreSQL walked the primary key from the oldest row, filtering: on an
    inbox of a million processed rows with the due ones at its end that was 0.6-0.8 s per poll."""
    stmt = (
        select(InboxRow.key)
        .where(InboxRow.state == RECEIVED, InboxRow.next_attempt_at <= now, free(InboxRow, now))
        .order_by(InboxRow.next_attempt_at, InboxRow.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


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


def stale_inbox(
    session: Session, older_than: datetime, now: datetime, limit: int = 500, after_id: int = 0
) -> list[tuple[int, str, int]]:
    """Handed-over rows still ``received`` and due a while ago: ``(id, key, attempts)``, for the
    sweeper to ask Redis whether their job is still there (Redis may have been down or flushed)."""
    # Pages go by id, but ``id + 0`` keeps the planner off the primary key: walking it from
    # ``after_id`` while filtering read the whole grown inbox when no row was stale (PostgreSQL, a
    # million processed rows: 0.66 s a sweep). The (state, queued_at, next_attempt_at) index finds
    # the few stale rows; they are sorted after.
    stmt = (
        select(InboxRow.id, InboxRow.key, InboxRow.attempts)
        .where(InboxRow.state == RECEIVED, InboxRow.queued_at.is_not(None), InboxRow.queued_at <= older_than,
               InboxRow.next_attempt_at <= older_than, free(InboxRow, now), InboxRow.id > after_id)
        .order_by(InboxRow.id + 0)
        .limit(limit)
    )
    return [(int(i), k, int(a)) for i, k, a in session.execute(stmt)]


def revive_inbox(session: Session, key: str, now: datetime) -> bool:
    stmt = (
        update(InboxRow)
        .where(InboxRow.key == key, InboxRow.state == DEAD)
        .values(state=RECEIVED, attempts=0, next_attempt_at=now, claimed_until=None, updated_at=now,
                queued_at=now, batch=None)  # the replay enqueues it; if that fails, the sweeper does
    )
    return bool(session.execute(stmt).rowcount)


def mark_processed(rows: Sequence[InboxRow], now: datetime) -> None:
    for row in rows:
        row.state, row.claimed_until, row.last_error, row.updated_at = PROCESSED, None, None, now

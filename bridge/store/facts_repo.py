"""Reads and writes behind the recovery report's per-case cache (``case_facts``).

A cached judgment stays valid while the case's *stamp* is unchanged: the case's own times (any
change to a case moves ``updated_at``; the others are listed because the report reads them), the
count and last id of its report-relevant timeline entries (solves, reopens, ratings, agent
replies: appended, never edited), and its KB suggestion's status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.store.models import CaseFactsRow, CaseRow, KbSuggestionRow, TimelineRow

CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def stamps(session: Session, lower: datetime, kinds: Sequence[str], version: str) -> dict[str, tuple[datetime, str]]:
    """``case id → (created_at, stamp)`` of every case created at or after ``lower``."""
    timeline = {case_id: (count, last) for case_id, count, last in session.execute(
        select(TimelineRow.case_id, func.count(), func.max(TimelineRow.id))
        .join(CaseRow, CaseRow.id == TimelineRow.case_id)
        .where(CaseRow.created_at >= lower, TimelineRow.kind.in_(kinds))
        .group_by(TimelineRow.case_id))}
    kb = {case_id: status for case_id, status in session.execute(
        select(KbSuggestionRow.case_id, KbSuggestionRow.status).join(CaseRow, CaseRow.id == KbSuggestionRow.case_id)
        .where(CaseRow.created_at >= lower))}
    out: dict[str, tuple[datetime, str]] = {}
    for case_id, created, updated, escalated, acked, answered in session.execute(
            select(CaseRow.id, CaseRow.created_at, CaseRow.updated_at, CaseRow.escalated_at,
                   CaseRow.acknowledged_at, CaseRow.first_response_at).where(CaseRow.created_at >= lower)):
        count, last = timeline.get(case_id, (0, 0))
        parts = (version, updated, escalated, acked, answered, count, last, kb.get(case_id))
        out[case_id] = (created, "|".join("" if p is None else str(p) for p in parts))
    return out


def cached(session: Session, lower: datetime) -> dict[str, tuple[str, dict[str, Any]]]:
    """``case id → (stamp, facts)`` of the cached judgments of cases created at or after ``lower``."""
    return {case_id: (stamp, facts) for case_id, stamp, facts in session.execute(
        select(CaseFactsRow.case_id, CaseFactsRow.stamp, CaseFactsRow.facts).where(CaseFactsRow.created_at >= lower))}


def cases_with_history(session: Session, ids: Sequence[str], kinds: Sequence[str]
                       ) -> Iterable[tuple[CaseRow, list[TimelineRow], KbSuggestionRow | None]]:
    """The cases to judge again, each with its report-relevant timeline and KB suggestion."""
    for chunk in _chunks(ids):
        rows = session.scalars(select(TimelineRow).where(TimelineRow.case_id.in_(chunk), TimelineRow.kind.in_(kinds))
                               .order_by(TimelineRow.id))
        timeline: dict[str, list[TimelineRow]] = {}
        for row in rows:
            timeline.setdefault(row.case_id, []).append(row)
        kb = {k.case_id: k for k in session.scalars(select(KbSuggestionRow).where(KbSuggestionRow.case_id.in_(chunk)))}
        for case in session.scalars(select(CaseRow).where(CaseRow.id.in_(chunk))):
            yield case, timeline.get(case.id, []), kb.get(case.id)


def save(session: Session, rows: Sequence[tuple[str, datetime, str, dict[str, Any]]]) -> None:
    """Replace the cached judgments of these cases: in a session of their own (the caller's reads
    are left alone), a transaction per chunk (a report never holds SQLite's write lock for long
    against intake). Two reports saving the same case at once: the last one's row stays."""
    with Session(session.get_bind()) as own:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            own.execute(delete(CaseFactsRow).where(CaseFactsRow.case_id.in_([r[0] for r in chunk])))
            own.add_all(CaseFactsRow(case_id=case_id, created_at=at, stamp=stamp, facts=facts)
                        for case_id, at, stamp, facts in chunk)
            try:
                own.commit()
            except IntegrityError:  # another report cached some of these meanwhile: theirs stand
                own.rollback()

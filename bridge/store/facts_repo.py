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

from sqlalchemy import String, cast, delete, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.store.models import CaseFactsRow, CaseRow, KbSuggestionRow, TimelineRow

CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _text(column: Any) -> Any:
    return func.coalesce(cast(column, String), "")


def judged(session: Session, lower: datetime, kinds: Sequence[str], version: str, upper: datetime | None = None
           ) -> list[tuple[str, datetime, str, Any | None]]:
    """``(case id, created_at, stamp, cached facts or None)`` of every case created in [lower, upper)
    (no upper bound when None); the facts are None when none were cached under this stamp.

    One statement: the stamp is built by the database (its text of each time, which only has to
    compare equal to itself), so a report over 100,000 cases does not convert and join 100,000
    rows of each part in Python."""
    window = [CaseRow.created_at >= lower] + ([CaseRow.created_at < upper] if upper is not None else [])
    timeline = (select(TimelineRow.case_id, func.count().label("n"), func.max(TimelineRow.id).label("last"))
                .join(CaseRow, CaseRow.id == TimelineRow.case_id)
                .where(*window, TimelineRow.kind.in_(kinds))
                .group_by(TimelineRow.case_id).subquery())
    parts = [_text(CaseRow.updated_at), _text(CaseRow.escalated_at), _text(CaseRow.acknowledged_at),
             _text(CaseRow.first_response_at), func.coalesce(cast(timeline.c.n, String), "0"),
             func.coalesce(cast(timeline.c.last, String), "0"), _text(KbSuggestionRow.status)]
    stamp: Any = literal(version)
    for part in parts:
        stamp = stamp.concat("|").concat(part)
    rows = session.execute(
        select(CaseRow.id, CaseRow.created_at, stamp, CaseFactsRow.stamp, CaseFactsRow.facts)
        .outerjoin(timeline, timeline.c.case_id == CaseRow.id)
        .outerjoin(KbSuggestionRow, KbSuggestionRow.case_id == CaseRow.id)
        .outerjoin(CaseFactsRow, CaseFactsRow.case_id == CaseRow.id)
        .where(*window))
    return [(case_id, created, now, facts if now == then else None) for case_id, created, now, then, facts in rows]


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


def save(session: Session, rows: Sequence[tuple[str, datetime, str, Any]]) -> None:
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

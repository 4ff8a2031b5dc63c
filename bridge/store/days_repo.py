"""Reads and writes behind the recovery report's per-day figures (``report_days``).

A day's figures stay valid while the *digests* of the days they depend on are unchanged. A day's
digest sums what the per-case stamps of ``facts_repo`` compare, over the cases started that UTC day:
their count and the sums of their four times (any change to a case moves ``updated_at``), the count
and last id of their report-relevant timeline entries (appended, never edited), and their KB
suggestions and how many are done. Three grouped statements over covering indexes (migration 0015),
so a report over 100,000 cases never reads the case rows (each holds its transcript) to learn
that nothing changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Integer, String, case, cast, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.store.models import KB_DONE, CaseRow, KbSuggestionRow, ReportDayRow, TimelineRow


def _utc_day(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":  # kept as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC
        return func.substr(column, 1, 10, type_=String)
    return cast(cast(func.timezone("UTC", column), Date), String)


def _time_sums(session: Session, column: Any) -> list[Any]:
    """The sum of a time column, exact to the microsecond: the per-case stamps compare the times to
    the microsecond, and so must the digests (SQLite's ``julianday`` keeps milliseconds).

    On SQLite, the whole seconds and the microseconds are summed apart: one sum of epoch microseconds
    passes SQLite's 64-bit integers at ~5,400 cases a day (``integer overflow``: a busy day broke
    every report), while the seconds reach that limit only past 5 billion."""
    if session.get_bind().dialect.name == "sqlite":
        seconds = cast(func.strftime("%s", column), Integer)
        return [func.sum(seconds), func.sum(cast(func.substr(column, 21, 6, type_=String), Integer))]
    return [func.sum(func.extract("epoch", column))]  # numeric, to the microsecond


def digests(session: Session, lower: datetime, kinds: Sequence[str]) -> dict[date, str]:
    """Per UTC day of the cases started at or after ``lower``: a text that changes whenever
    anything the report reads of those cases does."""
    out: dict[str, list[str]] = {}
    day = _utc_day(session, CaseRow.created_at)
    times = [total for c in (CaseRow.updated_at, CaseRow.escalated_at, CaseRow.acknowledged_at,
                             CaseRow.first_response_at) for total in _time_sums(session, c)]
    for row in session.execute(select(day, func.count(), *times).where(CaseRow.created_at >= lower).group_by(day)):
        out.setdefault(row[0], []).append("c" + ",".join(map(str, row[1:])))
    for row in session.execute(
            select(day, func.count(), func.max(TimelineRow.id)).join(CaseRow, CaseRow.id == TimelineRow.case_id)
            .where(CaseRow.created_at >= lower, TimelineRow.kind.in_(kinds)).group_by(day)):
        out.setdefault(row[0], []).append("t" + ",".join(map(str, row[1:])))
    # KB suggestions are few: each looks its case's start up, rather than every case of the window
    # looking for a suggestion (the plan a join gets on SQLite).
    kb = select(select(CaseRow.created_at).where(CaseRow.id == KbSuggestionRow.case_id).scalar_subquery()
                .label("created"), KbSuggestionRow.status).subquery()
    kb_day = _utc_day(session, kb.c.created)
    done = func.sum(case((kb.c.status == KB_DONE, 1), else_=0))
    for row in session.execute(select(kb_day, func.count(), done).where(kb.c.created >= lower).group_by(kb_day)):
        out.setdefault(row[0], []).append("k" + ",".join(map(str, row[1:])))
    return {date.fromisoformat(d): "|".join(parts) for d, parts in out.items()}


def stored(session: Session, scope: str, first: date, last: date) -> dict[date, tuple[str, date, str, Any]]:
    """``day → (version, reach, depends, data)`` of the days kept for ``scope`` in [first, last]."""
    rows = session.execute(select(ReportDayRow.day, ReportDayRow.version, ReportDayRow.reach, ReportDayRow.depends,
                                  ReportDayRow.data)
                           .where(ReportDayRow.scope == scope, ReportDayRow.day >= first, ReportDayRow.day <= last))
    return {day: (version, reach, depends, data) for day, version, reach, depends, data in rows}


def save(session: Session, scope: str, rows: Sequence[tuple[date, str, date, str, Any]]) -> None:
    """Replace these days' figures for ``scope``, in a session of their own (the caller's reads are
    left alone). Two reports saving the same day at once: the last one's row stays."""
    if not rows:
        return
    with Session(session.get_bind()) as own:
        own.execute(delete(ReportDayRow).where(ReportDayRow.version != rows[0][1]))  # kept by older code
        own.execute(delete(ReportDayRow).where(ReportDayRow.scope == scope,
                                               ReportDayRow.day.in_([r[0] for r in rows])))
        own.add_all(ReportDayRow(day=day, scope=scope, version=version, reach=reach, depends=depends, data=data)
                    for day, version, reach, depends, data in rows)
        try:
            own.commit()
        except IntegrityError:  # another report kept some of these meanwhile: theirs stand
            own.rollback()


def forget(session: Session) -> None:
    """Drop every kept day (an erasure changes what a case says without moving its times)."""
    session.execute(delete(ReportDayRow))

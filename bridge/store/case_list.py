"""The reads behind the pages: the case list with its filters and pages, the filter choices, the
count that picks the dashboard's points, and a case's received events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from bridge.store.models import CaseRow, InboxRow

FILTERABLE = ("team", "platform", "owner")


def options(session: Session, column: str) -> list[str]:
    """The values a case column holds (``team``, ``platform``), sorted, at most 200."""
    field = getattr(CaseRow, column)
    values = session.scalars(select(field).where(field.is_not(None)).distinct().order_by(field))
    return [v for v in values if v][:200]


def created_between(session: Session, since: datetime, until: datetime) -> int:
    return int(session.scalar(select(func.count()).select_from(CaseRow).where(
        CaseRow.created_at >= since, CaseRow.created_at < until)) or 0)


def page_of_cases(session: Session, status: str | None, filters: Mapping[str, str], trigger: str | None,
                  page: int, size: int) -> tuple[int, int, list[CaseRow]]:
    """``(total, page, rows)``: escalated cases by default (``status="all"``: every case), newest
    escalation first; a page past the end is the last page."""
    stmt = select(CaseRow)
    if status == "all":
        pass
    elif status:
        stmt = stmt.where(CaseRow.status == status)
    else:
        stmt = stmt.where(CaseRow.escalated_at.is_not(None))
    for name, value in filters.items():
        if name in FILTERABLE:
            stmt = stmt.where(getattr(CaseRow, name) == value)
    if trigger:
        stmt = stmt.where(cast(CaseRow.triggers, String).contains(f'"{trigger}"'))
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    page = min(page, max(1, -(-total // size)))
    order = func.coalesce(CaseRow.escalated_at, CaseRow.created_at).desc()
    rows = list(session.scalars(stmt.order_by(order, CaseRow.id).offset((page - 1) * size).limit(size)))
    return total, page, rows


def received_of(session: Session, case_id: str) -> list[tuple[Any, str, str, bytes]]:
    """``(received_at, event_type, platform, body)`` of the case's inbox rows, in arrival order."""
    stmt = (select(InboxRow.received_at, InboxRow.event_type, InboxRow.platform, InboxRow.body)
            .where(InboxRow.case_id == case_id).order_by(InboxRow.id))
    return [(at, kind, platform, body) for at, kind, platform, body in session.execute(stmt)]

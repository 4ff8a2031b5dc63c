"""Reads behind the operator's commands (``bridge dlq list``, ``bridge replay --all-dead``,
``bridge route --replay``, ``bridge triage --replay``): dead letters of every kind, and the cases a
replay re-decides. Read-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bridge.store import repo
from bridge.store.db import Store
from bridge.store.models import DEAD, CaseRow, DeliveryRow, InboxRow, VendorEventRow


class StoreReadError(Exception):
    """The store could not be read (unreachable, or never created); ``cause`` is the driver's error."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def dead_letters(session: Session) -> tuple[list[InboxRow], list[DeliveryRow], list[VendorEventRow]]:
    """Dead chatbot events, dead delivery steps and dead Zendesk/Jira events, each oldest first."""
    inbox, deliveries = repo.dead_letters(session)
    vendor = list(session.scalars(select(VendorEventRow).where(VendorEventRow.state == DEAD)))
    return inbox, deliveries, vendor


def _detached_cases(store: Store, where: Any) -> list[CaseRow]:
    try:
        with store.session() as session:
            rows = list(session.scalars(select(CaseRow).where(where)))
            session.expunge_all()  # read after the session: a replay only looks at them
    except SQLAlchemyError as exc:
        raise StoreReadError(exc) from exc
    return rows


def cases_escalated_or_created_since(store: Store, cutoff: datetime) -> list[CaseRow]:
    """Cases escalated or created at or after ``cutoff`` (what ``bridge route --replay`` re-routes)."""
    return _detached_cases(store, or_(CaseRow.escalated_at >= cutoff, CaseRow.created_at >= cutoff))


def cases_created_or_updated_since(store: Store, cutoff: datetime) -> list[CaseRow]:
    """Cases created or changed at or after ``cutoff`` (what ``bridge triage --replay`` re-judges)."""
    return _detached_cases(store, or_(CaseRow.created_at >= cutoff, CaseRow.updated_at >= cutoff))

"""Repository functions for one named owner: the compare-and-set writes on a case's owner and
acknowledgement, its route, and numbered instances of repeatable delivery steps."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.store import repo
from bridge.store.models import ACKNOWLEDGED, ESCALATED, PENDING, RESOLVED, CaseRow, DeliveryRow


def fresh_case(session: Session, case_id: str) -> CaseRow | None:
    """The case as stored now: another unit of the same shared commit may have loaded it earlier."""
    return session.get(CaseRow, case_id, populate_existing=True)


def take_case(session: Session, case_id: str, user: str, now: datetime) -> bool:
    """``user`` owns and acknowledges the case if it is escalated and nobody acknowledged it yet
    (one conditional UPDATE: of two simultaneous takes exactly one wins)."""
    won = session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id, CaseRow.status == ESCALATED, CaseRow.acknowledged_at.is_(None))
        .values(owner=user, status=ACKNOWLEDGED, acknowledged_at=now, updated_at=now)
        .returning(CaseRow.id)
    ).first()
    return won is not None


def move_case(session: Session, case_id: str, expected: str | None, target: str | None, now: datetime) -> bool:
    """Give the case to ``target`` if its owner is still ``expected`` (compare-and-set)."""
    moved = session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id, CaseRow.owner.is_(None) if expected is None else CaseRow.owner == expected)
        .values(owner=target, updated_at=now)
        .returning(CaseRow.id)
    ).first()
    return moved is not None


def acknowledge_case(session: Session, case_id: str, at: datetime) -> bool:
    """Acknowledge a case nobody acknowledged yet (compare-and-set): an escalated one becomes
    acknowledged; a resolved one stays resolved and only gets the time."""
    return bool(session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id, CaseRow.acknowledged_at.is_(None), CaseRow.status == ESCALATED)
        .values(status=ACKNOWLEDGED, acknowledged_at=at, updated_at=at)
        .execution_options(synchronize_session="fetch")
    ).rowcount or session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id, CaseRow.acknowledged_at.is_(None), CaseRow.status == RESOLVED)
        .values(acknowledged_at=at, updated_at=at)
        .execution_options(synchronize_session="fetch")
    ).rowcount)


def set_route(case: CaseRow, route: dict[str, Any]) -> None:
    case.route = route


def step_instance(session: Session, case_id: str, step: str, after: str | None, now: datetime, delay: int = 0,
                  payload: dict[str, Any] | None = None) -> str:
    """Create (or, for a named instance such as ``slack.page#2``, find) one instance of a repeatable
    step; returns its step name. A bare ``slack.update`` gets a new instance numbered by its row id,
    which the database makes unique."""
    if "#" in step:
        repo.ensure_deliveries(session, case_id, [(step, after, delay)], now)
        row = session.scalars(select(DeliveryRow).where(DeliveryRow.case_id == case_id,
                                                        DeliveryRow.step == step)).one()
    else:
        row = DeliveryRow(case_id=case_id, step=f"{step}#new-{uuid.uuid4().hex}", after=after, status=PENDING,
                          attempts=0, next_attempt_at=now + timedelta(seconds=delay), created_at=now,
                          updated_at=now, dry_run=False)
        session.add(row)
        session.flush()
        row.step = f"{step}#{row.id}"
    if payload is not None:
        row.payload = payload
    session.flush()
    return row.step

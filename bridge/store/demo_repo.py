"""Reads behind ``bridge seed-demo`` (``bridge.cli.demo``): which events and delivery steps of a
case wait to be run, which step is due next, which customer updates are drafted; and the demo
store's relaxed durability."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, event, select
from sqlalchemy.orm import Session

from bridge.store.db import Store
from bridge.store.models import DRAFTED, NOTE_UPDATE, PENDING, RECEIVED, CaseNoteRow, DeliveryRow, InboxRow


def received_event_keys(session: Session, case_id: str) -> list[str]:
    """The case's accepted events not yet processed, in arrival order."""
    return list(session.scalars(select(InboxRow.key).where(InboxRow.case_id == case_id, InboxRow.state == RECEIVED)
                                .order_by(InboxRow.id)))


def delivery_steps(session: Session, case_id: str) -> Sequence[Row[Any]]:
    """Every delivery step of the case (``id, step, after, status, next_attempt_at``), oldest first."""
    return session.execute(select(DeliveryRow.id, DeliveryRow.step, DeliveryRow.after, DeliveryRow.status,
                                  DeliveryRow.next_attempt_at).where(DeliveryRow.case_id == case_id)
                           .order_by(DeliveryRow.id)).all()


def next_due_delivery(session: Session, until: datetime, tried: Collection[int]) -> Row[Any] | None:
    """The pending step due first at or before ``until`` (``id, case_id, next_attempt_at``), skipping ``tried``."""
    return session.execute(select(DeliveryRow.id, DeliveryRow.case_id, DeliveryRow.next_attempt_at)
                           .where(DeliveryRow.status == PENDING, DeliveryRow.next_attempt_at <= until,
                                  DeliveryRow.id.not_in(tried) if tried else DeliveryRow.id.is_not(None))
                           .order_by(DeliveryRow.next_attempt_at).limit(1)).first()


def drafted_updates(session: Session) -> list[tuple[int, str, datetime]]:
    """``(note id, case id, created_at)`` of every customer update drafted and not yet approved."""
    return [(r.id, r.case_id, r.created_at) for r in session.scalars(
        select(CaseNoteRow).where(CaseNoteRow.kind == NOTE_UPDATE, CaseNoteRow.status == DRAFTED))]


def commit_without_fsync(store: Store) -> None:
    """SQLite only: each new connection commits without waiting for the disk (``synchronous=NORMAL``;
    WAL keeps the file consistent, a power cut may undo the last commits). This store's engine only,
    unlike ``db.relax_durability``, which changes every engine the process makes afterwards."""
    event.listen(store.engine, "connect", lambda conn, _record: conn.execute("PRAGMA synchronous=NORMAL"))

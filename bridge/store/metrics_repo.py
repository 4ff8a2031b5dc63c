"""Reads behind the operational gauges on ``/metrics`` (``bridge.metrics.ops`` and ``prom``):
counts by state, dead letters, retries and the oldest event still waiting. Read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.store.models import DEAD, RECEIVED, CaseRow, DeliveryRow, InboxRow


@dataclass
class QueueCounts:
    """What the store holds, counted at scrape time. Steps are the stored step names (numbered
    instances such as ``slack.page#2`` included); the caller groups them."""

    inbox: dict[str, int] = field(default_factory=dict)  # state → rows
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)  # (step, status) → rows
    cases: dict[str, int] = field(default_factory=dict)  # status → rows
    dead_events: int = 0
    dead_deliveries: int = 0
    oldest_received: datetime | None = None  # of the accepted events not yet processed
    retries: dict[str, float] = field(default_factory=dict)  # step → attempts beyond the first
    dead_by_step: dict[str, int] = field(default_factory=dict)  # step → dead delivery rows


def oldest_unprocessed_event(session: Session) -> datetime | None:
    """When the oldest accepted chatbot event still waiting to be processed arrived (naive UTC on SQLite)."""
    return session.scalar(select(func.min(InboxRow.received_at)).where(InboxRow.state == RECEIVED))


def queue_counts(session: Session) -> QueueCounts:
    out = QueueCounts()
    for state, count in session.execute(select(InboxRow.state, func.count()).group_by(InboxRow.state)):
        out.inbox[state] = count
    for step, status, count in session.execute(select(DeliveryRow.step, DeliveryRow.status, func.count())
                                               .group_by(DeliveryRow.step, DeliveryRow.status)):
        out.deliveries[(step, status)] = count
    for status, count in session.execute(select(CaseRow.status, func.count()).group_by(CaseRow.status)):
        out.cases[status] = count
    out.dead_events = session.scalar(select(func.count()).where(InboxRow.state == DEAD)) or 0
    out.dead_deliveries = session.scalar(select(func.count()).where(DeliveryRow.status == DEAD)) or 0
    out.oldest_received = oldest_unprocessed_event(session)
    for step, attempts in session.execute(select(DeliveryRow.step, func.sum(DeliveryRow.attempts - 1))
                                          .where(DeliveryRow.attempts > 1).group_by(DeliveryRow.step)):
        out.retries[step] = float(attempts or 0)
    for step, count in session.execute(select(DeliveryRow.step, func.count()).where(DeliveryRow.status == DEAD)
                                       .group_by(DeliveryRow.step)):
        out.dead_by_step[step] = count
    return out

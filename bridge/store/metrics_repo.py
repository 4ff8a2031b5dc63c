"""Reads behind ``/metrics`` (``bridge.metrics.ops`` and ``prom``): counts by state, dead letters,
retries, the oldest event still waiting, and the recovery figures the worker keeps
(``metrics_snapshots``, written by ``bridge.metrics.snapshot``).

SQLAlchemy Core, no ORM: a web worker answers a scrape without loading the models (issue 19: the
ORM and the report's modules were 12 MB of every web worker's RSS from its first scrape on). The
tables are described with the columns these statements touch; tests/store/test_ops_repos.py holds
them to the models. Every function takes a Core ``Connection`` or an ORM ``Session`` alike.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, column, func, select, table

from bridge.store.types import DEAD, RECEIVED, UTCDateTime

# Inbox states a scrape counts live: the backlog and the dead letters, a range of an index each. The
# others (processed, ignored) hold nearly every row of the inbox and change only as a worker
# works: counting them took a scrape 100 ms per million rows (SQLite, a covering index scan), so a
# worker counts them once a minute (``metrics.snapshot``) and a scrape reads its count.
MOVING = (RECEIVED, DEAD)
INBOX_SETTLED = "inbox:settled"  # the snapshot row of those counts

_TZ = UTCDateTime()
INBOX = table("inbox", column("state", String), column("received_at", _TZ))
DELIVERIES = table("deliveries", column("step", String), column("status", String), column("attempts", Integer))
CASES = table("cases", column("status", String))
VENDOR_EVENTS = table("vendor_events", column("state", String), column("received_at", _TZ))
SNAPSHOTS = table("metrics_snapshots", column("name", String), column("computed_at", _TZ), column("body", JSON))


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


def _aware(at: datetime | None) -> datetime | None:
    # An aggregate bypasses the column's type: SQLite hands MIN(received_at) back as a naive string-made datetime.
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def oldest_unprocessed_event(conn: Any) -> datetime | None:
    """When the oldest accepted chatbot event still waiting to be processed arrived (UTC)."""
    return _aware(conn.scalar(select(func.min(INBOX.c.received_at)).where(INBOX.c.state == RECEIVED)))


def inbox_counts(conn: Any, states: tuple[str, ...] | None = None) -> dict[str, int]:
    """Inbox rows by state: every state, or only ``states``."""
    stmt = select(INBOX.c.state, func.count()).group_by(INBOX.c.state)
    if states is not None:
        stmt = stmt.where(INBOX.c.state.in_(states))
    return {state: count for state, count in conn.execute(stmt)}


def queue_counts(conn: Any, settled: dict[str, int] | None = None) -> QueueCounts:
    """Everything counted now; or, given ``settled`` (the worker's counts of the inbox states that are
    not ``MOVING``), the moving states counted now and the others taken from it."""
    out = QueueCounts()
    if settled is None:
        out.inbox = inbox_counts(conn)
    else:
        out.inbox = {state: count for state, count in settled.items() if state not in MOVING and count}
        out.inbox.update(inbox_counts(conn, MOVING))
    d = DELIVERIES.c
    for step, status, count in conn.execute(select(d.step, d.status, func.count()).group_by(d.step, d.status)):
        out.deliveries[(step, status)] = count
        if status == DEAD:
            out.dead_by_step[step] = out.dead_by_step.get(step, 0) + count
            out.dead_deliveries += count
    for status, count in conn.execute(select(CASES.c.status, func.count()).group_by(CASES.c.status)):
        out.cases[status] = count
    out.dead_events = out.inbox.get(DEAD, 0)
    out.oldest_received = oldest_unprocessed_event(conn)
    for step, attempts in conn.execute(select(d.step, func.sum(d.attempts - 1)).where(d.attempts > 1)
                                       .group_by(d.step)):
        out.retries[step] = float(attempts or 0)
    return out


def vendor_event_health(conn: Any, now: datetime) -> tuple[int, float | None]:
    """(dead vendor events, age in seconds of the oldest one not yet processed)."""
    v = VENDOR_EVENTS.c
    dead = conn.scalar(select(func.count()).select_from(VENDOR_EVENTS).where(v.state == DEAD)) or 0
    oldest = _aware(conn.scalar(select(func.min(v.received_at)).where(v.state == RECEIVED)))
    return int(dead), (now - oldest).total_seconds() if oldest is not None else None


# --- the worker's snapshot of the recovery figures ---------------------------------------------------

def read_snapshot(conn: Any, name: str) -> tuple[datetime, dict[str, Any]] | None:
    row = conn.execute(select(SNAPSHOTS.c.computed_at, SNAPSHOTS.c.body).where(SNAPSHOTS.c.name == name)).first()
    return (row[0], row[1]) if row is not None else None


def snapshot_time(conn: Any, name: str) -> datetime | None:
    return conn.scalar(select(SNAPSHOTS.c.computed_at).where(SNAPSHOTS.c.name == name))  # type: ignore[no-any-return]


def write_snapshot(conn: Any, name: str, at: datetime, body: dict[str, Any]) -> None:
    """Insert the snapshot ``name`` or replace it by a newer one, in one statement: two workers
    writing at once both succeed, and the one computed last stays. ``conn``: a Core connection."""
    # The dialect's own INSERT, for ON CONFLICT (SQLite and PostgreSQL both speak it).
    dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
    module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
    stmt = module.insert(SNAPSHOTS).values(name=name, computed_at=at, body=body)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"],
                                            set_={"computed_at": stmt.excluded.computed_at,
                                                  "body": stmt.excluded.body},
                                            where=SNAPSHOTS.c.computed_at < stmt.excluded.computed_at))

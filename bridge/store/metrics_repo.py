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

from bridge.store.click_rows import HANDOVER
from bridge.store.types import ACKNOWLEDGED, DEAD, ESCALATED, OPEN, PENDING, RECEIVED, UTCDateTime

# What a scrape counts, each a range of an index: the inbox's backlog and dead letters, the delivery
# steps not done, the cases not solved. The other rows (processed events, done steps, solved and closed
# cases) are nearly all of them and change only as a worker works: counted at every scrape, they took
# it 300 ms on a store of a million inbox rows (SQLite), so a worker counts them once a minute
# (``metrics.snapshot``, the row ``SETTLED``) and a scrape adds its own count of the moving rows.
MOVING_INBOX = (RECEIVED, DEAD)
MOVING_DELIVERIES = (PENDING, HANDOVER, DEAD)
MOVING_CASES = (OPEN, ESCALATED, ACKNOWLEDGED)
SETTLED = "store:settled"

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


def _in(col: Any, values: tuple[str, ...], part: str) -> Any:
    return col.in_(values) if part == "moving" else col.not_in(values)


def _count(conn: Any, part: str) -> QueueCounts:
    """Rows counted now: ``all`` of them, the ``moving`` ones, or the ``settled`` ones (the rest)."""
    out = QueueCounts()
    i, d, c = INBOX.c, DELIVERIES.c, CASES.c
    inbox = select(i.state, func.count()).group_by(i.state)
    steps = select(d.step, d.status, func.count()).group_by(d.step, d.status)
    cases = select(c.status, func.count()).group_by(c.status)
    retries = select(d.step, func.sum(d.attempts - 1)).where(d.attempts > 1).group_by(d.step)
    if part != "all":
        inbox, cases = inbox.where(_in(i.state, MOVING_INBOX, part)), cases.where(_in(c.status, MOVING_CASES, part))
        steps, retries = (q.where(_in(d.status, MOVING_DELIVERIES, part)) for q in (steps, retries))
    out.inbox = {state: count for state, count in conn.execute(inbox)}
    for step, status, count in conn.execute(steps):
        out.deliveries[(step, status)] = count
        if status == DEAD:
            out.dead_by_step[step] = out.dead_by_step.get(step, 0) + count
            out.dead_deliveries += count
    out.cases = {status: count for status, count in conn.execute(cases)}
    out.retries = {step: float(attempts or 0) for step, attempts in conn.execute(retries)}
    out.dead_events = out.inbox.get(DEAD, 0)
    if part != "settled":
        out.oldest_received = oldest_unprocessed_event(conn)
    return out


def settled_counts(conn: Any) -> dict[str, Any]:
    """The settled rows counted now, as the JSON of the ``SETTLED`` snapshot (a worker's side)."""
    counts = _count(conn, "settled")
    return {"inbox": counts.inbox, "cases": counts.cases, "retries": counts.retries,
            "deliveries": [[step, status, n] for (step, status), n in sorted(counts.deliveries.items())]}


def queue_counts(conn: Any, settled: dict[str, Any] | None = None) -> QueueCounts:
    """Every row counted now; or, given ``settled`` (a worker's ``settled_counts`` of a minute ago),
    the moving rows counted now and the settled ones taken from it."""
    if settled is None:
        return _count(conn, "all")
    out = _count(conn, "moving")
    out.inbox.update((k, v) for k, v in settled.get("inbox", {}).items() if k not in MOVING_INBOX)
    out.cases.update((k, v) for k, v in settled.get("cases", {}).items() if k not in MOVING_CASES)
    out.deliveries.update(((step, status), n) for step, status, n in settled.get("deliveries", [])
                          if status not in MOVING_DELIVERIES)
    for step, attempts in settled.get("retries", {}).items():
        out.retries[step] = out.retries.get(step, 0.0) + attempts
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

"""A Slack click's writes in SQLAlchemy Core: the compare-and-set on the case's owner, its timeline
row and the delivery steps it queues, on the group commit's connection (``GroupCommit.run_core``);
and the dispatcher's hand-over of those steps to RQ (``take_handed_over``).

With RQ, a click's steps are written in the state ``handover``: neither due nor claimable, so no
job runs them yet, and the dispatcher turns them ``pending`` and enqueues them, as it hands over
accepted events (``inbox.queued_at``). The web process then never needs the RQ client (rq and redis,
about 9 MB per web worker, and a Redis round trip inside the click). A web process that dies after
the click's commit leaves ``handover`` rows the next dispatcher pass takes; a dispatcher that dies
between its commit and the enqueue leaves ``pending`` rows the sweeper enqueues.

The ORM version (``bridge.store.ownership_repo``) loads the whole case row, the merged conversation
included, to read three columns, and costs a web process the ORM's imports and memory; a click
needs neither. The tables are described with the columns these statements touch; tests/web/
test_slack_clicks.py holds them to the models, as tests/web/test_lean_path.py does the inbox's.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, column, insert, select, table, update

from bridge.store.types import ACKNOWLEDGED, ESCALATED, PENDING, UTCDateTime

# A delivery step a click wrote for the dispatcher to hand to RQ (16 characters at most: the column).
HANDOVER = "handover"

_TZ = UTCDateTime()
CASES = table(
    "cases",
    column("id", String), column("status", String), column("team", String), column("owner", String),
    column("route", JSON), column("acknowledged_at", _TZ), column("updated_at", _TZ),
)
TIMELINE = table(
    "timeline",
    column("id", BigInteger), column("case_id", String), column("at", _TZ), column("kind", String),
    column("actor", String), column("detail", JSON),
)
DELIVERIES = table(
    "deliveries",
    column("id", BigInteger), column("case_id", String), column("step", String), column("after", String),
    column("status", String), column("attempts", Integer), column("dry_run", Boolean), column("payload", JSON),
    column("next_attempt_at", _TZ), column("created_at", _TZ), column("updated_at", _TZ),
)


class Taken(NamedTuple):
    """The case as the take found it: its team and route when the take won, its owner otherwise."""

    won: bool
    team: str | None
    route: dict[str, Any] | None
    owner: str | None
    status: str | None
    acknowledged: bool


def take_case(conn: Any, case_id: str, user: str, now: datetime) -> Taken | None:
    """``user`` owns and acknowledges the case if it is escalated and nobody acknowledged it yet: one
    conditional UPDATE (of two simultaneous takes exactly one wins). None when there is no such case.
    Losing costs one more read, of three columns."""
    won = conn.execute(
        update(CASES)
        .where(CASES.c.id == case_id, CASES.c.status == ESCALATED, CASES.c.acknowledged_at.is_(None))
        .values(owner=user, status=ACKNOWLEDGED, acknowledged_at=now, updated_at=now)
        .returning(CASES.c.team, CASES.c.route)
    ).first()
    if won is not None:
        return Taken(True, won.team, won.route, user, ACKNOWLEDGED, True)
    row = conn.execute(select(CASES.c.owner, CASES.c.status, CASES.c.acknowledged_at)
                       .where(CASES.c.id == case_id)).first()
    if row is None:
        return None
    return Taken(False, None, None, row.owner, row.status, row.acknowledged_at is not None)


def set_route(conn: Any, case_id: str, route: dict[str, Any]) -> None:
    conn.execute(update(CASES).where(CASES.c.id == case_id).values(route=route))


def add_timeline(conn: Any, case_id: str, kind: str, actor: str, now: datetime, detail: dict[str, Any]) -> None:
    conn.execute(insert(TIMELINE).values(case_id=case_id, at=now, kind=kind, actor=actor, detail=detail))


class Step(NamedTuple):
    id: int
    name: str


def step_instance(conn: Any, case_id: str, step: str, after: str | None, now: datetime,
                  payload: dict[str, Any] | None = None, delay: int = 0, status: str = PENDING) -> Step:
    """A new instance of a repeatable step, named by its row id (``slack.update#41``), as
    ``ownership_repo.step_instance`` names it: the database makes the id unique, where counting
    existing rows would give two simultaneous clicks the same name. ``status`` is ``HANDOVER`` when
    the dispatcher is to enqueue it."""
    values: dict[str, Any] = dict(
        case_id=case_id, step=f"{step}#new-{uuid.uuid4().hex}", after=after, status=status, attempts=0,
        dry_run=False, next_attempt_at=now + timedelta(seconds=delay), created_at=now, updated_at=now,
    )
    if payload is not None:  # absent, not JSON null: SQL NULL as the ORM leaves it
        values["payload"] = payload
    new = conn.execute(insert(DELIVERIES).values(values).returning(DELIVERIES.c.id)).scalar_one()
    name = f"{step}#{new}"
    conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == new).values(step=name))
    return Step(int(new), name)


def any_handed_over(session: Any) -> bool:
    """Whether any step waits for a dispatcher (a read: no write lock when none does)."""
    return session.execute(select(DELIVERIES.c.id).where(DELIVERIES.c.status == HANDOVER).limit(1)).first() is not None


def take_handed_over(session: Any, now: datetime, limit: int = 500) -> list[int]:
    """Turn up to ``limit`` steps waiting for the dispatcher ``pending`` and return their ids, oldest
    first; the caller commits, then enqueues them. Atomic per row: two dispatchers never take the
    same step (PostgreSQL skips rows another one has locked; SQLite has one writer at a time), and
    the outer condition re-checks the state a concurrent dispatcher may just have changed."""
    due = select(DELIVERIES.c.id).where(DELIVERIES.c.status == HANDOVER).order_by(DELIVERIES.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    taken = session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(due.scalar_subquery()), DELIVERIES.c.status == HANDOVER)
        .values(status=PENDING, updated_at=now)
        .returning(DELIVERIES.c.id)
    ).scalars()
    return sorted(int(i) for i in taken)  # RETURNING order is not promised

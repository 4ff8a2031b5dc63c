"""Delivery steps: planning, claims, what is due, the vendor ids they hold, dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from bridge.store.attempts import free
from bridge.store.cases import merge_refs
from bridge.store.models import (
    DEAD,
    DONE,
    PENDING,
    CaseRow,
    DeliveryRow,
    InboxRow,
    TimelineRow,
)

_CLAIM_DELIVERY = (
    update(DeliveryRow)
    .where(DeliveryRow.id == bindparam("delivery_id"), DeliveryRow.status == PENDING,
           or_(DeliveryRow.claimed_until.is_(None), DeliveryRow.claimed_until < bindparam("now")))
    .values(claimed_until=bindparam("until"), attempts=DeliveryRow.attempts + 1, updated_at=bindparam("now"))
)  # built once: one claim per delivery attempt


_CLAIM_DELIVERY_CASE = _CLAIM_DELIVERY.returning(DeliveryRow.case_id)


def claim_delivery(session: Session, delivery_id: int, now: datetime, lease: int) -> bool:
    params = {"delivery_id": delivery_id, "now": now, "until": now + timedelta(seconds=lease)}
    return bool(session.execute(_CLAIM_DELIVERY, params).rowcount)


def claim_delivery_case(session: Session, delivery_id: int, now: datetime, lease: int) -> str | None:
    """``claim_delivery`` that answers with the step's case id (None: not claimed), in one statement.

    Sent on the session's connection as a plain statement: through the ORM, an UPDATE first looks
    for the rows it matches among the objects the session holds (to update them too), which cost
    more than the claim itself; nothing a claim matches is held by the session that claims it (the
    step is read after its claim), and pending writes are flushed first as the ORM would."""
    params = {"delivery_id": delivery_id, "now": now, "until": now + timedelta(seconds=lease)}
    session.flush()
    return session.connection().execute(_CLAIM_DELIVERY_CASE, params).scalar()


def _due_deliveries_stmt() -> Any:
    before = aliased(DeliveryRow)
    now = bindparam("now")
    settled = (
        select(before.id)
        .where(before.case_id == DeliveryRow.case_id, before.step == DeliveryRow.after)
        .where(before.status.in_((DONE, DEAD)))
        .exists()
    )
    return select(DeliveryRow.id).where(
        DeliveryRow.status == PENDING,
        DeliveryRow.next_attempt_at <= now,
        or_(DeliveryRow.claimed_until.is_(None), DeliveryRow.claimed_until < now),
        or_(DeliveryRow.after.is_(None), settled),
    ).order_by(DeliveryRow.id).limit(bindparam("limit"))


# Built once: the worker asks after every delivery, and building the statement (not running it)
# was most of the cost.
_DUE_DELIVERIES = _due_deliveries_stmt()


_CASE_STEPS = select(DeliveryRow.id, DeliveryRow.step, DeliveryRow.after, DeliveryRow.status,
                     DeliveryRow.next_attempt_at, DeliveryRow.claimed_until).where(
    DeliveryRow.case_id == bindparam("case_id")).order_by(DeliveryRow.id)


def due_deliveries(session: Session, now: datetime, limit: int = 100, case_id: str | None = None) -> list[int]:
    """Pending deliveries whose time has come and whose prerequisite step is settled."""
    if case_id is None:
        return list(session.scalars(_DUE_DELIVERIES, {"now": now, "limit": limit}))
    # One case has a handful of steps: read them through the case index and decide here. In SQL,
    # with a backlog waiting, SQLite's planner took the (status, next_attempt_at) index and read
    # every due step of every case after each delivery (39 % of a job process's time at 40,000).
    session.flush()  # (what the ORM's autoflush did): the case's steps as this transaction wrote them
    rows = session.connection().execute(_CASE_STEPS, {"case_id": case_id}).all()
    settled = {row.step for row in rows if row.status in (DONE, DEAD)}
    return [row.id for row in rows
            if row.status == PENDING and row.next_attempt_at <= now
            and (row.claimed_until is None or row.claimed_until < now)
            and (row.after is None or row.after in settled)][:limit]


_DELIVERY_INSERT: dict[str, Any] = {}


def ensure_deliveries(
    session: Session, case_id: str, plan: Sequence[tuple[str, str | None, int]], now: datetime
) -> None:
    """Create the planned steps once each: (step, prerequisite step, delay in seconds). One
    statement, built once per dialect, for the whole plan."""
    if not plan:
        return
    dialect = session.get_bind().dialect.name
    stmt = _DELIVERY_INSERT.get(dialect)
    if stmt is None:
        builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = _DELIVERY_INSERT[dialect] = builder(DeliveryRow.__table__).on_conflict_do_nothing(
            index_elements=["case_id", "step"])
    session.execute(stmt, [
        dict(case_id=case_id, step=step, after=after, status=PENDING, attempts=0,
             next_attempt_at=now + timedelta(seconds=delay), created_at=now, updated_at=now, dry_run=False,
             external_id=None, last_error=None, claimed_until=None)
        for step, after, delay in plan
    ])


_STEPS_AT = (select(DeliveryRow.id, DeliveryRow.next_attempt_at)
             .where(DeliveryRow.case_id == bindparam("case_id"),
                    DeliveryRow.step.in_(bindparam("steps", expanding=True)))
             .order_by(DeliveryRow.id))


def steps_at(session: Session, case_id: str, steps: Sequence[str]) -> list[tuple[int, datetime]]:
    """(id, next attempt) of these steps of the case, as this transaction wrote them: two columns of
    the rows asked for, not every step of the case as objects."""
    session.flush()
    return [(int(i), at) for i, at in session.connection().execute(_STEPS_AT, {"case_id": case_id,
                                                                               "steps": list(steps)})]


def deliveries_of(session: Session, case_id: str) -> list[DeliveryRow]:
    return list(session.scalars(_STEPS_OF, {"case_id": case_id}))


_REFS = (select(DeliveryRow.step, DeliveryRow.external_id)
         .where(DeliveryRow.case_id == bindparam("case_id"), DeliveryRow.external_id.is_not(None))
         .order_by(DeliveryRow.status == DONE))  # a finished step's id wins over a failed one's
_STEPS_OF = select(DeliveryRow).where(DeliveryRow.case_id == bindparam("case_id")).order_by(DeliveryRow.id)


def refs_of(session: Session, case_id: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Vendor ids of a case's steps: finished ones, and ones whose effect exists although the step
    failed after it (a Jira issue whose attachments failed). Each delivery row owns its own
    ``external_id``, so concurrent steps never overwrite each other's result (as a shared JSON map
    could)."""
    refs = dict(base or {})
    for step, external_id in session.execute(_REFS, {"case_id": case_id}):
        if external_id:
            refs[step] = external_id
    return refs


def stale_deliveries(session: Session, older_than: datetime, now: datetime, limit: int = 500) -> list[tuple[int, int]]:
    due = set(due_deliveries(session, now, limit))
    stmt = select(DeliveryRow.id, DeliveryRow.attempts).where(
        DeliveryRow.status == PENDING, DeliveryRow.next_attempt_at <= older_than, free(DeliveryRow, now)
    )
    return [(int(i), int(a)) for i, a in session.execute(stmt.limit(limit)) if i in due]


def dead_letters(session: Session) -> tuple[list[InboxRow], list[DeliveryRow]]:
    inbox = list(session.scalars(select(InboxRow).where(InboxRow.state == DEAD).order_by(InboxRow.id)))
    deliveries = list(session.scalars(select(DeliveryRow).where(DeliveryRow.status == DEAD).order_by(DeliveryRow.id)))
    return inbox, deliveries


def revive_delivery(session: Session, delivery_id: int, now: datetime) -> bool:
    stmt = (
        update(DeliveryRow)
        .where(and_(DeliveryRow.id == delivery_id, DeliveryRow.status == DEAD))
        .values(status=PENDING, attempts=0, next_attempt_at=now, claimed_until=None, updated_at=now)
    )
    return bool(session.execute(stmt).rowcount)


def get_delivery(session: Session, delivery_id: int) -> DeliveryRow | None:
    return session.get(DeliveryRow, delivery_id)


_DELIVERY_AND_CASE = (select(DeliveryRow, CaseRow).join(CaseRow, CaseRow.id == DeliveryRow.case_id)
                      .where(DeliveryRow.id == bindparam("delivery_id")))


def delivery_and_case(session: Session, delivery_id: int) -> tuple[DeliveryRow, CaseRow] | None:
    """The step and its case in one statement (a step runs on both; two reads were two round trips)."""
    row = session.execute(_DELIVERY_AND_CASE, {"delivery_id": delivery_id}).first()
    return (row[0], row[1]) if row is not None else None


_T = DeliveryRow.__table__
_RECORD_DONE = update(_T).where(_T.c.id == bindparam("delivery_id")).values(
    status=DONE, external_id=bindparam("done_external_id"), dry_run=bindparam("done_dry_run"), claimed_until=None,
    last_error=None, updated_at=bindparam("done_at"))
_TIMELINE = insert(TimelineRow.__table__)


def record_delivery_done(session: Session, delivery: DeliveryRow, external_id: str | None, dry_run: bool,
                         url: str | None, connector: str, now: datetime) -> None:
    """The step is done: its vendor id (and link) join the case's refs, the timeline says so.

    Plain statements on the session's connection, in the step's transaction (the ORM's unit of work
    around two one-row writes was a third of a step's store time); the step's object is given the
    values it now has in the store. Pending ORM writes go first, so the order of writes is kept."""
    session.flush()
    conn = session.connection()
    conn.execute(_RECORD_DONE, {"delivery_id": delivery.id, "done_external_id": external_id, "done_dry_run": dry_run,
                                "done_at": now})
    for name, value in (("status", DONE), ("external_id", external_id), ("dry_run", dry_run),
                        ("claimed_until", None), ("last_error", None), ("updated_at", now)):
        set_committed_value(delivery, name, value)
    new_refs: dict[str, Any] = {delivery.step: external_id}
    if url:
        new_refs[f"{delivery.step}.url"] = url
    merge_refs(session, delivery.case_id, new_refs)
    conn.execute(_TIMELINE, {"case_id": delivery.case_id, "at": now, "kind": "delivery.done",
                             "actor": f"connector:{connector}",
                             "detail": {"step": delivery.step, "external_id": external_id, "dry_run": dry_run}})


def record_external_id(session: Session, delivery: DeliveryRow, external_id: str) -> None:
    """What the vendor holds despite a failed attempt: kept on the step and in the case's refs."""
    delivery.external_id = external_id
    merge_refs(session, delivery.case_id, {delivery.step: external_id})


def set_payload_once(session: Session, case_id: str, step: str, payload: dict[str, Any]) -> None:
    """What a follow-up step carries; a step planned before keeps its own."""
    row = session.scalars(select(DeliveryRow).where(DeliveryRow.case_id == case_id, DeliveryRow.step == step)).one()
    if row.payload is None:
        row.payload = payload

"""Cases and their timeline: locks, routing's counts, refs, earlier tickets."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, false, func, null, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from bridge.store.models import ACKNOWLEDGED, CLOSED, ESCALATED, OPEN, CaseRow, TimelineRow


def get_case(session: Session, case_id: str) -> CaseRow | None:
    return session.get(CaseRow, case_id)


def lock_case(session: Session, case_id: str) -> CaseRow | None:
    """The case, row-locked until commit and re-read (PostgreSQL): two jobs folding events into one
    case serialize instead of overwriting each other's transcript. SQLite serializes writers anyway."""
    return session.scalars(_LOCK_CASE, {"case_id": case_id}).first()


# As committed, not as cached (populate_existing); built once (building it cost more than running it).
_LOCK_CASE = (select(CaseRow).where(CaseRow.id == bindparam("case_id")).with_for_update()
              .execution_options(populate_existing=True))


def lock_routing(session: Session, team: str) -> None:
    """Serialize routing into one team until this transaction ends: two workers escalating at the same
    instant would otherwise both read the same open-case counts and pick the same least-loaded person.
    PostgreSQL: a transaction-scoped advisory lock per team. SQLite: the write lock (a write statement
    that matches no row takes it; SQLite has one writer at a time, so the counts read next are current)."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"bridge.route:{team}".encode()) - 2**31  # a signed 32-bit advisory key
        session.execute(_ADVISORY_LOCK, {"ns": ROUTING_LOCK_NS, "key": key})
    else:
        # A write statement takes SQLite's write lock even when it matches no row.
        session.execute(_WRITE_LOCK)


ROUTING_LOCK_NS = 0x5242  # "RB": the bridge's advisory-lock namespace (two-key form)
# Statements built once (building one cost more than running it on a small store).
_ADVISORY_LOCK = select(func.pg_advisory_xact_lock(bindparam("ns"), bindparam("key")))
_WRITE_LOCK = update(CaseRow).where(false()).values(updated_at=CaseRow.updated_at)
_OPEN_CASE_COUNTS = (
    select(CaseRow.owner, func.count())
    .where(CaseRow.status.in_((ESCALATED, ACKNOWLEDGED)), CaseRow.owner.is_not(None))
    .group_by(CaseRow.owner)
)
_LATEST = (
    select(CaseRow.team, func.max(CaseRow.escalated_at).label("at"))
    .where(CaseRow.owner.is_not(None), CaseRow.team.is_not(None))
    .group_by(CaseRow.team)
    .subquery()
)
_LAST_ASSIGNED = select(CaseRow.team, CaseRow.owner).join(
    _LATEST, and_(CaseRow.team == _LATEST.c.team, CaseRow.escalated_at == _LATEST.c.at)
)


def open_case_counts(session: Session) -> dict[str, int]:
    """Cases each owner holds right now (escalated or acknowledged), by owner key."""
    return {owner: int(count) for owner, count in session.execute(_OPEN_CASE_COUNTS)}


def last_assigned(session: Session, teams: Iterable[str] | None = None) -> dict[str, str]:
    """Per team, the owner of its most recently escalated case: where round robin continues.

    With ``teams``, one backward step on (team, escalated_at) per team: the grouped query over every
    team reads every owned case (207 ms at 100,000 cases on SQLite), on each routed escalation."""
    if teams is None:
        return {team: owner for team, owner in session.execute(_LAST_ASSIGNED) if team and owner}
    found = {}
    for team in set(teams):
        owner = session.scalar(
            select(CaseRow.owner)
            .where(CaseRow.team == team, CaseRow.owner.is_not(None), CaseRow.escalated_at.is_not(None))
            .order_by(CaseRow.escalated_at.desc(), CaseRow.id.desc()).limit(1))
        if owner:
            found[team] = owner
    return found


_CASE_REFS_LOCKED = select(CaseRow.refs).where(CaseRow.id == bindparam("case_id")).with_for_update()
_SET_REFS = update(CaseRow.__table__).where(CaseRow.__table__.c.id == bindparam("case_id")).values(
    refs=bindparam("refs", type_=CaseRow.__table__.c.refs.type))


def merge_refs(session: Session, case_id: str, new: dict[str, Any]) -> None:
    """Fold results into the case's denormalized ``refs``, reading them under a row lock (PostgreSQL);
    SQLite serializes writers: the flush first takes its write lock (the step's own writes), so the
    refs read next are the latest. Only the refs column is read and written (re-reading the whole
    row, transcript and all, was most of a step's store time); a case this session holds gets the
    new value as its committed state."""
    session.flush()
    current = session.execute(_CASE_REFS_LOCKED, {"case_id": case_id}).scalar_one()
    merged = {**(current or {}), **new}
    session.connection().execute(_SET_REFS, {"case_id": case_id, "refs": merged})
    held = session.identity_map.get(identity_key(CaseRow, case_id))
    if held is not None:
        set_committed_value(held, "refs", merged)


def add_timeline(
    session: Session, case_id: str, kind: str, actor: str, now: datetime, detail: dict[str, Any] | None = None
) -> None:
    session.add(TimelineRow(case_id=case_id, at=now, kind=kind, actor=actor, detail=detail or {}))


def timeline_of(session: Session, case_id: str) -> list[TimelineRow]:
    return list(session.scalars(select(TimelineRow).where(TimelineRow.case_id == case_id).order_by(TimelineRow.id)))


def _earlier_stmt(by_email: bool, by_id: bool) -> Any:
    who = [c for c, wanted in ((CaseRow.customer_email == bindparam("email"), by_email),
                               (CaseRow.customer_id == bindparam("customer"), by_id)) if wanted]
    return (select(CaseRow.refs).where(CaseRow.id != bindparam("case_id"), or_(*who),
                                       CaseRow.created_at < bindparam("before"))
            .order_by(CaseRow.created_at.desc()).limit(bindparam("limit")))


# Built once per shape (by e-mail, by customer id, by both): building the statement cost more than
# running it, on every step that builds a package.
_EARLIER = {(e, i): _earlier_stmt(e, i) for e in (True, False) for i in (True, False) if e or i}


def earlier_tickets(session: Session, case: CaseRow, limit: int = 5) -> list[str]:
    """Zendesk tickets of the same customer's earlier cases (by e-mail or platform customer id)."""
    shape = (bool(case.customer_email), bool(case.customer_id))
    if not any(shape):
        return []
    params = {"case_id": case.id, "email": case.customer_email, "customer": case.customer_id,
              "before": case.created_at, "limit": limit}
    found = []
    for refs in session.scalars(_EARLIER[shape], params):
        ticket = str((refs or {}).get("zendesk.ticket") or "")
        if ticket.isdigit() and ticket not in found:
            found.append(ticket)
    return found


def relock_case(session: Session, case: CaseRow) -> CaseRow | None:
    """``lock_case`` again after a commit, reading the row as it is now, not as this session last wrote it."""
    case_id = case.id
    session.expire(case)
    return lock_case(session, case_id)


def open_case(session: Session, case_id: str, platform: str, conversation_id: str, event: dict[str, Any],
              now: datetime) -> CaseRow:
    """A new case for a conversation, open, holding its first event."""
    case = CaseRow(id=case_id, platform=platform, conversation_id=conversation_id, status=OPEN, triggers=[],
                   refs={}, event=event, created_at=now, updated_at=now)
    session.add(case)
    return case


def close_case(case: CaseRow, now: datetime) -> None:
    case.status, case.closed_at = CLOSED, now


def set_transcript(case: CaseRow, event: dict[str, Any], now: datetime | None = None) -> None:
    """The folded conversation the case holds (``now``: when it changed, if it counts as an update)."""
    case.event = event
    if now is not None:
        case.updated_at = now


def remember_customer(case: CaseRow, customer_id: str | None, email: str | None) -> None:
    case.customer_id = customer_id or case.customer_id
    case.customer_email = email or case.customer_email


def escalate_case(case: CaseRow, now: datetime, triggers: list[str], decision: dict[str, Any], priority: str | None,
                  team: str, owner: str | None, route: dict[str, Any]) -> None:
    """The case is with a human now: why, how urgent, which team and who owns it."""
    case.status, case.escalated_at = ESCALATED, now
    case.triggers, case.decision = triggers, decision
    case.priority, case.team = priority, team
    case.owner = owner
    case.route = route


def save_summary(session: Session, case_id: str, summary: dict[str, Any]) -> None:
    """Keep the case's summary unless another job kept one first."""
    session.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.summary.is_(None)).values(summary=summary))


def drop_summary(case: CaseRow) -> None:
    """Forget the summary so it is made again when next needed (SQL NULL: a Python None would
    store JSON null)."""
    case.summary = null()


def replace_summary(case: CaseRow, summary: dict[str, Any]) -> None:
    case.summary = summary

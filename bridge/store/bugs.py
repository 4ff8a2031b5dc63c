"""Repository functions for the bug fingerprint → Jira issue map (``bug_fingerprints``).

The Jira connector keeps one row per fingerprint (or per case, ``case:<id>``, for bugs without a
fingerprint). Every write is a compare-and-set on ``version``, so two workers filing or joining the
same bug at once never lose a customer and never both create the issue: exactly one of them holds
the ``creating`` claim, the other is told to come back once the issue exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.store.models import BugFingerprintRow

CREATING, OPEN, CLOSED = "creating", "open", "closed"


def get(session: Session, fingerprint: str) -> BugFingerprintRow | None:
    return session.get(BugFingerprintRow, fingerprint, populate_existing=True)


def by_issue(session: Session, issue_key: str) -> list[BugFingerprintRow]:
    return list(session.scalars(select(BugFingerprintRow).where(BugFingerprintRow.issue_key == issue_key)))


def _cas(session: Session, row: BugFingerprintRow, now: datetime, **values: Any) -> bool:
    """Update ``row`` only if nobody else changed it since it was read."""
    stmt = (
        update(BugFingerprintRow)
        .where(BugFingerprintRow.fingerprint == row.fingerprint, BugFingerprintRow.version == row.version)
        .values(version=row.version + 1, updated_at=now, **values)
    )
    changed = bool(session.execute(stmt).rowcount)
    if changed:
        session.expire(row)
    return changed


@dataclass(frozen=True)
class Claim:
    """What ``claim`` found: ``mine`` (this case may create), else who holds it and since when."""

    mine: bool
    row: BugFingerprintRow


def claim(session: Session, fingerprint: str, case_id: str, now: datetime, stale_after: float) -> Claim | None:
    """Take the right to create the issue for ``fingerprint``; None when an open issue exists already.

    A claim held by another case is taken over once it is ``stale_after`` seconds old (its worker
    died); ``attempted_at`` is kept, so the new holder searches Jira before it creates.
    """
    for _ in range(5):
        row = get(session, fingerprint)
        if row is None:
            builder = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            stmt = builder(BugFingerprintRow).values(
                fingerprint=fingerprint, issue_key=None, status=CREATING, customers=0, mrr=0.0, case_ids=[],
                customer_keys=[], claimed_by=case_id, attempted_at=None, version=0, created_at=now, updated_at=now,
            ).on_conflict_do_nothing(index_elements=["fingerprint"]).returning(BugFingerprintRow.fingerprint)
            if session.execute(stmt).first() is not None:
                return Claim(True, _must(session, fingerprint))
            continue
        if row.status == OPEN:
            return None
        if row.status == CREATING and row.claimed_by == case_id:
            return Claim(True, row)
        if row.status == CREATING and now - row.updated_at < timedelta(seconds=stale_after):
            return Claim(False, row)
        # A closed issue, or a claim whose holder has gone quiet: this case files (or finds) the issue.
        reset: dict[str, Any] = {"status": CREATING, "claimed_by": case_id}
        if row.status == CLOSED:
            reset.update(issue_key=None, customers=0, mrr=0.0, case_ids=[], customer_keys=[], attempted_at=None)
        if _cas(session, row, now, **reset):
            return Claim(True, _must(session, fingerprint))
    raise RuntimeError(f"bug fingerprint {fingerprint} keeps changing under this worker")


def _must(session: Session, fingerprint: str) -> BugFingerprintRow:
    row = get(session, fingerprint)
    assert row is not None
    return row


def mark_attempt(session: Session, fingerprint: str, case_id: str, now: datetime) -> bool:
    """Record that a create is about to be sent (before the POST: the answer may never come)."""
    stmt = (
        update(BugFingerprintRow)
        .where(BugFingerprintRow.fingerprint == fingerprint, BugFingerprintRow.claimed_by == case_id,
               BugFingerprintRow.status == CREATING)
        .values(attempted_at=now, updated_at=now, version=BugFingerprintRow.version + 1)
    )
    return bool(session.execute(stmt).rowcount)


def clear_attempt(session: Session, fingerprint: str, case_id: str, now: datetime) -> None:
    """Jira answered that it made nothing (429, 503, a 4xx): no search needed before the next try."""
    session.execute(
        update(BugFingerprintRow)
        .where(BugFingerprintRow.fingerprint == fingerprint, BugFingerprintRow.claimed_by == case_id,
               BugFingerprintRow.status == CREATING)
        .values(attempted_at=None, updated_at=now, version=BugFingerprintRow.version + 1)
    )


def release(session: Session, fingerprint: str, case_id: str) -> None:
    """Give the claim up after a permanent failure, so the next report of the bug can file it."""
    row = get(session, fingerprint)
    if row is not None and row.status == CREATING and row.claimed_by == case_id:
        session.delete(row)


def add_case(
    session: Session, fingerprint: str, issue_key: str, case_id: str, customer_key: str, mrr: float | None,
    now: datetime,
) -> BugFingerprintRow:
    """Put a case (and its customer, counted once) on the issue; marks the row open. Idempotent."""
    for _ in range(10):
        row = _must(session, fingerprint)
        if row.issue_key == issue_key and case_id in row.case_ids and row.status == OPEN:
            return row
        cases = list(row.case_ids if row.issue_key == issue_key else [])
        keys = list(row.customer_keys if row.issue_key == issue_key else [])
        customers, total = (row.customers, row.mrr) if row.issue_key == issue_key else (0, 0.0)
        if case_id not in cases:
            cases.append(case_id)
        if customer_key not in keys:
            keys.append(customer_key)
            customers += 1
            total += float(mrr or 0.0)
        if _cas(session, row, now, issue_key=issue_key, status=OPEN, case_ids=cases, customer_keys=keys,
                customers=customers, mrr=total, claimed_by=None):
            return _must(session, fingerprint)
    raise RuntimeError(f"bug fingerprint {fingerprint} keeps changing under this worker")


def mark_closed(session: Session, issue_key: str, now: datetime) -> int:
    """The issue is resolved: the next report of its bug files a new issue. Returns rows changed."""
    stmt = (
        update(BugFingerprintRow)
        .where(BugFingerprintRow.issue_key == issue_key, BugFingerprintRow.status == OPEN)
        .values(status=CLOSED, updated_at=now, version=BugFingerprintRow.version + 1)
    )
    return int(session.execute(stmt).rowcount or 0)


def reopen(session: Session, issue_key: str, now: datetime) -> int:
    """The issue was reopened: reports of its bug join it again (unless a newer issue took over)."""
    stmt = (
        update(BugFingerprintRow)
        .where(BugFingerprintRow.issue_key == issue_key, BugFingerprintRow.status == CLOSED)
        .values(status=OPEN, updated_at=now, version=BugFingerprintRow.version + 1)
    )
    return int(session.execute(stmt).rowcount or 0)

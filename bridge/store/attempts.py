"""What inbox rows and delivery steps share: leases, failed attempts and their backoff.

Claims are compare-and-set updates with a lease, so two workers (or an orphaned RQ work horse and
its retry) never run the same inbox row or delivery at the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.store.models import (
    DEAD,
    DeliveryRow,
    InboxRow,
)

MAX_ERROR = 2000


def insert_statement(session: Session, model: type, values: dict[str, Any]) -> Any:
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(model).values(**values)


def free(model: Any, now: datetime) -> Any:
    return or_(model.claimed_until.is_(None), model.claimed_until < now)


@dataclass(frozen=True)
class Failure:
    dead: bool
    attempts: int
    retry_in: float | None


MAX_RETRY_AFTER = 6 * 3600  # a vendor asking for more than this gets this


def fail(
    row: InboxRow | DeliveryRow,
    error: str,
    now: datetime,
    intervals: Sequence[int],
    permanent: bool,
    retry_after: float | None = None,
) -> Failure:
    """Record a failed attempt: schedule the next one, or mark the row dead when none is left.

    The next attempt waits for the backoff interval or the vendor's Retry-After, whichever is longer.
    """
    row.last_error = error[:MAX_ERROR]
    row.claimed_until = None
    row.updated_at = now
    if isinstance(row, InboxRow):
        row.batch = None  # its retry is a job of its own
    if permanent or row.attempts > len(intervals):
        if isinstance(row, InboxRow):
            row.state = DEAD
        else:
            row.status = DEAD
        return Failure(True, row.attempts, None)
    delay = max(float(intervals[row.attempts - 1]), min(retry_after or 0.0, MAX_RETRY_AFTER))
    row.next_attempt_at = now + timedelta(seconds=delay)
    return Failure(False, row.attempts, delay)

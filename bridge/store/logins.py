"""Sign-in sessions (by the hash of their id) and the sign-in throttle's counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.store.models import LoginThrottleRow, WebSessionRow


def add_web_session(session: Session, hashed_id: str, user: str, now: datetime, expires_at: datetime) -> None:
    """Keep a new sign-in session, dropping the expired ones."""
    session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < now))
    session.add(WebSessionRow(id=hashed_id, user=user, created_at=now, expires_at=expires_at))


def web_session(session: Session, hashed_id: str) -> WebSessionRow | None:
    return session.get(WebSessionRow, hashed_id)


def delete_web_session(session: Session, hashed_id: str) -> None:
    session.execute(delete(WebSessionRow).where(WebSessionRow.id == hashed_id))


def throttle_rows(session: Session, keys: Sequence[str]) -> Sequence[LoginThrottleRow]:
    return session.scalars(select(LoginThrottleRow).where(LoginThrottleRow.key.in_(list(keys)))).all()


def count_failure(session: Session, key: str, now: datetime, window: timedelta) -> None:
    """One more failed sign-in under ``key`` in its window (a new window once the last one ended); committed."""
    row = session.get(LoginThrottleRow, key)
    if row is None:
        session.add(LoginThrottleRow(key=key, failures=1, window_start=now))
    elif row.window_start + window <= now:
        row.failures, row.window_start = 1, now
    else:
        row.failures += 1
    try:
        session.commit()
    except IntegrityError:  # another process counted the first failure at the same moment
        session.rollback()


def clear_throttle(session: Session, key: str) -> None:
    session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key == key))

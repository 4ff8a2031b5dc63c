"""The store's states and its UTC column type: plain SQLAlchemy Core, no ORM, so the web request
path (``intake_rows``) can use them without loading the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Inbox states: received → processed | ignored | dead (dead can be replayed back to received).
RECEIVED, PROCESSED, IGNORED, DEAD = "received", "processed", "ignored", "dead"
# Delivery states: pending → done | dead (replay: dead → pending).
PENDING, DONE = "pending", "done"
# Case states.
OPEN, ESCALATED, ACKNOWLEDGED, RESOLVED, CLOSED = "open", "escalated", "acknowledged", "resolved", "closed"



class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite would otherwise hand back naive datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

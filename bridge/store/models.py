"""SQLAlchemy models. Schema changes go through an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
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


TZ = UTCDateTime()
ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class InboxRow(Base):
    """Every accepted delivery, verbatim, before anything else happens to it."""

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(64))
    sender_event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    event: Mapped[dict[str, Any]] = mapped_column(JSON)  # the canonical event the adapter produced
    received_at: Mapped[datetime] = mapped_column(TZ)
    state: Mapped[str] = mapped_column(String(16), default=RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(TZ)
    claimed_until: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TZ)

    __table_args__ = (Index("ix_inbox_state_next", "state", "next_attempt_at"),)


class CaseRow(Base):
    """One per platform conversation: what happened, who owns it, where it lives in each vendor."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    triggers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    priority: Mapped[str | None] = mapped_column(String(16), nullable=True)
    team: Mapped[str | None] = mapped_column(String(100), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    customer_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    customer_email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    event: Mapped[dict[str, Any]] = mapped_column(JSON)  # merged canonical event: the whole conversation
    refs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # vendor ids by connector
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # computed once per case
    route: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # RouteInfo at escalation
    created_at: Mapped[datetime] = mapped_column(TZ)
    updated_at: Mapped[datetime] = mapped_column(TZ)
    escalated_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    first_response_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)

    __table_args__ = (
        UniqueConstraint("platform", "conversation_id", name="uq_cases_conversation"),
        Index("ix_cases_status_owner", "status", "owner"),
        Index("ix_cases_team_escalated", "team", "escalated_at"),
    )


class DeliveryRow(Base):
    """One outbound step of one case (``zendesk.ticket``, ``slack.alert``, ...)."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    step: Mapped[str] = mapped_column(String(64))
    after: Mapped[str | None] = mapped_column(String(64), nullable=True)  # step that must finish first
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dry_run: Mapped[bool] = mapped_column(default=False)
    next_attempt_at: Mapped[datetime] = mapped_column(TZ)
    claimed_until: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZ)
    updated_at: Mapped[datetime] = mapped_column(TZ)

    __table_args__ = (
        UniqueConstraint("case_id", "step", name="uq_deliveries_case_step"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )


class TimelineRow(Base):
    """Every state change of a case, with who or what caused it."""

    __tablename__ = "timeline"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(TZ)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

"""SQLAlchemy models. Schema changes go through an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The states and the UTC type live in types.py, which the request path loads without the ORM.
from bridge.store.types import (  # noqa: F401 - re-exported: callers import them from here
    ACKNOWLEDGED,
    CLOSED,
    DEAD,
    DONE,
    ESCALATED,
    IGNORED,
    OPEN,
    PENDING,
    PROCESSED,
    RECEIVED,
    RESOLVED,
    UTCDateTime,
)

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
    case_id: Mapped[str] = mapped_column(String(64))  # indexed first in ix_inbox_case_state
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
    # When the dispatcher handed the row to RQ (RQ mode). Set once: from then on only the sweeper
    # re-enqueues it, and only when Redis no longer holds its job.
    queued_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    # Routine updates travel in batches: the key of the row whose ``process_events`` job carries
    # this one (None for a row with a job of its own: urgent, retried or replayed).
    batch: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_inbox_state_next", "state", "next_attempt_at"),
        # Each statement of a job or the dispatcher matches more columns of one of these than of any
        # other, so even SQLite (no statistics) reads only the rows it wants, not the whole backlog
        # of received rows (migration 0012).
        Index("ix_inbox_case_state", "case_id", "state"),
        Index("ix_inbox_state_queued_next", "state", "queued_at", "next_attempt_at"),
        Index("ix_inbox_batch", "batch"),
        Index("ix_inbox_state_received", "state", "received_at"),
    )


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
    created_at: Mapped[datetime] = mapped_column(TZ, index=True)  # the reports' window
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
        # The recovery report's per-day digests read only these (migration 0015): a case row holds
        # its whole transcript, so without them each digest would read every row of the window.
        Index("ix_cases_created_times", "created_at", "updated_at", "escalated_at", "acknowledged_at",
              "first_response_at"),
        Index("ix_cases_id_created", "id", "created_at"),
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
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # per-instance data
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

    __table_args__ = (Index("ix_timeline_kind_case", "kind", "case_id"),)


class CaseFactsRow(Base):
    """The recovery report's judgment of one case (``metrics.facts.CaseFacts`` before linking), kept while
    its ``stamp`` (the case's times, its report-relevant timeline and KB suggestion) is unchanged: a
    report over months of history reads these instead of judging every transcript again."""

    __tablename__ = "case_facts"

    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(TZ, index=True)
    stamp: Mapped[str] = mapped_column(String(300))
    facts: Mapped[Any] = mapped_column(JSON)  # ``metrics.cache.to_json``: an array since f2


class ReportDayRow(Base):
    """The recovery report's figures of one whole UTC day (``metrics.days.DayPart``) for one set of
    filters (``scope``, empty for none), kept while the digests of the days they depend on are
    unchanged: the day before it (duplicates across midnight) through ``reach``, the last day a later
    contact could make one of its cases a repeat."""

    __tablename__ = "report_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[str] = mapped_column(String(16))
    reach: Mapped[date] = mapped_column(Date)
    depends: Mapped[str] = mapped_column(String(64))  # sha256 of the digests of days day-1 .. reach
    data: Mapped[Any] = mapped_column(JSON)


class MetricsSnapshotRow(Base):
    """Figures a queue worker computes every minute for ``/metrics`` (``metrics.snapshot``): a web worker
    reads them by name instead of building the recovery report itself (migration 0016)."""

    __tablename__ = "metrics_snapshots"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. ``recovery:30d``
    computed_at: Mapped[datetime] = mapped_column(TZ)
    body: Mapped[Any] = mapped_column(JSON)


# --- Closing the loop (migration 0005): vendor events back, ticket state, KB suggestions, notes ---

# Case-note kinds and states (bridge.loop.jira, bridge.loop.kb).
NOTE_ZENDESK, NOTE_SLACK, NOTE_UPDATE = "zendesk.note", "slack.thread", "customer.update"
INTENDED, DRAFTED, APPROVED = "intended", "drafted", "approved"
# KB suggestion states.
SUGGESTED, KB_DONE = "suggested", "done"


class VendorEventRow(Base):
    """Every accepted Zendesk or Jira webhook delivery, verbatim, before it is applied to a case.

    States follow the inbox: received → processed | ignored | dead; ``result`` says what applying
    it did (``applied``, ``stale``, ``own_change``, ``unknown_ticket``, ...).
    """

    __tablename__ = "vendor_events"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))  # "zendesk" | "jira"
    delivery_id: Mapped[str] = mapped_column(String(200))  # invocation id / webhook identifier
    event_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(TZ)
    state: Mapped[str] = mapped_column(String(16), default=RECEIVED)
    result: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(TZ)
    claimed_until: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TZ)

    __table_args__ = (
        UniqueConstraint("source", "delivery_id", name="uq_vendor_events_delivery"),
        Index("ix_vendor_events_state_next", "state", "next_attempt_at"),
    )


class TicketStateRow(Base):
    """What the bridge last applied from its Zendesk ticket, with the vendor time of each field.

    A change is applied only when its vendor time is newer than the stored one (out-of-order safe).
    """

    __tablename__ = "ticket_state"

    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    assignee_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assignee_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    csat: Mapped[str | None] = mapped_column(String(8), nullable=True)
    csat_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    csat_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    comment_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)  # comments already applied
    replies: Mapped[list[Any]] = mapped_column(JSON, default=list)  # redacted human replies (KB drafts)
    next_reconcile_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    reconciled_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    # The reconciler's cursor: the last audit it applied and the page[after] cursor of that audit's
    # page (None: the first page), where the next poll starts reading.
    audit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    audit_page: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TZ)


class JiraIssueRow(Base):
    """A Jira issue some case links to: whether it is resolved and which fix versions it has."""

    __tablename__ = "jira_issues"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    resolution: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    fix_versions: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"id", "name"}]
    released: Mapped[list[Any]] = mapped_column(JSON, default=list)  # version ids already announced
    updated_at: Mapped[datetime] = mapped_column(TZ)


class JiraVersionRow(Base):
    """A Jira version announced as released. Kept so an issue that joins the version later (its
    ``issue_updated`` delivered after ``version_released``, or sent before the release) still
    brings its cases the news."""

    __tablename__ = "jira_versions"

    version_id: Mapped[str] = mapped_column(String(100), primary_key=True)  # Jira's id, else the name
    name: Mapped[str] = mapped_column(String(200), default="")
    released_at: Mapped[datetime] = mapped_column(TZ)


class KbSuggestionRow(Base):
    """A knowledge-base change drafted from the human's answer to a content-gap case."""

    __tablename__ = "kb_suggestions"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # "llm" | "template"
    status: Mapped[str] = mapped_column(String(16), default=SUGGESTED)
    created_at: Mapped[datetime] = mapped_column(TZ)
    done_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kb_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class CaseNoteRow(Base):
    """A note the loop wants sent (internal Zendesk note, Slack thread post) or a customer update
    drafted for the owner to approve. One per (case, kind, reason): repeats collapse."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # zendesk.note | slack.thread | customer.update
    reason: Mapped[str] = mapped_column(String(200))  # e.g. "jira.resolved:PROJ-1"
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=INTENDED)
    created_at: Mapped[datetime] = mapped_column(TZ)
    updated_at: Mapped[datetime] = mapped_column(TZ)
    by: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (UniqueConstraint("case_id", "kind", "reason", name="uq_case_notes_reason"),)


class CsatSampleRow(Base):
    """Satisfaction ratings of tickets the bridge did not create: the helpdesk's baseline."""

    __tablename__ = "csat_samples"

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[str] = mapped_column(String(8))
    rated_at: Mapped[datetime] = mapped_column(TZ, index=True)


class BugFingerprintRow(Base):
    """One bug fingerprint → the Jira issue filed for it (see connectors.jira.fingerprint).

    ``status``: ``creating`` while ``claimed_by`` (a case id) files the issue (``attempted_at`` set
    once a create was sent, so a retry after an ambiguous failure searches before it creates again),
    then ``open``; ``closed`` once the issue is resolved (a new report then files a new issue).
    ``case_ids`` lists the cases on the issue, the first being the one that filed it;
    ``customer_keys`` the distinct customers behind ``customers`` and ``mrr``. ``version`` makes
    every update a compare-and-set, so two workers adding customers at once both count.
    """

    __tablename__ = "bug_fingerprints"

    fingerprint: Mapped[str] = mapped_column(String(80), primary_key=True)
    issue_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16))
    customers: Mapped[int] = mapped_column(Integer, default=0)
    mrr: Mapped[float] = mapped_column(default=0.0)  # Float, from the annotation
    case_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    customer_keys: Mapped[list[Any]] = mapped_column(JSON, default=list)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempted_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(TZ)
    updated_at: Mapped[datetime] = mapped_column(TZ)


class WebSessionRow(Base):
    """A signed-in browser session. The cookie carries a random id; only its hash is kept here, and
    signing out deletes the row, so a copied cookie stops working everywhere at once."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's session id
    user: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(TZ)
    expires_at: Mapped[datetime] = mapped_column(TZ, index=True)


class LoginThrottleRow(Base):
    """Failed sign-ins (or admin tokens) per name and per address within the current window."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # "user:ana", "addr:203.0.113.5"
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(TZ)

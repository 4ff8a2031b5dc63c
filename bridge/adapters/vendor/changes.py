"""The typed changes the vendor adapters produce and the loop applies: vendor JSON stops before these.

Zendesk: one ``TicketChange`` per change of a ticket (a comment, a status, an assignee, a rating),
or a ``Snapshot`` of the ticket that the loop diffs against what it last applied. Jira: an
``IssueChanged`` (resolution and fix versions of an issue as the update says) or a
``VersionReleased``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Comment:
    id: str
    author_id: str | None
    public: bool
    body: str
    is_staff: bool | None  # None: unknown (trigger payloads)
    via: str | None
    at: datetime | None
    macro_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TicketChange:
    kind: str  # "comment" | "status" | "assignee" | "csat"
    ticket_id: str
    external_id: str | None
    at: datetime | None  # vendor time of the change
    actor_id: str | None
    status_from: str | None = None
    status_to: str | None = None
    assignee_id: str | None = None
    score: str | None = None
    csat_comment: str | None = None
    comment: Comment | None = None


@dataclass(frozen=True)
class Snapshot:
    """A ticket as a trigger or the reconciler sees it; diffed against the stored state."""

    ticket_id: str
    external_id: str | None
    at: datetime | None
    actor_id: str | None
    status: str | None = None
    assignee_id: str | None = None
    score: str | None = None
    csat_comment: str | None = None
    comments: tuple[Comment, ...] = field(default_factory=tuple)



@dataclass(frozen=True)
class FixVersion:
    id: str  # "" when Jira sent none
    name: str
    released: bool  # the update itself says the version is released


@dataclass(frozen=True)
class IssueChanged:
    """``jira:issue_updated`` / ``jira:issue_created``."""

    key: str
    at: datetime | None  # the webhook's timestamp
    actor: str  # account id, else user name, else "webhook"
    # True: resolved (``resolution`` names how); False: no resolution (reopened); None: neither.
    resolved: bool | None
    resolution: str
    resolved_at: datetime | None  # the issue's resolution date, when it has one
    fix_versions: tuple[FixVersion, ...] = ()


@dataclass(frozen=True)
class VersionReleased:
    """``jira:version_released``: at least one of ``id`` and ``name`` is set."""

    id: str
    name: str
    at: datetime | None
    actor: str


Change = TicketChange | Snapshot | IssueChanged | VersionReleased

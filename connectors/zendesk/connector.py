"""The Zendesk connector: one handler per step action over the client and the pure builders, and
the reconciler's reads (a ticket's snapshot, its audits)."""

from __future__ import annotations

from typing import Any

import requests

from bridge.config import Settings
from connectors.base import Context, Handler, PermanentError, Result, RetryableError, Step, dispatch
from connectors.config import ZendeskConfig
from connectors.files import EvidenceFile, GeneratedFile, fetch_evidence
from connectors.zendesk.audits import (
    STAFF_ROLES,
    AuditRead,
    audits_after,
    comment_authors,
    mark_staff,
    next_cursor,
    page_audits,
)
from connectors.zendesk.build import (
    TicketCreate,
    TicketNote,
    marker,
    note_body,
    requester_user,
    ticket_payload,
)
from connectors.zendesk.client import ZendeskClient, classify, refused_file, via_channel

MAX_AUDIT_PAGES = 10  # per read: a longer history goes on from there at the next poll


class ZendeskConnector:
    """Creates one ticket per case, exactly once: lookup by external_id, then create with a key."""

    name = "zendesk"

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.config = ZendeskConfig.from_settings(settings)
        self.client = ZendeskClient(self.config, session)

    def send(self, step: Step, request: Any, context: Context) -> Result:
        return dispatch(self, ACTIONS, step, request, context, classify)

    def create_ticket(self, request: TicketCreate, context: Context) -> Result:
        # Exactly once: on a first attempt the Idempotency-Key covers the create; after a failed or
        # replayed one, a ticket made by it (even one whose answer was lost) is found here first.
        existing = self.client.find_ticket(request.external_id or context.case_id) if context.attempt > 1 else None
        if existing is not None:
            return Result(external_id=existing)
        # The requester rides inline (one call per ticket, not a users/create_or_update first): Zendesk
        # creates the user, or takes the one who has that e-mail (keeping the name it holds).
        tokens, lines = self._uploads(request.attachments, request.evidence)
        payload = ticket_payload(request, self.config, requester_user(request, self.config), tokens, lines)
        return Result(external_id=self.client.create_ticket(payload, context.key))

    def add_note(self, request: TicketNote, context: Context) -> Result:
        """Add one comment, exactly once: comments have no idempotency key, so look first."""
        ticket_id = str(request.ticket or "")
        if not ticket_id.isdigit():
            raise PermanentError(f"no Zendesk ticket to add the note to ({ticket_id or 'none'})")
        body, tag = note_body(request, context.key), marker(context.key)
        for comment in self.client.comments(ticket_id) if context.attempt > 1 else ():
            if (comment.body or "").strip() == body.strip() or (not request.public and tag in (comment.body or "")):
                return Result(external_id=f"{ticket_id}#{comment.id}")
        comment: dict[str, Any] = {"body": body, "public": request.public}
        if request.evidence:  # files the customer sent later ride on the note
            tokens, lines = self._uploads((), request.evidence)
            if lines:
                comment["body"] = note_body(request, context.key, lines)
            if tokens:
                comment["uploads"] = tokens
        self.client.add_comment(ticket_id, comment, request.assignee_id)
        return Result(external_id=f"{ticket_id}#note")

    def _uploads(self, generated: tuple[GeneratedFile, ...],
                 evidence: tuple[EvidenceFile, ...]) -> tuple[list[str], list[str]]:
        """Upload generated files and fetched evidence; every item gets a line saying what happened."""
        tokens: list[str] = []
        lines: list[str] = []
        for item in generated:
            tokens.append(self.client.upload(item.text.encode(), item.name, item.content_type))
            lines.append(f"- {item.name}: attached")
        for outcome in fetch_evidence(evidence, self.config.fetch_allow):
            got = outcome.fetched
            if got is None:
                lines.append(f"- {outcome.shown_url}: not attached: {outcome.refused}")
                continue
            try:
                tokens.append(self.client.upload(got.content, outcome.item.name or got.name, got.content_type))
            except Exception as exc:  # this file refused (too large, a type Zendesk will not take)
                status = refused_file(exc)
                if status is None:
                    raise
                lines.append(f"- {outcome.shown_url}: not attached: Zendesk refused the file (HTTP {status})")
                continue
            lines.append(f"- {outcome.item.name or got.name} ({outcome.item.kind}): attached from {outcome.shown_url}")
        return tokens, lines

    # -- the reconciler's reads ----------------------------------------------------------------------

    def ticket_activity(self, ticket_id: str) -> dict[str, Any]:
        """A read-only snapshot of a bridge ticket for the reconciler (missed webhooks)."""
        try:
            ticket = self.client.ticket(ticket_id)
            comments = self.client.comments(ticket_id)
            staff = self._staff({str(c.author_id) for c in comments if c.author_id})
        except (RetryableError, PermanentError):
            raise
        except Exception as exc:
            raise classify(exc) from exc
        rating = getattr(ticket, "satisfaction_rating", None) or {}
        if not isinstance(rating, dict):
            rating = {"score": getattr(rating, "score", None), "comment": getattr(rating, "comment", None)}
        return {
            "id": str(ticket.id), "external_id": ticket.external_id, "status": ticket.status,
            "assignee_id": ticket.assignee_id, "updated_at": str(ticket.updated_at),
            "satisfaction_rating": {"score": rating.get("score"), "comment": rating.get("comment")},
            "comments": [
                {"id": c.id, "author_id": c.author_id, "public": bool(c.public), "body": c.body or "",
                 "created_at": str(c.created_at), "via": {"channel": via_channel(c)},
                 "is_staff": staff.get(str(c.author_id), False), "macro_ids": []}
                for c in comments
            ],
        }

    def ticket_audits(self, ticket_id: str, page: str | None = None, after: str | None = None) -> AuditRead:
        """The ticket's audits, oldest first, from the page the cursor ``page`` names (None: the
        first), at most MAX_AUDIT_PAGES pages (``more`` says pages are left). Each audit carries the
        cursor that read its page, so the reconciler can start the next poll on the page of the last
        audit it applied (``after``). The authors of public comments after that one are looked up,
        once each: staff means role agent or admin."""
        try:
            audits, more, cursor = [], False, page
            for _ in range(MAX_AUDIT_PAGES):
                data = self.client.audit_page(ticket_id, cursor)
                audits += page_audits(data, cursor)
                cursor = next_cursor(data)
                if cursor is None:
                    break
            else:
                more = True
            fresh = audits_after(audits, after)
            fresh = audits if fresh is None else fresh
            mark_staff(fresh, self._staff(comment_authors(fresh)))
        except (RetryableError, PermanentError):
            raise
        except Exception as exc:
            raise classify(exc) from exc
        return {"audits": audits, "more": more}

    def _staff(self, authors: set[str]) -> dict[str, bool]:
        """Author id → on the support side (role agent or admin); one lookup per author."""
        return {author: self.client.user_role(author) in STAFF_ROLES for author in sorted(a for a in authors
                                                                                          if a.isdigit())}

    def existing_ticket(self, external_id: str) -> str | None:
        return self.client.find_ticket(external_id)


# Step action → handler: the request each one takes is the one its step's builder returns.
ACTIONS: dict[str, Handler] = {
    "ticket": ZendeskConnector.create_ticket,
    **dict.fromkeys(("link", "assign", "note", "reply", "followup"), ZendeskConnector.add_note),
}

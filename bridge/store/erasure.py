"""What the retention purge and a customer's erasure change in the store: which cases, and the
scrub itself (payloads, transcript, summary, quotes, follow-up texts), keeping ids, times, status,
triggers, priority, team and owner for the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from bridge.store import days_repo
from bridge.store.cases import get_case, timeline_of
from bridge.store.deliveries import deliveries_of
from bridge.store.intake_rows import inbox_event
from bridge.store.models import ACKNOWLEDGED, ESCALATED, OPEN, CaseFactsRow, CaseRow, InboxRow


def minimal_event(event: dict[str, Any]) -> dict[str, Any]:
    conversation = event.get("conversation") or {}
    return {"event_id": event.get("event_id") or "purged", "type": event.get("type") or "conversation.updated",
            "conversation": {"id": conversation.get("id") or "purged", "messages": []}}


def scrub_case(session: Session, case: CaseRow) -> int:
    """Scrub one case, its timeline, its follow-up steps and its inbox rows; returns the inbox rows."""
    case.event = minimal_event(case.event or {})
    case.summary = None
    case.customer_email = None
    case.customer_id = None
    if case.decision:  # the matched phrases quote the customer
        case.decision = {**case.decision, "triggers": [
            {**hit, "evidence": "(purged)"} for hit in case.decision.get("triggers", [])]}
    for entry in timeline_of(session, case.id):
        if "evidence" in (entry.detail or {}) and entry.kind != "customer.followup":
            entry.detail = {**entry.detail, "evidence": []}
        if entry.kind == "customer.followup":  # what the customer wrote after the escalation
            entry.detail = {**entry.detail, "text": "(purged)", "files": []}
    for delivery in deliveries_of(session, case.id):
        if delivery.payload and delivery.step.split("#", 1)[0].endswith(".followup"):
            delivery.payload = {"n": delivery.payload.get("n"), "purged": True}
    # The report's cached judgment holds the customer's e-mail and words, and the scrub moves none of
    # the times its stamps and day digests compare: drop it, and the kept days it counted in.
    session.execute(delete(CaseFactsRow).where(CaseFactsRow.case_id == case.id))
    days_repo.forget(session)
    rows = session.scalars(select(InboxRow).where(InboxRow.case_id == case.id)).all()
    for row in rows:
        row.body, row.headers, row.event = b"", {}, minimal_event(inbox_event(row.event, row.body))
    return len(rows)


def idle_cases(session: Session, cutoff: datetime) -> Sequence[CaseRow]:
    """Cases untouched since ``cutoff`` that no human is still working on."""
    return session.scalars(select(CaseRow).where(CaseRow.updated_at < cutoff,
                                                 CaseRow.status.not_in((ESCALATED, ACKNOWLEDGED)))).all()


def scrub_caseless_inbox(session: Session, cutoff: datetime, skip: Sequence[str]) -> int:
    """Inbox rows received before ``cutoff`` that never became an escalated case (rejected late, or
    ignored) age out the same way; rows of the cases in ``skip`` were scrubbed with them."""
    count = 0
    for row in session.scalars(select(InboxRow).where(InboxRow.received_at < cutoff, InboxRow.body != b"")):
        if row.case_id not in skip and (get_case(session, row.case_id) is None or
                                        get_case(session, row.case_id).status == OPEN):  # type: ignore[union-attr]
            row.body, row.headers, row.event = b"", {}, minimal_event(inbox_event(row.event, row.body))
            count += 1
    return count


def cases_of_customer(session: Session, emails: Sequence[str], ids: Sequence[str]) -> list[CaseRow]:
    """Cases of a customer by e-mail (lower case) or platform customer id, also those whose stored
    conversation names the customer without the indexed columns set."""
    candidates = list(session.scalars(select(CaseRow).where(or_(
        CaseRow.customer_email.in_(emails) if emails else False,
        CaseRow.customer_id.in_(ids) if ids else False,
    ))).all())
    for case in session.scalars(select(CaseRow)):
        customer = (case.event or {}).get("customer") or {}
        if case not in candidates and ((customer.get("email") or "").lower() in emails or
                                       (customer.get("id") or "") in ids):
            candidates.append(case)
    return candidates

"""The reconciler: what the Zendesk webhooks missed, read back from the ticket's audits.

Zendesk webhooks can be lost (paused after failures, a bridge outage longer than Zendesk retries),
and a ticket polled as a snapshot (status, assignee, rating, comments) hides whatever happened
between two polls: a solve and a reopen in between look like nothing. So every ``RECONCILE_EVERY``
a live bridge ticket's audits are read after the last one applied, and every change in them is
applied in audit order, with the audit's own time and author, through ``zendesk.apply_change``, the
code the webhooks go through:

* a change a webhook already applied comes out ``unchanged``, ``stale`` or ``duplicate``;
* the bridge's own changes (``ZENDESK_BRIDGE_USER_ID``) are ``own_change``;
* a solve and a reopen between two polls are both recorded (``ticket.solved``, ``ticket.reopened``).

The cursor lives on ``ticket_state``: ``audit_id`` (the last audit applied) and ``audit_page`` (the
page[after] cursor of its page). A poll starts reading on that page and applies what follows the
last audit; if the page no longer holds it (a cursor Zendesk stopped honouring), it reads again
from the first page. One read takes at most ``MAX_AUDIT_PAGES`` pages; a longer history goes on
from there at the next poll.

When the audits cannot be read (403: a token without the global read scope the audits need; 404;
any other refusal or a broken answer) the poll falls back to the snapshot diffed against the stored
state, as before audits, and logs it. A 429, a 5xx or an unreachable Zendesk fail the poll without
a fallback (the snapshot would fail alike): the next poll, already scheduled, tries again.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import connectors
from bridge import runtime as rt_module
from bridge.adapters.vendor import zendesk as vendor_zendesk
from bridge.loop import zendesk
from bridge.loop.outcome import Outcome, after_commit
from bridge.runtime import Runtime
from bridge.store import loop_repo, loop_state, repo
from bridge.store.db import Session
from connectors.base import PermanentError, RetryableError
from connectors.zendesk.audits import Audit, AuditRead, audits_after

log = logging.getLogger("bridge.loop")


class TicketSource(Protocol):
    """What the reconciler needs from the Zendesk connector (read-only calls)."""

    def ticket_audits(self, ticket_id: str, page: str | None = None, after: str | None = None) -> AuditRead:
        """The ticket's audits, oldest first, from the page the cursor ``page`` names, comment
        authors' roles filled in for the audits after ``after`` (see ``connectors.zendesk.audits``);
        raises ``RetryableError`` or ``PermanentError``."""
        ...

    def ticket_activity(self, ticket_id: str) -> dict[str, Any]:
        """The ticket as a snapshot: ``id``, ``external_id``, ``status``, ``assignee_id``,
        ``updated_at``, ``satisfaction_rating`` {``score``, ``comment``} and ``comments``: each
        {``id``, ``author_id``, ``public``, ``body``, ``created_at``, ``via`` {``channel``},
        ``is_staff`` (author role is agent/admin), ``macro_ids``}. The fallback when audits fail."""
        ...


def _source(rt: Runtime) -> TicketSource | None:
    connector = connectors.connector_for("zendesk", rt.settings)
    return connector if hasattr(connector, "ticket_audits") else None  # dry run: nothing to poll


def reconcile_ticket(case_id: str, rt: Runtime | None = None, source: TicketSource | None = None) -> str:
    """Poll one live bridge ticket and apply what its webhooks may have missed."""
    rt = rt or rt_module.current()
    now = rt.clock()
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        ticket_id = str((case.refs or {}).get(loop_repo.ZENDESK_TICKET) or "") if case else ""
        if case is None or not ticket_id or ticket_id.startswith("dry-run:"):
            return "skipped"
        state = loop_repo.ticket_state(s, case, ticket_id, now)
        # Push the next poll first: a failing poll must not make the runner spin on this case.
        loop_state.schedule_reconcile(state, now + loop_repo.RECONCILE_EVERY)
        cursor = (state.audit_id, state.audit_page)
        s.commit()
    source = source or _source(rt)
    if source is None:
        return "skipped"
    try:
        audits = _new_audits(source, case_id, ticket_id, *cursor)
    except RetryableError as exc:  # throttled, 5xx, unreachable: the next poll tries again
        log.warning("bridge.loop.reconcile_failed", extra={"case": case_id, "error": str(exc)[:200]})
        return "failed"
    except Exception as exc:  # audits unreadable here (403, 404, a broken answer): the snapshot instead
        log.warning("bridge.loop.audits_unreadable", extra={"case": case_id, "ticket": ticket_id,
                                                             "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
        return _reconcile_snapshot(rt, source, case_id, ticket_id)
    with rt.store.session() as s:
        outcome = apply_audits(rt, s, case_id, ticket_id, audits)
        s.commit()
    after_commit(rt, outcome)
    return outcome.result


def _new_audits(source: TicketSource, case_id: str, ticket_id: str, last: str | None,
                page: str | None) -> list[Audit]:
    """The audits after ``last``, reading from the page ``page`` names."""
    read: AuditRead | None = None
    try:
        read = source.ticket_audits(ticket_id, page, last)
    except PermanentError:
        if page is None:
            raise
        # A stored cursor Zendesk refuses (400: expired or malformed): read from the first page.
    newer = audits_after(read["audits"], last) if read is not None else None
    if newer is None and page is not None:
        log.info("bridge.loop.audit_cursor_reset", extra={"case": case_id, "ticket": ticket_id})
        read = source.ticket_audits(ticket_id, None, last)
        newer = audits_after(read["audits"], last)
    assert read is not None
    if newer is None:  # the last audit applied is not in the list at all: the ids say which came later
        newer = [a for a in read["audits"] if _later(a["id"], last)]
    if read["more"]:
        log.info("bridge.loop.audits_left", extra={"case": case_id, "ticket": ticket_id, "read": len(newer)})
    return newer


def _later(ident: str, than: str | None) -> bool:
    """Zendesk audit ids are integers allocated in time order."""
    if than is None:
        return True
    if ident.isdigit() and than.isdigit():
        return int(ident) > int(than)
    return ident != than


def apply_audits(rt: Runtime, s: Session, case_id: str, ticket_id: str, audits: list[Audit]) -> Outcome:
    """Apply every change of these audits in order and move the cursor past the last one."""
    case = repo.get_case(s, case_id)
    if case is None or case.escalated_at is None:
        return Outcome(["unknown_ticket"])
    # The same locks, in the same order, as a webhook about this ticket (``zendesk.apply_zendesk``).
    state = loop_repo.ticket_state(s, case, ticket_id, rt.clock())
    case = repo.lock_case(s, case.id) or case
    outcome = Outcome()
    for audit in audits:
        for change in vendor_zendesk.changes_from_audit(audit, ticket_id, case_id):
            outcome.results.append(zendesk.apply_change(rt, s, case, state, change, outcome))
    # Another poll may have applied more meanwhile (the sweeper and a dispatcher racing): the cursor
    # never moves back (applying an audit twice changes nothing, but would cost a read).
    moved = bool(audits) and _later(audits[-1]["id"], state.audit_id)
    loop_state.reconciled(state, (audits[-1]["id"], audits[-1]["page"]) if moved else None, rt.clock())
    return outcome


def _reconcile_snapshot(rt: Runtime, source: TicketSource, case_id: str, ticket_id: str) -> str:
    """The fallback: the ticket as it is now, diffed against what was applied (``zendesk.apply_zendesk``)."""
    try:
        snapshot = source.ticket_activity(ticket_id)
    except Exception as exc:
        log.warning("bridge.loop.reconcile_failed", extra={"case": case_id, "error": type(exc).__name__})
        return "failed"
    snapshot.setdefault("id", ticket_id)
    snapshot.setdefault("external_id", case_id)
    parsed = vendor_zendesk.snapshot_from(snapshot)
    with rt.store.session() as s:
        outcome = zendesk.apply_zendesk(rt, s, [parsed] if parsed else [])
        loop_repo.mark_reconciled(s, case_id, rt.clock())
        s.commit()
    after_commit(rt, outcome)
    return outcome.result

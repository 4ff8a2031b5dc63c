"""The loop's queue entry points (ids are their only argument, like ``bridge.worker.jobs``).

* ``process_vendor_event(id)`` applies one stored ``vendor_events`` row. Every outcome that is not
  a crash settles the row: ``processed`` (something changed) or ``ignored`` with a ``result``
  (``unknown_ticket``, ``own_change``, ``stale``, ``duplicate``, ``not_human``, ...). Unknown tickets
  are never an error: Zendesk pauses webhooks that fail often.
* ``reconcile_ticket(case_id)`` polls a live bridge ticket every ``RECONCILE_EVERY`` and applies
  what the webhooks missed, read from the ticket's audits, through the same code (so a repeat
  changes nothing): ``bridge.loop.reconcile``.

Both paths are stored in Redis with each job; the paths they had before they moved are mapped in
``bridge.queue.MOVED``.
"""

from __future__ import annotations

import logging

from bridge import runtime as rt_module
from bridge.adapters.base import Inbound, MalformedPayload, UnsupportedEvent
from bridge.adapters.vendor import VENDOR_ADAPTERS
from bridge.adapters.vendor.base import Ignored
from bridge.loop import jira, zendesk
from bridge.loop.outcome import Outcome, after_commit
from bridge.loop.reconcile import reconcile_ticket
from bridge.runtime import Runtime
from bridge.store import loop_repo
from bridge.store.db import Session
from connectors.base import PermanentError, RetryableError

log = logging.getLogger("bridge.loop")

PROCESS_VENDOR_EVENT = "bridge.loop.jobs.process_vendor_event"
RECONCILE_TICKET = "bridge.loop.jobs.reconcile_ticket"
__all__ = ["PROCESS_VENDOR_EVENT", "RECONCILE_TICKET", "apply_delivery", "process_vendor_event", "reconcile_ticket"]


def process_vendor_event(ident: int | str, rt: Runtime | None = None) -> str:
    rt = rt or rt_module.current()
    ident = int(ident)
    with rt.store.session() as s:
        claimed = loop_repo.claim_vendor_event(s, ident, rt.clock(), rt.settings.lease_seconds)
        s.commit()
    if not claimed:
        return "skipped"
    try:
        with rt.store.session() as s:
            row = loop_repo.get_vendor_event(s, ident)
            assert row is not None
            outcome = apply_delivery(rt, s, row.source, row.body)
            loop_repo.settle_vendor_event(s, ident, outcome.applied, outcome.result, rt.clock())
            s.commit()
    except Exception as exc:
        return _record_failure(rt, ident, exc)
    after_commit(rt, outcome)
    return "processed" if outcome.applied else "ignored"


def _record_failure(rt: Runtime, ident: int, exc: Exception) -> str:
    retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
    with rt.store.session() as s:
        dead, next_at, attempts = loop_repo.fail_vendor_event_id(
            s, ident, f"{type(exc).__name__}: {exc}", rt.clock(), rt.settings.retry_intervals,
            isinstance(exc, PermanentError), retry_after)
        s.commit()
    log.warning("bridge.loop.failed", extra={"id": ident, "attempts": attempts, "dead": dead}, exc_info=True)
    if dead:
        return "dead"
    try:
        rt.queue.enqueue(PROCESS_VENDOR_EVENT, ident, at=next_at, attempt=attempts)
    except Exception:  # the sweeper finds it
        log.warning("bridge.loop.reschedule_failed", extra={"id": ident})
    return "retry"


def apply_delivery(rt: Runtime, s: Session, source: str, body: bytes) -> Outcome:
    """Parse a stored delivery with its vendor's adapter and apply the typed changes."""
    adapter = VENDOR_ADAPTERS["jira" if source == "jira" else "zendesk"]
    try:
        changes = adapter.parse(Inbound(body=body, headers={}), rt.settings.max_json_depth)
    except MalformedPayload as exc:
        return Outcome([exc.code])
    except UnsupportedEvent:
        return Outcome(["unsupported_event"])
    except Ignored as exc:
        return Outcome([exc.result])
    if source == "jira":
        return jira.apply_jira(rt, s, changes)
    return zendesk.apply_zendesk(rt, s, changes)

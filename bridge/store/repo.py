"""The repository, one import for every caller: the store's functions by table group.

``attempts`` (leases, failed attempts), ``inbox``, ``deliveries``, ``cases`` (and the timeline);
callers write ``repo.get_case(s, …)`` whichever module holds it.
"""

from __future__ import annotations

from bridge.store.attempts import (
    MAX_ERROR,
    MAX_RETRY_AFTER,
    Failure,
    fail,
    free,
    insert_statement,
)
from bridge.store.cases import (
    ROUTING_LOCK_NS,
    add_timeline,
    earlier_tickets,
    get_case,
    last_assigned,
    lock_case,
    lock_routing,
    merge_refs,
    open_case_counts,
    timeline_of,
)
from bridge.store.deliveries import (
    claim_delivery,
    dead_letters,
    deliveries_of,
    due_deliveries,
    ensure_deliveries,
    refs_of,
    revive_delivery,
    stale_deliveries,
)
from bridge.store.inbox import (
    batch_rows,
    claim_case_inbox,
    claim_inbox,
    delete_old_inbox,
    due_inbox,
    get_inbox,
    inbox_rows,
    inbox_urgent,
    insert_inbox,
    job_refs,
    revive_inbox,
    set_batch,
    stale_inbox,
    take_for_dispatch,
    waiting_rows,
)

_insert = insert_statement  # the loop's repository builds its upserts with it

__all__ = [
    "Failure",
    "MAX_ERROR",
    "MAX_RETRY_AFTER",
    "ROUTING_LOCK_NS",
    "add_timeline",
    "batch_rows",
    "claim_case_inbox",
    "claim_delivery",
    "claim_inbox",
    "dead_letters",
    "delete_old_inbox",
    "deliveries_of",
    "due_deliveries",
    "due_inbox",
    "earlier_tickets",
    "ensure_deliveries",
    "fail",
    "free",
    "get_case",
    "get_inbox",
    "inbox_rows",
    "inbox_urgent",
    "insert_inbox",
    "insert_statement",
    "job_refs",
    "last_assigned",
    "lock_case",
    "lock_routing",
    "merge_refs",
    "open_case_counts",
    "refs_of",
    "revive_delivery",
    "revive_inbox",
    "set_batch",
    "stale_deliveries",
    "stale_inbox",
    "take_for_dispatch",
    "timeline_of",
    "waiting_rows",
]

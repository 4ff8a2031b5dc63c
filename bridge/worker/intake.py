"""Durable intake: turn verified, parsed events into inbox rows, then let the workers know.

A 2xx means the row is committed: concurrent requests of a process share one commit (group
commit, bridge/store/group_commit.py), and each answers once the commit holding its rows is
durable. With RQ, the request does nothing more: the dispatcher in `bridge worker` moves committed
rows to Redis in batches (one round trip per batch instead of two per request), so Redis being slow
or down never touches the sender's ack. Without RQ, the in-process runner is woken. Storage
failures propagate so the view answers 503 and the sender retries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bridge.events import Event
from bridge.runtime import Runtime
from bridge.store import intake_rows
from bridge.store.db import JSONText
from bridge.store.intake_rows import EVENT_IN_BODY_TEXT
from bridge.store.types import RECEIVED

log = logging.getLogger("bridge.intake")

_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|api[-_]?key|password|session", re.I)
MAX_HEADER_VALUE = 1000


def event_key(platform: str, sender_event_id: str) -> str:
    """K: the idempotency key of an event, stable across redeliveries and replays."""
    return "hb-" + hashlib.sha256(f"{platform}|{sender_event_id}".encode()).hexdigest()[:32]


def case_id_for(platform: str, conversation_id: str) -> str:
    return "c-" + hashlib.sha256(f"{platform}|{conversation_id}".encode()).hexdigest()[:20]


# Credentials some platforms put in the body itself: Drift sends its verification token in every
# event (``{"token": …}``). The stored copy is for audit and the case page, so the value goes.
BODY_CREDENTIALS: dict[str, tuple[str, ...]] = {"drift": ("token",)}


def stored_body(platform: str, body: bytes) -> bytes:
    """The body as kept in the inbox: verbatim, except a credential the platform puts in it."""
    fields = BODY_CREDENTIALS.get(platform)
    if not fields:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or not any(isinstance(data.get(f), str) for f in fields):
        return body
    masked = {k: "[redacted]" if k in fields and isinstance(v, str) else v for k, v in data.items()}
    return json.dumps(masked, ensure_ascii=False, separators=(",", ":")).encode()


def audit_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers kept for audit; credentials are replaced, signatures (not secrets) are kept."""
    kept: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        kept[lower] = "[redacted]" if _SECRET_HEADER.search(lower) else value[:MAX_HEADER_VALUE]
    return kept


@dataclass(frozen=True)
class Accepted:
    key: str
    case_id: str
    event_type: str
    duplicate: bool


def store_events(
    rt: Runtime, platform: str, body: bytes, headers: dict[str, str], events: Sequence[Event],
    body_is_event: bool = False,
) -> list[Accepted]:
    """Store the request's events in the process's next shared commit; return once it is durable.

    ``body_is_event``: the body is the one event, as validated (``Adapter.event_in_body``); the row
    keeps the body alone (``intake_rows.inbox_event`` reads the event from it)."""
    now = rt.clock()
    kept = stored_body(platform, body)
    in_body = body_is_event and len(events) == 1 and kept is body
    body = kept
    # Built before joining the commit: the batch holds the write lock while its units run.
    rows = [
        dict(
            key=event_key(platform, event.event_id), platform=platform, sender_event_id=event.event_id,
            event_type=event.type, case_id=case_id_for(platform, event.conversation.id), body=body,
            headers=headers, event=JSONText(EVENT_IN_BODY_TEXT if in_body else event.to_json_text()),
            received_at=now, state=RECEIVED, attempts=0,
            next_attempt_at=now, updated_at=now,
        )
        for event in events
    ]

    inserted = rt.store.group.run_core(intake_rows.insert_all(rows))  # Core: no ORM in the web process
    accepted = [Accepted(row["key"], row["case_id"], row["event_type"], duplicate=not new)
                for row, new in zip(rows, inserted, strict=True)]
    for item in accepted:
        if item.duplicate:
            log.info("bridge.intake.duplicate", extra={"key": item.key, "platform": platform})
            continue
        if rt.queue.kind == "rq":
            continue  # the workers' dispatcher hands committed events to RQ in batches
        try:
            rt.queue.enqueue("process_event", item.key)
        except Exception as exc:  # durable already; the sweeper enqueues it once the queue is back
            log.warning("bridge.intake.enqueue_failed", extra={"key": item.key, "error": type(exc).__name__})
    return accepted

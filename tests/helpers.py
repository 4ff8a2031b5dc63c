"""Helpers shared by tests: signing generic events, building events, running the runner."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge.signing import sign_standard_webhook

# The published contract of the generic webhook (docs/architecture.md), kept with the tests so a fresh clone
# checks the models against it; tests/test_shared_extras.py checks it is the shared one when present.
EVENT_SCHEMA_FILE = Path(__file__).resolve().parent / "fixtures" / "handoff-event.v1.schema.json"

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkh"


def generic_event(
    event_id: str | None = None,
    type_: str = "handoff.requested",
    conversation_id: str = "conv-1",
    messages: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id or f"evt-{uuid.uuid4().hex[:12]}",
        "type": type_,
        "conversation": {
            "id": conversation_id,
            "messages": messages
            if messages is not None
            else [
                {"id": "m1", "role": "customer", "text": "I need to move my workspace to the EU region"},
                {"id": "m2", "role": "bot", "text": "Sorry, I could not find an answer.", "confidence": 0.2},
                {"id": "m3", "role": "customer", "text": "Can I talk to a person please?"},
            ],
        },
        "customer": {"id": "cus-1", "email": "ana@example.com", "name": "Ana Lima", "plan": "pro"},
    }
    if type_ == "handoff.requested":
        event["handoff"] = {"requested_by": "customer", "reason": "customer asked for a person"}
    event.update(extra)
    return event


def signed_headers(
    body: bytes, secret: str = SECRET, timestamp: int | None = None, msg_id: str | None = None
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    mid = msg_id or f"msg_{uuid.uuid4().hex[:16]}"
    return {
        "Content-Type": "application/json",
        "webhook-id": mid,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard_webhook(body, mid, ts, secret),
    }


def post_generic(client: Any, event: dict[str, Any], status: tuple[int, ...] = (200, 202)) -> dict[str, Any]:
    """POST ``event`` signed to the generic webhook of a Flask test client; assert the answer's status
    (202 accepted, 200 a redelivery of an accepted event) and return its JSON."""
    body = dumps(event)
    response = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert response.status_code in status, (response.status_code, response.get_json())
    return response.get_json()  # type: ignore[no-any-return]


def dumps(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


class HeldCommit:
    """A commit held in flight on a store's group committer, so that requests queue behind it.

    ``queued(n)`` waits until ``n`` requests wait (a bound, not a timing: it fails only if they
    never arrive); leaving the block releases the commit, and the queued requests then share the
    next one."""

    def __init__(self, group: Any) -> None:
        self.group = group
        self._release = threading.Event()
        self._started = threading.Event()

    def _unit(self, _session: Any) -> None:
        self._started.set()
        self._release.wait(30)

    def __enter__(self) -> HeldCommit:
        self._thread = threading.Thread(target=self.group.run, args=(self._unit,))
        self._thread.start()
        assert self._started.wait(10), "the holding commit never started"
        return self

    def queued(self, n: int) -> None:
        deadline = time.monotonic() + 20
        while self.group.waiting < n:
            assert time.monotonic() < deadline, f"{self.group.waiting} requests queued, expected {n}"
            time.sleep(0.005)

    def __exit__(self, *_: Any) -> None:
        self._release.set()
        self._thread.join(30)


def run_dispatcher_until(dispatcher: Any, watch: Callable[[], None], timeout: float = 20) -> None:
    """Run a dispatcher's loop on this thread (the one `bridge worker` runs; it installs signal
    handlers, so it must be the main thread) while ``watch`` runs on another; the loop stops when
    ``watch`` returns or raises."""

    def guarded() -> None:
        try:
            watch()
        finally:
            dispatcher.stop()

    watcher = threading.Thread(target=guarded)
    watcher.start()
    dispatcher.run()
    watcher.join(timeout)

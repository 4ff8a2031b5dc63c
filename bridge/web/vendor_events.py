"""``POST /events/zendesk`` and ``POST /events/jira``: verify, store, enqueue, answer 200.

Same durable pattern as the chatbot intake: nothing is applied in the request. A 200 means the
delivery is committed to ``vendor_events``; a repeat of the same delivery id answers 200 with
``"duplicate": true`` and changes nothing; a store failure answers 503 with ``Retry-After``.

The adapters in ``bridge.adapters.vendor`` verify each vendor's signature and name the delivery;
the worker parses the stored body with the same adapter (``bridge.loop.jobs``). Zendesk barely
retries and trips a circuit breaker on errors, so everything past the signature answers 2xx; the
reconciler covers lost events.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from bridge.adapters.base import Inbound, MalformedPayload, Unauthorized
from bridge.adapters.vendor import VENDOR_ADAPTERS, VendorAdapter
from bridge.runtime import Runtime
from bridge.store.db import StoreError
from bridge.store.types import RECEIVED
from bridge.web.errors import ApiError
from bridge.worker import intake

bp = Blueprint("vendor_events", __name__)
log = logging.getLogger("bridge.vendor_events")

def _runtime() -> Runtime:
    return current_app.extensions["bridge.runtime"]  # type: ignore[no-any-return]


def _inbound(rt: Runtime) -> Inbound:
    limit = rt.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"body exceeds {limit} bytes")
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
    return Inbound(
        body=request.get_data(cache=True),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=request.args.to_dict(),
        now=time.time(),
    )


def _verified(rt: Runtime, adapter: VendorAdapter, inbound: Inbound, **options: Any) -> None:
    try:
        adapter.verify(inbound, rt.settings.secrets_for(adapter.source), rt.settings.timestamp_tolerance, **options)
    except Unauthorized as exc:
        log.info("bridge.vendor_events.rejected", extra={
            "source": adapter.source, "reason": str(exc), "body_sha256": hashlib.sha256(inbound.body).hexdigest()[:16]})
        raise ApiError(401, "unauthorized", "invalid or missing signature") from None


def _store(rt: Runtime, adapter: VendorAdapter, inbound: Inbound) -> ResponseReturnValue:
    # Imported by the first vendor event: a web process serving chatbot webhooks loads no ORM.
    from bridge.loop.jobs import PROCESS_VENDOR_EVENT
    from bridge.store import loop_repo

    try:
        body = adapter.decode(inbound, rt.settings.max_json_depth)
    except MalformedPayload as exc:
        raise ApiError(400, exc.code, str(exc)) from None
    now = rt.clock()
    values = dict(
        source=adapter.source, delivery_id=adapter.delivery_id(inbound, body)[:200],
        event_type=adapter.stored_type(body)[:100], body=inbound.body,
        headers=intake.audit_headers(request.headers.items()), received_at=now, state=RECEIVED,
        attempts=0, next_attempt_at=now, updated_at=now,
    )
    try:
        # One durable commit shared with the process's concurrent requests (group commit).
        ident, duplicate = rt.store.group.run(lambda s: loop_repo.insert_vendor_event(s, values))
    except (StoreError, OSError) as exc:
        log.error("bridge.vendor_events.store_failed", extra={"source": adapter.source, "error": type(exc).__name__})
        raise ApiError(503, "store_unavailable", "the event could not be stored; retry later",
                       {"Retry-After": "5"}) from None
    if not duplicate:
        try:
            rt.queue.enqueue(PROCESS_VENDOR_EVENT, ident)
        except Exception as exc:  # durable already: the sweeper enqueues it later
            log.warning("bridge.vendor_events.enqueue_failed", extra={"id": ident, "error": type(exc).__name__})
    return jsonify({"received": ident} | ({"duplicate": True} if duplicate else {})), 200


@bp.post("/events/zendesk")
def zendesk() -> ResponseReturnValue:
    rt = _runtime()
    adapter, inbound = VENDOR_ADAPTERS["zendesk"], _inbound(rt)
    _verified(rt, adapter, inbound, production=rt.settings.production)
    account = rt.settings.zendesk.account_id
    presented_account = inbound.header("X-Zendesk-Account-Id").strip()
    if account and presented_account and presented_account != account:
        raise ApiError(403, "wrong_account", "the webhook comes from another Zendesk account")
    return _store(rt, adapter, inbound)


@bp.post("/events/jira")
def jira() -> ResponseReturnValue:
    rt = _runtime()
    adapter, inbound = VENDOR_ADAPTERS["jira"], _inbound(rt)
    _verified(rt, adapter, inbound)
    return _store(rt, adapter, inbound)

"""``POST /webhooks/<platform>``: verify, parse, store, enqueue, answer. Nothing slower than that."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from bridge.adapters import get_adapter
from bridge.adapters.base import AdapterError, Handshake, Inbound, InvalidPayload, Unauthorized, UnsupportedEvent
from bridge.adapters.generic import suggestion
from bridge.events import Event
from bridge.metrics.ops import Metrics
from bridge.pipeline import trigger_config
from bridge.pipeline.completeness import needs_more
from bridge.pipeline.trigger_rules import mapped_handoff  # the reason map alone: no judge, no phrase lists
from bridge.runtime import Runtime
from bridge.store.db import StoreError
from bridge.web.auth import event_status_url
from bridge.web.errors import ApiError
from bridge.worker import intake

bp = Blueprint("webhooks", __name__)
log = logging.getLogger("bridge.inbound")


def _runtime() -> Runtime:
    return current_app.extensions["bridge.runtime"]  # type: ignore[no-any-return]


def _metrics() -> Metrics:
    return current_app.extensions["bridge.metrics"]  # type: ignore[no-any-return]


@bp.post("/webhooks/<slug>")
@bp.post("/webhooks/<slug>/<path:action>")  # Botpress posts to <base>/<action>; the body says which
def receive(slug: str, action: str | None = None) -> ResponseReturnValue:
    adapter = get_adapter(slug)
    if adapter is None:
        raise ApiError(404, "unknown_platform", f"no webhook endpoint for platform {slug!r}")
    rt = _runtime()
    metrics = _metrics()
    try:
        return _receive(rt, slug, adapter)
    except ApiError as exc:
        metrics.webhooks.labels(slug, exc.code).inc()
        raise


def _needs_more(rt: Runtime, event: Event) -> dict[str, list[str]]:
    """Questions the bot can ask now, for a bot that hands off (cheap: no trigger engine run here).

    For conversations the engine judges in the worker, the status endpoint carries them later.
    """
    if event.type != "handoff.requested":
        return {}
    try:
        reasons = trigger_config.reason_map_from_settings(rt.settings)
        hits = mapped_handoff(event.handoff, len(event.conversation.messages) or None, reasons)
        questions = needs_more(event, [hit.trigger for hit in hits])
    except Exception:  # the event is stored already; a hint must never fail the answer
        log.exception("bridge.inbound.needs_more_failed")
        return {}
    return {"needs_more": questions} if questions else {}


def _ignored(adapter: Any, inbound: Inbound, rt: Runtime, slug: str) -> dict[str, Any]:
    """Fields the sender sent that the bridge does not use (DESIGN §5): named in the answer, with the
    field most likely meant; the body itself stays in the inbox for audit."""
    try:
        names = adapter.ignored(inbound, rt.settings.max_json_depth)
    except Exception:  # stored already; naming unused fields must never fail the answer
        log.exception("bridge.inbound.ignored_failed")
        return {}
    if not names:
        return {}
    log.info("bridge.inbound.ignored_fields", extra={"platform": slug, "fields": ",".join(names)})
    hints = {name: hint for name in names if (hint := suggestion(name))}
    return {"ignored": names} | ({"did_you_mean": hints} if hints else {})


# What reading a vendor body the adapter did not type-check raises: ``true`` where a list was
# expected, a list used as a dict key, a missing key. The adapters check types themselves
# (``vendor_api.items``/``mapping``/``word``, and tests/fuzz holds them to it); this is the net.
_SHAPE_ERRORS = (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError)


def _checked(slug: str, step: str, call: Callable[[], Any]) -> Any:
    """Run the adapter's ``verify`` or ``parse``: a shape it did not check is a 401 (credentials) or a
    422 (body) with a reason, logged with its traceback as the adapter bug it is, never a 500."""
    try:
        return call()
    except _SHAPE_ERRORS as exc:
        log.error("bridge.inbound.unchecked_shape", exc_info=True,
                  extra={"platform": slug, "step": step, "error": type(exc).__name__})
        if step == "verify":
            raise Unauthorized(f"the credentials could not be read ({type(exc).__name__})") from None
        raise InvalidPayload(f"the body is not the shape {slug} sends: a field has an unexpected type "
                             f"({type(exc).__name__} while reading it)") from None


def _receive(rt: Runtime, slug: str, adapter: Any) -> ResponseReturnValue:
    limit = rt.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"body exceeds {limit} bytes")
    if request.mimetype not in adapter.content_types:
        raise ApiError(415, "unsupported_media_type", f"Content-Type must be one of {', '.join(adapter.content_types)}")
    body = request.get_data(cache=True)  # raw bytes first: signatures cover exactly these
    # Werkzeug stops a chunked body at MAX_CONTENT_LENGTH without complaint; one more byte means
    # the body was longer than the limit (the read raises 413 itself in that case).
    if len(body) >= limit and request.stream.read(1):
        raise ApiError(413, "payload_too_large", f"body exceeds {limit} bytes")
    inbound = Inbound(
        body=body,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=request.args.to_dict(),
        now=time.time(),
    )
    secrets = rt.settings.secrets_for(slug)
    try:
        if not secrets:
            raise ApiError(401, "unauthorized", f"no webhook secret is configured for {slug}")
        _checked(slug, "verify", lambda: adapter.verify(inbound, secrets, rt.settings.timestamp_tolerance))
        events = _checked(slug, "parse", lambda: adapter.parse(inbound, rt.settings.max_json_depth))
    except Handshake as hs:
        response = jsonify(hs.body) if hs.content_type == "application/json" else current_app.response_class(
            hs.body, mimetype=hs.content_type)
        response.status_code = hs.status
        return response
    except UnsupportedEvent as unsupported:
        log.info("bridge.inbound.unsupported", extra={"platform": slug, "event_type": unsupported.event_type})
        _metrics().webhooks.labels(slug, "ignored").inc()
        return jsonify({"ignored": unsupported.event_type}), 200
    except AdapterError as exc:
        log.info("bridge.inbound.rejected", extra={"platform": slug, "code": exc.code, "reason": str(exc)})
        message = "invalid or missing signature" if exc.status == 401 else str(exc)
        retry = getattr(exc, "retry_after", None)
        raise ApiError(exc.status, exc.code, message, {"Retry-After": str(retry)} if retry else None) from None
    if not events:
        _metrics().webhooks.labels(slug, "ignored").inc()
        return jsonify({"ignored": "no actionable event"}), 200
    try:
        # The headers as read once above (names lower-cased already, as the audit copy keeps them).
        accepted = intake.store_events(rt, slug, body, intake.audit_headers(inbound.headers.items()), events,
                                       body_is_event=adapter.event_in_body(inbound))
    except (StoreError, OSError) as exc:
        log.error("bridge.inbound.store_failed", extra={"platform": slug, "error": type(exc).__name__})
        raise ApiError(503, "store_unavailable", "the event could not be stored; retry later",
                       {"Retry-After": "5"}) from None
    for item in accepted:
        _metrics().webhooks.labels(slug, "duplicate" if item.duplicate else "accepted").inc()
    unused = _ignored(adapter, inbound, rt, slug)
    answers = [
        {"event": a.key, "case": a.case_id, "status": event_status_url(rt.settings, a.key)}
        | ({"duplicate": True} if a.duplicate else {})
        | _needs_more(rt, event)
        | unused
        for a, event in zip(accepted, events, strict=True)
    ]
    custom = adapter.respond(answers, events=events, inbound=inbound)
    if custom is not None:
        return custom
    status = 200 if all(a.duplicate for a in accepted) else 202
    body_out: dict[str, Any] = dict(answers[0])
    if len(answers) > 1:
        body_out["events"] = answers
    return jsonify(body_out), status

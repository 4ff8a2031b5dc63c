"""Read API: the status URL every 202 points to, and case details for admins."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from bridge.events import Event
from bridge.pipeline.completeness import needs_more
from bridge.web import sessions
from bridge.web.auth import verify_event_status
from bridge.web.errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.after_request
def _no_store(response: Response) -> Response:
    """Case details and states are for the one who asked: no browser or proxy keeps a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _require_admin() -> None:
    rt = current_app.extensions["bridge.runtime"]
    token = rt.settings.admin_token
    throttle = sessions.keys(None, request.remote_addr)  # per address: a token has no name to count by
    wait = sessions.retry_after(rt, throttle, rt.clock())
    if wait:
        raise ApiError(429, "too_many_attempts", f"too many wrong admin tokens; retry in {wait} s",
                       {"Retry-After": str(wait)})
    scheme, _, presented = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":  # the scheme is case-insensitive (RFC 7235); a bare token is not accepted
        presented = ""
    if not token or not presented.strip() or not hmac.compare_digest(token.encode(), presented.strip().encode()):
        sessions.failed(rt, throttle, rt.clock())
        raise ApiError(401, "unauthorized", "admin token required (Authorization: Bearer <BRIDGE_ADMIN_TOKEN>)")


@bp.get("/events/<key>")
def event_status(key: str) -> ResponseReturnValue:
    """Processing state of one accepted event, for whoever holds the status URL of its answer (signed)
    or the admin token: the key alone is derived from the sender's event id, so it is no secret."""
    from bridge.store import repo

    rt = current_app.extensions["bridge.runtime"]
    if not verify_event_status(rt.settings, key, request.args.get("sig", "")):
        if "Authorization" not in request.headers:
            raise ApiError(401, "unauthorized", "follow the status URL of the webhook's answer (it carries its "
                                                "signature, sig) or send the admin token")
        _require_admin()
    with rt.store.session() as s:
        row = repo.get_inbox(s, key)
        if row is None:
            raise ApiError(404, "not_found", "no such event")
        case = repo.get_case(s, row.case_id)
        body: dict[str, Any] = {
            "event": row.key, "state": row.state, "attempts": row.attempts, "case": row.case_id,
            "case_status": case.status if case else None,
        }
        if case is not None and case.triggers:
            # What the bot can still ask the customer, in their language, before a human has to.
            body["needs_more"] = needs_more(Event.from_json(case.event), list(case.triggers))
        return jsonify(body)


@bp.get("/cases/<case_id>")
def case_detail(case_id: str) -> ResponseReturnValue:
    from bridge.store import repo

    _require_admin()
    rt = current_app.extensions["bridge.runtime"]
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        if case is None:
            raise ApiError(404, "not_found", "no such case")
        return jsonify({
            "id": case.id, "platform": case.platform, "conversation_id": case.conversation_id,
            "status": case.status, "triggers": case.triggers, "priority": case.priority, "owner": case.owner,
            "refs": case.refs, "decision": case.decision,
            "deliveries": [
                {"id": f"dl-{d.id}", "step": d.step, "status": d.status, "attempts": d.attempts,
                 "external_id": d.external_id, "dry_run": d.dry_run, "last_error": d.last_error}
                for d in repo.deliveries_of(s, case_id)
            ],
            "timeline": [
                {"at": t.at.isoformat(), "kind": t.kind, "actor": t.actor, "detail": t.detail}
                for t in repo.timeline_of(s, case_id)
            ],
        })

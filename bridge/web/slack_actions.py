"""``POST /slack/actions``: Slack interactivity (Take case, Reassign, Not mine).

Slack waits at most 3 seconds for the answer. The signature is checked over the raw bytes before
the form is parsed; the ownership change is one compare-and-set write; everything that talks to
a vendor (updating the message, the Zendesk assignee, a private "already taken" answer) is a
queued delivery step. Slack ignores the body of an answer to a block action, so it is empty.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from bridge import ownership
from bridge.pipeline.permissions import Action, allows
from bridge.runtime import Runtime
from bridge.web.errors import ApiError

bp = Blueprint("slack_actions", __name__)
log = logging.getLogger("bridge.slack")

MAX_BODY = 256 * 1024  # interactivity payloads are small; a large one is not Slack


def _secrets(rt: Runtime) -> list[str]:
    return [s.strip() for s in rt.settings.get("SLACK_SIGNING_SECRET").split(",") if s.strip()]


@bp.post("/slack/actions")
def actions() -> ResponseReturnValue:
    rt: Runtime = current_app.extensions["bridge.runtime"]
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "payload_too_large", f"body exceeds {MAX_BODY} bytes")
    body = request.get_data(cache=True)  # raw bytes first: the signature covers exactly these
    secrets = _secrets(rt)
    from connectors.slack import verify_request

    if not secrets or not verify_request(body, request.headers.get("X-Slack-Request-Timestamp", ""),
                                         request.headers.get("X-Slack-Signature", ""), secrets, time.time()):
        raise ApiError(401, "unauthorized", "invalid or missing Slack signature")
    try:
        payload = json.loads(request.form.get("payload", ""))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_payload", "expected a form field 'payload' holding JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "malformed_payload", "payload must be a JSON object")
    if payload.get("type") != "block_actions":
        return "", 200  # other interactivity types are not ours to handle; Slack must not retry
    user_data = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    user = str(user_data.get("id") or "")
    name = str(user_data.get("name") or user_data.get("username") or "")[:200] or None
    channel = str((payload.get("channel") or {}).get("id") or "") or None
    try:
        for action in payload.get("actions") or []:
            _apply(rt, action, user, channel, name)
    except SQLAlchemyError:
        log.exception("bridge.slack.store_failed")
        raise ApiError(503, "store_unavailable", "the action could not be recorded; try again",
                       {"Retry-After": "2"}) from None
    return "", 200


def _case_of(action: dict[str, Any]) -> str:
    block = str(action.get("block_id") or "")
    if block.startswith("case:"):
        return block[5:]
    return str(action.get("value") or "")


PERMISSION: dict[str, Action] = {"take_case": "take", "reassign": "reassign", "not_mine": "reassign",
                                 "approve_update": "approve"}


def _apply(rt: Runtime, action: dict[str, Any], user: str, channel: str | None, name: str | None = None) -> None:
    kind, case_id = action.get("action_id"), _case_of(action)
    if not user or not case_id:
        return
    needed = PERMISSION.get(str(kind))
    if needed and not allows(rt.routing(), needed, user):
        ownership.denied(rt, case_id, user, needed, channel, name)
        log.info("bridge.slack.denied", extra={"case": case_id, "action": kind, "user": user})
        return
    if kind == "take_case":
        result = ownership.take(rt, case_id, user, via="slack", channel=channel, name=name)
    elif kind == "reassign" and action.get("selected_user"):
        result = ownership.reassign(rt, case_id, str(action["selected_user"]), by=user, reason="reassign",
                                    channel=channel)
    elif kind == "not_mine":
        result = ownership.reassign(rt, case_id, None, by=user, reason="not_mine", channel=channel)
    elif kind == "approve_update" and str(action.get("value", "")).isdigit():
        from bridge.loop_jira import approve_update

        approved = approve_update(rt, int(action["value"]), by=f"slack:{user}")
        log.info("bridge.slack.action", extra={"case": case_id, "action": kind, "ok": approved is not None})
        return
    else:
        return  # link buttons and the like: nothing to record
    log.info("bridge.slack.action", extra={"case": case_id, "action": kind, "ok": result.ok, "user": user})

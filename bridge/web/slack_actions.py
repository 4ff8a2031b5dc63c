"""``POST /slack/actions``: Slack interactivity (Take case, Reassign, Not mine).

Slack waits at most 3 seconds for the answer. The signature is checked over the raw bytes before
the form is parsed; the ownership change is one compare-and-set write; everything that talks to
a vendor (updating the message, the Zendesk assignee, a private "already taken" answer) is a
queued delivery step. Slack ignores the body of an answer to a block action, so it is empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue

from bridge.adapters import jsonsafe
from bridge.pipeline.permissions import Action, allows
from bridge.runtime import Runtime
from bridge.signing import SignatureError, check_timestamp, hmac_digest, matches_any
from bridge.store.db import StoreError
from bridge.web import slack_take
from bridge.web.errors import ApiError
from bridge.web.safeint import ascii_int

bp = Blueprint("slack_actions", __name__)
log = logging.getLogger("bridge.slack")

MAX_BODY = 256 * 1024  # interactivity payloads are small; a large one is not Slack


def _secrets(rt: Runtime) -> list[str]:
    return list(rt.settings.slack.signing_secrets)


def verify_request(body: bytes, timestamp: str, signature: str, secrets: Sequence[str], now: float) -> bool:
    """Slack's v0 signature (HMAC-SHA256 of ``v0:<timestamp>:<body>``, 5-minute window, any secret),
    giving the answers of slack-sdk's ``SignatureVerifier`` (tests/web/test_slack_clicks.py holds
    them to it) without importing slack-sdk: its package loads the Web API client and requests with
    it, 0.1 s on a worker's first click and memory in every web worker for ever after."""
    try:
        check_timestamp(timestamp, now)
        body.decode("utf-8")  # the SDK refuses a body that is not UTF-8
    except (SignatureError, UnicodeDecodeError):
        return False
    message = f"v0:{timestamp}:".encode() + body
    expected = [b"v0=" + hmac_digest(secret.encode(), message).hex().encode() for secret in secrets]
    return matches_any(expected, [signature.encode("utf-8", "replace")])


@bp.post("/slack/actions")
def actions() -> ResponseReturnValue:
    rt: Runtime = current_app.extensions["bridge.runtime"]
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "payload_too_large", f"body exceeds {MAX_BODY} bytes")
    body = request.get_data(cache=True)  # raw bytes first: the signature covers exactly these
    secrets = _secrets(rt)
    if not secrets or not verify_request(body, request.headers.get("X-Slack-Request-Timestamp", ""),
                                         request.headers.get("X-Slack-Signature", ""), secrets, time.time()):
        raise ApiError(401, "unauthorized", "invalid or missing Slack signature")
    payload = _payload(request.form.get("payload", ""), rt.settings.max_json_depth)
    if payload.get("type") != "block_actions":
        return "", 200  # other interactivity types are not ours to handle; Slack must not retry
    user_data = _mapping(payload.get("user"))
    user = _text(user_data.get("id")) or ""
    name = (_text(user_data.get("name")) or _text(user_data.get("username")) or "")[:200] or None
    channel = _text(_mapping(payload.get("channel")).get("id"))
    clicks = payload.get("actions", [])
    if not isinstance(clicks, list) or not all(isinstance(action, dict) for action in clicks):
        raise ApiError(422, "invalid_payload", "actions: a list of objects is required")
    try:
        for action in clicks:
            _apply(rt, _clean(action), user, channel, name)
    except StoreError:
        log.exception("bridge.slack.store_failed")
        raise ApiError(503, "store_unavailable", "the action could not be recorded; try again",
                       {"Retry-After": "2"}) from None
    return "", 200


def _payload(text: str, max_depth: int) -> dict[str, Any]:
    """The ``payload`` form field: strict JSON (no NaN, no duplicate keys, bounded depth), an object."""
    try:
        payload = jsonsafe.loads(text.encode("utf-8", "replace"), max_depth)
    except jsonsafe.JSONError as exc:
        raise ApiError(400, "malformed_payload", f"the form field 'payload' must hold JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "malformed_payload", "payload must be a JSON object")
    return payload


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """Slack's ids and names are strings; anything else is treated as absent."""
    return value.strip() or None if isinstance(value, str) else None


def _clean(action: dict[str, Any]) -> dict[str, Any]:
    """The fields of one click the bridge reads, each a string or absent (Slack JSON stops here)."""
    return {key: text for key in ("action_id", "block_id", "value", "selected_user")
            if (text := _text(action.get(key))) is not None}


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
    allowed = needed is None or allows(rt.routing(), needed, user)
    if kind == "take_case" and allowed:
        # The common click, in Core on the group commit: the ORM and the connectors stay unloaded.
        taken = slack_take.take(rt, case_id, user, channel, name)
        log.info("bridge.slack.action", extra={"case": case_id, "action": kind, "ok": taken.ok, "user": user})
        return
    from bridge.loop import ownership
    from bridge.loop.jira import approve_update

    if needed and not allowed:
        ownership.denied(rt, case_id, user, needed, channel, name)
        log.info("bridge.slack.denied", extra={"case": case_id, "action": kind, "user": user})
        return
    if kind == "reassign" and action.get("selected_user"):
        result = ownership.reassign(rt, case_id, str(action["selected_user"]), by=user, reason="reassign",
                                    channel=channel)
    elif kind == "not_mine":
        result = ownership.reassign(rt, case_id, None, by=user, reason="not_mine", channel=channel)
    elif kind == "approve_update" and (update_id := ascii_int(action.get("value"))) is not None:
        approved = approve_update(rt, update_id, by=f"slack:{user}")
        log.info("bridge.slack.action", extra={"case": case_id, "action": kind, "ok": approved is not None})
        return
    else:
        return  # link buttons and the like: nothing to record
    log.info("bridge.slack.action", extra={"case": case_id, "action": kind, "ok": result.ok, "user": user})

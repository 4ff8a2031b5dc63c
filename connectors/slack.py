"""Slack: post the alert, DM the owner, update the message in place, page on re-escalation; and
verify Slack's signed requests (``POST /slack/actions``). The only module importing slack-sdk.

slack-sdk quirks handled here:
- Its default retry handler re-sends a POST after a connection error, which can post twice; the
  client is built with no retry handlers and the queue owns retries.
- A message has no idempotency key. The case key rides in the message metadata, and a retried
  post first looks in the channel's recent history for it (only on a retry: the happy path makes
  exactly one call).
- ``SignatureVerifier`` raises on a non-numeric timestamp and on a non-UTF-8 body instead of
  answering False; both are turned into a plain "not valid".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bridge.config import Settings
from connectors.base import Context, PermanentError, Result, RetryableError, Step, parse_retry_after

DEFAULT_API_URL = "https://slack.com/api/"
# Errors that retrying cannot fix: the message names the channel so an operator can act.
PERMANENT = {"channel_not_found", "not_in_channel", "invalid_auth", "account_inactive", "token_revoked",
             "is_archived", "missing_scope", "not_authed", "invalid_blocks", "msg_too_long", "user_not_found",
             "cant_update_message", "message_not_found", "no_permission", "restricted_action"}


def verify_request(body: bytes, timestamp: str, signature: str, secrets: Sequence[str], now: float) -> bool:
    """Slack's v0 signature (HMAC-SHA256 of ``v0:<timestamp>:<body>``), 5-minute window, any secret."""
    from slack_sdk.signature import SignatureVerifier

    for secret in secrets:
        verifier = SignatureVerifier(secret, clock=_FixedClock(now))
        try:
            if verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
                return True
        except (ValueError, TypeError, UnicodeDecodeError):
            return False
    return False


class _FixedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


class SlackConnector:
    name = "slack"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        from slack_sdk import WebClient

        self.settings = settings
        base = settings.get("SLACK_API_URL") or DEFAULT_API_URL
        self.client = client or WebClient(token=settings.get("SLACK_BOT_TOKEN"), base_url=base.rstrip("/") + "/",
                                          timeout=10, retry_handlers=[])

    def send(self, step: Step, request: dict[str, Any], context: Context) -> Result:
        from slack_sdk.errors import SlackApiError

        channel = request.get("channel") or self.settings.get("SLACK_CHANNEL") or "#support"
        try:
            if step.action in ("alert", "dm", "thread", "followup"):
                return self._post(dict(request, channel=channel), context)
            if step.action == "update":
                return self._update(dict(request, channel=channel), context)
            if step.action == "page":
                return self._page(dict(request, channel=channel), context)
            if step.action == "ephemeral":
                answer = self.client.chat_postEphemeral(channel=request["channel"], user=request["user"],
                                                        text=request["text"])
                return Result(external_id=str(answer.get("message_ts", "ephemeral")))
        except SlackApiError as exc:
            raise _classify(exc, channel) from exc
        except (OSError, TimeoutError) as exc:  # urllib: connection refused/reset, timeouts
            raise RetryableError(f"Slack unreachable: {type(exc).__name__}") from exc
        raise PermanentError(f"slack cannot perform {step.name}")

    def _post(self, request: dict[str, Any], context: Context) -> Result:
        payload = {k: v for k, v in request.items() if k in _POST_FIELDS and v is not None}
        metadata = payload.get("metadata") or {"event_type": "bridge_case", "event_payload": {}}
        payload["metadata"] = {**metadata, "event_payload": {**metadata.get("event_payload", {}), "key": context.key}}
        if context.attempt > 1:  # an earlier attempt may have posted before its answer was lost
            found = self._find(payload["channel"], context.key)
            if found:
                return Result(external_id=f"{found[0]}:{found[1]}")
        answer = self.client.chat_postMessage(**payload)
        return Result(external_id=f"{answer['channel']}:{answer['ts']}")

    def _find(self, channel: str, key: str) -> tuple[str, str] | None:
        channel = self._channel_id(channel)
        if not channel.startswith(("C", "G", "D")):  # a user id (DM) or an unknown name: nothing to look in
            return None
        answer = self.client.conversations_history(channel=channel, limit=50, include_all_metadata=True,
                                                   oldest=str(time.time() - 3 * 86400))
        for message in answer.get("messages", []):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                return channel, str(message["ts"])
        return None

    def _channel_id(self, channel: str) -> str:
        """History is read by channel id; a ``#name`` (the default ``#support``) is resolved once."""
        if not channel.startswith("#"):
            return channel
        name = channel[1:]
        if name in _CHANNEL_IDS:
            return _CHANNEL_IDS[name]
        cursor = None
        for _ in range(20):  # bounded: 20 pages of 1,000 channels
            answer = self.client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                                    limit=1000, cursor=cursor)
            for found in answer.get("channels", []):
                _CHANNEL_IDS[str(found.get("name"))] = str(found.get("id"))
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if name in _CHANNEL_IDS or not cursor:
                break
        return _CHANNEL_IDS.get(name, channel)

    def _update(self, request: dict[str, Any], context: Context) -> Result:
        if not request.get("ts"):
            raise PermanentError("no posted Slack alert to update (it may have been dry run)")
        fields = {k: v for k, v in request.items() if k in ("channel", "ts", "text", "blocks") and v is not None}
        answer = self.client.chat_update(**fields)  # idempotent: the same content twice is harmless
        return Result(external_id=f"{answer['channel']}:{answer['ts']}")

    def _page(self, request: dict[str, Any], context: Context) -> Result:
        base = {k: request[k] for k in ("text", "blocks", "unfurl_links", "unfurl_media") if k in request}
        posted = []
        if request.get("dm"):
            posted.append(self._post({**base, "channel": request["dm"]}, _sub(context, "dm")).external_id)
        if request.get("thread_ts"):
            reply = {**base, "channel": request["channel"], "thread_ts": request["thread_ts"],
                     "reply_broadcast": bool(request.get("broadcast"))}
            posted.append(self._post(reply, _sub(context, "thread")).external_id)
        elif request.get("broadcast") or not posted:
            posted.append(self._post({**base, "channel": request["channel"]}, _sub(context, "channel")).external_id)
        return Result(external_id=" ".join(posted))


def user_name(settings: Settings, user_id: str, timeout: float = 3.0) -> str | None:
    """Slack's name for a user (``users.info``: display name, else real name), for the pages' names
    of people the routing file does not list. None when Slack does not know them."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    base = settings.get("SLACK_API_URL") or DEFAULT_API_URL
    client = WebClient(token=settings.get("SLACK_BOT_TOKEN"), base_url=base.rstrip("/") + "/",
                       timeout=int(timeout) or 1, retry_handlers=[])
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError:
        return None
    profile = user.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name")
    return str(name)[:200] if name else None


_CHANNEL_IDS: dict[str, str] = {}  # channel name → id, per process (names rarely change)
_POST_FIELDS = ("channel", "text", "blocks", "metadata", "unfurl_links", "unfurl_media", "thread_ts",
                "reply_broadcast")


def _sub(context: Context, part: str) -> Context:
    return Context(context.case_id, f"{context.key}.{part}", context.refs, context.attempt, context.instance)


def _classify(exc: Any, channel: str) -> Exception:
    response = exc.response
    status = getattr(response, "status_code", 0)
    error = (response.get("error") if hasattr(response, "get") else None) or "unknown_error"
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", {}) or {}
        retry = headers.get("Retry-After") or headers.get("retry-after")
        return RetryableError(f"Slack rate limit (channel {channel})", retry_after=parse_retry_after(retry))
    if error in PERMANENT:
        return PermanentError(f"Slack {error} (channel {channel})")
    return RetryableError(f"Slack {status} {error} (channel {channel})")

"""The Slack Web API calls the bridge makes, one method per endpoint, and the check of Slack's signed
requests. The only module importing slack-sdk.

slack-sdk quirks handled here:
- Its default retry handler re-sends a POST after a connection error, which can post twice; the
  client is built with no retry handlers and the queue owns retries.
- ``SignatureVerifier`` raises on a non-numeric timestamp and on a non-UTF-8 body instead of
  answering False; both are turned into a plain "not valid".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.base import PermanentError, RetryableError, parse_retry_after
from connectors.config import SlackConfig

# Errors that retrying cannot fix: the message names the channel so an operator can act.
PERMANENT = {"channel_not_found", "not_in_channel", "invalid_auth", "account_inactive", "token_revoked",
             "is_archived", "missing_scope", "not_authed", "invalid_blocks", "msg_too_long", "user_not_found",
             "cant_update_message", "message_not_found", "no_permission", "restricted_action"}


class SlackClient:
    def __init__(self, config: SlackConfig, timeout: int = 10) -> None:
        from slack_sdk import WebClient

        self.sdk = WebClient(token=config.token, base_url=config.api_url, timeout=timeout, retry_handlers=[])

    def post_message(self, payload: dict[str, Any]) -> tuple[str, str]:
        """``chat.postMessage``; the posted message as (channel id, ts)."""
        answer = self.sdk.chat_postMessage(**payload)
        return str(answer["channel"]), str(answer["ts"])

    def update_message(self, fields: dict[str, Any]) -> tuple[str, str]:
        answer = self.sdk.chat_update(**fields)  # idempotent: the same content twice is harmless
        return str(answer["channel"]), str(answer["ts"])

    def post_ephemeral(self, channel: str, user: str, text: str) -> str:
        return str(self.sdk.chat_postEphemeral(channel=channel, user=user, text=text).get("message_ts", "ephemeral"))

    def history(self, channel: str, oldest: float, limit: int = 50) -> list[dict[str, Any]]:
        """Recent messages of a channel with their metadata (``conversations.history``)."""
        answer = self.sdk.conversations_history(channel=channel, limit=limit, include_all_metadata=True,
                                                oldest=str(oldest))
        return list(answer.get("messages", []))

    def channels(self, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the workspace's channels (``conversations.list``) and the next page's cursor."""
        answer = self.sdk.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                             limit=1000, cursor=cursor)
        return list(answer.get("channels", [])), (answer.get("response_metadata") or {}).get("next_cursor")

    def user(self, user_id: str) -> dict[str, Any] | None:
        """``users.info``; None when Slack does not know the user (or refuses to say)."""
        from slack_sdk.errors import SlackApiError

        try:
            return dict(self.sdk.users_info(user=user_id).get("user") or {})
        except SlackApiError:
            return None


def classify(exc: Exception, channel: str) -> Exception:
    """Map slack-sdk/urllib failures onto the queue's two kinds of failure; anything else as it is."""
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, (OSError, TimeoutError)):  # urllib: connection refused/reset, timeouts
        return RetryableError(f"Slack unreachable: {type(exc).__name__}")
    if not isinstance(exc, SlackApiError):
        return exc
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

"""Exactly once for Slack messages. A message has no idempotency key: the step's key rides in the
message metadata, and a retried post first looks in the channel's recent history for it (only on
a retry: the happy path makes exactly one call). History is read by channel id, so a ``#name``
(the default ``#support``) is resolved once per process."""

from __future__ import annotations

import time
from typing import Any

from connectors.slack.client import SlackClient

LOOK_BACK = 3 * 86400  # seconds of history searched for an earlier post
_CHANNEL_IDS: dict[str, str] = {}  # channel name → id, per process (names rarely change)


def with_key(payload: dict[str, Any], key: str) -> dict[str, Any]:
    """The payload with the step's key in its metadata (``event_type`` bridge_case unless set)."""
    metadata = payload.get("metadata") or {"event_type": "bridge_case", "event_payload": {}}
    return {**payload, "metadata": {**metadata, "event_payload": {**metadata.get("event_payload", {}), "key": key}}}


def find_posted(client: SlackClient, channel: str, key: str) -> tuple[str, str] | None:
    """(channel id, ts) of a recent message carrying ``key``, if an earlier attempt posted it."""
    channel = channel_id(client, channel)
    if not channel.startswith(("C", "G", "D")):  # a user id (DM) or an unknown name: nothing to look in
        return None
    for message in client.history(channel, time.time() - LOOK_BACK):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("key") == key:
            return channel, str(message["ts"])
    return None


def channel_id(client: SlackClient, channel: str) -> str:
    if not channel.startswith("#"):
        return channel
    name = channel[1:]
    if name in _CHANNEL_IDS:
        return _CHANNEL_IDS[name]
    cursor = None
    for _ in range(20):  # bounded: 20 pages of 1,000 channels
        found, cursor = client.channels(cursor)
        for item in found:
            _CHANNEL_IDS[str(item.get("name"))] = str(item.get("id"))
        if name in _CHANNEL_IDS or not cursor:
            break
    return _CHANNEL_IDS.get(name, channel)

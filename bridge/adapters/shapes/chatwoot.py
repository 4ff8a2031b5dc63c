"""Chatwoot's message JSON as a canonical turn: the same shape in a webhook and in the messages API
answer, so the webhook adapter and the transcript fetcher both read it from here."""

from __future__ import annotations

from typing import Any

from bridge.adapters import vendor_api as v

MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}


def _role(message_type: Any, sender: Any, sender_type: Any = None) -> str | None:
    kind = MESSAGE_TYPES.get(message_type, message_type) if isinstance(message_type, int) else message_type
    if kind == "incoming":
        return "customer"
    if kind in ("outgoing", "template"):
        bot = v.dig(sender, "type") in ("agent_bot", "AgentBot") or sender_type == "AgentBot"
        return "bot" if bot or kind == "template" else "agent"
    return None  # activity lines ("Conversation was marked resolved") are not turns


def chat_message(item: Any) -> dict[str, Any] | None:
    """One Chatwoot message (webhook or API shape) as a turn; private notes and activities are skipped."""
    if not isinstance(item, dict) or item.get("private") is True:
        return None
    role = _role(item.get("message_type"), item.get("sender"), item.get("sender_type"))
    if role is None:
        return None
    attachments = []
    for att in v.items(item.get("attachments")):
        kind = v.dig(att, "file_type")
        made = v.attachment(v.dig(att, "data_url"), v.dig(att, "file_name") or v.dig(att, "extension"),
                            f"{kind}/{v.dig(att, 'extension') or '*'}" if kind in ("image", "video", "audio")
                            else None, v.dig(att, "file_size"))
        if made:
            attachments.append(made)
    text = item.get("content") if isinstance(item.get("content"), str) else ""
    if not text and not attachments:
        return None
    return v.message(role, text, id=item.get("id"), sent_at=item.get("created_at"), attachments=attachments)

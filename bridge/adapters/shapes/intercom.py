"""Intercom's conversation JSON as canonical turns: the webhook's ``data.item`` and the
``GET /conversations/{id}`` answer share it, so the adapter and the fetcher both read it from here."""

from __future__ import annotations

from typing import Any

from bridge.adapters import vendor_api as v

DEFAULT_API_URL = "https://api.intercom.io"
API_VERSION = "2.14"
CUSTOMER_AUTHORS = {"user", "lead", "contact"}


def role(author: Any) -> str:
    kind = v.word(v.dig(author, "type"))
    if kind in CUSTOMER_AUTHORS:
        return "customer"
    if kind == "bot" or v.dig(author, "from_ai_agent") is True:
        return "bot"
    return "agent" if kind in ("admin", "team") else "system"


def _attachments(items: Any) -> list[dict[str, Any]]:
    found = []
    for item in items if isinstance(items, list) else []:
        att = v.attachment(v.dig(item, "url"), v.dig(item, "name"), v.dig(item, "content_type"),
                           v.dig(item, "filesize"))
        if att:
            found.append(att)
    return found


def _part_message(part: Any) -> dict[str, Any] | None:
    """One conversation part as a turn; assignment/state parts without a body are not turns."""
    if not isinstance(part, dict):
        return None
    text = v.html_to_text(part.get("body"))
    attachments = _attachments(part.get("attachments"))
    if part.get("part_type") == "note" or (not text and not attachments):
        return None
    return v.message(role(part.get("author")), text, id=part.get("id"), sent_at=part.get("created_at"),
                     attachments=attachments)


def _sources(item: dict[str, Any]) -> list[dict[str, Any]]:
    sources = []
    for src in v.items(v.dig(item, "ai_agent", "content_sources", "content_sources")):
        entry = v.drop_empty({"title": v.opt_str(v.dig(src, "title")), "url": v.opt_str(v.dig(src, "url"))})
        if entry:
            sources.append(entry)
    return sources[:50]


def transcript(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Opening message (``source``, or 1.x ``conversation_message``) plus every part with a body."""
    messages: list[dict[str, Any]] = []
    source = item.get("source") or item.get("conversation_message")
    if isinstance(source, dict):
        attachments = _attachments(source.get("attachments"))
        # An e-mail or a form can open a conversation with a subject and no body (``source.subject``,
        # or only the conversation's ``title``): that line is the customer's first turn.
        text = v.html_to_text(source.get("body")) or v.html_to_text(source.get("subject")) or (
            "" if attachments else v.html_to_text(item.get("title")))
        if text or attachments:
            messages.append(v.message(role(source.get("author")), text, id=f"source-{source.get('id')}"
                                      if source.get("id") else None, sent_at=item.get("created_at"),
                                      attachments=attachments))
    parts = v.dig(item, "conversation_parts", "conversation_parts") or []
    messages.extend(m for m in map(_part_message, parts if isinstance(parts, list) else []) if m)
    sources = _sources(item)
    bots = [i for i, m in enumerate(messages) if m["role"] == "bot"]
    if sources and bots:  # Fin's citations belong to its latest answer
        messages[bots[-1]] = {**messages[bots[-1]], "sources": sources}
    return v.trim_transcript(messages)

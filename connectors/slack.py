"""Slack: the alert that makes one named person own the case (builder; live client with its issue)."""

from __future__ import annotations

from typing import Any

from bridge.events import Package


def escape(text: str) -> str:
    """Slack mrkdwn control characters; customer text is never markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_alert(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    customer = package.customer
    who = escape((customer.name or customer.email or customer.id or "A customer") if customer else "A customer")
    triggers = ", ".join(package.decision.trigger_ids) or "handoff"
    last = next((m.text for m in reversed(package.conversation.messages) if m.role == "customer"), "")
    ticket = refs.get("zendesk.ticket")
    text = f"{who} needs a human ({triggers}) — {package.platform} conversation {package.conversation.id}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(text)}*"}},
    ]
    if last:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f">{escape(last[:2500])}"}})
    if ticket:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Ticket: {escape(str(ticket))}"}]})
    return {"text": text[:3000], "blocks": blocks, "metadata": {"event_type": "bridge_case",
            "event_payload": {"case_id": package.case_id}}}

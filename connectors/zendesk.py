"""Zendesk: the ticket that carries the handoff package (builder; the live client lands with its issue)."""

from __future__ import annotations

from typing import Any

from bridge.events import Package
from bridge.pipeline.render import reasons_text, transcript_text


def build_ticket(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    customer = package.customer
    subject_topic = (package.handoff.topic if package.handoff else None) or "Conversation handed off by the bot"
    body = "\n\n".join(
        [
            f"Why escalated:\n{reasons_text(package.decision)}",
            f"Transcript ({len(package.conversation.messages)} messages):\n{transcript_text(package.conversation)}",
        ]
    )
    return {
        "subject": f"[{package.platform}] {subject_topic}"[:250],
        "comment": {"body": body, "public": False},
        "requester": {"email": customer.email, "name": customer.name or customer.email}
        if customer and customer.email
        else None,
        "priority": package.priority,
        "tags": ["recovery_bridge", *package.decision.trigger_ids],
        "external_id": package.case_id,
    }

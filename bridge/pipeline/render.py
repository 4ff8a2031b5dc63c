"""Plain-text renderings of package parts, shared by the ticket, bug and alert builders."""

from __future__ import annotations

from bridge.events import Conversation, Decision

ROLE_LABEL = {"customer": "Customer", "bot": "Bot", "agent": "Agent", "system": "System"}


def transcript_text(conversation: Conversation) -> str:
    lines = []
    for index, message in enumerate(conversation.messages, start=1):
        stamp = f" [{message.sent_at.isoformat()}]" if message.sent_at else ""
        confidence = f" (confidence {message.confidence:.2f})" if message.confidence is not None else ""
        lines.append(f"{index}. {ROLE_LABEL[message.role]}{stamp}{confidence}: {message.text}")
    return "\n".join(lines) if lines else "(no messages)"


def reasons_text(decision: Decision) -> str:
    lines = []
    for hit in decision.triggers:
        where = f" at message {hit.message_index}" if hit.message_index else ""
        lines.append(f"- {hit.trigger}{where}: {hit.evidence}")
    return "\n".join(lines) if lines else "- (no trigger recorded)"

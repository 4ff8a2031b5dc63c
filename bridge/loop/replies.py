"""Judgments the loop makes on Zendesk changes: which comments are human replies, which of those only
hold the customer, which ask again for what the package had, and what a snapshot changed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from bridge.adapters.vendor.changes import Comment, Snapshot, TicketChange
from bridge.config import Settings
from bridge.events import Event
from bridge.pipeline.completeness import ITEMS

SOLVED_STATES = frozenset({"solved", "closed"})
OPEN_STATES = frozenset({"new", "open", "pending", "hold", "on-hold"})
# Comments arriving through these channels are written by machines (triggers, automations, the
# API, AI agents), whoever the author is: they are never a human response.
MACHINE_CHANNELS = frozenset({"api", "rule", "automation", "answer_bot", "ai_agent", "system"})

# Holding replies: "we got it, wait". Used when BRIDGE_HOLDING_PHRASES is unset (it replaces them).
DEFAULT_HOLDING_PHRASES = (
    "looking into it", "looking into this", "look into this", "we have received your",
    "we've received your", "we received your", "thanks for your patience", "thank you for your patience",
    "get back to you", "will update you", "we'll update you", "let me check", "checking with the team",
    "escalated to our team", "passed this on", "bear with us", "as soon as possible",
)
# A reply longer than this is judged on its content, not on a polite holding sentence inside it.
HOLDING_MAX_CHARS = 280

# "Did the agent ask for something the package already had?" — English request patterns per
# completeness item. A hit only counts when the package had that item (see reasked()).
_ASK = r"(?:could|can|would|will)\s+you|please|may\s+i\s+(?:have|get)|what\s+is|what's|which|send\s+(?:me|us)"
REASK_PATTERNS: dict[str, re.Pattern[str]] = {
    item: re.compile(rf"(?:{_ASK}).{{0,60}}(?:{words})", re.I | re.S)
    for item, words in {
        "contact": r"your\s+(?:e-?mail|phone)|e-?mail\s+address|phone\s+number",
        "account": r"account\s+(?:id|name|number|email)|workspace\s+(?:id|name|url)",
        "steps": r"steps\s+to\s+reproduce|what\s+steps|walk\s+(?:me|us)\s+through",
        "error": r"error\s+message|the\s+error|what\s+error|error\s+code",
        "environment": r"browser|app\s+version|which\s+version|what\s+device|operating\s+system",
        "visual": r"screenshot|screen\s+recording|screen\s+shot|recording",
        "amount": r"invoice\s+(?:number|id)|order\s+(?:number|id)|the\s+amount|charge\s+amount",
        "issue": r"describe\s+(?:the|your)\s+(?:issue|problem)|what\s+(?:the|your)\s+(?:issue|problem)",
    }.items()
}



# --- judgments on replies ----------------------------------------------------------------------

def bridge_user(settings: Settings) -> str | None:
    return settings.zendesk.bridge_user_id or None


def machine_authors(settings: Settings) -> frozenset[str]:
    """The bridge's own API user and any bot users (``ZENDESK_BOT_USER_IDS``)."""
    ids = set(settings.zendesk.bot_user_ids)
    if (own := bridge_user(settings)) is not None:
        ids.add(own)
    return frozenset(ids)


def holding_phrases(settings: Settings) -> tuple[str, ...]:
    return DEFAULT_HOLDING_PHRASES if settings.holding_phrases is None else settings.holding_phrases


def is_human_reply(comment: Comment, settings: Settings) -> bool:
    """A public comment by a person on the support side: not the customer, not a bot or the API."""
    if not comment.public:
        return False
    if comment.author_id is not None and comment.author_id in machine_authors(settings):
        return False
    if comment.via is not None and comment.via in MACHINE_CHANNELS:
        return False
    return comment.is_staff is not False


def is_holding(comment: Comment, settings: Settings) -> bool:
    """A holding reply: made with a holding macro, or short and built around a holding phrase."""
    if set(comment.macro_ids) & settings.zendesk.holding_macros:
        return True
    text = " ".join(comment.body.split()).lower()
    if len(text) > HOLDING_MAX_CHARS:
        return False
    return any(phrase in text for phrase in holding_phrases(settings))


def reasked(comment: Comment, event: Event | None) -> list[str]:
    """Completeness items the agent asked the customer for although the package had them."""
    if event is None:
        return []
    text = comment.body
    return [item for item, pattern in REASK_PATTERNS.items() if pattern.search(text) and ITEMS[item].check(event)]


def diff(snapshot: Snapshot, status: str | None, assignee: str | None, csat: str | None,
         seen_comments: Iterable[str]) -> list[TicketChange]:
    """The changes a snapshot implies against the stored state (nothing when it is not newer)."""
    base = dict(ticket_id=snapshot.ticket_id, external_id=snapshot.external_id, at=snapshot.at,
                actor_id=snapshot.actor_id)
    changes: list[TicketChange] = []
    seen = set(seen_comments)
    for comment in sorted(snapshot.comments, key=lambda c: c.at or datetime.min.replace(tzinfo=UTC)):
        if comment.id not in seen:
            changes.append(TicketChange("comment", comment=comment,
                                        **{**base, "at": comment.at or snapshot.at, "actor_id": comment.author_id}))
    if snapshot.status and snapshot.status != status:
        changes.append(TicketChange("status", status_from=status, status_to=snapshot.status, **base))
    if snapshot.assignee_id and snapshot.assignee_id != assignee:
        changes.append(TicketChange("assignee", assignee_id=snapshot.assignee_id, **base))
    if snapshot.score and snapshot.score != csat:
        changes.append(TicketChange("csat", score=snapshot.score, csat_comment=snapshot.csat_comment, **base))
    return changes

"""Zendesk events in the loop's own vocabulary, and the judgments made on agent replies.

Three inputs produce the same ``TicketChange`` list:

* **Ticket event webhooks** (``"type": "zen:event-type:ticket.*"``): one change per event.
  ``ticket.comment_added`` → comment, ``ticket.status_changed`` → status,
  ``ticket.agent_assignment_changed`` → assignee. Zendesk has no ticket event for a satisfaction
  rating, so CSAT comes from a trigger (below) or the reconciler.
* **Trigger webhooks** with the body documented in docs/metrics.md (a snapshot of the ticket:
  ``ticket_id``, ``external_id``, ``status``, ``assignee_id``, ``updated_at``, ``actor_id``,
  ``satisfaction``{``score``, ``comment``}, optional ``comment``{``id``, ``author_id``, ``public``,
  ``body``, ``is_staff``}), e.g. fired on "Satisfaction changed" and "Status changed".
* **The reconciler's snapshot** of a ticket (``ZendeskConnector.ticket_activity``), same shape plus
  ``comments``: a list of comments.
* **The ticket's audits** (``ZendeskConnector.ticket_audits``, plain data from
  ``connectors.zendesk.audits``): one change per event of each audit, with the audit's own time and
  author (``changes_from_audit``), so every transition between two polls is seen, in order.

Snapshots are diffed against what the bridge last applied, so they are safe to repeat.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bridge.config import Settings
from bridge.events import Event
from bridge.pipeline.completeness import ITEMS

if TYPE_CHECKING:
    from connectors.zendesk.audits import Audit

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


def parse_time(value: Any) -> datetime | None:
    """Zendesk times: ISO 8601 (``Z`` or offset), or unix seconds from some trigger placeholders."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def norm_status(value: Any) -> str | None:
    """Zendesk statuses arrive as ``solved``, ``Solved`` (trigger placeholders) or ``SOLVED``."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower().replace(" ", "-")


def norm_score(value: Any) -> str | None:
    """``good``/``bad`` from ``good``, ``Good``, ``Good, I'm satisfied``, 4-5 / 1-2 of a 5 scale."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "good" if value >= 4 else "bad" if value <= 2 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text.startswith("good"):
        return "good"
    if text.startswith("bad"):
        return "bad"
    return None  # "offered", "unoffered", neutral: not a rating


@dataclass(frozen=True)
class Comment:
    id: str
    author_id: str | None
    public: bool
    body: str
    is_staff: bool | None  # None: unknown (trigger payloads)
    via: str | None
    at: datetime | None
    macro_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TicketChange:
    kind: str  # "comment" | "status" | "assignee" | "csat"
    ticket_id: str
    external_id: str | None
    at: datetime | None  # vendor time of the change
    actor_id: str | None
    status_from: str | None = None
    status_to: str | None = None
    assignee_id: str | None = None
    score: str | None = None
    csat_comment: str | None = None
    comment: Comment | None = None


@dataclass(frozen=True)
class Snapshot:
    """A ticket as a trigger or the reconciler sees it; diffed against the stored state."""

    ticket_id: str
    external_id: str | None
    at: datetime | None
    actor_id: str | None
    status: str | None = None
    assignee_id: str | None = None
    score: str | None = None
    csat_comment: str | None = None
    comments: tuple[Comment, ...] = field(default_factory=tuple)


def _comment(data: Mapping[str, Any], at: datetime | None) -> Comment | None:
    ident = _id(data.get("id"))
    if ident is None:
        return None
    author = data.get("author") if isinstance(data.get("author"), dict) else {}
    via = data.get("via")
    channel = via.get("channel") if isinstance(via, dict) else via
    macros = data.get("macro_ids") or ([data["macro_id"]] if data.get("macro_id") else [])
    public = data.get("public", data.get("is_public", True))
    staff = author.get("is_staff", data.get("is_staff"))
    return Comment(
        id=ident,
        author_id=_id(author.get("id") if author else data.get("author_id")) or _id(data.get("author_id")),
        public=public if isinstance(public, bool) else str(public).lower() in ("true", "1", "yes"),
        body=str(data.get("body") or data.get("plain_body") or data.get("html_body") or ""),
        is_staff=staff if isinstance(staff, bool) else None,
        via=str(channel).lower() if channel else None,
        at=parse_time(data.get("created_at")) or at,
        macro_ids=tuple(str(m) for m in macros if m is not None),
    )


def from_ticket_event(data: Mapping[str, Any]) -> list[TicketChange]:
    """A ``zen:event-type:ticket.*`` payload; unsupported event types give no change."""
    detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
    event = data.get("event") if isinstance(data.get("event"), dict) else {}
    subject = str(data.get("subject") or "")
    ticket_id = _id(detail.get("id")) or (subject.rsplit(":", 1)[-1] if subject.startswith("zen:ticket:") else None)
    if not ticket_id:
        return []
    kind = str(data.get("type") or "").removeprefix("zen:event-type:ticket.")
    at = parse_time(data.get("time")) or parse_time(detail.get("updated_at"))
    base = dict(ticket_id=ticket_id, external_id=_id(detail.get("external_id")), at=at,
                actor_id=_id(detail.get("actor_id")))
    if kind == "status_changed":
        return [TicketChange("status", status_from=norm_status(event.get("previous")),
                             status_to=norm_status(event.get("current")), **base)]
    if kind == "agent_assignment_changed":
        return [TicketChange("assignee", assignee_id=_id(event.get("current")), **base)]
    if kind == "comment_added":
        raw = event.get("comment") if isinstance(event.get("comment"), dict) else {}
        comment = _comment(raw, at)
        return [TicketChange("comment", comment=comment, **base)] if comment else []
    return []


def snapshot_from(data: Mapping[str, Any]) -> Snapshot | None:
    """A trigger body or a reconciler snapshot (see the module docstring)."""
    ticket_id = _id(data.get("ticket_id") or data.get("id"))
    if not ticket_id:
        return None
    at = parse_time(data.get("updated_at"))
    satisfaction = data.get("satisfaction") or data.get("satisfaction_rating") or {}
    if not isinstance(satisfaction, dict):
        satisfaction = {"score": satisfaction}
    comments = [data["comment"]] if isinstance(data.get("comment"), dict) else []
    comments += [c for c in data.get("comments") or [] if isinstance(c, dict)]
    return Snapshot(
        ticket_id=ticket_id,
        external_id=_id(data.get("external_id")),
        at=at,
        actor_id=_id(data.get("actor_id")),
        status=norm_status(data.get("status")),
        assignee_id=_id(data.get("assignee_id")),
        score=norm_score(satisfaction.get("score")),
        csat_comment=str(satisfaction.get("comment") or "") or None,
        comments=tuple(c for c in (_comment(raw, at) for raw in comments) if c is not None),
    )


def changes_from_audit(audit: Audit, ticket_id: str, external_id: str | None) -> list[TicketChange]:
    """The changes one audit made, in its order, each with the audit's time and author. A rating
    that is not good or bad (``offered``) is no change; a comment keeps its own author."""
    at = parse_time(audit["at"])
    base = dict(ticket_id=ticket_id, external_id=external_id, at=at, actor_id=audit["author_id"])
    changes: list[TicketChange] = []
    for event in audit["events"]:
        if event["kind"] == "status":
            changes.append(TicketChange("status", status_from=norm_status(event.get("status_from")),
                                        status_to=norm_status(event.get("status_to")), **base))
        elif event["kind"] == "assignee":
            changes.append(TicketChange("assignee", assignee_id=event.get("assignee_id"), **base))
        elif event["kind"] == "csat" and (score := norm_score(event.get("score"))):
            changes.append(TicketChange("csat", score=score, csat_comment=event.get("csat_comment") or None, **base))
        elif event["kind"] == "comment" and "comment" in event:
            raw = event["comment"]
            comment = Comment(id=raw["id"], author_id=raw["author_id"], public=raw["public"], body=raw["body"],
                              is_staff=raw["is_staff"], via=raw["via"], at=at, macro_ids=tuple(raw["macro_ids"]))
            changes.append(TicketChange("comment", comment=comment, **{**base, "actor_id": comment.author_id}))
    return changes


# --- judgments on replies ----------------------------------------------------------------------

def _ids(settings: Settings, name: str) -> frozenset[str]:
    return frozenset(part.strip() for part in settings.get(name, "").split(",") if part.strip())


def bridge_user(settings: Settings) -> str | None:
    return settings.get("ZENDESK_BRIDGE_USER_ID", "").strip() or None


def machine_authors(settings: Settings) -> frozenset[str]:
    """The bridge's own API user and any bot users (``ZENDESK_BOT_USER_IDS``)."""
    ids = set(_ids(settings, "ZENDESK_BOT_USER_IDS"))
    if (own := bridge_user(settings)) is not None:
        ids.add(own)
    return frozenset(ids)


def holding_phrases(settings: Settings) -> tuple[str, ...]:
    raw = settings.get("BRIDGE_HOLDING_PHRASES", "").strip()
    if not raw:
        return DEFAULT_HOLDING_PHRASES
    return tuple(p.strip().lower() for p in raw.split("|") if p.strip())


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
    if set(comment.macro_ids) & _ids(settings, "ZENDESK_HOLDING_MACROS"):
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

"""Zendesk events back: verified with ``bridge.signing`` and parsed into ``TicketChange`` / ``Snapshot``.

Verification (https://developer.zendesk.com/documentation/webhooks/verifying/):
``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp_header + raw_body)), no
separator. The timestamp header is ISO 8601 (``2026-07-22T10:00:00Z``): it is HMACed exactly as
received and parsed only for the ±``BRIDGE_TIMESTAMP_TOLERANCE`` window. The secret is used as the
string Zendesk shows (not base64-decoded). Dedupe key: ``X-Zendesk-Webhook-Invocation-Id``, else the
event ``id`` in the body, else a hash of the body.

Four inputs produce the same ``TicketChange`` list:

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

import base64
import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from bridge.adapters.base import Delivery, Inbound, Unauthorized, UnsupportedEvent
from bridge.adapters.vendor.base import Ignored, VendorAdapter, VendorHandler
from bridge.adapters.vendor.changes import Change, Comment, Snapshot, TicketChange
from bridge.signing import SignatureError, check_iso_timestamp, hmac_digest, verify_base64_hmac

if TYPE_CHECKING:
    from connectors.zendesk.audits import Audit

# Zendesk's published secret for webhooks tested in the admin UI before they exist: fine for a
# test, refused when BRIDGE_ENV=production.
ZENDESK_TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
TICKET_EVENT = "zen:event-type:ticket."
SNAPSHOT = "snapshot"  # a trigger body or a reconciler snapshot: no ``zen:event-type:ticket.*`` type


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



# --- the adapter -------------------------------------------------------------------------------

def zendesk_signature(body: bytes, timestamp: str, secret: str) -> str:
    """The ``X-Zendesk-Webhook-Signature`` value for a body (tests, seed-demo, docs)."""
    return base64.b64encode(hmac_digest(secret.encode(), timestamp.encode() + body)).decode()


def _ticket_event(body: dict[str, Any], delivery: Delivery) -> list[Change]:
    changes = from_ticket_event(body)
    if not changes:  # no ticket id, or a comment without one
        raise UnsupportedEvent(delivery.kind)
    return [*changes]


def _snapshot(body: dict[str, Any], delivery: Delivery) -> list[Change]:
    snapshot = snapshot_from(body)
    if snapshot is None:
        raise Ignored("no_ticket")
    return [snapshot]


class ZendeskEvents(VendorAdapter):
    source = "zendesk"
    handlers: ClassVar[Mapping[str, VendorHandler]] = {
        f"{TICKET_EVENT}status_changed": _ticket_event,
        f"{TICKET_EVENT}agent_assignment_changed": _ticket_event,
        f"{TICKET_EVENT}comment_added": _ticket_event,
        SNAPSHOT: _snapshot,
    }

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int, production: bool = False) -> None:
        usable = [s for s in secrets if not (production and s == ZENDESK_TEST_SECRET)]
        if not usable:
            raise Unauthorized("no usable secret configured")
        signature = inbound.header("X-Zendesk-Webhook-Signature")
        if not signature:
            raise Unauthorized("missing signature")
        timestamp = inbound.header("X-Zendesk-Webhook-Signature-Timestamp")
        try:
            check_iso_timestamp(timestamp, inbound.now, tolerance)
            verify_base64_hmac(timestamp.encode() + inbound.body, signature, usable)
        except SignatureError as exc:
            raise Unauthorized(str(exc)) from None

    def event_type(self, body: dict[str, Any]) -> str:
        kind = str(body.get("type") or "")
        return kind if kind.startswith(TICKET_EVENT) else SNAPSHOT

    def stored_type(self, body: dict[str, Any]) -> str:
        return str(body.get("type") or body.get("bridge_event") or "ticket")

    def delivery_id(self, inbound: Inbound, body: dict[str, Any]) -> str:
        found = inbound.header("X-Zendesk-Webhook-Invocation-Id").strip() or str(body.get("id") or "")
        return found or "sha256:" + hashlib.sha256(inbound.body).hexdigest()

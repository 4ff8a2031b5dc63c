"""Zendesk ticket audits as plain data for the reconciler (``bridge.loop.reconcile``).

``connectors.zendesk.client`` reads the pages with zenpy; this module only turns one page's JSON into the
``Audit`` records below, keeping the events the loop applies. No SDK here and no vendor JSON past it.

An audit is one update of a ticket: who made it (``author_id``), when (``created_at``), through what
(``via.channel``) and its events (developer.zendesk.com, "Ticket Audit events reference"). Quirks:

* An event has a ``via`` of its own only when it differs from the audit's: a trigger that fires
  inside an agent's update logs its ``Change`` with ``via: {channel: rule, source: {rel: trigger}}``
  in the agent's audit. A comment's channel is therefore the event's, else the audit's.
* ``value``/``previous_value`` are strings for ``status``; for ``assignee_id`` an integer, a numeric
  string or null (unassigned), depending on the account's age.
* A rating is a ``SatisfactionRating`` event (``score``, ``body``: the customer's comment); accounts
  on the newer CSAT also log ``satisfaction_score``/``satisfaction_comment`` ``Change`` events in the
  same audit, which are used only when the audit has no ``SatisfactionRating`` (one rating, once).
  ``offered``/``unoffered`` are survey states, not ratings: the loop drops them.
* A macro applied with a reply is an ``AgentMacroReference`` event (``macro_id``) of the same audit.
* ``Create`` events are a new ticket's initial fields. Every bridge ticket is created by the bridge,
  so they are never a person's transition (its ``assignee_id`` is the routed owner, not a take).
* A ``Comment`` event may omit ``author_id`` (the spec's own example does): the audit's author wrote it.
* Events may be added by Zendesk at any time; unknown types are ignored, as Zendesk asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, NotRequired, TypedDict

STAFF_ROLES = frozenset({"agent", "admin"})


class AuditComment(TypedDict):
    id: str
    author_id: str | None
    public: bool
    body: str
    via: str | None  # the channel: web, email, api, rule, ...
    is_staff: bool | None  # the author's role is agent/admin; filled in by the connector's user lookup
    macro_ids: list[str]


class AuditEvent(TypedDict):
    kind: Literal["status", "assignee", "comment", "csat"]
    status_from: NotRequired[str | None]
    status_to: NotRequired[str | None]
    assignee_id: NotRequired[str | None]
    comment: NotRequired[AuditComment]
    score: NotRequired[str | None]
    csat_comment: NotRequired[str | None]


class Audit(TypedDict):
    id: str
    at: str  # created_at, ISO 8601 (second precision)
    author_id: str | None
    via: str | None
    page: str | None  # the page[after] cursor that read this audit's page (None: the first page)
    events: list[AuditEvent]


class AuditRead(TypedDict):
    """Audits in Zendesk's order (oldest first) from the page asked for; ``more``: pages are left."""

    audits: list[Audit]
    more: bool


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _channel(via: Any) -> str | None:
    channel = via.get("channel") if isinstance(via, Mapping) else None
    return str(channel).lower() if channel else None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


def audit_events(raw: Iterable[Any], author_id: str | None, channel: str | None) -> list[AuditEvent]:
    """The events of one audit the loop applies, in the audit's order."""
    events = [e for e in raw if isinstance(e, Mapping)]
    macros = [m for m in (_id(e.get("macro_id")) for e in events if e.get("type") == "AgentMacroReference") if m]
    rated = any(e.get("type") == "SatisfactionRating" for e in events)
    csat_comment = next((_text(e.get("value")) for e in events
                         if e.get("type") == "Change" and e.get("field_name") == "satisfaction_comment"), None)
    out: list[AuditEvent] = []
    for event in events:
        kind, field = event.get("type"), event.get("field_name")
        if kind == "Change" and field == "status":
            out.append({"kind": "status", "status_from": _text(event.get("previous_value")),
                        "status_to": _text(event.get("value"))})
        elif kind == "Change" and field == "assignee_id":
            out.append({"kind": "assignee", "assignee_id": _id(event.get("value"))})
        elif kind == "SatisfactionRating":
            out.append({"kind": "csat", "score": _text(event.get("score")), "csat_comment": _text(event.get("body"))})
        elif kind == "Change" and field == "satisfaction_score" and not rated:
            out.append({"kind": "csat", "score": _text(event.get("value")), "csat_comment": csat_comment})
        elif kind == "Comment" and _id(event.get("id")):
            public = event.get("public", True)
            out.append({"kind": "comment", "comment": {
                "id": str(_id(event.get("id"))),
                "author_id": _id(event.get("author_id")) or author_id,
                "public": public if isinstance(public, bool) else str(public).lower() in ("true", "1"),
                "body": str(event.get("plain_body") or event.get("body") or ""),
                "via": _channel(event.get("via")) or channel,
                "is_staff": None,
                "macro_ids": macros,
            }})
    return out


def page_audits(data: Mapping[str, Any], page: str | None) -> list[Audit]:
    """The audits of one page of ``GET /api/v2/tickets/{id}/audits`` (an audit without an id is skipped)."""
    audits: list[Audit] = []
    for raw in data.get("audits") or []:
        if not isinstance(raw, Mapping) or _id(raw.get("id")) is None:
            continue
        author, channel = _id(raw.get("author_id")), _channel(raw.get("via"))
        events = raw.get("events") if isinstance(raw.get("events"), list) else []
        audits.append({"id": str(_id(raw.get("id"))), "at": str(raw.get("created_at") or ""), "author_id": author,
                       "via": channel, "page": page, "events": audit_events(events, author, channel)})
    return audits


def next_cursor(data: Mapping[str, Any]) -> str | None:
    """The page[after] cursor of the next page, when Zendesk says there is one (cursor pagination).

    An offset-paginated answer (``next_page``, no ``meta``: what archived tickets get, and what the
    spec's example shows) has no cursor: its one page is the whole list."""
    meta = data.get("meta")
    if not isinstance(meta, Mapping) or meta.get("has_more") is not True:
        return None
    return _id(meta.get("after_cursor"))


def audits_after(audits: list[Audit], last: str | None) -> list[Audit] | None:
    """The audits after the one ``last`` names, in Zendesk's order; None when it is not there."""
    if last is None:
        return list(audits)
    for index, audit in enumerate(audits):
        if audit["id"] == last:
            return audits[index + 1:]
    return None


def comment_authors(audits: Iterable[Audit]) -> set[str]:
    """Authors whose role decides something: of public comments (a private note is never a reply)."""
    return {e["comment"]["author_id"] for a in audits for e in a["events"]
            if e["kind"] == "comment" and e["comment"]["public"] and e["comment"]["author_id"]}


def mark_staff(audits: Iterable[Audit], staff: Mapping[str, bool]) -> None:
    """Set each comment's ``is_staff`` from the author roles looked up (not looked up: not staff)."""
    for audit in audits:
        for event in audit["events"]:
            if event["kind"] == "comment":
                author = event["comment"]["author_id"]
                event["comment"]["is_staff"] = staff.get(author, False) if author else False

"""What the case page shows, as plain data: links out to the vendors and a readable timeline.

Vendor references come from ``case.refs`` (the delivery step → external id). Dry-run ids
(``dry-run:<case>/<step>``) have no vendor page, so they get no link. Customer text stays
plain strings here; the template escapes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from bridge.config import Settings
from bridge.web.charts import duration

STEP_LABELS = {
    "zendesk.ticket": "Zendesk ticket",
    "slack.alert": "Slack alert",
    "jira.bug": "Jira bug",
    "zendesk.link": "Jira link note on the ticket",
    "slack.update": "Slack thread update",
    "zendesk.note": "Zendesk internal note",
}


def step_label(step: str) -> str:
    """``slack.update#bug`` → ``Slack thread update (bug)``."""
    base, _, suffix = step.partition("#")
    label = STEP_LABELS.get(base, base)
    return f"{label} ({suffix})" if suffix else label


def safe_url(url: Any) -> str | None:
    """Only http(s) URLs become links: a ``javascript:`` URL from a chatbot payload never does."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in {"http", "https"} and parts.netloc else None


@dataclass(frozen=True)
class LinkOut:
    label: str
    ref: str
    url: str | None
    dry_run: bool = False


def _zendesk_base(settings: Settings) -> str | None:
    if settings.get("ZENDESK_URL"):
        return settings.get("ZENDESK_URL").rstrip("/")
    sub = settings.get("ZENDESK_SUBDOMAIN").strip()
    return f"https://{sub}.zendesk.com" if sub else None


def vendor_url(settings: Settings, step: str, ref: str, channel: str | None = None) -> str | None:
    """The vendor page of one delivery's external id, when it can be known."""
    if not ref or ref.startswith("dry-run:"):
        return None
    step = step.partition("#")[0]
    if step.startswith("zendesk."):
        base, ticket = _zendesk_base(settings), ref.split("#", 1)[0]
        return f"{base}/agent/tickets/{quote(ticket)}" if base and ticket.isdigit() else None
    if step == "jira.bug":
        base = settings.get("JIRA_URL").rstrip("/")
        return f"{base}/browse/{quote(ref)}" if base else None
    if step.startswith("slack."):
        workspace = settings.get("SLACK_WORKSPACE_URL").rstrip("/")
        first = ref.split()[0]  # "C1:ts" or several "C1:ts D2:ts" (channel, DM, thread)
        where, _, ts = first.rpartition(":") if ":" in first else (channel or "", "", first)
        if workspace and where and ts.replace(".", "").isdigit():
            return f"{workspace}/archives/{quote(where)}/p{ts.replace('.', '')}"
    return None


def links_out(settings: Settings, refs: dict[str, Any], channel: str | None = None) -> list[LinkOut]:
    found = []
    for step, ref in (refs or {}).items():
        text = str(ref)
        found.append(LinkOut(step_label(step), text, safe_url(vendor_url(settings, step, text, channel)),
                             text.startswith("dry-run:")))
    return found


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    tone: str  # bot | bridge | human | customer | problem | vendor
    title: str
    text: str
    actor: str
    since_escalation: str
    url: str | None = None


def _since(at: datetime, escalated_at: datetime | None) -> str:
    if escalated_at is None or at < escalated_at:
        return ""
    return "+" + duration((at - escalated_at).total_seconds())


def describe(kind: str, detail: dict[str, Any]) -> tuple[str, str, str]:
    """(tone, title, one line of detail) for a timeline kind (docs/timeline.md)."""
    d = detail or {}
    step = step_label(str(d.get("step", "")))
    table: dict[str, tuple[str, str, str]] = {
        "case.opened": ("bot", "Conversation received", ""),
        "case.escalated": ("bridge", "Escalated", "triggers: " + ", ".join(map(str, d.get("triggers", [])))
                           + (f" · at message {d['at_message']}" if d.get("at_message") else "")),
        "case.routed": ("bridge", "Routed", _routed(d)),
        "case.closed": ("bot", "Closed by the bot before any escalation", ""),
        "delivery.done": ("vendor", f"{step} {'written to the outbox (dry run)' if d.get('dry_run') else 'sent'}",
                          str(d.get("external_id", ""))),
        "delivery.dead": ("problem", f"{step} failed", f"{d.get('error', '')} (attempts: {d.get('attempts', '?')})"),
        "event.dead": ("problem", "Event could not be processed", str(d.get("error", ""))),
        "replayed": ("bridge", "Replayed", str(d.get("id", ""))),
        "case.acknowledged": ("human", "Acknowledged", f"by {d.get('owner', '?')} via {d.get('via', '?')}"),
        "case.reassigned": ("human", "Reassigned",
                            f"{d.get('from', '?')} → {d.get('to', '?')} ({d.get('reason', '')})"),
        "case.paged": ("bridge", "Paged the next level", f"level {d.get('level', '?')}: "
                       + ", ".join(map(str, d.get("who", [])))),
        "agent.replied": ("human", "Agent replied (holding message)" if d.get("holding") else "Agent replied",
                          f"ticket {d.get('ticket_id', '')}"),
        "ticket.solved": ("human", "Ticket solved", f"ticket {d.get('ticket_id', '')}"),
        "ticket.reopened": ("problem", "Ticket reopened", f"{d.get('from', '')} → {d.get('to', '')}"),
        "ticket.assignee": ("human", "Assignee changed", f"agent {d.get('assignee_id', '')}"),
        "csat.rated": ("customer" if d.get("score") == "good" else "problem",
                       f"Customer rated {d.get('score', '?')}", str(d.get("comment") or "")),
        "jira.resolved": ("vendor", f"Jira {d.get('key', '')} resolved", str(d.get("resolution") or "")),
        "jira.released": ("vendor", f"Jira {d.get('key', '')} released", str(d.get("version") or "")),
        "update.drafted": ("bridge", "Customer update drafted", str(d.get("text") or "")),
        "update.sent": ("human", "Customer update sent", f"approved by {d.get('by', '?')}"),
        "kb.suggested": ("bridge", "KB article suggested", str(d.get("title") or "")),
        "kb.done": ("human", "KB article updated", f"by {d.get('by', '?')}"),
    }
    if kind in table:
        return table[kind]
    return "bridge", kind, json.dumps(d, ensure_ascii=False, default=str)[:500]


def _routed(d: dict[str, Any]) -> str:
    owner = d.get("owner") or {}
    name = owner.get("name") if isinstance(owner, dict) else owner
    team = d.get("team_name") or d.get("team")
    return f"team {team or '?'} · owner {name or 'nobody on shift'} · rule {d.get('rule', 'default')}"


def timeline(
    settings: Settings,
    rows: list[Any],
    received: list[tuple[datetime, str, str]],
    escalated_at: datetime | None,
    channel: str | None = None,
) -> list[Entry]:
    """Timeline rows plus every inbound event (``received``: at, event type, platform), by time."""
    entries = [
        Entry(at, "event.received", "bot", "Event received", f"{event_type} from {platform}", f"bot:{platform}",
              _since(at, escalated_at))
        for at, event_type, platform in received
    ]
    for row in rows:
        tone, title, text = describe(row.kind, row.detail or {})
        url = None
        if row.kind == "delivery.done":
            url = vendor_url(settings, str(row.detail.get("step", "")), str(row.detail.get("external_id", "")),
                             channel)
        elif row.kind.startswith(("ticket.", "agent.")) and row.detail.get("ticket_id"):
            url = vendor_url(settings, "zendesk.ticket", str(row.detail["ticket_id"]))
        elif row.kind.startswith("jira.") and row.detail.get("key"):
            url = vendor_url(settings, "jira.bug", str(row.detail["key"]))
        entries.append(Entry(row.at, row.kind, tone, title, text, row.actor, _since(row.at, escalated_at),
                             safe_url(url)))
    return sorted(entries, key=lambda e: e.at)


def unused_fields(bodies: list[tuple[str, bytes | None]]) -> list[tuple[str, str | None]]:
    """Fields the sender sent that the bridge did not use, over every event of the case, each once,
    with the field it most likely meant: ``[("evidence.console_errors", "evidence.console_logs")]``.
    The bodies are the inbox's verbatim copies (scrubbed ones after the retention period say nothing)."""
    from bridge.adapters import ADAPTERS
    from bridge.adapters.base import Inbound
    from bridge.adapters.generic import suggestion

    seen: dict[str, str | None] = {}
    for platform, body in bodies:
        adapter = ADAPTERS.get(platform)
        if adapter is None or not body:
            continue
        for name in adapter.ignored(Inbound(body=bytes(body), headers={})):
            seen.setdefault(name, suggestion(name))
    return list(seen.items())

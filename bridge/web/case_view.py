"""What the case page shows, as plain data: links out to the vendors and a readable timeline.

Vendor references come from ``case.refs`` (the delivery step → external id). Dry-run ids
(``dry-run:<case>/<step>``) have no vendor page, so they get no link. Customer text stays
plain strings here; the template escapes it.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

from bridge.adapters import ADAPTERS
from bridge.adapters.base import Inbound
from bridge.adapters.generic import suggestion
from bridge.config import Settings
from bridge.config.people import People
from bridge.errors import plain_error
from bridge.web.charts import duration

STEP_LABELS = {
    "zendesk.ticket": "Zendesk ticket",
    "slack.alert": "Slack alert",
    "jira.bug": "Jira bug",
    "zendesk.link": "Jira link note on the ticket",
    "slack.update": "Slack thread update",
    "zendesk.note": "Zendesk internal note",
    "zendesk.followup": "Follow-up note on the ticket",
    "slack.followup": "Follow-up in the Slack thread",
    "jira.followup": "Follow-up comment on the bug",
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
    return settings.zendesk.web_url or None


def vendor_url(settings: Settings, step: str, ref: str, channel: str | None = None) -> str | None:
    """The vendor page of one delivery's external id, when it can be known."""
    if not ref or ref.startswith("dry-run:"):
        return None
    step = step.partition("#")[0]
    if step.startswith("zendesk."):
        base, ticket = _zendesk_base(settings), ref.split("#", 1)[0]
        return f"{base}/agent/tickets/{quote(ticket)}" if base and ticket.isdigit() else None
    if step == "jira.bug":
        base = settings.jira.url
        return f"{base}/browse/{quote(ref)}" if base else None
    if step.startswith("slack."):
        workspace = settings.slack.workspace_url
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


def describe(kind: str, detail: dict[str, Any], people: Any = None) -> tuple[str, str, str]:
    """(tone, title, one line of detail) for a timeline kind (docs/timeline.md), people by name."""
    d = detail or {}
    step = step_label(str(d.get("step", "")))
    if people is None:
        people = People()

    def who(value: Any) -> str:
        text = str(value or "")
        if text.startswith("slack:"):
            return people.slack_name(text[6:])
        if text.startswith(("web:", "cli:")):
            return people.actor(text)
        return people.slack_name(text) if text else "nobody"

    via = {"slack": "Slack", "web": "the case page", "zendesk": "Zendesk"}
    table: dict[str, tuple[str, str, str]] = {
        "case.opened": ("bot", "Conversation received", ""),
        "case.escalated": ("bridge", "Escalated", "triggers: " + ", ".join(map(str, d.get("triggers", [])))
                           + (f" · at message {d['at_message']}" if d.get("at_message") else "")),
        "case.routed": ("bridge", "Routed", _routed(d, people)),
        "case.closed": ("bot", "Closed by the bot before any escalation", ""),
        "delivery.done": ("vendor", f"{step} {'written to the outbox (dry run)' if d.get('dry_run') else 'sent'}",
                          str(d.get("external_id", ""))),
        "delivery.dead": ("problem", f"{step} failed",
                          f"{plain_error(str(d.get('error') or ''))} (attempts: {d.get('attempts', '?')})"),
        "event.dead": ("problem", "Event could not be processed", plain_error(str(d.get("error") or ""))),
        "replayed": ("bridge", "Replayed", str(d.get("id", ""))),
        "case.acknowledged": ("human", "Acknowledged", f"by {who(d.get('owner'))} via "
                              f"{via.get(str(d.get('via')), d.get('via') or 'Slack')}"),
        "case.reassigned": ("human", "Reassigned", f"{who(d.get('from'))} → {who(d.get('to'))}"
                            + {"not_mine": " (“not mine”)", "reassign": ""}.get(str(d.get("reason")),
                                                                                f" ({d.get('reason')})")),
        "case.paged": ("bridge", "Paged the next level", f"level {d.get('level', '?')}: "
                       + (", ".join(who(w) for w in d.get("who", [])) or f"the channel {d.get('channel', '')}")),
        "agent.replied": ("human", "Agent replied (holding message)" if d.get("holding") else "Agent replied",
                          f"ticket {d.get('ticket_id', '')}"),
        "ticket.solved": ("human", "Ticket solved", f"ticket {d.get('ticket_id', '')}"),
        "ticket.reopened": ("problem", "Ticket reopened", f"{d.get('from', '')} → {d.get('to', '')}"),
        "ticket.assignee": ("human", "Assignee changed", f"now {people.agent_name(d.get('assignee_id'))}"),
        "csat.rated": ("customer" if d.get("score") == "good" else "problem",
                       f"Customer rated {d.get('score', '?')}", str(d.get("comment") or "")),
        "jira.resolved": ("vendor", f"Jira {d.get('key', '')} resolved", str(d.get("resolution") or "")),
        "jira.released": ("vendor", f"Jira {d.get('key', '')} released", str(d.get("version") or "")),
        "update.drafted": ("bridge", "Customer update drafted", str(d.get("text") or "")),
        "update.sent": ("human", "Customer update sent", f"approved by {who(d.get('by'))}"),
        "customer.followup": ("customer", "Customer wrote again" if d.get("text") else "Customer sent more evidence",
                              _followup(d)),
        "kb.suggested": ("bridge", "KB article suggested", str(d.get("title") or "")),
        "kb.done": ("human", "KB article updated", f"by {who(d.get('by'))}"),
        "action.denied": ("problem", f"Slack click refused: {d.get('action', '?')}",
                          f"{who(d.get('user'))} is not allowed by the routing file"),
    }
    if kind in table:
        return table[kind]
    return "bridge", kind, json.dumps(d, ensure_ascii=False, default=str)[:500]


def _followup(d: dict[str, Any]) -> str:
    files = [str(f) for f in d.get("files") or [] if f]
    where = f"message {d['message_index']}: " if d.get("message_index") else ""
    text = str(d.get("text") or "")
    return where + (f"“{text}”" if text else "") + (f" · files: {', '.join(files)}" if files else "") + (
        " · new session evidence" if d.get("evidence") else "")


def _routed(d: dict[str, Any], people: Any) -> str:
    owner = d.get("owner") or {}
    name = owner.get("name") if isinstance(owner, dict) else people.slack_name(str(owner)) if owner else None
    team = d.get("team_name") or d.get("team")
    return f"team {team or '?'} · owner {name or 'nobody on shift'} · rule {d.get('rule', 'default')}"


def timeline(
    settings: Settings,
    rows: list[Any],
    received: list[tuple[datetime, str, str]],
    escalated_at: datetime | None,
    channel: str | None = None,
    people: Any = None,
) -> list[Entry]:
    """Timeline rows plus every inbound event (``received``: at, event type, platform), by time."""
    if people is None:
        people = People()
    entries = [
        Entry(at, "event.received", "bot", "Event received", f"{event_type} from {platform}",
              people.actor(f"bot:{platform}"), _since(at, escalated_at))
        for at, event_type, platform in received
    ]
    for row in rows:
        tone, title, text = describe(row.kind, row.detail or {}, people)
        url = None
        if row.kind == "delivery.done":
            url = vendor_url(settings, str(row.detail.get("step", "")), str(row.detail.get("external_id", "")),
                             channel)
        elif row.kind.startswith(("ticket.", "agent.")) and row.detail.get("ticket_id"):
            url = vendor_url(settings, "zendesk.ticket", str(row.detail["ticket_id"]))
        elif row.kind.startswith("jira.") and row.detail.get("key"):
            url = vendor_url(settings, "jira.bug", str(row.detail["key"]))
        entries.append(Entry(row.at, row.kind, tone, title, text, people.actor(row.actor),
                             _since(row.at, escalated_at), safe_url(url)))
    return sorted(entries, key=lambda e: e.at)


def unused_fields(bodies: list[tuple[str, bytes | None]]) -> list[tuple[str, str | None]]:
    """Fields the sender sent that the bridge did not use, over every event of the case, each once,
    with the field it most likely meant: ``[("evidence.console_errors", "evidence.console_logs")]``.
    The bodies are the inbox's verbatim copies (scrubbed ones after the retention period say nothing)."""
    seen: dict[str, str | None] = {}
    for platform, body in bodies:
        adapter = ADAPTERS.get(platform)
        if adapter is None or not body:
            continue
        for name in adapter.ignored(Inbound(body=bytes(body), headers={})):
            seen.setdefault(name, suggestion(name))
    return list(seen.items())


def slack_html(text: str) -> Markup:
    """Slack mrkdwn as the Slack client shows it: bold, italic, strike, code, links, mentions, line
    breaks. Everything is escaped first; only http(s) links become anchors."""
    tokens: list[str] = []

    def control(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith(("http://", "https://")) and safe_url(target):
            shown = html.unescape(label or target)
            href = escape(html.unescape(target))
            tokens.append(f'<a href="{href}" rel="noopener noreferrer" target="_blank">{escape(shown)}</a>')
        elif target.startswith(("!", "@", "#")):
            tokens.append(str(escape(("@" if target[0] in "!@" else "#") + html.unescape(label or target[1:]))))
        else:
            tokens.append(str(escape(html.unescape(match.group(0)))))
        return f"\x00{len(tokens) - 1}\x00"

    marked = re.sub(r"<([^<>\n]+)>", control, text)
    out = str(escape(html.unescape(marked)))
    out = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", out)
    out = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])", r"<i>\1</i>", out)
    out = re.sub(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])", r"<s>\1</s>", out)
    out = re.sub(r"\x00(\d+)\x00", lambda m: tokens[int(m.group(1))], out)
    return Markup(out.replace("\n", "<br>\n"))


def outbox(settings: Settings, case_id: str, people: Any) -> list[Any]:
    """The case's dry-run outbox, rendered as the Markdown files beside the JSON (same renderings)."""
    from connectors.outbox import read_outbox, rendering

    url = f"{settings.base_url}/cases/{case_id}"
    found = read_outbox(settings.outbox_dir, case_id)
    return [rendering(step, request, case_id, url, people) for step, request in found]


def priority_reason(priority: str | None, reason: str | None) -> str:
    """``"normal: customer_requested_human (normal)"`` → ``"customer requested human (normal)"``: the
    chip already says the priority, the reason says why (each step once)."""
    text = (reason or "").strip()
    if priority and text.startswith(f"{priority}:"):
        text = text[len(priority) + 1:].strip()
    return re.sub(r"\b([a-z]+(?:_[a-z]+)+)\b", lambda m: m.group(1).replace("_", " "), text)


def topic_of(case: Any) -> str:
    """The case's subject for the list: the summary's topic, the bot's topic, or the first words."""
    summary = getattr(case, "summary", None) or {}
    event = getattr(case, "event", None) or {}
    topic = summary.get("suggested_topic") or (event.get("handoff") or {}).get("topic")
    if topic:
        return str(topic)[:120]
    first = next((m.get("text") for m in (event.get("conversation") or {}).get("messages") or []
                  if m.get("role") == "customer" and m.get("text")), "")
    words = str(first).split()
    return " ".join(words[:12]) + (" …" if len(words) > 12 else "") if words else "—"

"""What a step's request looks like to the person on the other side: the Zendesk ticket with its
subject, fields and note; the Slack message as text with its buttons; the Jira bug with its fields
and description. Read by the dry-run outbox (its ``.md`` files) and the case page's Outbox tab, so
both show the same. The renderers read the JSON record of a request (they never change it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.config.people import People

# --- what a rendering is made of ----------------------------------------------------------------------

@dataclass(frozen=True)
class Button:
    label: str
    url: str | None = None
    menu: bool = False  # a picker (Slack users_select), not a plain button


@dataclass(frozen=True)
class Part:
    """One piece of a rendering: a table of fields, a text shown as is, a Slack message, or buttons."""

    kind: str  # "fields" | "text" | "slack" | "buttons" | "list"
    title: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    text: str = ""
    items: tuple[str, ...] = ()
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Rendering:
    step: str
    title: str  # "Zendesk ticket"
    where: str  # "in Zendesk", "in Slack"
    case_id: str
    case_url: str
    parts: tuple[Part, ...] = field(default_factory=tuple)


VENDOR = {"zendesk": "Zendesk", "slack": "Slack", "jira": "Jira", "bot": "the bot"}
TITLES = {
    "zendesk.ticket": "Zendesk ticket", "zendesk.link": "Zendesk internal note (Jira link)",
    "zendesk.note": "Zendesk internal note", "zendesk.reply": "Zendesk public reply",
    "zendesk.assign": "Zendesk assignee change", "slack.alert": "Slack alert", "slack.dm": "Slack direct message",
    "slack.update": "Slack alert, updated in place", "slack.page": "Slack re-escalation page",
    "slack.thread": "Slack thread reply", "slack.ephemeral": "Slack private answer",
    "jira.bug": "Jira bug", "bot.callback": "Message to the bot (handoff.accepted)",
    "bot.failed": "Message to the bot (handoff.failed)",
}


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _ref(value: Any) -> str:
    """A vendor id as a person reads it; a dry-run id points at the file beside this one."""
    text = _s(value)
    if text.startswith("dry-run:"):
        return f"{text.rsplit('/', 1)[-1]} (dry run: the file of that name beside this one)"
    return text


# --- per vendor ---------------------------------------------------------------------------------------

def _comment(comment: Any) -> Part:
    comment = comment if isinstance(comment, dict) else {}
    public = bool(comment.get("public"))
    title = "Public reply (the customer sees it)" if public else "Internal note (agents only)"
    return Part("text", title, text=_s(comment.get("body")))


def _zendesk(step: str, request: dict[str, Any], people: People | None) -> list[Part]:
    parts: list[Part] = []
    agent = request.get("assignee_id")
    agent_text = (people.agent_name(agent) if people else _s(agent)) if agent is not None else ""
    if step == "zendesk.ticket":
        requester = request.get("requester") or {}
        who = (f"{requester.get('name') or ''} <{requester['email']}>".strip() if requester.get("email")
               else "the placeholder requester (the bot knew no email)")
        fields = [("Subject", _s(request.get("subject"))), ("Requester", who),
                  ("Priority", _s(request.get("priority"))), ("Type", _s(request.get("type")))]
        if request.get("group_id") is not None:
            fields.append(("Group", _s(request.get("group_id"))))
        if agent is not None:
            fields.append(("Assignee", agent_text))
        fields += [("Tags", ", ".join(map(str, request.get("tags") or []))),
                   ("External id", _s(request.get("external_id")))]
        parts.append(Part("fields", "Ticket", tuple(fields)))
        parts.append(_comment(request.get("comment")))
        facts = {k: v for k, v in (request.get("_facts") or {}).items() if v not in (None, "")}
        if facts:
            parts.append(Part("fields", "Facts for custom fields (ZENDESK_FIELD_MAP)",
                              tuple((k.replace("_", " "), _s(v)) for k, v in facts.items())))
        files = [f"{f.get('name') or f.get('url')} ({f.get('kind') or 'file'})"
                 for f in request.get("_evidence") or [] if isinstance(f, dict)]
        files += [f"{a.get('name')} (attached)" for a in request.get("_attachments") or [] if isinstance(a, dict)]
        if files:
            parts.append(Part("list", "Attachments", items=tuple(files)))
        return parts
    fields = [("Ticket", _ref(request.get("ticket")) or "the case's ticket")]
    if step == "zendesk.assign":
        fields.append(("New assignee", agent_text or "nobody (unassigned)"))
    parts.append(Part("fields", "Ticket", tuple(fields)))
    if request.get("comment"):
        parts.append(_comment(request.get("comment")))
    return parts


def _slack_blocks(blocks: Iterable[Any], people: People | None) -> list[Part]:
    parts: list[Part] = []
    lines: list[str] = []

    def flush() -> None:
        if lines:
            parts.append(Part("slack", text="\n\n".join(lines)))
            lines.clear()

    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            lines.append(f"*{_s((block.get('text') or {}).get('text'))}*")
        elif kind == "section":
            if block.get("text"):
                lines.append(_s(block["text"].get("text")))
            for item in block.get("fields") or []:
                text = _s(item.get("text") if isinstance(item, dict) else item)
                label, sep, value = text.partition("\n")
                lines.append(f"{label}: {value}" if sep else text)
        elif kind == "context":
            lines.append(" ".join(_s(e.get("text")) for e in block.get("elements") or [] if isinstance(e, dict)))
        elif kind == "divider":
            lines.append("———")
        elif kind == "actions":
            flush()
            buttons = []
            for element in block.get("elements") or []:
                if not isinstance(element, dict):
                    continue
                if element.get("type") == "button":
                    buttons.append(Button(_s((element.get("text") or {}).get("text")), element.get("url")))
                elif element.get("type", "").endswith("_select"):
                    label = _s((element.get("placeholder") or {}).get("text")) or "Pick"
                    buttons.append(Button(f"{label} (pick a person)", menu=True))
            parts.append(Part("buttons", "Buttons", buttons=tuple(buttons)))
    flush()
    if people is not None:
        parts = [Part(p.kind, p.title, p.fields, people.mentions(p.text), p.items, p.buttons) for p in parts]
    return parts


def _where(channel: Any, people: People | None) -> str:
    text = _s(channel)
    if re.match(r"^[UW][A-Z0-9]{2,}$", text):
        return f"direct message to {people.slack_name(text) if people else text}"
    return text or "the default channel"


def _slack(step: str, request: dict[str, Any], people: People | None) -> list[Part]:
    fields = [("Posted in", _where(request.get("channel"), people))]
    if request.get("thread_ts"):
        fields.append(("Thread", "a reply under the alert" + (" (also sent to the channel)"
                                                              if request.get("reply_broadcast") else "")))
    if step == "slack.update":
        fields.append(("Replaces", "the alert already posted" if request.get("ts") else "the alert (dry run)"))
    if step == "slack.page":
        if request.get("dm"):
            fields.append(("Also a direct message to", people.slack_name(request["dm"]) if people else request["dm"]))
        fields.append(("Level", _s(request.get("level"))))
    if step == "slack.ephemeral":
        user = _s(request.get("user"))
        fields.append(("Visible only to", people.slack_name(user) if people else user))
    fields.append(("Notification text", _s(request.get("text"))))
    parts = [Part("fields", "Message", tuple(fields))]
    blocks = request.get("blocks")
    if isinstance(blocks, list) and blocks:
        parts.append(Part("text", "As it appears in Slack"))
        parts += _slack_blocks(blocks, people)
    elif request.get("text"):
        parts.append(Part("slack", "As it appears in Slack", text=_s(request.get("text"))))
    return parts


def _jira(step: str, request: dict[str, Any], people: People | None) -> list[Part]:
    project = request.get("project") or {}
    fields = [("Project", _s(project.get("key") if isinstance(project, dict) else project)
               or "JIRA_PROJECT (routing names none)"),
              ("Issue type", _s((request.get("issuetype") or {}).get("name"))),
              ("Summary", _s(request.get("summary"))),
              ("Priority", _s(request.get("_priority"))),
              ("Labels", ", ".join(map(str, request.get("labels") or [])))]
    components = [c.get("name") for c in request.get("components") or [] if isinstance(c, dict)]
    if components:
        fields.append(("Components", ", ".join(map(str, components))))
    if request.get("_zendesk_ticket"):
        fields.append(("Zendesk ticket", _ref(request.get("_zendesk_ticket"))))
    customer = request.get("_customer") or {}
    if customer.get("line"):
        fields.append(("Customer", _s(customer.get("line"))))
    fingerprint = request.get("_fingerprint") or {}
    if fingerprint.get("label"):
        fields.append(("Same-bug fingerprint", _s(fingerprint.get("label"))))
    parts = [Part("fields", "Bug", tuple(fields)), Part("text", "Description (Jira wiki markup)",
                                                        text=_s(request.get("description")))]
    if request.get("_comment"):
        parts.append(Part("text", "Comment when the bug already exists (one more customer)",
                          text=_s(request.get("_comment"))))
    files = [f"{f.get('name') or f.get('url')}" for f in [*(request.get("_attachments") or []),
                                                          *(request.get("_evidence") or [])] if isinstance(f, dict)]
    if files:
        parts.append(Part("list", "Attachments", items=tuple(dict.fromkeys(files))))
    return parts


def _bot(step: str, request: dict[str, Any], people: People | None) -> list[Part]:
    owner = (request.get("owner") or {}).get("name")
    fields = [("Event", _s(request.get("type"))), ("Conversation", _s(request.get("conversation_id"))),
              ("Owner", _s(owner)), ("Expected reply", f"{request.get('expected_reply_minutes')} min"),
              ("Language", _s(request.get("language")))]
    parts = [Part("fields", "Callback", tuple(fields)),
             Part("text", "Message for the customer", text=_s(request.get("message")))]
    if request.get("needs_more"):
        parts.append(Part("list", "Questions the bot can ask meanwhile", items=tuple(map(str, request["needs_more"]))))
    return parts


def _other(step: str, request: dict[str, Any], people: People | None) -> list[Part]:
    fields = [(k, _s(v)) for k, v in request.items() if not isinstance(v, dict | list) and not k.startswith("_")]
    parts = [Part("fields", "Request", tuple(fields))]
    for key, value in request.items():
        if isinstance(value, dict | list):
            parts.append(Part("text", key, text=json.dumps(value, indent=2, ensure_ascii=False)))
    return parts


RENDERERS: dict[str, Callable[[str, dict[str, Any], Any], list[Part]]] = {
    "zendesk": _zendesk, "slack": _slack, "jira": _jira, "bot": _bot,
}


def rendering(step: str, request: dict[str, Any], case_id: str, case_url: str,
              people: People | None = None) -> Rendering:
    """What one outbox file would have done, as the person on the other side would see it."""
    base = step.split("#", 1)[0]
    vendor = base.split(".", 1)[0]
    title = TITLES.get(base, base)
    if "#" in step and base not in ("slack.page",):
        title += f" ({step.split('#', 1)[1]})"
    elif base == "slack.page":
        title += f" #{step.split('#', 1)[1]}" if "#" in step else ""
    renderer = RENDERERS.get(vendor, _other)
    parts = renderer(base, request if isinstance(request, dict) else {}, people)
    return Rendering(step, title, f"in {VENDOR.get(vendor, vendor)}", case_id, case_url, tuple(parts))

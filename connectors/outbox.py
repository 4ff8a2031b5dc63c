"""Dry-run connector: writes what would be sent instead of sending it (the embedded default).

``<data dir>/outbox/<case id>/<connector>.<action>.json`` holds the exact request, and a ``.md``
beside it shows it the way a person would meet it: the Zendesk ticket with its subject, fields and
note as text; the Slack message as text with its buttons listed; the Jira bug with its fields and
description; each with the link to the case page. The renderings read the JSON the builders
produce (they never change it); ``rendering`` is shared with the case page's Outbox tab, so the
page and the file show the same. Writes are atomic (temp file + rename), so a crash never leaves
half a file, and repeating a step rewrites the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Context, Request, Result, Step, request_json

if TYPE_CHECKING:
    from bridge.config import Settings
    from bridge.people import People


def _atomic_write(path: Path, text: str, durable: bool = True) -> None:
    """Temp file + rename: a reader sees the old file or the new one, never half of one. ``durable``
    also syncs it to disk first (the request record; its rendering can do without)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def _people(settings: Settings | None) -> People | None:
    if settings is None:
        return None
    from bridge.people import People

    return People.of(settings)


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


# --- Markdown --------------------------------------------------------------------------------------

def mrkdwn_to_markdown(text: str) -> str:
    """Slack mrkdwn → Markdown: *bold*, _italic_, ~strike~, <url|label>, <!here>. Entities stay
    (Markdown shows ``&lt;`` as ``<``), so customer text never becomes markup."""
    def control(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith(("http://", "https://", "mailto:")):
            return f"[{label or target}]({target})"
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("@"):
            return "@" + (label or target[1:])
        return match.group(0)

    text = re.sub(r"<([^<>\n]+)>", control, text)
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"**\1**", text)
    text = re.sub(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])", r"*\1*", text)
    return re.sub(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])", r"~~\1~~", text)


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " / ").strip() or "—"


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    return "`" * max(3, longest + 1)


def to_markdown(r: Rendering) -> str:
    lines = [f"# {r.title}: dry run", "",
             f"Nothing was sent: this is what the bridge would have done {r.where} for case "
             f"[{r.case_id}]({r.case_url}).", ""]
    for part in r.parts:
        if part.kind == "fields":
            lines += [f"## {part.title}", "", "| Field | Value |", "|---|---|"]
            lines += [f"| {_cell(name)} | {_cell(value)} |" for name, value in part.fields]
            lines.append("")
        elif part.kind == "text":
            lines += [f"## {part.title}", ""]
            if part.text:
                fence = _fence(part.text)
                lines += [f"{fence}text", part.text, fence, ""]
        elif part.kind == "slack":
            if part.title:
                lines += [f"## {part.title}", ""]
            body = mrkdwn_to_markdown(part.text)
            lines += ["> " + line + "  " if line else ">" for line in body.split("\n")]
            lines.append("")
        elif part.kind == "buttons":
            shown = [f"[{b.label}]({b.url})" if b.url else f"**[ {b.label}{' ▾' if b.menu else ''} ]**"
                     for b in part.buttons]
            lines += ["> " + " · ".join(shown), ""]
        elif part.kind == "list":
            lines += [f"## {part.title}", "", *[f"- {item}" for item in part.items], ""]
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(step: Step | str, request: dict[str, Any], case_id: str = "", case_url: str = "",
                    people: People | None = None) -> str:
    name = step if isinstance(step, str) else step.name
    return to_markdown(rendering(name, request, case_id, case_url or f"/cases/{case_id}", people))


# --- the connector -------------------------------------------------------------------------------

class OutboxConnector:
    def __init__(self, name: str, outbox_dir: Path, settings: Settings | None = None) -> None:
        self.name = name
        self.outbox_dir = outbox_dir
        self.settings = settings

    def send(self, step: Step, request: Request, context: Context) -> Result:
        request = request_json(request)
        folder = self.outbox_dir / context.case_id
        name = context.instance or step.name  # repeatable steps: one file per instance
        document = {"dry_run": True, "step": name, "idempotency_key": context.key, "request": request}
        _atomic_write(folder / f"{name}.json", json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        case_url = f"{self.settings.base_url if self.settings else ''}/cases/{context.case_id}"
        _atomic_write(folder / f"{name}.md",
                      render_markdown(name, request, context.case_id, case_url, _people(self.settings)), durable=False)
        return Result(external_id=f"dry-run:{context.case_id}/{name}", dry_run=True)


def read_outbox(outbox_dir: Path, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The case's outbox documents as (step, request), oldest first."""
    folder = outbox_dir / case_id
    if not re.fullmatch(r"[\w.-]+", case_id) or not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name)):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and isinstance(document.get("request"), dict):
            found.append((str(document.get("step") or path.stem), document["request"]))
    return found

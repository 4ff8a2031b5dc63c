"""Render dry-run outbox requests roughly as Zendesk, Jira and Slack show them, for screenshots.

Test-only and approximate: enough to see the ticket, the bug and the Slack post as their readers do
(a private note in Zendesk's yellow, Jira wiki headings and ``{noformat}`` blocks, Slack Block Kit
sections, fields and buttons). Every piece of text is HTML-escaped before any markup is added.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

CSS = """
body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;background:#f4f5f7;color:#1d1c1d}
.app{max-width:980px;margin:0 auto;padding:24px}
.bar{font-size:12px;color:#68737d;text-transform:uppercase;letter-spacing:.06em;margin-bottom:8px}
h1{font-size:22px;margin:4px 0 12px}
.meta{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0 16px}
.chip{background:#e9ebed;border-radius:4px;padding:1px 7px;font-size:12px;color:#2f3941}
.note{background:#fff6d9;border:1px solid #f1d98c;border-radius:6px;padding:12px 16px;margin:12px 0;
  white-space:pre-wrap}
.note .who{font-weight:600;margin-bottom:6px;white-space:normal}
.jira{background:#fff;border:1px solid #dfe1e6;border-radius:4px;padding:16px 20px}
.jira h2{font-size:18px;border-bottom:1px solid #dfe1e6;padding-bottom:4px} .jira h3{font-size:15px;margin:16px 0 6px}
.jira pre{background:#f4f5f7;border:1px solid #dfe1e6;padding:8px;white-space:pre-wrap;font-size:12.5px;margin:4px 0}
.comment{background:#fff;border:1px solid #dfe1e6;border-radius:4px;padding:12px 16px;margin-top:12px}
.slack{background:#fff;border:1px solid #ddd;border-radius:8px;padding:14px 18px;margin-bottom:14px}
.slack .bot{font-weight:700}.slack .bot small{font-weight:400;color:#616061;margin-left:6px}
.slack .hdr{font-size:18px;font-weight:800;margin:6px 0}
.slack .sec{margin:6px 0}.slack .fields{display:grid;grid-template-columns:1fr 1fr;gap:6px 24px;margin:8px 0}
.slack blockquote{border-left:4px solid #ddd;margin:4px 0;padding-left:10px;color:#444}
.slack .btn{display:inline-block;border:1px solid #ccc;border-radius:4px;padding:3px 12px;margin:6px 6px 0 0;
  font-weight:600}
.slack .btn.primary{background:#007a5a;color:#fff;border-color:#007a5a}
.slack .ctx{color:#616061;font-size:12px;margin-top:8px}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
.thread{margin-left:36px;border-left:2px solid #e8e8e8;padding-left:14px}
"""


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><div class='app'>{body}</div></body></html>")


def _request(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["request"]  # type: ignore[no-any-return]


def _numbered(folder: Path, base: str) -> list[Path]:
    found = [(int(p.stem.split("#")[1]), p) for p in folder.glob(f"{base}#*.json") if p.stem.split("#")[1].isdigit()]
    return [p for _, p in sorted(found)]


def zendesk(folder: Path) -> str:
    ticket = _request(folder / "zendesk.ticket.json")
    chips = "".join(f"<span class='chip'>{html.escape(t)}</span>" for t in ticket.get("tags", []))
    requester = ticket.get("requester") or {}
    notes = [("Recovery Bridge (internal note)", ticket["comment"]["body"])]
    later = [folder / "zendesk.link.json", *_numbered(folder, "zendesk.followup"), *_numbered(folder, "zendesk.assign")]
    for path in later:
        if path.exists():
            notes.append(("Recovery Bridge (internal note)", _request(path)["comment"]["body"]))
    body = "".join(f"<div class='note'><div class='who'>{html.escape(who)}</div>{html.escape(text)}</div>"
                   for who, text in notes)
    head = (f"<div class='bar'>Zendesk · ticket · {html.escape(str(ticket.get('type')))} · priority "
            f"{html.escape(str(ticket.get('priority')))} · requester {html.escape(str(requester.get('name')))}</div>"
            f"<h1>{html.escape(ticket['subject'])}</h1><div class='meta'>{chips}</div>")
    return _page(ticket["subject"], head + body)


def _wiki(text: str) -> str:
    out, parts = [], re.split(r"\{noformat\}", text)
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<pre>{html.escape(part.strip(chr(10)))}</pre>")
            continue
        for line in part.split("\n"):
            escaped = html.escape(line)
            escaped = re.sub(r"\[([^|\]]+)\|(https?://[^\]]+)\]", r"<a href='\2'>\1</a>", escaped)
            escaped = re.sub(r"\{\{(.+?)\}\}", r"<code>\1</code>", escaped)
            escaped = re.sub(r"(?<!\w)\*([^*]+)\*(?!\w)", r"<b>\1</b>", escaped)
            escaped = re.sub(r"(?<!\w)_([^_]+)_(?!\w)", r"<i>\1</i>", escaped)
            if line.startswith(("h2. ", "h3. ")):
                out.append(f"<{line[:2]}>{escaped[4:]}</{line[:2]}>")
            elif line.startswith("* "):
                out.append(f"<li>{escaped[2:]}</li>")
            elif line.strip():
                out.append(f"<div>{escaped}</div>")
    return "".join(out)


def jira(folder: Path) -> str:
    bug = _request(folder / "jira.bug.json")
    labels = "".join(f"<span class='chip'>{html.escape(label)}</span>" for label in bug.get("labels", []))
    comments = "".join(f"<div class='comment'><div class='bar'>Comment · Recovery Bridge</div>"
                       f"{_wiki(_request(p)['comment'])}</div>" for p in _numbered(folder, "jira.followup"))
    head = (f"<div class='bar'>Jira · Bug · priority {html.escape(str(bug.get('_priority')))}</div>"
            f"<h1>{html.escape(bug['summary'])}</h1><div class='meta'>{labels}</div>")
    return _page(bug["summary"], head + f"<div class='jira'>{_wiki(bug['description'])}</div>" + comments)


def _mrkdwn(text: str, names: dict[str, str]) -> str:
    """Slack mrkdwn (already escaped for & < > by the builders) to HTML."""
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"<a href='\1'>\2</a>", text)
    text = re.sub(r"<@(\w+)>",
                  lambda m: f"<span class='mention'>@{html.escape(names.get(m.group(1), m.group(1)))}</span>", text)
    text = re.sub(r"<!(here|channel)>", r"<span class='mention'>@\1</span>", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", text)
    lines = []
    for line in text.split("\n"):
        lines.append(f"<blockquote>{line[1:]}</blockquote>" if line.startswith(">") else line + "<br>")
    return "".join(lines)


def _blocks(message: dict[str, Any], names: dict[str, str]) -> str:
    out = []
    for block in message.get("blocks", []):
        kind = block.get("type")
        if kind == "header":
            out.append(f"<div class='hdr'>{html.escape(block['text']['text'])}</div>")
        elif kind == "section" and "fields" in block:
            out.append("<div class='fields'>" + "".join(f"<div>{_mrkdwn(f['text'], names)}</div>"
                                                       for f in block["fields"]) + "</div>")
        elif kind == "section":
            out.append(f"<div class='sec'>{_mrkdwn(block['text']['text'], names)}</div>")
        elif kind == "actions":
            out.append("<div>" + "".join(
                f"<span class='btn{' primary' if e.get('style') == 'primary' else ''}'>"
                f"{html.escape((e.get('text') or e.get('placeholder') or {}).get('text', ''))}</span>"
                for e in block["elements"]) + "</div>")
        elif kind == "context":
            out.append("<div class='ctx'>" + " ".join(_mrkdwn(e["text"], names) for e in block["elements"]) + "</div>")
    if not message.get("blocks"):
        out.append(_mrkdwn(str(message.get("text", "")), names))
    return "".join(out)


def slack(folder: Path, names: dict[str, str]) -> str:
    """The channel post as it stands (the last in-place update) and its thread."""
    updates = _numbered(folder, "slack.update")
    post = _request(updates[-1] if updates else folder / "slack.alert.json")
    channel = html.escape(str(_request(folder / "slack.alert.json").get("channel")))
    thread = [p for p in [*_numbered(folder, "slack.followup"), *_numbered(folder, "slack.page")]]
    replies = "".join(f"<div class='slack thread'><div class='bot'>Recovery Bridge <small>in thread</small></div>"
                      f"{_blocks(_request(p), names)}</div>" for p in thread)
    body = (f"<div class='bar'>Slack · {channel}</div><div class='slack'><div class='bot'>Recovery Bridge"
            f"<small>APP</small></div>{_blocks(post, names)}</div>{replies}")
    return _page("Slack", body)

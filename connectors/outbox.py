"""Dry-run connector: writes what would be sent instead of sending it (the embedded default).

``<data dir>/outbox/<case id>/<connector>.<action>.json`` holds the exact request, and a ``.md``
beside it shows it the way a person would meet it: the Zendesk ticket with its subject, fields and
note as text; the Slack message as text with its buttons listed; the Jira bug with its fields and
description; each with the link to the case page (``connectors.rendering``, shared with the case
page's Outbox tab, so the page and the file show the same). Writes are atomic (temp file +
rename), so a crash never leaves half a file, and repeating a step rewrites the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Context, Request, Result, Step, request_json
from connectors.names import people_for
from connectors.rendering import Rendering, rendering

if TYPE_CHECKING:
    from bridge.config import Settings
    from bridge.config.people import People


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


def _people(settings: Settings | None) -> People | None:
    return people_for(settings) if settings is not None else None


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

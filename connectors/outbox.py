"""Dry-run connector: writes what would be sent instead of sending it (the embedded default).

``<data dir>/outbox/<case id>/<connector>.<action>.json`` holds the exact request, and a ``.md``
beside it renders it for a person. Writes are atomic (temp file + rename), so a crash never leaves
half a file, and repeating a step rewrites the same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from connectors.base import Context, Result, Step


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_markdown(step: Step, request: dict[str, Any]) -> str:
    lines = [f"# {step.name} (dry run)", ""]
    for name, value in request.items():
        if isinstance(value, str) and "\n" in value:
            lines += [f"## {name}", "", value, ""]
        elif isinstance(value, (dict, list)):
            lines += [f"## {name}", "", "```json", json.dumps(value, indent=2, ensure_ascii=False), "```", ""]
        else:
            lines.append(f"- **{name}**: {value}")
    return "\n".join(lines).rstrip() + "\n"


class OutboxConnector:
    def __init__(self, name: str, outbox_dir: Path) -> None:
        self.name = name
        self.outbox_dir = outbox_dir

    def send(self, step: Step, request: dict[str, Any], context: Context) -> Result:
        folder = self.outbox_dir / context.case_id
        name = context.instance or step.name  # repeatable steps: one file per instance
        document = {"dry_run": True, "step": name, "idempotency_key": context.key, "request": request}
        _atomic_write(folder / f"{name}.json", json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        _atomic_write(folder / f"{name}.md", render_markdown(step, request))
        return Result(external_id=f"dry-run:{context.case_id}/{name}", dry_run=True)

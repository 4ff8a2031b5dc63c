"""Jira: the bug engineers can act on (builder; the live client lands with its issue)."""

from __future__ import annotations

from typing import Any

from bridge.events import Package
from bridge.pipeline.render import reasons_text, transcript_text


def build_bug(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    evidence = package.evidence
    steps = "\n".join(f"# {s}" for s in evidence.steps_to_reproduce) if evidence else ""
    description = "\n\n".join(
        part
        for part in [
            f"h3. Why escalated\n{reasons_text(package.decision)}",
            f"h3. Steps to reproduce\n{steps}" if steps else "",
            f"h3. Page\n{evidence.page_url}" if evidence and evidence.page_url else "",
            f"h3. Transcript\n{{noformat}}\n{transcript_text(package.conversation)}\n{{noformat}}",
        ]
        if part
    )
    topic = (package.handoff.topic if package.handoff else None) or "Bug reported through the support bot"
    return {
        "summary": topic[:250],
        "description": description[:32_000],
        "issuetype": {"name": "Bug"},
        "labels": ["recovery-bridge", f"hb-{package.case_id}"],
    }

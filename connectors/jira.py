"""Jira: the bug engineers can act on (builder; the live client lands with its issue).

Descriptions use API v2 wiki markup. Every body built from customer, bot or LLM text sits inside
``{noformat}``, where Jira renders nothing (no ``[link|https://evil]``, no ``!image!``, no
``{color}``); the only way out of such a block is the closing tag itself, so that is defused.
"""

from __future__ import annotations

import re
from typing import Any

from bridge.events import Package
from bridge.pipeline.opening import lead_trigger
from bridge.pipeline.render import clean, sections
from bridge.pipeline.summary import TOPIC

# Jira Cloud rejects text fields over 32,767 characters; keep a margin for the markup we add.
DESCRIPTION_LIMIT = 32_000
_NOFORMAT = re.compile(r"\{noformat[^}]*\}", re.I)


def noformat(text: str) -> str:
    return "{noformat}\n" + _NOFORMAT.sub("(noformat)", text) + "\n{noformat}"


def _description(package: Package, transcript_budget: int | None) -> str:
    return "\n\n".join(f"h3. {title}\n{noformat(body)}" for title, body in sections(package, transcript_budget))


def _target(package: Package) -> dict[str, Any]:
    """Project and components from routing; without a routed project the connector's default applies."""
    route = package.route
    if route is None or not route.jira_project:
        return {}
    fields: dict[str, Any] = {"project": {"key": route.jira_project}}
    if route.jira_components:
        fields["components"] = [{"name": name} for name in route.jira_components]
    return fields


def build_bug(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    description = _description(package, None)
    if len(description) > DESCRIPTION_LIMIT:
        others = len(_description(package, 0))
        description = _description(package, max(1_000, DESCRIPTION_LIMIT - others))
    ticket = refs.get("zendesk.ticket")
    if ticket:
        description = f"Zendesk ticket: {noformat(str(ticket))}\n\n{description}"
    description = description[:DESCRIPTION_LIMIT]
    topic = package.handoff.topic if package.handoff and package.handoff.topic else None
    facts = package.summary.key_facts
    summary = topic or (f"Bug: {facts[0]}" if facts else TOPIC[lead_trigger(package.decision.trigger_ids)])
    return {
        # Summary is one line, at most 255 characters, and never taken from the LLM.
        "summary": " ".join(clean(summary).split())[:250],
        "description": description,
        "issuetype": {"name": "Bug"},
        **_target(package),
        "labels": ["recovery-bridge", f"hb-{package.case_id}", f"priority-{package.priority}"],
    }

"""Zendesk: the ticket that carries the handoff package (builder; the live client lands with its issue).

The package goes in as one private comment with a plain ``body`` (never ``html_body``), so a
transcript holding ``<img onerror=…>`` or ``[x](javascript:…)`` is shown as the text it is.
"""

from __future__ import annotations

from typing import Any

from bridge.events import Package
from bridge.pipeline.opening import lead_trigger
from bridge.pipeline.render import clean, sections
from bridge.pipeline.summary import TOPIC

# Zendesk truncates or rejects very large comments (the documented cap is 64 KB of comment
# text); stay well under it and let the transcript give way first.
BODY_LIMIT = 60_000


def _subject(package: Package) -> str:
    # Deterministic on purpose: the subject is what queues and views sort on, so no LLM text here.
    topic = package.handoff.topic if package.handoff and package.handoff.topic else None
    topic = topic or TOPIC[lead_trigger(package.decision.trigger_ids)]
    facts = package.summary.key_facts
    if facts and "product_bug" in package.decision.trigger_ids:
        topic = f"{topic}: {facts[0]}"
    return " ".join(clean(f"[{package.platform}] {topic}").split())[:250]


def _body(package: Package, transcript_budget: int | None) -> str:
    parts = [f"{title}\n{'-' * min(len(title), 60)}\n{body}" for title, body in sections(package, transcript_budget)]
    return "\n\n".join(parts)


def build_ticket(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    customer = package.customer
    body = _body(package, None)
    if len(body) > BODY_LIMIT:
        others = len(_body(package, 0))
        body = _body(package, max(2_000, BODY_LIMIT - others))[:BODY_LIMIT]
    tags = ["recovery_bridge", *package.decision.trigger_ids, f"rb_priority_{package.priority}",
            f"rb_lang_{package.language}"]
    if package.completeness.missing:
        tags.append("rb_incomplete")
    ticket: dict[str, Any] = {
        "subject": _subject(package),
        "comment": {"body": body, "public": False},
        "requester": {"email": customer.email, "name": customer.name or customer.email}
        if customer and customer.email
        else None,
        "priority": package.priority,
        "tags": tags,
        "external_id": package.case_id,
    }
    route = package.route
    if route and route.zendesk_group_id:
        ticket["group_id"] = route.zendesk_group_id
    if route and route.zendesk_agent_id:
        ticket["assignee_id"] = route.zendesk_agent_id  # the same person Slack names as owner
    return ticket

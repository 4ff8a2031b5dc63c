"""What the customer sends once the case is with a human reaches that human.

Each customer message that arrives after the escalation (with its attachments), and any evidence
the bot adds later (a screenshot, a console log), becomes one *follow-up*: a ``customer.followup``
timeline entry and numbered delivery steps, ``zendesk.followup#k`` (a private note on the
ticket), ``slack.followup#k`` (a reply in the alert's thread, naming the owner while nobody has
answered) and, when the case has a bug and the follow-up says something an engineer can use,
``jira.followup#k`` (a comment on the bug, with the files). Instance ``k`` of a step waits for
instance ``k-1`` (its ``after``), so the notes arrive in the order the customer wrote them, and
the queue retries, backs off and dead-letters them like every other step. They are created in the
same transaction that folds the event into the case: a retried or repeated event adds nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.events import Decision, Event, Evidence, File, Summary
from bridge.pipeline.sanitize import sanitize_event
from bridge.pipeline.summary import extractive_summary
from bridge.pipeline.transcript import added_evidence, message_key
from bridge.store import repo
from bridge.store.db import Session
from bridge.store.models import CaseRow

FOLLOWUP = "customer.followup"
TEXT_CAP = 4000

# Chasing says the customer is still waiting; it tells an engineer nothing about the bug.
_CHASE = re.compile(
    r"(?i)\b(?:it'?s been|been waiting|waiting for|still waiting|any (?:update|news|one)s?|anyone there|"
    r"are you there|hello+|hi|hey|please|pls|asap|urgent(?:ly)?|respond|reply|answer|quick(?:ly)?|"
    r"\d+\s*(?:min(?:ute)?s?|hours?|hrs?|h)|minutes?|hours?|now|already|yet|still|thanks?|thank you|ok(?:ay)?|"
    r"hola|sigo esperando|alguien|hallo|noch|warte|bonjour|j'attends|toujours|olá|ainda|ciao|ancora|nog)\b"
)


@dataclass(frozen=True)
class FollowUp:
    """One thing the customer added: a message (``message_index`` into the transcript) or evidence."""

    message_index: int | None
    text: str
    sent_at: datetime | None
    files: list[File] = field(default_factory=list)
    evidence: Evidence | None = None

    def substantive(self) -> bool:
        """Worth a comment on the bug: evidence, a file, or more than chasing."""
        if self.files or self.evidence:
            return True
        return len(re.findall(r"\w+", _CHASE.sub(" ", self.text))) >= 4


def added(previous: Event | None, merged: Event) -> list[FollowUp]:
    """Customer messages and evidence in ``merged`` that ``previous`` did not have, in order."""
    known = {message_key(m) for m in previous.conversation.messages} if previous else set()
    items = [
        FollowUp(index, m.text, m.sent_at, list(m.attachments))
        for index, m in enumerate(merged.conversation.messages, start=1)
        if m.role == "customer" and message_key(m) not in known
    ]
    extra = added_evidence(previous.evidence if previous else None, merged.evidence)
    if extra is not None:
        if items:
            last = items[-1]
            items[-1] = FollowUp(last.message_index, last.text, last.sent_at, last.files, extra)
        else:
            items.append(FollowUp(None, "", None, [], extra))
    return items


def _files(item: FollowUp) -> list[dict[str, str]]:
    files = [*item.files, *(item.evidence.screenshots if item.evidence else []),
             *(item.evidence.files if item.evidence else [])]
    out: list[dict[str, str]] = []
    for f in files:
        entry = {k: v for k, v in (("url", f.url), ("name", f.name), ("kind", f.kind),
                                   ("content_type", f.content_type)) if v}
        if entry and entry not in out:
            out.append(entry)
    return out


def _last(steps: list[str], base: str) -> str | None:
    numbered = [(int(s.split("#", 1)[1]), s) for s in steps
                if s.startswith(base + "#") and s.split("#", 1)[1].isdigit()]
    return max(numbered)[1] if numbered else None


def refresh_summary(case: CaseRow, merged: Event) -> None:
    """New details change the facts behind the urgency: an extractive summary is made again when
    next needed; an LLM one keeps its prose (one call per case) and gets the new facts."""
    if not case.summary:
        return
    stored = Summary.model_validate(case.summary)
    if stored.source == "extractive":
        repo.drop_summary(case)  # made again when needed
        return
    fresh = extractive_summary(sanitize_event(merged), Decision.model_validate(case.decision or {"escalate": True}))
    repo.replace_summary(case, stored.model_copy(update={"key_facts": fresh.key_facts, "urgency": fresh.urgency,
                                                         "bot_reason": fresh.bot_reason}).to_json())


def record(s: Session, case: CaseRow, items: list[FollowUp], now: datetime, merged: Event | None = None) -> list[str]:
    """Timeline entries and delivery steps for ``items`` (the case row is locked by the caller)."""
    if not items:
        return []
    if merged is not None:
        refresh_summary(case, merged)
    existing = [d.step for d in repo.deliveries_of(s, case.id)]
    count = sum(1 for t in repo.timeline_of(s, case.id) if t.kind == FOLLOWUP)
    has_bug = "jira.bug" in existing
    created: list[str] = []
    for k, item in enumerate(items, start=count + 1):
        files = _files(item)
        waited = None
        if case.escalated_at is not None:
            at = item.sent_at or now
            waited = max(0, int((at - case.escalated_at).total_seconds() // 60))
        payload: dict[str, Any] = {
            "n": k, "message_index": item.message_index, "text": item.text[:TEXT_CAP],
            "sent_at": item.sent_at.isoformat() if item.sent_at else None, "files": files,
            "evidence": item.evidence.to_json() if item.evidence else None, "waited_minutes": waited,
        }
        repo.add_timeline(s, case.id, FOLLOWUP, "customer", item.sent_at or now, {
            "n": k, "message_index": item.message_index, "text": item.text[:500],
            "files": [f.get("name") or f.get("url") for f in files], "evidence": item.evidence is not None,
        })
        plan = [
            (f"zendesk.followup#{k}", _last(existing, "zendesk.followup") or "zendesk.ticket"),
            (f"slack.followup#{k}", _last(existing, "slack.followup") or "slack.alert"),
        ]
        if has_bug and item.substantive():
            plan.append((f"jira.followup#{k}", _last(existing, "jira.followup") or "jira.bug"))
        repo.ensure_deliveries(s, case.id, [(step, after, 0) for step, after in plan], now)
        for step, _ in plan:
            repo.set_payload_once(s, case.id, step, payload)
            existing.append(step)
            created.append(step)
    s.flush()
    return created

"""Plain-text renderings of package parts, shared by the ticket, bug and alert builders.

Everything here returns plain text built from customer, bot and LLM text, with control and bidi
characters stripped (a U+202E in a transcript must not reorder what the agent reads). Each
builder then escapes for its own markup (Slack mrkdwn, Jira wiki) and enforces its own limits.
``sections`` is the one canonical order of the package, so every destination shows the same thing.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from bridge.events import (
    Attempt,
    Completeness,
    Conversation,
    Customer,
    Decision,
    Evidence,
    Message,
    Package,
    Summary,
)
from bridge.pipeline.evidence import telling_requests
from bridge.pipeline.flags import flags_text
from bridge.pipeline.sanitize import scrub
from bridge.pipeline.waiting import waiting_text

ROLE_LABEL = {"customer": "Customer", "bot": "Bot", "agent": "Agent", "system": "System"}
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def clean(text: str) -> str:
    """Drop control, zero-width and bidi-override characters; keep newlines and tabs."""
    return _UNSAFE.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def _message_line(index: int, m: Message) -> str:
    stamp = f" [{m.sent_at.isoformat()}]" if m.sent_at else ""
    conf = f" (confidence {m.confidence:.2f})" if m.confidence is not None else ""
    files = "".join(f"\n   [attachment: {a.name or a.kind or 'file'} {a.url or ''}]".rstrip() for a in m.attachments)
    return f"{index}. {ROLE_LABEL[m.role]}{stamp}{conf}: {clean(m.text)}{files}"


def transcript_text(conversation: Conversation, budget: int | None = None) -> str:
    """The whole transcript; over ``budget`` characters, the opening and the latest messages."""
    lines = [_message_line(i, m) for i, m in enumerate(conversation.messages, start=1)]
    if not lines:
        return "(no messages)"
    text = "\n".join(lines)
    if budget is None or len(text) <= budget:
        return text
    head, tail = lines[:2], []
    room = budget - sum(len(line) + 1 for line in head) - 120
    for line in reversed(lines[2:]):
        if len(line) + 1 > room:
            break
        tail.insert(0, line)
        room -= len(line) + 1
    omitted = len(lines) - len(head) - len(tail)
    marker = f"... {omitted} message(s) omitted here for length; the full transcript is in the ticket ..."
    return "\n".join([*(line[: budget // 2] for line in head), marker, *tail])[:budget]


def reasons_text(decision: Decision) -> str:
    lines = []
    for hit in decision.triggers:
        where = f" at message {hit.message_index}" if hit.message_index else ""
        score = f" (score {hit.score:.2f})" if hit.score is not None else ""
        lines.append(f"- {hit.trigger}{where}{score}: {clean(hit.evidence)}")
    return "\n".join(lines) if lines else "- (no trigger recorded)"


def summary_text(summary: Summary) -> str:
    by = f"LLM, {summary.model}" if summary.source == "llm" else "extractive, from the transcript"
    lines = [
        f"Issue: {clean(summary.issue)}",
        f"What the bot tried: {clean(summary.tried)}",
        f"Customer state: {clean(summary.customer_state)}",
        f"Suggested topic: {clean(summary.suggested_topic)}",
        f"Next step: {clean(summary.next_step)}",
    ]
    if summary.bot_reason:
        lines.append(f"The bot's reason for handing off: {clean(summary.bot_reason)}")
    if summary.urgency:
        lines.append("Facts behind the urgency (customer's words):")
        lines += [f"- {clean(fact)}" for fact in summary.urgency]
    if summary.key_facts:
        lines.append("Key facts: " + "; ".join(clean(f) for f in summary.key_facts))
    lines.append(f"({by}" + (f"; {clean(summary.note)}" if summary.note else "") + ")")
    return "\n".join(lines)


def priority_text(package: Package) -> str:
    return package.priority_reason or package.priority


def completeness_text(completeness: Completeness) -> str:
    lines = [f"Score: {completeness.score}/100"]
    if completeness.present:
        lines.append("Have: " + "; ".join(completeness.present))
    if completeness.missing_labels:
        lines.append("Missing: " + "; ".join(completeness.missing_labels))
    if completeness.questions:
        lines.append(f"Questions for the customer ({completeness.language}):")
        lines += [f"- {q}" for q in completeness.questions]
    return "\n".join(lines)


def _value(value: object, cap: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = clean(text)
    return text if len(text) <= cap else text[: cap - 1] + "…"


def customer_text(customer: Customer | None, contact: bool = True) -> str:
    """The profile; ``contact=False`` leaves out e-mail and phone (a bug is read by many people)."""
    if customer is None:
        return "(no customer profile)"
    lines = [f"{label}: {_value(value)}" for label, value in (
        ("Name", customer.name), ("Email", customer.email if contact else None),
        ("Phone", customer.phone if contact else None), ("Id", customer.id),
        ("Locale", customer.locale), ("Plan", customer.plan),
    ) if value]
    account = customer.account
    if account:
        parts = [account.name or "", f"id {account.id}" if account.id else ""]
        if account.mrr is not None:
            parts.append(f"MRR {account.mrr:,.2f} {account.currency or ''}".strip())
        if account.sla:
            parts.append(f"SLA {account.sla}")
        if account.renewal_date:
            parts.append(f"renews {account.renewal_date.isoformat()}")
        lines.append("Account: " + ", ".join(_value(p) for p in parts if p))
    for key, value in list(customer.attributes.items())[:25]:
        lines.append(f"{_value(key, 60)}: {_value(value)}")
    return "\n".join(lines) or "(empty customer profile)"


def attempts_text(attempts: list[Attempt]) -> str:
    if not attempts:
        return "(the bot made no attempt)"
    lines = []
    for attempt in attempts[-15:]:
        conf = f" (confidence {attempt.confidence:.2f})" if attempt.confidence is not None else ""
        text = clean(attempt.text)
        lines.append(f"- message {attempt.message_index}{conf}: {text[:500]}{'…' if len(text) > 500 else ''}")
        for source in attempt.sources[:5]:
            url = f" <{_value(source.url, 300)}>" if source.url else ""
            lines.append(f"    source: {_value(source.title or '(untitled)', 120)}{url}")
    if len(attempts) > 15:
        lines.insert(0, f"({len(attempts) - 15} earlier answers in the transcript)")
    return "\n".join(lines)


def evidence_text(evidence: Evidence | None, conversation: Conversation | None = None,
                  now: datetime | None = None) -> str:
    lines: list[str] = []
    ev = evidence or Evidence()
    severity = {"fatal": 0, "critical": 0, "error": 1, "warn": 2, "warning": 2}
    logs = sorted(ev.console_logs, key=lambda c: severity.get((c.level or "").lower(), 3))  # errors first
    if logs:
        lines.append("Console:")
        for c in logs[:20]:
            where = f" ({_value(c.source, 120)})" if c.source else ""
            lines.append(f"- [{c.level or 'log'}] {_value(c.message or '', 400)}{where}")
        if len(logs) > 20:
            lines.append(f"- … {len(logs) - 20} more lines")
    telling = telling_requests(ev, now)
    if telling:
        lines.append("Network requests that explain the failure:")
        for t in telling[:10]:
            r = t.request
            took = f" in {r.duration_ms:.0f} ms" if r.duration_ms is not None else ""
            excerpt = f" — {_value(r.response_excerpt, 300)}" if r.response_excerpt else ""
            status = r.status or "no response"
            lines.append(f"- {r.method or 'GET'} {_value(r.url or '?', 300)} → {status}{took} "
                         f"({clean(t.why)}){excerpt}")
    d = ev.device
    if d:
        parts = [f"{k} {_value(v, 100)}" for k, v in (("OS", d.os), ("browser", d.browser), ("app", d.app_version),
                 ("viewport", d.viewport), ("locale", d.locale), ("network", d.network)) if v]
        if parts:
            lines.append("Device: " + ", ".join(parts))
    if ev.page_url:
        lines.append(f"Page: {_value(ev.page_url, 2000)}")
    if ev.session_replay_url:
        lines.append(f"Session replay: {_value(ev.session_replay_url, 2000)}")
    if ev.steps_to_reproduce:
        lines.append("Steps to reproduce:")
        lines += [f"{i}. {_value(step, 300)}" for i, step in enumerate(ev.steps_to_reproduce, start=1)]
    attached = [*ev.screenshots, *ev.files]
    if conversation:
        attached += [a for m in conversation.messages for a in m.attachments]
    if attached:
        lines.append("Screenshots and files:")
        lines += [f"- {a.kind or 'file'}: {_value(a.name or '', 120)} {_value(a.url or '', 2000)}".rstrip()
                  for a in attached[:20]]
    return "\n".join(lines) or "(no product evidence attached)"


def _reference(package: Package) -> datetime | None:
    stamps = [m.sent_at for m in package.conversation.messages if m.sent_at]
    return max(stamps) if stamps else None


def earlier_text(package: Package, base: str = "") -> str:
    """The customer's earlier tickets: those they mention, and earlier escalations of theirs."""
    base = base.rstrip("/")

    def show(number: str) -> str:
        return f"#{number}" + (f" {base}/agent/tickets/{number}" if base and number.isdigit() else "")

    lines = [f"- {show(n)}: the customer mentions it; link or merge it (and answer for the silence if it went "
             "unanswered)" for n in package.earlier_tickets]
    lines += [f"- {show(n)}: an earlier escalation of this customer" for n in package.previous_tickets
              if n not in package.earlier_tickets]
    return "\n".join(lines)


def sections(package: Package, transcript_budget: int | None = None, contact: bool = True) -> list[tuple[str, str]]:
    """Every part of the package, in the order the human reads it."""
    transcript_title = f"Transcript ({len(package.conversation.messages)} messages)"
    if package.transcript_missing == "fetched":
        transcript_title += " (transcript missing from the hand-off: fetched from the platform)"
    elif package.transcript_missing == "not_fetchable":
        transcript_title += " (transcript missing from the hand-off: not fetchable from the platform)"
    elif package.transcript_partial:
        transcript_title += " (partial: the platform did not return the whole conversation)"
    check = [("Check before you answer", flags_text(package.flags))] if package.flags else []
    earlier = earlier_text(package)
    return [
        *check,
        ("Where the customer is waiting", waiting_text(package.waiting)),
        *([("Earlier tickets", earlier)] if earlier else []),
        ("Summary", summary_text(package.summary)),
        ("Why escalated", reasons_text(package.decision)),
        ("Priority", priority_text(package)),
        ("Completeness", completeness_text(package.completeness)),
        ("Customer", customer_text(package.customer, contact) + ("" if contact else
                                                                  "\n(e-mail and phone: in the Zendesk ticket)")),
        ("What the bot tried", attempts_text(package.attempts)),
        ("Evidence", evidence_text(package.evidence, package.conversation, _reference(package))),
        (f"Suggested opening line ({package.language})", clean(package.opening_line)),
        (transcript_title, transcript_text(package.conversation, transcript_budget)),
    ]


def markdown(package: Package) -> str:
    """The package for a person reading it in a terminal or a .md file."""
    out = [f"# Handoff package: case {package.case_id}", "",
           f"- platform: {package.platform}", f"- conversation: {clean(package.conversation.id)}",
           f"- priority: **{package.priority}**", f"- triggers: {', '.join(package.decision.trigger_ids) or '-'}",
           f"- completeness: {package.completeness.score}/100", ""]
    for title, body in sections(package):
        fenced = title.startswith("Transcript")  # keeps customer text from becoming Markdown
        out += [f"## {title}", "", *(["```text", body, "```"] if fenced else [body]), ""]
    return "\n".join(out).rstrip() + "\n"


def evidence_files(package: Package, limit: int) -> list[dict[str, str]]:
    """Screenshots and files named by URL in the payload, once each (connectors fetch them SSRF-safely)."""
    found: list[dict[str, str]] = []
    evidence = package.evidence
    items = [*(evidence.screenshots if evidence else []), *(evidence.files if evidence else [])]
    items += [a for m in package.conversation.messages for a in m.attachments]
    for item in items:
        if item.url and item.url not in {f["url"] for f in found}:
            found.append({"url": item.url, "kind": item.kind or "other", "name": item.name or ""})
    return found[:limit]


def followup_heading(followup: dict[str, Any], *, unanswered: bool, taken: bool) -> str:
    """"Customer follow-up #2 (message 5, 09:34 UTC, 29 min after the escalation; nobody has answered yet)"."""
    bits = []
    if followup.get("message_index"):
        bits.append(f"message {followup['message_index']}")
    sent = str(followup.get("sent_at") or "")
    if len(sent) >= 16:
        bits.append(f"{sent[:10]} {sent[11:16]} UTC")
    if followup.get("waited_minutes") is not None:
        bits.append(f"{followup['waited_minutes']} min after the escalation")
    state = "not taken yet, nobody has answered" if not taken else ("nobody has answered yet" if unanswered else "")
    what = "Customer follow-up" if followup.get("text") else "New evidence from the customer"
    detail = ", ".join(bits) + (f"; {state}" if state else "")
    return f"{what} #{followup.get('n', '?')}" + (f" ({detail})" if detail else "")


def followup_lines(followup: dict[str, Any]) -> list[str]:
    """What the customer added, as plain lines: their words, the files, any new session evidence."""
    lines: list[str] = []
    text = scrub(clean(str(followup.get("text") or ""))).strip()
    if text:
        lines.append(text)
    files = [f for f in followup.get("files") or [] if isinstance(f, dict)]
    if files:
        lines.append("Attached:")
        lines += [f"- {_value(f.get('kind') or 'file', 40)}: {_value(f.get('name') or '', 120)} "
                  f"{_value(f.get('url') or '', 2000)}".rstrip() for f in files]
    if isinstance(followup.get("evidence"), dict):
        evidence = Evidence.model_validate(followup["evidence"]).model_copy(update={"screenshots": [], "files": []})
        more = evidence_text(evidence)
        if more != "(no product evidence attached)":
            lines.append(more)
    return lines

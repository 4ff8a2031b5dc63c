"""The bug report's text (pure): the Jira wiki markup of the description and of the comment a later
report of the same bug adds. Customer, log, bot and LLM text always sits inside ``{noformat}``
(see ``connectors.jira``); the summary is plain text and never carries LLM text.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bridge.events import Customer, Evidence, Package
from bridge.pipeline.evidence import session_steps, stamped, telling_requests
from bridge.pipeline.render import clean, sections
from connectors.jira.fingerprint import fingerprint, normalize_text

DESCRIPTION_LIMIT = 32_000
COMMENT_LIMIT = 30_000
MAX_ATTACHMENTS = 10
_NOFORMAT = re.compile(r"\{noformat[^}]*\}", re.I)
_SEVERITY = {"fatal": 0, "critical": 0, "error": 1, "warn": 2, "warning": 2}


def noformat(text: str) -> str:
    """Customer/log/LLM text as a block Jira renders verbatim (nothing inside can close it)."""
    return "{noformat}\n" + _NOFORMAT.sub("(noformat)", clean(text)) + "\n{noformat}"


def one_line(text: str, cap: int) -> str:
    line = " ".join(clean(text).split())
    return line if len(line) <= cap else line[: cap - 1] + "…"


def _symptom(package: Package) -> str:
    """The symptom in the customer's product: error message or failing action (never LLM text)."""
    ev = package.evidence or Evidence()
    errors = sorted((c for c in ev.console_logs if (c.level or "").lower() in ("error", "fatal", "critical")
                     and (c.message or "").strip()), key=lambda c: _SEVERITY.get((c.level or "").lower(), 3))
    if errors:
        return errors[0].message or ""
    telling = [t for t in telling_requests(ev, _reference(package)) if t.request.url]
    failing = [t for t in telling if t.failing] or telling
    if failing:
        r = failing[0].request
        path = re.sub(r"^[a-z]+://[^/]+", "", r.url or "", flags=re.I).split("?", 1)[0] or "/"
        if failing[0].failing:
            return f"{(r.method or 'GET').upper()} {path} fails with {r.status or 'no response'}"
        return f"{(r.method or 'GET').upper()} {path} answers {r.status}: {failing[0].why}"
    facts = package.summary.key_facts  # extracted deterministically, never by the LLM
    if facts:
        return facts[0]
    customer = [m.text for m in package.conversation.messages if m.role == "customer" and len(m.text.split()) >= 3]
    return customer[0] if customer else "Product bug reported through the chatbot"


def _area(package: Package) -> str:
    ev = package.evidence or Evidence()
    if ev.page_url:
        path = re.sub(r"^[a-z]+://[^/]+", "", ev.page_url, flags=re.I).split("?", 1)[0]
        if path and path != "/":
            return path
    if package.handoff and package.handoff.topic:
        return package.handoff.topic
    return ""


def summary_line(package: Package) -> str:
    """One line: symptom, product area, app version (Jira's limit is 255)."""
    device = package.evidence.device if package.evidence else None
    area = _area(package)
    tail = " — " + one_line(area, 60) if area else ""
    if device and device.app_version:
        tail += f" (app {one_line(device.app_version, 30)})"
    return one_line(_symptom(package), 250 - len(tail)) + tail


def customer_line(customer: Customer | None) -> str:
    if customer is None:
        return "anonymous customer"
    who = customer.name or customer.email or customer.id or "customer"
    parts = [who + (f" / {customer.account.name}" if customer.account and customer.account.name else "")]
    if customer.plan:
        parts.append(f"plan {customer.plan}")
    account = customer.account
    if account and account.mrr is not None:
        parts.append(f"MRR {account.mrr:,.2f} {account.currency or ''}".strip())
    if account and account.sla:
        parts.append(f"SLA {account.sla}")
    return " — ".join(one_line(p, 200) for p in parts)


def customer_key(package: Package) -> str:
    """Who counts as one customer for the blast radius: the account, else the person, else the case."""
    c = package.customer
    if c and c.account and c.account.id:
        return f"account:{c.account.id}"
    if c and (c.id or c.email):
        return f"customer:{c.id or c.email}"
    return f"case:{package.case_id}"


def _console_groups(ev: Evidence) -> list[str]:
    """Console lines, errors first, identical messages (ids and numbers aside) counted once."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for entry in ev.console_logs:
        level = (entry.level or "log").lower()
        groups.setdefault((level, normalize_text(entry.message or "")), []).append(entry)
    ordered = sorted(groups.values(), key=lambda g: (_SEVERITY.get((g[0].level or "").lower(), 3), -len(g)))
    lines = []
    for group in ordered[:30]:
        first = group[0]
        where = f" ({one_line(first.source, 120)})" if first.source else ""
        lines.append(f"{len(group)}× [{first.level or 'log'}] {one_line(first.message or '', 400)}{where}")
    if len(ordered) > 30:
        lines.append(f"… {len(ordered) - 30} more distinct lines in the attached console log")
    return lines


def _network_lines(ev: Evidence, now: datetime | None = None) -> list[str]:
    """Every request that explains the failure, with why: errors, redirects carrying an error,
    and answers whose content shows the outage whatever their status."""
    lines = []
    for told in telling_requests(ev, now)[:15]:
        r = told.request
        took = f" in {r.duration_ms:.0f} ms" if r.duration_ms is not None else ""
        lines.append(f"{r.method or 'GET'} {one_line(r.url or '?', 400)} → {r.status or 'no response'}{took}"
                     f" ({one_line(told.why, 300)})")
        if r.response_excerpt:
            lines.append(f"    response: {one_line(r.response_excerpt, 300)}")
    return lines


def _reference(package: Package) -> datetime | None:
    stamps = [m.sent_at for m in package.conversation.messages if m.sent_at]
    return max(stamps) if stamps else None


def _steps(package: Package) -> str:
    """Steps an engineer can follow: the bot's captured steps, the session in the order it happened
    (requests as captured, console lines by time), and what the customer reported, with times.
    Customer quotes are context, not steps, so they come last and under their own heading."""
    ev = package.evidence or Evidence()
    parts = []
    if ev.steps_to_reproduce:
        steps = [f"{i}. {one_line(s, 300)}" for i, s in enumerate(ev.steps_to_reproduce, start=1)]
        parts.append("From the session evidence:\n" + noformat("\n".join(steps)))
    session = session_steps(ev, _reference(package))
    if session:
        numbered = "\n".join(f"{i}. {clean(step)}" for i, step in enumerate(session, start=1))
        parts.append("_The session as captured, in order (requests in captured order, console lines by their "
                     "timestamps); reconstructed by the bridge, not verified:_\n" + noformat(numbered))
    said = [(m.sent_at, m.text) for m in package.conversation.messages if m.role == "customer"][:6]
    if said:
        lines = "\n".join(f"{stamped(at)}{one_line(text, 300)}" for at, text in said)
        parts.append("What the customer reported (their words, with times):\n" + noformat(lines))
    return "\n".join(parts) or "_Nothing to go on: ask the customer for the steps._"


def _environment(ev: Evidence) -> str:
    d = ev.device
    rows = [("OS", d.os if d else None), ("Browser", d.browser if d else None),
            ("App version", d.app_version if d else None), ("Viewport", d.viewport if d else None),
            ("Locale", d.locale if d else None), ("Network", d.network if d else None)]
    return noformat("\n".join(f"{name}: {one_line(value, 200) if value else '(unknown)'}" for name, value in rows))


def _earlier(package: Package, refs: dict[str, Any]) -> str:
    """Earlier tickets as links built from configuration and digits only (never customer text)."""
    base = str(refs.get("zendesk.url") or "").rstrip("/")
    numbers = [n for n in [*package.earlier_tickets, *package.previous_tickets] if n.isdigit()]
    if not numbers:
        return ""
    shown = [f"[Zendesk ticket #{n}|{base}/agent/tickets/{n}]" if base.startswith(("https://", "http://"))
             else f"Zendesk ticket #{n}" for n in dict.fromkeys(numbers)]
    return "h3. Earlier tickets of this customer\n" + "\n".join(f"* {line}" for line in shown)


def engineer_sections(package: Package, refs: dict[str, Any] | None = None) -> list[str]:
    ev = package.evidence or Evidence()
    fp = fingerprint(package)
    network = _network_lines(ev, _reference(package))
    actual = [one_line(_symptom(package), 500)]
    if package.summary.source == "extractive" and package.summary.issue:
        actual.append("Customer: " + one_line(package.summary.issue, 500))
    parts = [
        "h2. Bug report",
        "h3. Symptom\n" + noformat(_symptom(package)),
        "h3. Steps to reproduce\n" + _steps(package),
        "h3. Expected vs actual\n*Expected:* the action the customer describes completes without an error"
        " (inferred by the bridge).\n*Actual:*\n" + noformat("\n".join(actual)),
        "h3. Environment\n" + _environment(ev),
        "h3. Console errors\n" + (noformat("\n".join(_console_groups(ev))) + "\nFull log attached as console-log.txt."
                                  if ev.console_logs else "_None captured._"),
        "h3. Requests that explain the failure\n" + (noformat("\n".join(network)) if network
                                                     else "_None captured._"),
        "h3. Page and session replay\n" + noformat(f"Page: {ev.page_url or '(unknown)'}\n"
                                                  f"Session replay: {ev.session_replay_url or '(none)'}"),
        "h3. Affected customers\n1 customer so far; later reports of this bug are added as comments.\n"
        + noformat(customer_line(package.customer)),
    ]
    earlier = _earlier(package, refs or {})
    if earlier:
        parts.append(earlier)
    if fp:
        parts.append(f"h3. Fingerprint\n{{{{{fp.value}}}}} — later reports with the same fingerprint join this"
                     " issue.\n" + noformat(f"error: {fp.error}\nroute: {fp.route or '-'}\nmajor version: "
                                            f"{fp.major or '-'}"))
    return parts


def _header(package: Package, ticket: Any) -> str:
    ticket_text = str(ticket) if ticket is not None else ""
    shown = ticket_text if ticket_text.isdigit() else ("(none yet)" if not ticket_text else "(see below)")
    line = f"Zendesk ticket: {shown} · case {{{{{package.case_id}}}}}"
    if ticket_text and not ticket_text.isdigit():
        line += "\n" + noformat(ticket_text)
    return line


def description(package: Package, ticket: Any, transcript_budget: int | None, engineer: list[str]) -> str:
    handoff = [f"h3. {title}\n{noformat(body)}" for title, body in sections(package, transcript_budget, contact=False)]
    return "\n\n".join([_header(package, ticket), *engineer, "h2. Handoff package", *handoff])



def plus_one(package: Package, ticket: Any) -> str:
    """The comment a later report of the same bug adds to the issue (links added by the connector)."""
    ev = package.evidence or Evidence()
    device = ev.device
    lines = [customer_line(package.customer), f"Symptom: {one_line(_symptom(package), 300)}"]
    if device and (device.app_version or device.os or device.browser):
        lines.append("Environment: " + ", ".join(one_line(v, 80) for v in (device.app_version, device.os,
                                                                          device.browser) if v))
    if ev.page_url:
        lines.append(f"Page: {one_line(ev.page_url, 500)}")
    if ev.session_replay_url:
        lines.append(f"Session replay: {one_line(ev.session_replay_url, 500)}")
    errors = _console_groups(ev)[:5]
    if errors:
        lines += ["Console:", *errors]
    lines += _network_lines(ev, _reference(package))[:6]
    return f"*+1 customer* (case {{{{{package.case_id}}}}})\n" + noformat("\n".join(lines))


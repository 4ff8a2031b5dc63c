"""The Jira requests (pure): what the step builders return and what the client sends.

``build_bug`` and ``build_followup`` are the steps' builders: a ``BugCreate`` / ``BugComment``
holding the issue's fields and, as typed fields of their own, what goes along with them (the
files to attach, the comment a later report adds, who counts as one customer). The functions
below them turn a request and the ``JiraConfig`` into the exact bodies the client sends: the
create's ``fields``, the comments, the remote links. ``to_json`` is the dry-run outbox's record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bridge.events import Evidence, Package
from bridge.pipeline.render import clean, evidence_files, followup_heading, followup_lines, transcript_text
from bridge.pipeline.sanitize import for_channel, for_engineers
from connectors.base import PermanentError
from connectors.config import JiraConfig
from connectors.files import EvidenceFile, GeneratedFile, evidence
from connectors.jira.fingerprint import Fingerprint, fingerprint
from connectors.jira.report import (
    COMMENT_LIMIT,
    DESCRIPTION_LIMIT,
    MAX_ATTACHMENTS,
    customer_key,
    customer_line,
    description,
    engineer_sections,
    noformat,
    one_line,
    plus_one,
    summary_line,
)

PRIORITY_ORDER = ["Lowest", "Low", "Medium", "High", "Highest"]


@dataclass(frozen=True)
class Reporter:
    """The customer of this report: ``key`` counts them once on the issue (never sent to Jira)."""

    key: str
    line: str
    mrr: float | None = None
    currency: str | None = None


@dataclass(frozen=True)
class BugCreate:
    """The issue for a bug report, and what the connector needs beside its fields."""

    summary: str  # one line, at most 255 characters, never taken from the LLM
    description: str
    labels: tuple[str, ...]
    reporter: Reporter
    comment: str  # what this report adds when the bug has an open issue already
    priority: str = "normal"  # the package's; JIRA_PRIORITIES and the blast radius map it
    issue_type: str = "Bug"
    project: str | None = None  # routed; None: JIRA_PROJECT
    components: tuple[str, ...] = ()
    fingerprint: Fingerprint | None = None
    zendesk_ticket: str | None = None
    earlier_tickets: tuple[str, ...] = ()
    watcher: str | None = None  # the routed owner's Jira account id
    attachments: tuple[GeneratedFile, ...] = ()
    evidence: tuple[EvidenceFile, ...] = ()

    def to_json(self) -> dict[str, Any]:
        fp = self.fingerprint
        target: dict[str, Any] = {"project": {"key": self.project}} if self.project else {}
        if self.project and self.components:
            target["components"] = [{"name": name} for name in self.components]
        return {
            "summary": self.summary, "description": self.description, "issuetype": {"name": self.issue_type},
            **target, "labels": list(self.labels),
            # Underscored keys: what rides along with the fields, never sent as fields.
            "_priority": self.priority,
            "_fingerprint": {"value": fp.value, "label": fp.label, "error": fp.error, "route": fp.route,
                             "major": fp.major} if fp else None,
            "_customer": {"key": self.reporter.key, "line": self.reporter.line, "mrr": self.reporter.mrr,
                          "currency": self.reporter.currency},
            "_comment": self.comment,
            "_zendesk_ticket": self.zendesk_ticket,
            "_earlier_tickets": list(self.earlier_tickets),
            "_watcher": self.watcher,
            "_attachments": [f.to_json() for f in self.attachments],
            "_evidence": [f.to_json() for f in self.evidence],
        }


@dataclass(frozen=True)
class BugComment:
    """What the customer sent after the escalation, as one comment on the bug (files attached)."""

    issue: str | None
    comment: str
    evidence: tuple[EvidenceFile, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"issue": self.issue, "comment": self.comment, "_evidence": [f.to_json() for f in self.evidence]}


@dataclass(frozen=True)
class RemoteLink:
    global_id: str  # same globalId → Jira updates the link instead of adding a second one
    url: str
    title: str


# --- the steps' builders ----------------------------------------------------------------------------

def _labels(package: Package) -> tuple[str, ...]:
    labels = ["recovery-bridge", f"rb-{package.case_id}",
              *(f"trigger-{t}" for t in package.decision.trigger_ids), f"priority-{package.priority}"]
    fp = fingerprint(package)
    if fp:
        labels.append(fp.label)
    return tuple(re.sub(r"\s+", "_", label)[:255] for label in labels)


def _files(package: Package) -> tuple[GeneratedFile, ...]:
    """Files the bridge writes: the full console log, the network requests, the transcript."""
    ev = package.evidence or Evidence()
    files = []
    if ev.console_logs:
        lines = [f"{c.at or '-'} [{c.level or 'log'}] {clean(c.message or '')}" + (f" ({clean(c.source)})" if c.source
                 else "") for c in ev.console_logs]
        files.append(GeneratedFile("console-log.txt", "text/plain", "\n".join(lines) + "\n"))
    if ev.network_requests:
        data = [r.to_json() for r in ev.network_requests]
        files.append(GeneratedFile("network-requests.json", "application/json",
                                   json.dumps(data, indent=2, ensure_ascii=False) + "\n"))
    files.append(GeneratedFile("transcript.txt", "text/plain", transcript_text(package.conversation) + "\n"))
    return tuple(files)


def _fitted_description(package: Package, ticket: Any, refs: dict[str, Any]) -> str:
    engineer = engineer_sections(package, refs)  # computed once: normalising a long console log takes time
    text = description(package, ticket, None, engineer)
    if len(text) > DESCRIPTION_LIMIT:
        others = len(description(package, ticket, 0, engineer))
        text = description(package, ticket, max(1_000, DESCRIPTION_LIMIT - others), engineer)
    if len(text) > DESCRIPTION_LIMIT:  # still too long: cut, and keep the last block closed
        text = text[: DESCRIPTION_LIMIT - 40]
        if text.count("{noformat}") % 2:
            text += "\n{noformat}"
        text += "\n(cut for length)"
    return text


def build_bug(package: Package, refs: dict[str, Any]) -> BugCreate:
    original, package = package, for_engineers(package)  # a bug is read widely: no contact details
    ticket = refs.get("zendesk.ticket")
    customer = package.customer
    account = customer.account if customer else None
    route = package.route
    routed = bool(route and route.jira_project)
    return BugCreate(
        summary=summary_line(package),
        description=_fitted_description(package, ticket, refs),
        labels=_labels(package),
        reporter=Reporter(customer_key(original), customer_line(customer), account.mrr if account else None,
                          account.currency if account else None),
        comment=plus_one(package, ticket),
        priority=package.priority,
        project=route.jira_project if route and routed else None,
        components=tuple(route.jira_components or ()) if route and routed else (),
        fingerprint=fingerprint(package),
        zendesk_ticket=str(ticket) if ticket is not None else None,
        earlier_tickets=tuple([n for n in dict.fromkeys([*package.earlier_tickets, *package.previous_tickets])
                               if n.isdigit()][:10]),
        watcher=route.jira_account_id if route else None,
        attachments=_files(package),
        evidence=evidence(evidence_files(package, MAX_ATTACHMENTS)),
    )


def build_followup(package: Package, refs: dict[str, Any]) -> BugComment:
    followup = refs.get("followup") or {}
    heading = followup_heading(followup, unanswered=bool(refs.get("unanswered", True)),
                               taken=bool(refs.get("taken", False)))
    lines = [for_channel(line, package.customer) for line in followup_lines(followup)]
    comment = f"*{one_line(heading, 300)}* (case {{{{{package.case_id}}}}})\n" + noformat("\n".join(lines))
    files = [f for f in followup.get("files") or [] if isinstance(f, dict) and f.get("url")]
    return BugComment(refs.get("jira.bug"), comment[:COMMENT_LIMIT], evidence(files[:MAX_ATTACHMENTS]))


# --- from a request and the configuration to what is sent -------------------------------------------

def rank(name: str | None) -> int:
    lowered = [p.lower() for p in PRIORITY_ORDER]
    return lowered.index(name.lower()) if name and name.lower() in lowered else -1


def target_priority(config: JiraConfig, package_priority: str, customers: int) -> str | None:
    """The package's priority, raised to the blast-radius step the customer count has reached."""
    if not config.send_priority:
        return None
    best = config.priorities.get(package_priority)
    for threshold, name in config.blast_radius:
        if customers >= threshold and rank(name) > rank(best):
            best = name
    return best


def link_line(config: JiraConfig, ticket: Any, case: str) -> str:
    """Links to the Zendesk ticket and the case page, built from configuration and checked ids only."""
    parts = []
    ticket_id = str(ticket or "")
    if ticket_id.isdigit():
        parts.append(f"[Zendesk ticket #{ticket_id}|{config.zendesk_url}/agent/tickets/{ticket_id}]")
    if config.public_url:
        parts.append(f"[Case page|{config.public_url}/cases/{case}]")
    return " · ".join(parts)


def remote_links(config: JiraConfig, ticket: Any, case: str, earlier: tuple[str, ...] = ()) -> list[RemoteLink]:
    links = []
    ticket_id = str(ticket or "")
    base = config.zendesk_url
    if ticket_id.isdigit():
        links.append(RemoteLink(f"recovery-bridge:zendesk:{ticket_id}", f"{base}/agent/tickets/{ticket_id}",
                                f"Zendesk ticket #{ticket_id}"))
    for number in [str(n) for n in earlier if str(n).isdigit() and str(n) != ticket_id]:
        links.append(RemoteLink(f"recovery-bridge:zendesk:{number}", f"{base}/agent/tickets/{number}",
                                f"Earlier Zendesk ticket #{number}"))
    if config.public_url:
        links.append(RemoteLink(f"recovery-bridge:case:{case}", f"{config.public_url}/cases/{case}",
                                f"Recovery Bridge case {case}"))
    return links


def issue_fields(request: BugCreate, config: JiraConfig, case: str) -> dict[str, Any]:
    """The ``fields`` of the create, exactly as POSTed (a new issue has one customer)."""
    fields: dict[str, Any] = {"summary": request.summary, "description": request.description,
                              "issuetype": {"name": config.issue_type or request.issue_type}}
    if request.project:
        fields["project"] = {"key": request.project}
        if request.components:
            fields["components"] = [{"name": name} for name in request.components]
    elif config.project:
        fields["project"] = {"key": config.project}
    else:
        raise PermanentError("no Jira project: set JIRA_PROJECT or a jira.project for the team")
    fields["labels"] = list(request.labels)
    priority = target_priority(config, request.priority, 1)
    if priority:
        fields["priority"] = {"name": priority}
    links = link_line(config, request.zendesk_ticket, case)
    if links:
        fields["description"] = f"Links: {links}\n\n{fields['description']}"
    return fields


def with_attachment_notes(text: str, lines: list[str]) -> str:
    note = "h3. Attachments\n" + noformat("\n".join(lines))
    room = DESCRIPTION_LIMIT - len(note) - 2
    if len(text) > room:
        return text  # the list is in the log; the description stays within Jira's limit
    return f"{text}\n\n{note}"


def marker(key: str) -> str:
    """Tag on each comment the bridge adds: a retry looks for it before posting again."""
    return f"rb-ref:{key}"


def plus_one_comment(request: BugCreate, config: JiraConfig, ticket: Any, case: str, key: str, customers: int,
                     mrr: float, lines: list[str]) -> str:
    """The comment that puts a later report of the bug on the open issue."""
    body = [request.comment or f"*+1 customer* (case {{{{{case}}}}})",
            f"Now *{customers}* customer(s) on this bug, MRR {mrr:,.2f} in total (currencies as reported)."]
    links = link_line(config, ticket, case)
    if links:
        body.append(links)
    if lines:
        body.append("Evidence from this report:\n" + noformat("\n".join(lines)))
    body.append(f"{{{{{marker(key)}}}}}")
    return "\n\n".join(body)[-COMMENT_LIMIT:]


def followup_comment(request: BugComment, key: str, lines: list[str]) -> str:
    body = [request.comment]
    if lines:
        body.append("Files:\n" + noformat("\n".join(lines)))
    body.append(f"{{{{{marker(key)}}}}}")
    return "\n\n".join(body)[-COMMENT_LIMIT:]

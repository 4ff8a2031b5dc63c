"""The Zendesk requests (pure): what the step builders return and what the client sends.

``build_ticket`` returns a ``TicketCreate``: the ticket's fields, the one private comment carrying
the whole handoff package (a plain ``body``, never ``html_body``, so a transcript holding
``<img onerror=…>`` or ``[x](javascript:…)`` is shown as the text it is), and as typed fields of
their own the package facts for custom fields and the files to upload. The other steps return a
``TicketNote``: one comment on the ticket (and the assignee, for an ownership change).
``ticket_payload`` and ``note_comment`` turn them, with the config, into the exact bodies sent;
``to_json`` is the dry-run outbox's record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bridge.events import Package
from bridge.pipeline.opening import lead_trigger
from bridge.pipeline.promise import owner_line
from bridge.pipeline.render import clean, evidence_files, followup_heading, followup_lines, sections, transcript_text
from bridge.pipeline.sanitize import scrub
from connectors.config import ZendeskConfig
from connectors.files import EvidenceFile, GeneratedFile, evidence

# Zendesk truncates or rejects very large comments (the documented cap is 64 KB of comment
# text); stay well under it and let the transcript give way first.
BODY_LIMIT = 60_000
MAX_ATTACHMENTS = 10
ANONYMOUS_EMAIL = "anonymous-customer@recovery-bridge.invalid"


@dataclass(frozen=True)
class Requester:
    email: str
    name: str


@dataclass(frozen=True)
class TicketCreate:
    """A new ticket, created exactly once (``external_id`` is the case id)."""

    subject: str
    body: str  # the private comment with the handoff package
    requester: Requester | None
    priority: str
    type: str
    tags: tuple[str, ...]
    external_id: str
    facts: tuple[tuple[str, Any], ...] = ()  # package facts (name, value) for ZENDESK_FIELD_MAP
    evidence: tuple[EvidenceFile, ...] = ()
    attachments: tuple[GeneratedFile, ...] = ()
    group_id: int | None = None
    assignee_id: int | None = None  # the same person Slack names as owner

    def to_json(self) -> dict[str, Any]:
        ticket: dict[str, Any] = {
            "subject": self.subject, "comment": {"body": self.body, "public": False},
            "requester": {"email": self.requester.email, "name": self.requester.name} if self.requester else None,
            "priority": self.priority, "type": self.type, "tags": list(self.tags), "external_id": self.external_id,
            # Underscored keys: what rides along with the ticket, never sent as its fields.
            "_facts": dict(self.facts), "_evidence": [f.to_json() for f in self.evidence],
        }
        if self.attachments:
            ticket["_attachments"] = [f.to_json() for f in self.attachments]
        if self.group_id:
            ticket["group_id"] = self.group_id
        if self.assignee_id:
            ticket["assignee_id"] = self.assignee_id
        return ticket


@dataclass(frozen=True)
class TicketNote:
    """One comment on the case's ticket: private, except the reply an owner approved."""

    ticket: Any  # the ticket step's external id (digits), or a dry-run id
    body: str
    public: bool = False
    assignee_id: int | None = None  # ownership changed: the assignee follows the case owner
    evidence: tuple[EvidenceFile, ...] | None = None  # files the customer sent later (follow-ups only)

    def to_json(self) -> dict[str, Any]:
        note: dict[str, Any] = {"ticket": self.ticket}
        if self.assignee_id:
            note["assignee_id"] = self.assignee_id
        note["comment"] = {"body": self.body, "public": self.public}
        if self.evidence is not None:
            note["_evidence"] = [f.to_json() for f in self.evidence]
        return note


def _subject(package: Package) -> str:
    """The customer's own topic (Zendesk e-mails the subject to them): no trigger, priority or
    revenue; those are tags and fields. Deterministic: no LLM text here."""
    return " ".join(clean(package.topic or "").split())[:250] or "Support request"


def _tag(text: str) -> str:
    """Zendesk tags: lower case, no spaces (a space would split it into two tags)."""
    return re.sub(r"[^a-z0-9_:-]+", "_", text.lower()).strip("_")[:80]


def _tags(package: Package) -> list[str]:
    tags = ["recovery_bridge", *(f"trigger_{t}" for t in package.decision.trigger_ids),
            f"lang_{_tag(package.language)}", f"rb_priority_{package.priority}"]
    if package.customer and package.customer.plan:
        tags.append(f"plan_{_tag(package.customer.plan)}")
    if package.completeness.missing:
        tags.append("rb_incomplete")
    if package.transcript_partial:
        tags.append("rb_transcript_partial")
    if package.transcript_missing:
        tags.append(f"rb_transcript_missing_{package.transcript_missing}")
    tags += [f"rb_{flag.kind}" for flag in package.flags]
    waiting = package.waiting
    if waiting.channel:
        tags.append(f"rb_channel_{_tag(waiting.channel)}")
    if waiting.reply_via != "unknown":
        # A Zendesk trigger can route on it: a WhatsApp customer's reply must not go out by e-mail.
        tags.append(f"rb_reply_via_{_tag(waiting.reply_via)}")
    return tags


def _facts(package: Package) -> dict[str, Any]:
    """Package facts a ZENDESK_FIELD_MAP can send to custom fields (mapped by the live client)."""
    customer = package.customer
    account = customer.account if customer else None
    return {
        "trigger": lead_trigger(package.decision.trigger_ids),
        "triggers": ",".join(package.decision.trigger_ids),
        "priority": package.priority,
        "completeness": package.completeness.score,
        "plan": customer.plan if customer else None,
        "mrr": account.mrr if account else None,
        "sla": account.sla if account else None,
        "bot_platform": package.platform,
        "language": package.language,
        "case_id": package.case_id,
        "platform_customer_id": customer.id if customer else None,
        "conversation_url": package.conversation.url,
        "channel": package.waiting.channel,
        "reply_channel": package.waiting.reply_via if package.waiting.reply_via != "unknown" else None,
    }


def _body(package: Package, transcript_budget: int | None) -> str:
    parts = [f"{title}\n{'-' * min(len(title), 60)}\n{body}" for title, body in sections(package, transcript_budget)]
    return "\n\n".join(parts)


def build_ticket(package: Package, refs: dict[str, Any]) -> TicketCreate:
    customer = package.customer
    body = _body(package, None)
    trimmed = len(body) > BODY_LIMIT
    if trimmed:
        others = len(_body(package, 0))
        body = _body(package, max(2_000, BODY_LIMIT - others))[:BODY_LIMIT]
    case_url = refs.get("case.url")
    if isinstance(case_url, str) and case_url.startswith(("https://", "http://")):
        body = f"Case page (package, timeline, owner): {case_url}\n\n{body}"
    route = package.route
    return TicketCreate(
        subject=_subject(package), body=body,
        requester=Requester(customer.email, customer.name or customer.email) if customer and customer.email else None,
        priority=package.priority,
        type="incident" if "product_bug" in package.decision.trigger_ids or package.bug_evidence else "question",
        tags=tuple(_tags(package)), external_id=package.case_id, facts=tuple(_facts(package).items()),
        evidence=evidence(evidence_files(package, MAX_ATTACHMENTS)),
        # The note keeps the opening and the latest messages; the whole conversation rides along.
        attachments=(GeneratedFile("transcript.txt", "text/plain", transcript_text(package.conversation)),)
        if trimmed else (),
        group_id=route.zendesk_group_id if route else None,
        assignee_id=route.zendesk_agent_id if route else None,
    )


def build_link_note(package: Package, refs: dict[str, Any]) -> TicketNote:
    """The internal note that links the Jira bug (posted on the ticket once the bug exists)."""
    bug = refs.get("jira.bug")
    text = f"Engineering bug filed: {bug}" if bug else "No Jira bug could be filed for this case (see the case page)."
    return TicketNote(refs.get("zendesk.ticket"), text)


def build_assign(package: Package, refs: dict[str, Any]) -> TicketNote:
    """Ownership changed: the ticket's assignee follows the case owner, with a note saying who, how,
    and the reply time the customer was promised. Someone on no roster has no known Zendesk id: the
    assignee is left as it is (never cleared) and the note says so."""
    route = package.route
    who = (route.owner_name or (f"Slack user {route.owner_slack_id}" if route.owner_slack_id else None)) \
        if route else None
    how = "took the case" if route and route.acknowledged else "is now the named owner"
    lines = [f"{who or 'Nobody'} {how} (Recovery Bridge)."]
    promise = owner_line(package, refs)
    if promise and route and route.acknowledged:
        lines.append(f"{promise[:1].upper()}{promise[1:]}.")
    assignee = route.zendesk_agent_id if route else None
    if not assignee and route and route.owner_slack_id:
        lines.append(f"{who} is not on the routing roster, so the bridge does not know their Zendesk user: "
                     "assign the ticket to them in Zendesk (the assignee was left unchanged).")
    return TicketNote(refs.get("zendesk.ticket"), " ".join(lines), assignee_id=assignee or None)


def build_note(package: Package, refs: dict[str, Any]) -> TicketNote:
    """An internal note on the ticket (Jira resolved or released, and the like)."""
    note = refs.get("note") or {}
    return TicketNote(refs.get("zendesk.ticket"), scrub(str(note.get("text", ""))))


def build_reply(package: Package, refs: dict[str, Any]) -> TicketNote:
    """The customer update an owner approved: the only public comment the bridge ever posts."""
    note = refs.get("note") or {}
    return TicketNote(refs.get("zendesk.ticket"), scrub(str(note.get("text", ""))), public=True)


def build_followup(package: Package, refs: dict[str, Any]) -> TicketNote:
    """What the customer added after the escalation, as a private note (files uploaded with it)."""
    followup = refs.get("followup") or {}
    heading = followup_heading(followup, unanswered=bool(refs.get("unanswered", True)),
                               taken=bool(refs.get("taken", False)))
    body = "\n".join([heading, "", *followup_lines(followup)])
    files = [f for f in followup.get("files") or [] if isinstance(f, dict) and f.get("url")]
    return TicketNote(refs.get("zendesk.ticket"), body[:BODY_LIMIT], evidence=evidence(files[:MAX_ATTACHMENTS]))


# --- from a request and the configuration to what is sent -------------------------------------------

def marker(key: str) -> str:
    """Tag on every note the bridge adds after creation: retries look for it before posting again."""
    return f"[rb:{key}]"


def with_file_lines(body: str, lines: list[str]) -> str:
    return body + "\n\nAttachments\n-----------\n" + "\n".join(lines) if lines else body


def ticket_payload(request: TicketCreate, config: ZendeskConfig, requester: dict[str, str], uploads: list[str],
                   lines: list[str]) -> dict[str, Any]:
    """The ticket exactly as created: the requester inline (``requester_user``), fields, the comment
    (with its files) and the mapped custom fields."""
    comment: dict[str, Any] = {"body": with_file_lines(request.body, lines), "public": False}
    if uploads:
        comment["uploads"] = uploads
    ticket: dict[str, Any] = {"subject": request.subject, "priority": request.priority, "type": request.type,
                              "tags": list(request.tags), "external_id": request.external_id}
    if request.group_id:
        ticket["group_id"] = request.group_id
    if request.assignee_id:
        ticket["assignee_id"] = request.assignee_id
    facts = dict(request.facts)
    custom = [{"id": field_id, "value": facts[name]} for name, field_id in config.fields.items()
              if facts.get(name) is not None]
    if custom:
        ticket["custom_fields"] = custom
    return {"requester": dict(requester), "comment": comment, **ticket}


def requester_user(request: TicketCreate, config: ZendeskConfig) -> dict[str, str]:
    """The ticket's requester, inline in the create (Zendesk makes the user, or matches the one with
    this e-mail): the customer, else a placeholder (the bot knew no e-mail)."""
    requester = request.requester
    return {"email": (requester.email if requester else "") or config.placeholder_email or ANONYMOUS_EMAIL,
            "name": (requester.name if requester else "") or "Anonymous customer"}


def note_body(request: TicketNote, key: str, lines: list[str] | None = None) -> str:
    """A private note carries a marker to find it again; a public reply must not show one to the
    customer, so it is found again by its exact text."""
    body = with_file_lines(request.body, lines or [])
    return body if request.public else f"{body}\n\n{marker(key)}"

"""Jira: one bug per bug fingerprint that an engineer can act on, created exactly once.

**Markup: REST API v2 with wiki markup, not v3 with ADF.** v2 is the one API that both Jira Cloud
(e-mail + API token) and Data Center (personal access token) accept, and it is the ``jira``
library's default for every call we make (create, comment, attachment, remote link); Data Center
has no v3 and no ADF. Wiki markup is dangerous only for text we did not write, so the rule is
simple: headings, labels and links the bridge makes itself are markup; **every piece of customer,
log, bot or LLM text sits inside a ``{noformat}`` block**, where Jira renders nothing — no
``[x|https://evil]`` link, no ``!https://evil/p.png!`` image, no ``{color}`` or ``{code}`` macro,
no bare-URL auto-link. The only way out of such a block is its closing tag, which ``noformat``
defuses. Links we do render (Zendesk ticket, case page) are built from configuration and ids we
checked (a Zendesk ticket id is digits). The summary is plain text in Jira and carries no LLM text.

**Deduplication.** ``connectors.jira_fingerprint`` gives a bug fingerprint; the store maps it to
its issue (``bridge.store.bugs``). An open issue for the fingerprint gets a "+1 customer" comment,
the new evidence and, as the blast radius grows (``JIRA_BLAST_RADIUS``), a higher priority,
instead of a second issue. Either way the step's external id is the issue key.

**Exactly once** (research doc §3.2, §4.3): the library's retries are off (``max_retries=0``: it
re-POSTs on a connection reset, which duplicates issues), no server-info call and no post-create GET
(``prefetch=False``), a timeout (the library has none). Every issue carries the case label
``rb-<case id>``. The store records that a create was sent *before* it is sent; a retry after an
ambiguous failure (reset, timeout, 5xx) waits until Jira's search has caught up
(``JIRA_SEARCH_LAG`` seconds after the attempt, by rescheduling the job, never by sleeping) and
searches the label before it creates again. Comments carry a marker and are looked for before
they are posted; remote links use a ``globalId`` (Jira updates rather than duplicates them);
attachments are named after the case and skipped when already on the issue.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from bridge.config import Settings
from bridge.events import Customer, Evidence, Package
from bridge.pipeline.evidence import session_steps, stamped, telling_requests
from bridge.pipeline.render import (
    clean,
    evidence_files,
    followup_heading,
    followup_lines,
    sections,
    transcript_text,
)
from bridge.pipeline.sanitize import for_channel, for_engineers
from connectors.base import Context, PermanentError, Result, RetryableError, Step, parse_retry_after
from connectors.fetch import BlockedURL, FetchError, fetch, fetch_allowlist
from connectors.jira_fingerprint import fingerprint, normalize_text

log = logging.getLogger("bridge.connectors.jira")

# Jira Cloud rejects text fields over 32,767 characters; keep a margin for the markup we add.
DESCRIPTION_LIMIT = 32_000
COMMENT_LIMIT = 30_000
MAX_ATTACHMENTS = 10
_NOFORMAT = re.compile(r"\{noformat[^}]*\}", re.I)
_SEVERITY = {"fatal": 0, "critical": 0, "error": 1, "warn": 2, "warning": 2}


def noformat(text: str) -> str:
    """Customer/log/LLM text as a block Jira renders verbatim (nothing inside can close it)."""
    return "{noformat}\n" + _NOFORMAT.sub("(noformat)", clean(text)) + "\n{noformat}"


def _one_line(text: str, cap: int) -> str:
    line = " ".join(clean(text).split())
    return line if len(line) <= cap else line[: cap - 1] + "…"


# --- pure builder ------------------------------------------------------------------------------

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


def _summary(package: Package) -> str:
    """One line: symptom, product area, app version (Jira's limit is 255)."""
    device = package.evidence.device if package.evidence else None
    area = _area(package)
    tail = " — " + _one_line(area, 60) if area else ""
    if device and device.app_version:
        tail += f" (app {_one_line(device.app_version, 30)})"
    return _one_line(_symptom(package), 250 - len(tail)) + tail


def _customer_line(customer: Customer | None) -> str:
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
    return " — ".join(_one_line(p, 200) for p in parts)


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
        where = f" ({_one_line(first.source, 120)})" if first.source else ""
        lines.append(f"{len(group)}× [{first.level or 'log'}] {_one_line(first.message or '', 400)}{where}")
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
        lines.append(f"{r.method or 'GET'} {_one_line(r.url or '?', 400)} → {r.status or 'no response'}{took}"
                     f" ({_one_line(told.why, 300)})")
        if r.response_excerpt:
            lines.append(f"    response: {_one_line(r.response_excerpt, 300)}")
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
        steps = [f"{i}. {_one_line(s, 300)}" for i, s in enumerate(ev.steps_to_reproduce, start=1)]
        parts.append("From the session evidence:\n" + noformat("\n".join(steps)))
    session = session_steps(ev, _reference(package))
    if session:
        numbered = "\n".join(f"{i}. {clean(step)}" for i, step in enumerate(session, start=1))
        parts.append("_The session as captured, in order (requests in captured order, console lines by their "
                     "timestamps); reconstructed by the bridge, not verified:_\n" + noformat(numbered))
    said = [(m.sent_at, m.text) for m in package.conversation.messages if m.role == "customer"][:6]
    if said:
        lines = "\n".join(f"{stamped(at)}{_one_line(text, 300)}" for at, text in said)
        parts.append("What the customer reported (their words, with times):\n" + noformat(lines))
    return "\n".join(parts) or "_Nothing to go on: ask the customer for the steps._"


def _environment(ev: Evidence) -> str:
    d = ev.device
    rows = [("OS", d.os if d else None), ("Browser", d.browser if d else None),
            ("App version", d.app_version if d else None), ("Viewport", d.viewport if d else None),
            ("Locale", d.locale if d else None), ("Network", d.network if d else None)]
    return noformat("\n".join(f"{name}: {_one_line(value, 200) if value else '(unknown)'}" for name, value in rows))


def _earlier(package: Package, refs: dict[str, Any]) -> str:
    """Earlier tickets as links built from configuration and digits only (never customer text)."""
    base = str(refs.get("zendesk.url") or "").rstrip("/")
    numbers = [n for n in [*package.earlier_tickets, *package.previous_tickets] if n.isdigit()]
    if not numbers:
        return ""
    shown = [f"[Zendesk ticket #{n}|{base}/agent/tickets/{n}]" if base.startswith(("https://", "http://"))
             else f"Zendesk ticket #{n}" for n in dict.fromkeys(numbers)]
    return "h3. Earlier tickets of this customer\n" + "\n".join(f"* {line}" for line in shown)


def _engineer_sections(package: Package, refs: dict[str, Any] | None = None) -> list[str]:
    ev = package.evidence or Evidence()
    fp = fingerprint(package)
    network = _network_lines(ev, _reference(package))
    actual = [_one_line(_symptom(package), 500)]
    if package.summary.source == "extractive" and package.summary.issue:
        actual.append("Customer: " + _one_line(package.summary.issue, 500))
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
        + noformat(_customer_line(package.customer)),
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


def _description(package: Package, ticket: Any, transcript_budget: int | None, engineer: list[str]) -> str:
    handoff = [f"h3. {title}\n{noformat(body)}" for title, body in sections(package, transcript_budget, contact=False)]
    return "\n\n".join([_header(package, ticket), *engineer, "h2. Handoff package", *handoff])


def _labels(package: Package) -> list[str]:
    labels = ["recovery-bridge", f"rb-{package.case_id}",
              *(f"trigger-{t}" for t in package.decision.trigger_ids), f"priority-{package.priority}"]
    fp = fingerprint(package)
    if fp:
        labels.append(fp.label)
    return [re.sub(r"\s+", "_", label)[:255] for label in labels]


def _target(package: Package) -> dict[str, Any]:
    """Project and components from routing; without a routed project the connector's default applies."""
    route = package.route
    if route is None or not route.jira_project:
        return {}
    fields: dict[str, Any] = {"project": {"key": route.jira_project}}
    if route.jira_components:
        fields["components"] = [{"name": name} for name in route.jira_components]
    return fields


def _files(package: Package) -> list[dict[str, str]]:
    """Files the bridge writes: the full console log, the network requests, the transcript."""
    ev = package.evidence or Evidence()
    files = []
    if ev.console_logs:
        lines = [f"{c.at or '-'} [{c.level or 'log'}] {clean(c.message or '')}" + (f" ({clean(c.source)})" if c.source
                 else "") for c in ev.console_logs]
        files.append({"name": "console-log.txt", "content_type": "text/plain", "text": "\n".join(lines) + "\n"})
    if ev.network_requests:
        data = [r.to_json() for r in ev.network_requests]
        files.append({"name": "network-requests.json", "content_type": "application/json",
                      "text": json.dumps(data, indent=2, ensure_ascii=False) + "\n"})
    files.append({"name": "transcript.txt", "content_type": "text/plain",
                  "text": transcript_text(package.conversation) + "\n"})
    return files


def _plus_one(package: Package, ticket: Any) -> str:
    """The comment a later report of the same bug adds to the issue (links added by the connector)."""
    ev = package.evidence or Evidence()
    device = ev.device
    lines = [_customer_line(package.customer), f"Symptom: {_one_line(_symptom(package), 300)}"]
    if device and (device.app_version or device.os or device.browser):
        lines.append("Environment: " + ", ".join(_one_line(v, 80) for v in (device.app_version, device.os,
                                                                          device.browser) if v))
    if ev.page_url:
        lines.append(f"Page: {_one_line(ev.page_url, 500)}")
    if ev.session_replay_url:
        lines.append(f"Session replay: {_one_line(ev.session_replay_url, 500)}")
    errors = _console_groups(ev)[:5]
    if errors:
        lines += ["Console:", *errors]
    lines += _network_lines(ev, _reference(package))[:6]
    return f"*+1 customer* (case {{{{{package.case_id}}}}})\n" + noformat("\n".join(lines))


def build_bug(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    original, package = package, for_engineers(package)  # a bug is read widely: no contact details
    ticket = refs.get("zendesk.ticket")
    engineer = _engineer_sections(package, refs)  # computed once: normalising a long console log takes time
    description = _description(package, ticket, None, engineer)
    if len(description) > DESCRIPTION_LIMIT:
        others = len(_description(package, ticket, 0, engineer))
        description = _description(package, ticket, max(1_000, DESCRIPTION_LIMIT - others), engineer)
    if len(description) > DESCRIPTION_LIMIT:  # still too long: cut, and keep the last block closed
        description = description[: DESCRIPTION_LIMIT - 40]
        if description.count("{noformat}") % 2:
            description += "\n{noformat}"
        description += "\n(cut for length)"
    fp = fingerprint(package)
    customer = package.customer
    account = customer.account if customer else None
    route = package.route
    return {
        # Summary is one line, at most 255 characters, and never taken from the LLM.
        "summary": _summary(package),
        "description": description,
        "issuetype": {"name": "Bug"},
        **_target(package),
        "labels": _labels(package),
        # Underscored keys are for the connector, never sent as fields.
        "_priority": package.priority,
        "_fingerprint": {"value": fp.value, "label": fp.label, "error": fp.error, "route": fp.route,
                         "major": fp.major} if fp else None,
        "_customer": {"key": customer_key(original),  # who counts once, never sent "line": _customer_line(customer),
                      "mrr": account.mrr if account else None, "currency": account.currency if account else None},
        "_comment": _plus_one(package, ticket),
        "_zendesk_ticket": str(ticket) if ticket is not None else None,
        "_earlier_tickets": [n for n in dict.fromkeys([*package.earlier_tickets, *package.previous_tickets])
                             if n.isdigit()][:10],
        "_watcher": route.jira_account_id if route else None,
        "_attachments": _files(package),
        "_evidence": evidence_files(package, MAX_ATTACHMENTS),
    }


def build_followup(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """What the customer added after the escalation, as a comment on the bug (files attached)."""
    followup = refs.get("followup") or {}
    heading = followup_heading(followup, unanswered=bool(refs.get("unanswered", True)),
                               taken=bool(refs.get("taken", False)))
    lines = [for_channel(line, package.customer) for line in followup_lines(followup)]
    comment = f"*{_one_line(heading, 300)}* (case {{{{{package.case_id}}}}})\n" + noformat("\n".join(lines))
    files = [{"url": f["url"], "kind": f.get("kind") or "other", "name": f.get("name") or ""}
             for f in followup.get("files") or [] if isinstance(f, dict) and f.get("url")]
    return {"issue": refs.get("jira.bug"), "comment": comment[:COMMENT_LIMIT], "_evidence": files[:MAX_ATTACHMENTS]}


# --- live client -------------------------------------------------------------------------------

PRIORITY_ORDER = ["Lowest", "Low", "Medium", "High", "Highest"]
DEFAULT_PRIORITIES = "urgent=Highest,high=High,normal=Medium,low=Low"
DEFAULT_BLAST_RADIUS = "3=High,10=Highest"
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")
# A 4xx means Jira refused the request: retrying the same request cannot help.
_PERMANENT = {400, 401, 403, 404, 405, 409, 413, 415, 422}


def priority_map(text: str) -> dict[str, str | None]:
    """``JIRA_PRIORITIES``: ``urgent=Highest,...``; ``none`` sends no priority (field not on the screen)."""
    if text.strip().lower() == "none":
        return {}
    mapping: dict[str, str | None] = {}
    for part in (text or DEFAULT_PRIORITIES).split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() and value.strip():
            mapping[name.strip().lower()] = value.strip()
    return mapping


def blast_radius(text: str) -> list[tuple[int, str]]:
    """``JIRA_BLAST_RADIUS``: ``3=High,10=Highest`` → the priority an issue gets at N customers."""
    steps = []
    for part in (text or "").split(","):
        count, sep, name = part.partition("=")
        if sep and count.strip().isdigit() and name.strip():
            steps.append((int(count.strip()), name.strip()))
    return sorted(steps)


def _rank(name: str | None) -> int:
    lowered = [p.lower() for p in PRIORITY_ORDER]
    return lowered.index(name.lower()) if name and name.lower() in lowered else -1


def target_priority(settings: Settings, package_priority: str, customers: int) -> str | None:
    """The package's priority, raised to the blast-radius step the customer count has reached."""
    mapping = priority_map(settings.get("JIRA_PRIORITIES"))
    if not mapping and settings.get("JIRA_PRIORITIES").strip().lower() == "none":
        return None
    best = mapping.get(package_priority)
    for threshold, name in blast_radius(settings.get("JIRA_BLAST_RADIUS", DEFAULT_BLAST_RADIUS)):
        if customers >= threshold and _rank(name) > _rank(best):
            best = name
    return best


def field_errors(response: requests.Response | None) -> str:
    """Jira's own words: ``errorMessages`` and the per-field ``errors`` (for the dead-letter record)."""
    if response is None:
        return ""
    try:
        data = response.json()
    except ValueError:
        return _one_line(response.text or "", 300)
    if not isinstance(data, dict):
        return _one_line(str(data), 300)
    messages = [str(m) for m in data.get("errorMessages") or []]
    errors = data.get("errors") or {}
    if isinstance(errors, dict):
        messages += [f"{field}: {message}" for field, message in errors.items()]
    if not messages and data.get("message"):
        messages.append(str(data["message"]))
    return _one_line("; ".join(messages), 500)


def classify(exc: BaseException, what: str = "Jira") -> Exception:
    """Map jira/requests failures onto the queue's two kinds of failure (credentials never quoted)."""
    from jira.exceptions import JIRAError

    if isinstance(exc, (RetryableError, PermanentError)):
        return exc
    if isinstance(exc, JIRAError):
        status = exc.status_code or 0
        response = exc.response
        details = field_errors(response)
        message = f"{what} {status or 'error'}" + (f": {details}" if details else "")
        if status == 429 or (status == 503 and response is not None and response.headers.get("Retry-After")):
            retry_after = parse_retry_after(response.headers.get("Retry-After") if response is not None else None)
            return RetryableError(message, retry_after=retry_after)
        return PermanentError(message) if status in _PERMANENT else RetryableError(message)
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return RetryableError(f"{what} unreachable: {type(exc).__name__}")
    if isinstance(exc, ValueError):  # a 2xx with garbage instead of JSON: ambiguous, retry and look
        return RetryableError(f"{what} answered something that is not JSON")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def _definitely_not_created(exc: BaseException) -> bool:
    """Jira answered and made nothing (throttled, unavailable, refused): no search before the next try."""
    from jira.exceptions import JIRAError

    return isinstance(exc, JIRAError) and (exc.status_code in (429, 503) or (exc.status_code or 0) in _PERMANENT)


def marker(key: str) -> str:
    """Tag on each comment the bridge adds: a retry looks for it before posting again."""
    return f"rb-ref:{key}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class JiraConnector:
    """Files one issue per bug fingerprint and puts every reporting customer on it, exactly once."""

    name = "jira"

    def __init__(self, settings: Settings, store: Any = None, client: Any = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        from bridge.store.db import Store

        self.settings = settings
        self.store = store or Store(settings.store_url)
        self.clock = clock
        self.client = client if client is not None else self._client()
        self.search_lag = float(settings.get("JIRA_SEARCH_LAG") or 90)
        self.claim_ttl = float(settings.get("JIRA_CLAIM_TTL") or 600)

    def _client(self) -> Any:
        from jira import JIRA

        settings = self.settings
        read = float(settings.get("JIRA_TIMEOUT") or 20)
        auth: dict[str, Any] = ({"token_auth": settings.get("JIRA_PAT")} if settings.get("JIRA_PAT")
                                else {"basic_auth": (settings.get("JIRA_EMAIL"), settings.get("JIRA_API_TOKEN"))})
        client = JIRA(server=settings.get("JIRA_URL"), get_server_info=False, max_retries=0,
                      timeout=(min(5.0, read), read), logging=False, options={"check_update": False}, **auth)
        deployment = settings.get("JIRA_DEPLOYMENT").strip().lower()
        cloud = deployment == "cloud" or (not deployment and not settings.get("JIRA_PAT"))
        client.deploymentType = "Cloud" if cloud else "Server"
        client._applicationlinks = []  # add_remote_link: skip the applinks lookup (403 for most users)
        client._session.trust_env = False  # never an environment proxy
        return client

    # -- the step --------------------------------------------------------------------------------

    def send(self, step: Step, request: dict[str, Any], context: Context) -> Result:
        if step.action not in ("bug", "followup"):
            raise PermanentError(f"jira cannot perform {step.name}")
        try:
            return self._bug(request, context) if step.action == "bug" else self._followup(request, context)
        except (RetryableError, PermanentError):
            raise
        except Exception as exc:
            raise classify(exc) from exc

    def _bug(self, request: dict[str, Any], context: Context) -> Result:
        from bridge.store import bugs

        case = context.case_id
        fp = request.get("_fingerprint") or {}
        key_in_map = fp.get("value") or f"case:{case}"
        known = str(context.refs.get("jira.bug") or "")
        if _KEY.match(known):  # a replay of a step that already filed or joined its issue
            return self._finish(known, self._is_creator(known, case), request, context)
        for _ in range(2):
            with self.store.session() as s:
                row = bugs.get(s, key_in_map)
                if row is not None and row.issue_key and case in row.case_ids:
                    key, creator = row.issue_key, row.case_ids[0] == case
                    return self._finish(key, creator, request, context)
                claim = bugs.claim(s, key_in_map, case, self.clock(), self.claim_ttl)
                s.commit()
                open_key = row.issue_key if claim is None and row is not None else None
            if claim is None:
                open_key = open_key or self._open_key(key_in_map)
                state = self._state(open_key)
                if _done(state):  # resolved meanwhile: a new report files a new issue
                    with self.store.session() as s:
                        bugs.mark_closed(s, open_key, self.clock())
                        s.commit()
                    continue
                self._join(key_in_map, open_key, request, context)
                return self._finish(open_key, False, request, context, state=state)
            if not claim.mine:
                raise RetryableError(f"case {claim.row.claimed_by} is filing the Jira issue for this bug; this "
                                     "case joins it once it exists", retry_after=max(10.0, min(self.search_lag, 60.0)))
            return self._create(key_in_map, claim.row.attempted_at, fp.get("label"), request, context)
        raise RetryableError("the Jira issue for this bug changed state twice; trying again")

    def _open_key(self, key_in_map: str) -> str:
        from bridge.store import bugs

        with self.store.session() as s:
            row = bugs.get(s, key_in_map)
            if row is None or not row.issue_key:
                raise RetryableError("the bug fingerprint changed while it was read")
            return row.issue_key

    def _is_creator(self, key: str, case: str) -> bool:
        from bridge.store import bugs

        with self.store.session() as s:
            return any(row.case_ids and row.case_ids[0] == case for row in bugs.by_issue(s, key))

    def _join(self, key_in_map: str, key: str, request: dict[str, Any], context: Context) -> None:
        from bridge.store import bugs

        customer = request.get("_customer") or {}
        with self.store.session() as s:
            bugs.add_case(s, key_in_map, key, context.case_id, customer.get("key") or f"case:{context.case_id}",
                          customer.get("mrr"), self.clock())
            s.commit()

    def _create(self, key_in_map: str, attempted_at: datetime | None, fp_label: str | None,
                request: dict[str, Any], context: Context) -> Result:
        from bridge.store import bugs

        case = context.case_id
        if attempted_at is not None:
            # An earlier create may have reached Jira although its answer never came back.
            waited = (self.clock() - attempted_at).total_seconds()
            if waited < self.search_lag:
                raise RetryableError("an earlier create may have succeeded; waiting for Jira's search to catch up "
                                     "before looking for it", retry_after=self.search_lag - waited)
            found = self._search(case, fp_label)
            if found is not None:
                key, labels = found
                creator = f"rb-{case}" in labels
                self._join(key_in_map, key, request, context)
                return self._finish(key, creator, request, context)
        fields = self._fields(request, 1, case)
        fetched, lines = self._fetch(request.get("_evidence") or [])
        if lines:
            fields["description"] = _with_attachment_notes(fields["description"], lines)
        with self.store.session() as s:
            bugs.mark_attempt(s, key_in_map, case, self.clock())
            s.commit()
        try:
            issue = self.client.create_issue(fields=fields, prefetch=False)
        except Exception as exc:
            error = classify(exc)
            if _definitely_not_created(exc):
                with self.store.session() as s:
                    if isinstance(error, PermanentError):
                        bugs.release(s, key_in_map, case)
                    else:
                        bugs.clear_attempt(s, key_in_map, case, self.clock())
                    s.commit()
            raise error from exc
        key = str(issue.key)
        self._join(key_in_map, key, request, context)
        log.info("bridge.jira.created", extra={"case": case, "issue": key})
        return self._finish(key, True, request, context, fresh=True, fetched=fetched)

    # -- after the issue exists: each part idempotent, so a retry finishes what an attempt began ----

    def _finish(self, key: str, creator: bool, request: dict[str, Any], context: Context, *,
                fresh: bool = False, fetched: list[tuple[str, bytes]] | None = None,
                state: dict[str, Any] | None = None) -> Result:
        try:
            return self._complete(key, creator, request, context, fresh=fresh, fetched=fetched, state=state)
        except Exception as exc:  # the issue exists: whatever failed after it, its key is not lost
            error = exc if isinstance(exc, (RetryableError, PermanentError)) else classify(exc)
            error.external_id = key
            if error is exc:
                raise
            raise error from exc

    def _complete(self, key: str, creator: bool, request: dict[str, Any], context: Context, *,
                  fresh: bool = False, fetched: list[tuple[str, bytes]] | None = None,
                  state: dict[str, Any] | None = None) -> Result:
        case = context.case_id
        notes: list[str] = []
        if not fresh and state is None:
            state = self._state(key)
        self._watch(key, request.get("_watcher"), notes)
        self._links(key, request.get("_zendesk_ticket") or context.refs.get("zendesk.ticket"), case, notes,
                    request.get("_earlier_tickets") or [])
        have = {a.get("filename") for a in ((state or {}).get("fields") or {}).get("attachment") or []}
        if fetched is None:
            fetched, lines = self._fetch(request.get("_evidence") or [])
        else:
            lines = []
        files = [(item["name"], item["text"].encode()) for item in request.get("_attachments") or []]
        for name, content in [*files, *fetched]:
            filename = f"{case}-{name}"[:250]
            if filename in have:
                continue
            try:
                self.client.add_attachment(issue=key, attachment=io.BytesIO(content), filename=filename)
            except Exception as exc:
                self._note_or_raise(exc, f"attachment {filename}", notes)
        if not creator:
            self._comment(key, request, context, lines)
        self._raise_priority(key, request, state, notes)
        if notes:
            log.warning("bridge.jira.incomplete", extra={"case": case, "issue": key, "notes": notes})
        return Result(external_id=key, url=self._browse(key))

    def _followup(self, request: dict[str, Any], context: Context) -> Result:
        """One comment with what the customer sent later, and its files, exactly once."""
        key = str(request.get("issue") or context.refs.get("jira.bug") or "")
        if not _KEY.match(key):
            raise PermanentError(f"no Jira issue to comment on ({key or 'none'})")
        tag = marker(context.key)
        if context.attempt > 1:
            for comment in self.client.comments(key):
                if tag in (getattr(comment, "body", "") or ""):
                    return Result(external_id=f"{key}#{getattr(comment, 'id', 'comment')}", url=self._browse(key))
        fetched, lines = self._fetch(request.get("_evidence") or [])
        if fetched:
            have = {a.get("filename") for a in (self._state(key).get("fields") or {}).get("attachment") or []}
            for name, content in fetched:
                filename = f"{context.case_id}-{name}"[:250]
                if filename in have:
                    continue
                try:
                    self.client.add_attachment(issue=key, attachment=io.BytesIO(content), filename=filename)
                except Exception as exc:  # a refused file is listed; a transient failure retries the step
                    refused: list[str] = []
                    self._note_or_raise(exc, f"attachment {filename}", refused)
                    lines = [line for line in lines if not line.startswith(f"{name} (")]
                    lines.append(f"{name}: not attached: {refused[0]}")
        body = [str(request.get("comment") or "")]
        if lines:
            body.append("Files:\n" + noformat("\n".join(lines)))
        body.append(f"{{{{{tag}}}}}")
        added = self.client.add_comment(key, "\n\n".join(body)[-COMMENT_LIMIT:])
        return Result(external_id=f"{key}#{getattr(added, 'id', 'comment')}", url=self._browse(key))

    def _note_or_raise(self, exc: BaseException, what: str, notes: list[str]) -> None:
        """A refused extra (unknown watcher, file too large) is noted; a transient failure retries the step."""
        error = classify(exc, what)
        if isinstance(error, PermanentError):
            notes.append(str(error))
            return
        raise error from exc

    def _state(self, key: str) -> dict[str, Any]:
        issue = self.client.issue(key, fields="status,priority,attachment")
        return dict(issue.raw or {})

    def _watch(self, key: str, account: str | None, notes: list[str]) -> None:
        if not account:
            return
        try:  # the client's add_watcher searches users first; the routed owner's id is known already
            self.client._session.post(self.client._get_url(f"issue/{key}/watchers"), data=json.dumps(account))
        except Exception as exc:
            self._note_or_raise(exc, "watcher", notes)

    def _links(self, key: str, ticket: Any, case: str, notes: list[str], earlier: list[str] | None = None) -> None:
        links = []
        ticket_id = str(ticket or "")
        base = (self.settings.get("ZENDESK_URL")
                or f"https://{self.settings.get('ZENDESK_SUBDOMAIN') or 'bridge'}.zendesk.com").rstrip("/")
        if ticket_id.isdigit():
            links.append((f"recovery-bridge:zendesk:{ticket_id}",
                          {"url": f"{base}/agent/tickets/{ticket_id}", "title": f"Zendesk ticket #{ticket_id}"}))
        for number in [str(n) for n in earlier or [] if str(n).isdigit() and str(n) != ticket_id]:
            links.append((f"recovery-bridge:zendesk:{number}",
                          {"url": f"{base}/agent/tickets/{number}", "title": f"Earlier Zendesk ticket #{number}"}))
        public = self.settings.get("BRIDGE_PUBLIC_URL").rstrip("/")
        if public:
            links.append((f"recovery-bridge:case:{case}", {"url": f"{public}/cases/{case}",
                                                            "title": f"Recovery Bridge case {case}"}))
        for global_id, destination in links:
            try:  # same globalId → Jira updates the link instead of adding a second one
                self.client.add_remote_link(key, destination, globalId=global_id,
                                            application={"name": "Recovery Bridge", "type": "recovery-bridge"})
            except Exception as exc:
                self._note_or_raise(exc, "remote link", notes)

    def _comment(self, key: str, request: dict[str, Any], context: Context, lines: list[str]) -> None:
        tag = marker(context.key)
        for comment in self.client.comments(key):
            if tag in (getattr(comment, "body", "") or ""):
                return
        from bridge.store import bugs

        with self.store.session() as s:
            rows = bugs.by_issue(s, key)
            customers = max((r.customers for r in rows), default=1)
            mrr = max((r.mrr for r in rows), default=0.0)
        body = [request.get("_comment") or f"*+1 customer* (case {{{{{context.case_id}}}}})"]
        body.append(f"Now *{customers}* customer(s) on this bug, MRR {mrr:,.2f} in total (currencies as reported).")
        links = self._link_line(request.get("_zendesk_ticket") or context.refs.get("zendesk.ticket"),
                                context.case_id)
        if links:
            body.append(links)
        if lines:
            body.append("Evidence from this report:\n" + noformat("\n".join(lines)))
        body.append(f"{{{{{tag}}}}}")
        self.client.add_comment(key, "\n\n".join(body)[-COMMENT_LIMIT:])

    def _link_line(self, ticket: Any, case: str) -> str:
        parts = []
        ticket_id = str(ticket or "")
        if ticket_id.isdigit():
            base = (self.settings.get("ZENDESK_URL")
                    or f"https://{self.settings.get('ZENDESK_SUBDOMAIN') or 'bridge'}.zendesk.com").rstrip("/")
            parts.append(f"[Zendesk ticket #{ticket_id}|{base}/agent/tickets/{ticket_id}]")
        public = self.settings.get("BRIDGE_PUBLIC_URL").rstrip("/")
        if public:
            parts.append(f"[Case page|{public}/cases/{case}]")
        return " · ".join(parts)

    def _raise_priority(self, key: str, request: dict[str, Any], state: dict[str, Any] | None,
                        notes: list[str]) -> None:
        from bridge.store import bugs

        with self.store.session() as s:
            customers = max((r.customers for r in bugs.by_issue(s, key)), default=1)
        target = target_priority(self.settings, str(request.get("_priority") or "normal"), customers)
        if not target or state is None:
            return  # just created: the create carried the priority
        current = (((state.get("fields") or {}).get("priority")) or {}).get("name")
        if _rank(target) <= _rank(current):
            return
        try:  # a plain PUT: Issue.update would GET the issue again afterwards
            self.client._session.put(self.client._get_url(f"issue/{key}"),
                                     data=json.dumps({"fields": {"priority": {"name": target}}}))
        except Exception as exc:
            self._note_or_raise(exc, "priority", notes)

    def _search(self, case: str, fp_label: str | None) -> tuple[str, list[str]] | None:
        """The issue an earlier attempt made (its case label), or the open one for the fingerprint."""
        jql = f'labels = "rb-{case}"'
        if fp_label:
            jql += f' OR (labels = "{fp_label}" AND statusCategory != Done)'
        path = "search/jql" if self.client.deploymentType == "Cloud" else "search"
        data = self.client._get_json(path, params={"jql": jql + " ORDER BY created ASC", "fields": "labels,status",
                                                   "maxResults": 10})
        issues = [i for i in data.get("issues") or [] if isinstance(i, dict) and i.get("key")]
        mine = [i for i in issues if f"rb-{case}" in ((i.get("fields") or {}).get("labels") or [])]
        chosen = (mine or issues or [None])[0]
        if chosen is None:
            return None
        return str(chosen["key"]), list((chosen.get("fields") or {}).get("labels") or [])

    def _fields(self, request: dict[str, Any], customers: int, case: str) -> dict[str, Any]:
        fields = {name: value for name, value in request.items() if not name.startswith("_")}
        if "project" not in fields:
            project = self.settings.get("JIRA_PROJECT")
            if not project:
                raise PermanentError("no Jira project: set JIRA_PROJECT or a jira.project for the team")
            fields["project"] = {"key": project}
        issue_type = self.settings.get("JIRA_ISSUE_TYPE")
        if issue_type:
            fields["issuetype"] = {"name": issue_type}
        priority = target_priority(self.settings, str(request.get("_priority") or "normal"), customers)
        if priority:
            fields["priority"] = {"name": priority}
        links = self._link_line(request.get("_zendesk_ticket"), case)
        if links:
            fields["description"] = f"Links: {links}\n\n{fields['description']}"
        return fields

    def _fetch(self, evidence: list[dict[str, str]]) -> tuple[list[tuple[str, bytes]], list[str]]:
        """Download evidence through the SSRF-safe fetcher; every item gets a line saying what happened."""
        allow = fetch_allowlist(self.settings.get("BRIDGE_FETCH_ALLOW"))
        got: list[tuple[str, bytes]] = []
        lines: list[str] = []
        for item in evidence:
            try:
                fetched = fetch(item["url"], allow=allow)
            except BlockedURL as exc:
                lines.append(f"{item['url'][:300]}: not attached: blocked ({exc})")
                continue
            except FetchError as exc:
                lines.append(f"{item['url'][:300]}: not attached: {exc}")
                continue
            name = re.sub(r"[^\w.-]+", "_", item.get("name") or fetched.name)[:120] or "evidence"
            got.append((name, fetched.content))
            lines.append(f"{name} ({item.get('kind')}): attached, from {item['url'][:300]}")
        return got, lines

    def _browse(self, key: str) -> str:
        return f"{self.settings.get('JIRA_URL').rstrip('/')}/browse/{key}"


def _with_attachment_notes(description: str, lines: list[str]) -> str:
    note = "h3. Attachments\n" + noformat("\n".join(lines))
    room = DESCRIPTION_LIMIT - len(note) - 2
    if len(description) > room:
        return description  # the list is in the log; the description stays within Jira's limit
    return f"{description}\n\n{note}"


def _done(state: dict[str, Any]) -> bool:
    status = (state.get("fields") or {}).get("status") or {}
    return ((status.get("statusCategory") or {}).get("key") or "").lower() == "done"

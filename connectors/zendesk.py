"""Zendesk: one ticket per escalation carrying the whole handoff package, created exactly once.

The package goes in as one private comment with a plain ``body`` (never ``html_body``), so a
transcript holding ``<img onerror=…>`` or ``[x](javascript:…)`` is shown as the text it is.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters

from bridge.config import Settings
from bridge.events import Package
from bridge.pipeline.opening import lead_trigger
from bridge.pipeline.promise import owner_line
from bridge.pipeline.render import (
    clean,
    evidence_files,
    followup_heading,
    followup_lines,
    sections,
    transcript_text,
)
from bridge.pipeline.sanitize import scrub
from connectors.base import Context, PermanentError, Result, RetryableError, Step, parse_retry_after
from connectors.fetch import BlockedURL, FetchError, fetch, fetch_allowlist
from connectors.zendesk_audits import (
    STAFF_ROLES,
    AuditRead,
    audits_after,
    comment_authors,
    mark_staff,
    next_cursor,
    page_audits,
)

# Zendesk truncates or rejects very large comments (the documented cap is 64 KB of comment
# text); stay well under it and let the transcript give way first.
BODY_LIMIT = 60_000
MAX_ATTACHMENTS = 10
AUDIT_PAGE_SIZE = 100  # the most a cursor-paginated page holds
MAX_AUDIT_PAGES = 10  # per read: a longer history goes on from there at the next poll


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


def build_ticket(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    customer = package.customer
    body = _body(package, None)
    trimmed = len(body) > BODY_LIMIT
    if trimmed:
        others = len(_body(package, 0))
        body = _body(package, max(2_000, BODY_LIMIT - others))[:BODY_LIMIT]
    case_url = refs.get("case.url")
    if isinstance(case_url, str) and case_url.startswith(("https://", "http://")):
        body = f"Case page (package, timeline, owner): {case_url}\n\n{body}"
    ticket: dict[str, Any] = {
        "subject": _subject(package),
        "comment": {"body": body, "public": False},
        "requester": {"email": customer.email, "name": customer.name or customer.email}
        if customer and customer.email
        else None,
        "priority": package.priority,
        "type": "incident" if "product_bug" in package.decision.trigger_ids or package.bug_evidence else "question",
        "tags": _tags(package),
        "external_id": package.case_id,
        "_facts": _facts(package),
        "_evidence": evidence_files(package, MAX_ATTACHMENTS),
    }
    if trimmed:
        # The note keeps the opening and the latest messages; the whole conversation rides along.
        ticket["_attachments"] = [{"name": "transcript.txt", "content_type": "text/plain",
                                   "text": transcript_text(package.conversation)}]
    route = package.route
    if route and route.zendesk_group_id:
        ticket["group_id"] = route.zendesk_group_id
    if route and route.zendesk_agent_id:
        ticket["assignee_id"] = route.zendesk_agent_id  # the same person Slack names as owner
    return ticket


def build_link_note(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """The internal note that links the Jira bug (posted on the ticket once the bug exists)."""
    bug = refs.get("jira.bug")
    text = f"Engineering bug filed: {bug}" if bug else "No Jira bug could be filed for this case (see the case page)."
    return {"ticket": refs.get("zendesk.ticket"), "comment": {"body": text, "public": False}}


def build_assign(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
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
    request: dict[str, Any] = {"ticket": refs.get("zendesk.ticket")}
    if route and route.zendesk_agent_id:
        request["assignee_id"] = route.zendesk_agent_id
    elif route and route.owner_slack_id:
        lines.append(f"{who} is not on the routing roster, so the bridge does not know their Zendesk user: "
                     "assign the ticket to them in Zendesk (the assignee was left unchanged).")
    request["comment"] = {"body": " ".join(lines), "public": False}
    return request


def build_note(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """An internal note on the ticket (Jira resolved or released, and the like)."""
    note = refs.get("note") or {}
    body = scrub(str(note.get("text", "")))
    return {"ticket": refs.get("zendesk.ticket"), "comment": {"body": body, "public": False}}


def build_reply(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """The customer update an owner approved: the only public comment the bridge ever posts."""
    note = refs.get("note") or {}
    return {"ticket": refs.get("zendesk.ticket"), "comment": {"body": scrub(str(note.get("text", ""))), "public": True}}


def build_followup(package: Package, refs: dict[str, Any]) -> dict[str, Any]:
    """What the customer added after the escalation, as a private note (files uploaded with it)."""
    followup = refs.get("followup") or {}
    heading = followup_heading(followup, unanswered=bool(refs.get("unanswered", True)),
                               taken=bool(refs.get("taken", False)))
    body = "\n".join([heading, "", *followup_lines(followup)])
    files = [{"url": f["url"], "kind": f.get("kind") or "other", "name": f.get("name") or ""}
             for f in followup.get("files") or [] if isinstance(f, dict) and f.get("url")]
    return {"ticket": refs.get("zendesk.ticket"), "comment": {"body": body[:BODY_LIMIT], "public": False},
            "_evidence": files[:MAX_ATTACHMENTS]}


def marker(key: str) -> str:
    """Tag on every note the bridge adds after creation: retries look for it before posting again."""
    return f"[rb:{key}]"


# --- Live client -------------------------------------------------------------------------------
# zenpy quirks this section works around:
# - On 429 zenpy sleeps inside the worker, and crashes on a decimal or HTTP-date Retry-After
#   (it calls int() on it). A response hook raises before zenpy sees the 429, so the queue
#   reschedules instead (connectors.base.parse_retry_after reads every form).
# - zenpy has no per-call headers; the session adds Idempotency-Key to the create POST.
# - zenpy always builds https://<subdomain>.zendesk.com/api/v2/...json; ZENDESK_URL (a proxy, a
#   data-center install, a test server) is honoured by a transport adapter that rewrites the host.

_ZENDESK_PERMANENT = {400, 401, 403, 404, 409, 413, 415, 422}
_FILE_REFUSED = {400, 413, 415, 422}  # an upload answer about the file, not the credentials or the ticket
ANONYMOUS_EMAIL = "anonymous-customer@recovery-bridge.invalid"


class _Throttled(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__("429 Too Many Requests")
        self.retry_after = retry_after


class _RewriteHost(requests.adapters.HTTPAdapter):
    """Send zenpy's https://<sub>.zendesk.com requests to ZENDESK_URL's scheme and host instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__(max_retries=0)
        parts = urlsplit(base_url)
        self.scheme, self.netloc, self.prefix = parts.scheme, parts.netloc, parts.path.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        original = request.url or ""
        parts = urlsplit(original)
        forwarded = request.copy()
        forwarded.url = urlunsplit((self.scheme, self.netloc, self.prefix + parts.path, parts.query, ""))
        response = super().send(forwarded, **kwargs)
        response.request, response.url = request, original  # zenpy picks its parser from these
        return response


class ZendeskSession(requests.Session):
    def __init__(self, base_url: str | None) -> None:
        super().__init__()
        self.trust_env = False  # never an environment proxy
        self.idempotency_key: str | None = None
        if base_url:
            self.mount("https://", _RewriteHost(base_url))
        self.hooks["response"].append(self._raise_on_throttle)

    @staticmethod
    def _raise_on_throttle(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code == 429:
            raise _Throttled(parse_retry_after(response.headers.get("Retry-After")))

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if self.idempotency_key and str(method).upper() == "POST" and str(url).split("?")[0].endswith("/tickets.json"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers["Idempotency-Key"] = self.idempotency_key
            kwargs["headers"] = headers
        return super().request(method, url, *args, **kwargs)


def _via_channel(comment: Any) -> str | None:
    via = getattr(comment, "via", None)
    if isinstance(via, dict):
        return via.get("channel")
    return getattr(via, "channel", None)


def field_map(text: str) -> dict[str, int]:
    """``ZENDESK_FIELD_MAP``: ``trigger=360001,completeness=360002,...`` (package fact → field id)."""
    mapping: dict[str, int] = {}
    for part in (text or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() and value.strip().isdigit():
            mapping[name.strip()] = int(value.strip())
    return mapping


def _classify(exc: BaseException) -> Exception:
    """Map zenpy/requests failures onto the queue's two kinds of failure."""
    from zenpy.lib.exception import APIException

    if isinstance(exc, _Throttled):
        return RetryableError("Zendesk rate limit (429)", retry_after=exc.retry_after)
    if isinstance(exc, APIException):
        status = exc.response.status_code if getattr(exc, "response", None) is not None else 0
        message = f"Zendesk {status}: {str(exc)[:300]}"
        return PermanentError(message) if status in _ZENDESK_PERMANENT else RetryableError(message)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        message = f"Zendesk {status}"
        return PermanentError(message) if status in _ZENDESK_PERMANENT else RetryableError(message)
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return RetryableError(f"Zendesk unreachable: {type(exc).__name__}")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


class ZendeskConnector:
    """Creates one ticket per case, exactly once: lookup by external_id, then create with a key."""

    name = "zendesk"

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        from zenpy import Zenpy

        self.settings = settings
        self.session = session or ZendeskSession(settings.get("ZENDESK_URL") or None)
        credentials: dict[str, Any] = {"email": settings.get("ZENDESK_EMAIL")}
        if settings.get("ZENDESK_OAUTH_TOKEN"):
            credentials = {"oauth_token": settings.get("ZENDESK_OAUTH_TOKEN")}
        else:
            credentials["token"] = settings.get("ZENDESK_API_TOKEN")
        self.client = Zenpy(subdomain=settings.get("ZENDESK_SUBDOMAIN") or "bridge", session=self.session,
                            timeout=15, **credentials)

    def send(self, step: Step, request: dict[str, Any], context: Context) -> Result:
        try:
            return self._send(step, request, context)
        except (RetryableError, PermanentError):
            raise
        except Exception as exc:
            raise _classify(exc) from exc

    def _send(self, step: Step, request: dict[str, Any], context: Context) -> Result:
        if step.action in ("link", "assign", "note", "reply", "followup"):
            return self._note(request, context)
        if step.action != "ticket":
            raise PermanentError(f"zendesk cannot perform {step.name}")
        from zenpy.lib.api_objects import Comment, CustomField, Ticket, User

        fields = dict(request)
        external_id = fields.get("external_id") or context.case_id
        # Exactly once: on a first attempt the Idempotency-Key covers the create; after a failed or
        # replayed one, a ticket made by it (even one whose answer was lost) is found here first.
        # The list filter is consistent at once; search would lag by minutes.
        existing = self.existing_ticket(external_id) if context.attempt > 1 else None
        if existing is not None:
            return Result(external_id=existing)
        facts = fields.pop("_facts", {}) or {}
        requester = fields.pop("requester", None) or {}
        user = self.client.users.create_or_update(User(
            email=requester.get("email") or self.settings.get("ZENDESK_PLACEHOLDER_EMAIL") or ANONYMOUS_EMAIL,
            name=requester.get("name") or "Anonymous customer",
        ))
        comment = dict(fields.pop("comment"))
        tokens, lines = self._uploads(fields.pop("_attachments", []), fields.pop("_evidence", []))
        if lines:
            comment["body"] = comment["body"] + "\n\nAttachments\n-----------\n" + "\n".join(lines)
        if tokens:
            comment["uploads"] = tokens
        custom = [CustomField(id=field_id, value=facts[name])
                  for name, field_id in field_map(self.settings.get("ZENDESK_FIELD_MAP")).items()
                  if facts.get(name) is not None]
        if custom:
            fields["custom_fields"] = custom
        ticket = Ticket(requester_id=user.id, comment=Comment(**comment), **fields)
        self.session.idempotency_key = context.key  # type: ignore[attr-defined]
        try:
            created = self.client.tickets.create(ticket)
        finally:
            self.session.idempotency_key = None  # type: ignore[attr-defined]
        return Result(external_id=str(getattr(created, "ticket", created).id))

    def _note(self, request: dict[str, Any], context: Context) -> Result:
        """Add one internal note, exactly once: comments have no idempotency key, so look first."""
        from zenpy.lib.api_objects import Comment, Ticket

        ticket_id = str(request.get("ticket") or "")
        if not ticket_id.isdigit():
            raise PermanentError(f"no Zendesk ticket to add the note to ({ticket_id or 'none'})")
        public = bool(request["comment"].get("public"))
        # Private notes carry a marker to find them again; a public reply must not show one to the
        # customer, so it is found again by its exact text.
        tag = marker(context.key)
        body = request["comment"]["body"] if public else f"{request['comment']['body']}\n\n{tag}"
        for comment in self.client.tickets.comments(int(ticket_id)) if context.attempt > 1 else ():
            if (comment.body or "").strip() == body.strip() or (not public and tag in (comment.body or "")):
                return Result(external_id=f"{ticket_id}#{comment.id}")
        comment: dict[str, Any] = {"body": body, "public": public}
        if request.get("_evidence"):  # files the customer sent later ride on the note
            tokens, lines = self._uploads([], request["_evidence"])
            if lines:
                comment["body"] = f"{request['comment']['body']}\n\nAttachments\n-----------\n" + "\n".join(lines)
                comment["body"] += "" if public else f"\n\n{tag}"
            if tokens:
                comment["uploads"] = tokens
        update = Ticket(id=int(ticket_id), comment=Comment(**comment))
        if request.get("assignee_id"):
            update.assignee_id = request["assignee_id"]  # setting the same assignee again is harmless
        self.client.tickets.update(update)
        return Result(external_id=f"{ticket_id}#note")

    def ticket_activity(self, ticket_id: str) -> dict[str, Any]:
        """A read-only snapshot of a bridge ticket for the reconciler (missed webhooks)."""
        try:
            ticket = self.client.tickets(id=int(ticket_id))
            comments = list(self.client.tickets.comments(int(ticket_id)))
            staff = self._staff({str(c.author_id) for c in comments if c.author_id})
        except (RetryableError, PermanentError):
            raise
        except Exception as exc:
            raise _classify(exc) from exc
        rating = getattr(ticket, "satisfaction_rating", None) or {}
        if not isinstance(rating, dict):
            rating = {"score": getattr(rating, "score", None), "comment": getattr(rating, "comment", None)}
        return {
            "id": str(ticket.id), "external_id": ticket.external_id, "status": ticket.status,
            "assignee_id": ticket.assignee_id, "updated_at": str(ticket.updated_at),
            "satisfaction_rating": {"score": rating.get("score"), "comment": rating.get("comment")},
            "comments": [
                {"id": c.id, "author_id": c.author_id, "public": bool(c.public), "body": c.body or "",
                 "created_at": str(c.created_at), "via": {"channel": _via_channel(c)},
                 "is_staff": staff.get(str(c.author_id), False), "macro_ids": []}
                for c in comments
            ],
        }

    def ticket_audits(self, ticket_id: str, page: str | None = None, after: str | None = None) -> AuditRead:
        """The ticket's audits, oldest first, from the page the cursor ``page`` names (None: the
        first), at most MAX_AUDIT_PAGES pages (``more`` says pages are left). Each audit carries the
        cursor that read its page, so the reconciler can start the next poll on the page of the last
        audit it applied (``after``). The authors of public comments after that one are looked up,
        once each: staff means role agent or admin."""
        try:
            audits, more, cursor = [], False, page
            for _ in range(MAX_AUDIT_PAGES):
                data = self._audit_page(ticket_id, cursor)
                audits += page_audits(data, cursor)
                cursor = next_cursor(data)
                if cursor is None:
                    break
            else:
                more = True
            fresh = audits_after(audits, after)
            fresh = audits if fresh is None else fresh
            mark_staff(fresh, self._staff(comment_authors(fresh)))
        except (RetryableError, PermanentError):
            raise
        except Exception as exc:
            raise _classify(exc) from exc
        return {"audits": audits, "more": more}

    def _audit_page(self, ticket_id: str, after: str | None) -> dict[str, Any]:
        """One page of ``GET /api/v2/tickets/{id}/audits`` (cursor pagination).

        zenpy quirks: ``tickets.audits(ticket=)`` follows the pages itself and keeps each page's
        cursor to itself, so a poll could only ever start from the first page; and zenpy joins query
        values into the URL unencoded, which would corrupt a base64 cursor (``+``, ``=``). So the
        URL is zenpy's own (``ZENPY_FORCE_*`` honoured), the query goes through requests, and the GET
        is zenpy's (auth, the session's host rewrite and 429 hook, its error answers)."""
        api = self.client.tickets
        url = api._build_url(api.endpoint.audits(int(ticket_id)))
        params: dict[str, Any] = {"page[size]": AUDIT_PAGE_SIZE}
        if after:
            params["page[after]"] = after
        data = api._get(url, raw_response=True, params=params).json()
        if not isinstance(data, dict):
            raise ValueError("Zendesk audits: the answer is not a JSON object")
        return data

    def _staff(self, authors: set[str]) -> dict[str, bool]:
        """Author id → on the support side (role agent or admin); one lookup per author."""
        staff: dict[str, bool] = {}
        for author in sorted(a for a in authors if a.isdigit()):
            user = self.client.users(id=int(author))
            staff[author] = getattr(user, "role", "end-user") in STAFF_ROLES
        return staff

    def existing_ticket(self, external_id: str) -> str | None:
        for ticket in self.client.tickets(external_id=external_id):
            return str(ticket.id)
        return None

    def _uploads(self, generated: list[dict[str, str]], evidence: list[dict[str, str]]) -> tuple[list[str], list[str]]:
        """Upload generated files and fetched evidence; every item gets a line saying what happened."""
        from zenpy.lib.exception import APIException

        tokens: list[str] = []
        lines: list[str] = []
        for item in generated:
            upload = self.client.attachments.upload(item["text"].encode(), target_name=item["name"],
                                                    content_type=item["content_type"])
            tokens.append(upload.token)
            lines.append(f"- {item['name']}: attached")
        allow = fetch_allowlist(self.settings.get("BRIDGE_FETCH_ALLOW"))
        for item in evidence:
            try:
                got = fetch(item["url"], allow=allow)
            except BlockedURL as exc:
                lines.append(f"- {item['url'][:300]}: not attached: blocked ({exc})")
                continue
            except FetchError as exc:
                lines.append(f"- {item['url'][:300]}: not attached: {exc}")
                continue
            try:
                upload = self.client.attachments.upload(got.content, target_name=item.get("name") or got.name,
                                                        content_type=got.content_type)
            except APIException as exc:  # this file refused (too large, a type Zendesk will not take)
                status = exc.response.status_code if getattr(exc, "response", None) is not None else 0
                if status not in _FILE_REFUSED:
                    raise
                lines.append(f"- {item['url'][:300]}: not attached: Zendesk refused the file (HTTP {status})")
                continue
            tokens.append(upload.token)
            lines.append(f"- {item.get('name') or got.name} ({item.get('kind')}): attached from {item['url'][:300]}")
        return tokens, lines

"""The Zendesk Support API calls the connector makes, one method per endpoint (through zenpy, the
only module importing it), and the session they go through.

zenpy quirks this module works around:
- On 429 zenpy sleeps inside the worker, and crashes on a decimal or HTTP-date Retry-After
  (it calls int() on it). A response hook raises before zenpy sees the 429, so the queue
  reschedules instead (connectors.base.parse_retry_after reads every form).
- zenpy has no per-call headers; the session adds Idempotency-Key to the create POST.
- zenpy always builds https://<subdomain>.zendesk.com/api/v2/...json; ZENDESK_URL (a proxy, a
  data-center install, a test server) is honoured by a transport adapter that rewrites the host.
- ``tickets.audits(ticket=)`` follows the pages itself and keeps each page's cursor to itself, and
  zenpy joins query values into the URL unencoded (see ``audit_page``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters

from connectors.base import PermanentError, RetryableError, parse_retry_after
from connectors.config import ZendeskConfig

AUDIT_PAGE_SIZE = 100  # the most a cursor-paginated page holds

_ZENDESK_PERMANENT = {400, 401, 403, 404, 409, 413, 415, 422}
_FILE_REFUSED = {400, 413, 415, 422}  # an upload answer about the file, not the credentials or the ticket


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


class ZendeskClient:
    def __init__(self, config: ZendeskConfig, session: requests.Session | None = None) -> None:
        from zenpy import Zenpy

        self.session = session or ZendeskSession(config.url or None)
        credentials: dict[str, Any] = ({"oauth_token": config.oauth_token} if config.oauth_token
                                       else {"email": config.email, "token": config.api_token})
        # Zenpy caches every ticket it sees for 30 s and up to 10,000 users and organizations, per
        # process; the bridge never reads them back (each step asks Zendesk, so a retry sees the truth).
        self.sdk = Zenpy(subdomain=config.subdomain, session=self.session, timeout=15, disable_cache=True,
                         **credentials)

    def find_ticket(self, external_id: str) -> str | None:
        """The ticket with this external id (the list filter is consistent at once; search lags)."""
        for ticket in self.sdk.tickets(external_id=external_id):
            return str(ticket.id)
        return None

    def upload(self, content: bytes, name: str, content_type: str) -> str:
        return str(self.sdk.attachments.upload(content, target_name=name, content_type=content_type).token)

    def create_ticket(self, payload: dict[str, Any], idempotency_key: str) -> str:
        """POST /tickets with an Idempotency-Key (zenpy has no per-call headers: the session adds it)."""
        from zenpy.lib.api_objects import Comment, CustomField, Ticket

        fields = dict(payload)
        comment = Comment(**fields.pop("comment"))
        requester = fields.pop("requester", None)
        if "custom_fields" in fields:
            fields["custom_fields"] = [CustomField(**custom) for custom in fields["custom_fields"]]
        ticket = Ticket(comment=comment, **fields)
        if requester:
            # zenpy's ``requester`` setter takes a User, keeps its id as requester_id and would send the
            # nested object with "id": null; the attribute behind it is sent as it is, as Zendesk documents.
            ticket._requester = dict(requester)
        self.session.idempotency_key = idempotency_key  # type: ignore[attr-defined]
        try:
            created = self.sdk.tickets.create(ticket)
        finally:
            self.session.idempotency_key = None  # type: ignore[attr-defined]
        return str(getattr(created, "ticket", created).id)

    def comments(self, ticket_id: str) -> list[Any]:
        return list(self.sdk.tickets.comments(int(ticket_id)))

    def add_comment(self, ticket_id: str, comment: dict[str, Any], assignee_id: int | None = None) -> None:
        from zenpy.lib.api_objects import Comment, Ticket

        update = Ticket(id=int(ticket_id), comment=Comment(**comment))
        if assignee_id:
            update.assignee_id = assignee_id  # setting the same assignee again is harmless
        self.sdk.tickets.update(update)

    def ticket(self, ticket_id: str) -> Any:
        return self.sdk.tickets(id=int(ticket_id))

    def user_role(self, user_id: str) -> str:
        return str(getattr(self.sdk.users(id=int(user_id)), "role", "end-user"))

    def audit_page(self, ticket_id: str, after: str | None) -> dict[str, Any]:
        """One page of ``GET /api/v2/tickets/{id}/audits`` (cursor pagination).

        The URL is zenpy's own (``ZENPY_FORCE_*`` honoured), the query goes through requests (a base64
        cursor holds ``+`` and ``=``), and the GET is zenpy's (auth, the session's host rewrite and
        429 hook, its error answers)."""
        api = self.sdk.tickets
        url = api._build_url(api.endpoint.audits(int(ticket_id)))
        params: dict[str, Any] = {"page[size]": AUDIT_PAGE_SIZE}
        if after:
            params["page[after]"] = after
        data = api._get(url, raw_response=True, params=params).json()
        if not isinstance(data, dict):
            raise ValueError("Zendesk audits: the answer is not a JSON object")
        return data


def refused_file(exc: BaseException) -> int | None:
    """The HTTP status when Zendesk refused an upload for the file itself (too large, a type it will
    not take), else None."""
    from zenpy.lib.exception import APIException

    if not isinstance(exc, APIException):
        return None
    status = exc.response.status_code if getattr(exc, "response", None) is not None else 0
    return status if status in _FILE_REFUSED else None


def via_channel(comment: Any) -> str | None:
    via = getattr(comment, "via", None)
    if isinstance(via, dict):
        return via.get("channel")
    return getattr(via, "channel", None)


def classify(exc: BaseException) -> Exception:
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

"""What every chatbot adapter implements, and the errors that map to HTTP answers.

An adapter turns one HTTP delivery of its platform into canonical ``Event`` objects. It never
touches the store, the queue or the network: the intake view verifies with ``verify``, parses with
``parse`` and does the rest. Vendor JSON stops here.

| raised                | HTTP | meaning                                                     |
|-----------------------|------|-------------------------------------------------------------|
| ``Unauthorized``      | 401  | missing/forged/stale signature or token                     |
| ``Unavailable``       | 503  | the request cannot be checked now (signing keys unreachable)|
| ``MalformedPayload``  | 400  | not JSON, not the platform's shape                          |
| ``InvalidPayload``    | 422  | the platform's shape, but a field is wrong (names the field)|
| ``UnsupportedEvent``  | 200  | a real event type we do not act on (the sender must not retry)|
| ``Handshake``         | any  | a verification challenge to answer as given                 |
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, get_args

from pydantic import ValidationError

from bridge import signing
from bridge.adapters import jsonsafe
from bridge.config import Settings
from bridge.events import Event, EventType


class AdapterError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"


class Unauthorized(AdapterError):
    status = 401
    code = "unauthorized"


class Unavailable(AdapterError):
    """The bridge cannot check the request right now (e.g. the platform's signing keys are
    unreachable): answered 503 with ``Retry-After`` so the sender retries, never a 401 that says
    the sender is wrong."""

    status = 503
    code = "verification_unavailable"
    retry_after = 30


class MalformedPayload(AdapterError):
    status = 400
    code = "malformed_payload"


class InvalidPayload(AdapterError):
    status = 422
    code = "invalid_payload"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedEvent(Exception):
    """A well-formed event of a type the bridge does not act on; answered 200 and logged."""

    def __init__(self, event_type: str) -> None:
        super().__init__(event_type)
        self.event_type = event_type


class Handshake(Exception):
    """The platform is checking the endpoint; answer with this body and status."""

    def __init__(self, body: Any, status: int = 200, content_type: str = "application/json") -> None:
        super().__init__("handshake")
        self.body = body
        self.status = status
        self.content_type = content_type


@dataclass(frozen=True)
class Inbound:
    """One HTTP delivery as the adapter sees it: raw bytes, lower-cased headers, query."""

    body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    now: float = 0.0  # unix seconds; injected so signature windows are testable
    # What the adapter already read from this delivery (the parsed body), so that naming the unused
    # fields after ``parse`` does not parse the whole body a second time.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class Delivery:
    """What an event handler reads besides the object it handles: the whole decoded body, the event
    type the adapter dispatched on, and the HTTP delivery (headers, raw bytes, clock)."""

    inbound: Inbound
    body: dict[str, Any]
    kind: str


# Every platform's event handlers have this one signature: the object to turn into an event (the
# body, or the part of it the adapter's ``subject`` picks) and the delivery it came in.
Handler = Callable[[dict[str, Any], Delivery], Event]


class Adapter:
    """Base class; subclasses set ``slug``, ``handlers`` and ``event_type`` and implement ``verify``.

    ``parse`` is the same for every platform: decode the body (depth-limited), read its event type
    (``event_type``: a 400 when the body is not the platform's shape), look the type up in the
    adapter's explicit ``handlers`` (an unknown type is ``UnsupportedEvent``, answered 200), pick
    what the handler reads (``subject``: checks that only matter for a known type go there) and call
    the handler. ``emits`` declares the canonical event types the handlers can produce.
    """

    slug: ClassVar[str] = ""
    content_types: ClassVar[tuple[str, ...]] = ("application/json",)
    handlers: ClassVar[Mapping[str, Handler]] = {}
    emits: ClassVar[frozenset[str]] = frozenset(get_args(EventType))
    not_an_object: ClassVar[str] = "the body must be a JSON object"
    # Platforms that call synchronously and read the answer override ``respond``.

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        raise NotImplementedError

    def event_in_body(self, inbound: Inbound) -> bool:
        """After ``parse``: the body *is* the one event it returned, and plain ``json.loads`` reads it
        as ``parse`` did (nothing repaired on the way). The inbox then keeps the body alone, not a
        re-serialized copy of the event beside it (``intake_rows.inbox_event``)."""
        return False

    def decode(self, inbound: Inbound, max_depth: int = 64) -> dict[str, Any]:
        body = load_json(inbound.body, max_depth)
        if not isinstance(body, dict):
            raise MalformedPayload(self.not_an_object)
        return body

    def event_type(self, body: dict[str, Any]) -> str:
        """The type to dispatch on; raise ``MalformedPayload`` when the body is not the platform's."""
        raise NotImplementedError

    def subject(self, delivery: Delivery) -> dict[str, Any]:
        """What the handler reads; called once the type is known to be handled."""
        return delivery.body

    def handler(self, kind: str) -> Handler:
        found = self.handlers.get(kind)
        if found is None:
            raise UnsupportedEvent(kind)
        return found

    def parse(self, inbound: Inbound, max_depth: int = 64) -> list[Event]:
        body = self.decode(inbound, max_depth)
        kind = self.event_type(body)
        handler = self.handler(kind)
        delivery = Delivery(inbound, body, kind)
        return [handler(self.subject(delivery), delivery)]

    def ignored(self, inbound: Inbound, max_depth: int = 64) -> list[str]:
        """Fields of the body the bridge does not use, named for the sender (``evidence.console_errors``).

        Only the bridge's own format (generic) answers this: a vendor's payload is full of fields the
        bridge has no use for, and the vendor cannot change them anyway.
        """
        return []

    def complete(self, event: Event, settings: Settings) -> Event:
        """Worker side: fetch the rest of a transcript the webhook carried only in part.

        Called by the worker (never in the request path) when ``event.conversation.partial`` is set.
        Raise ``bridge.errors.RetryableError`` on a transient failure of the platform's API.
        """
        return event

    def respond(
        self,
        accepted: list[dict[str, Any]],
        events: list[Event] | None = None,
        inbound: Inbound | None = None,
    ) -> tuple[Any, int] | None:
        """The answer for a platform that calls synchronously, or None for the standard 202 answer.

        ``accepted`` holds one ``{"event", "case", "status"}`` per event (``"duplicate": True`` for
        repeats); ``events`` and ``inbound`` give the language and the request. Adapters are shared
        by all request threads: keep no state on the instance.
        """
        return None


def presented_credentials(
    inbound: Inbound,
    *,
    query: str | None = None,
    basic: bool = False,
    bearer: bool = False,
    header: str | None = None,
) -> list[bytes]:
    """The secrets a request presents, in the ways its platform can send one (and only those).

    ``query``: a query parameter such as ``token`` (``?token=``); ``basic``: the whole
    ``user:password`` of HTTP basic auth; ``bearer``: ``Authorization: Bearer``; ``header``: a
    static-token header such as ``X-Bridge-Token``. Compare the result with ``signing.matches_any``
    (constant time), or let ``require_token`` do both.
    """
    found: list[bytes] = []
    if query and (token := inbound.query.get(query)):
        found.append(token.encode())
    auth = inbound.header("authorization")
    if basic and auth[:6].lower() == "basic ":
        with contextlib.suppress(binascii.Error, ValueError):
            found.append(base64.b64decode(auth[6:].strip(), validate=True))
    if bearer and auth[:7].lower() == "bearer " and auth[7:].strip():
        found.append(auth[7:].strip().encode())
    if header and (token := inbound.header(header)):
        found.append(token.encode())
    return found


def require_token(
    inbound: Inbound,
    secrets: Sequence[str],
    refusal: str,
    *,
    missing: str | None = None,
    query: str | None = None,
    basic: bool = False,
    bearer: bool = False,
    header: str | None = None,
) -> None:
    """For platforms that authenticate with a shared token rather than a signature: pass when a
    credential the request presents (in the ways named, as ``presented_credentials``) equals one of
    the configured secrets, compared in constant time; else ``Unauthorized`` (``missing`` when the
    request presents none, ``refusal`` otherwise)."""
    presented = presented_credentials(inbound, query=query, basic=basic, bearer=bearer, header=header)
    if not presented:
        raise Unauthorized(missing or refusal)
    if not signing.matches_any([s.encode() for s in secrets], presented):
        raise Unauthorized(refusal)


def text_or_none(value: Any, limit: int = 100_000) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sentiment_or_none(value: Any) -> float | None:
    """A platform's sentiment already on the -1 (negative) … 1 (positive) scale, clamped, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN
        return None
    return round(min(max(float(value), -1.0), 1.0), 4)


# A platform's own urgency word onto the package's urgent|high|normal|low: Zendesk's names as they
# are, Jira's Highest/Medium/Lowest, Chatwoot's medium, P0-P5, and Intercom's "priority" flag.
_PRIORITY_WORDS = {
    "urgent": "urgent", "critical": "urgent", "highest": "urgent", "p0": "urgent", "p1": "urgent",
    "high": "high", "priority": "high", "p2": "high",
    "normal": "normal", "medium": "normal", "p3": "normal",
    "low": "low", "lowest": "low", "p4": "low", "p5": "low",
}


def handoff_priority(value: Any) -> str | None:
    """The canonical ``Handoff.priority`` of a platform's priority word, or None when it is not one.

    Numbers are not read: platforms disagree on whether 1 is the most or the least urgent.
    """
    if not isinstance(value, str):
        return None
    return _PRIORITY_WORDS.get(value.strip().lower().replace(" ", ""))


def drop_none(value: Any) -> Any:
    """The canonical models take absent fields as absent, not as null."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


def load_json(body: bytes, max_depth: int = 64) -> Any:
    try:
        return jsonsafe.loads(body, max_depth)
    except jsonsafe.JSONError as exc:
        raise MalformedPayload(str(exc)) from None


def field_path(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def validate_event(data: Any) -> Event:
    """Build an ``Event``; a validation error becomes a 422 naming the first failing field."""
    try:
        return Event.from_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = field_path(first["loc"]) or "(root)"
        raise InvalidPayload(f"{path}: {first['msg']}", field=path) from None

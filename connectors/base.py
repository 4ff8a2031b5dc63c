"""The connector protocol and the two ways a delivery can fail.

A connector performs one side effect per call (create a ticket, post a message) and says how it
went: it returns a ``Result`` or raises ``RetryableError`` (try again later, maybe after
``retry_after`` seconds) or ``PermanentError`` (retrying cannot help: dead letter now).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

# Re-exported: connectors and their callers import the failure kinds from here; the adapters' fetchers
# raise the same classes from bridge.errors.
from bridge.errors import (
    DeliveryError as DeliveryError,
    PermanentError as PermanentError,
    RetryableError as RetryableError,
)
from bridge.events import Package

MAX_RETRY_AFTER = 6 * 3600.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: integer, decimal or HTTP-date; None if unusable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Result:
    external_id: str
    dry_run: bool = False
    url: str | None = None


@dataclass(frozen=True)
class Context:
    """What a connector may need beyond the request: the idempotency key and earlier results."""

    case_id: str
    key: str  # idempotency key of this step, stable across retries and replays
    refs: dict[str, Any]
    attempt: int = 1  # 1 on the first try; a connector checks for an earlier effect only after that
    instance: str = ""  # the delivery's step instance, e.g. "slack.update#2" (defaults to the step)


class TypedRequest(Protocol):
    """A builder's frozen request; ``to_json`` is its record in the dry-run outbox."""

    def to_json(self) -> dict[str, Any]: ...


Request = dict[str, Any] | TypedRequest


def request_json(request: Request) -> dict[str, Any]:
    return request if isinstance(request, dict) else request.to_json()


@dataclass(frozen=True)
class Step:
    name: str  # "zendesk.ticket"
    build: Callable[[Package, dict[str, Any]], Request]  # pure: package, refs → request
    after: str | None = None

    @property
    def connector(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def action(self) -> str:
        return self.name.split(".", 1)[1]


Handler = Callable[[Any, Any, Context], Result]  # (connector, request, context) → result


def dispatch(connector: Any, handlers: dict[str, Handler], step: Step, request: Any, context: Context,
             classify: Callable[[Exception], Exception]) -> Result:
    """Run the handler registered for the step's action; a failure leaves as one of the two kinds
    (``classify`` maps the vendor's own; what it does not know leaves as it is)."""
    handler = handlers.get(step.action)
    if handler is None:
        raise PermanentError(f"{connector.name} cannot perform {step.name}")
    try:
        return handler(connector, request, context)
    except (RetryableError, PermanentError):
        raise
    except Exception as exc:
        error = classify(exc)
        if error is exc:
            raise
        raise error from exc


class Connector(Protocol):
    name: str

    def send(self, step: Step, request: Any, context: Context) -> Result: ...

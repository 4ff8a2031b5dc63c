"""How a call to a vendor's API can fail, for both sides that make one: the connectors (a delivery:
create a ticket, post a message) and the adapters (a transcript fetch, a signing-key fetch).

``RetryableError``: try again later, maybe after ``retry_after`` seconds. ``PermanentError``:
retrying cannot help (dead letter now). ``connectors.base`` re-exports all three.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A step that did not finish. ``external_id`` names what the vendor already holds despite the
    failure (a Jira issue created before its attachments failed): it is recorded on the step, so the
    steps after it and the next attempt use it instead of losing it."""

    external_id: str | None = None


class RetryableError(DeliveryError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    pass

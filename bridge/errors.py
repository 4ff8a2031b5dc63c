"""How a call to a vendor's API can fail, for both sides that make one: the connectors (a delivery:
create a ticket, post a message) and the adapters (a transcript fetch, a signing-key fetch).

``RetryableError``: try again later, maybe after ``retry_after`` seconds. ``PermanentError``:
retrying cannot help (dead letter now). ``connectors.base`` re-exports all three.

Words for people: stored errors (``last_error`` of a dead letter) keep what the code raised, for
whoever debugs it; what the CLI and the pages show goes through ``plain_error`` first, so one reads
"connection failed: Zendesk unreachable" rather than ``RetryableError: … ConnectionError``.
"""

from __future__ import annotations

import re


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


# --- words for people: errors without Python class names ---------------------------------------
# Exception names that carry meaning, said in words. Anything else ending in Error/Exception that
# leads a message is dropped (the message after it says what happened).
PHRASES: dict[str, str] = {
    "ConnectionError": "connection failed",
    "ConnectTimeout": "connection timed out",
    "ReadTimeout": "no answer in time",
    "Timeout": "timed out",
    "TimeoutError": "timed out",
    "SSLError": "TLS handshake failed",
    "ProxyError": "proxy refused the connection",
    "TooManyRedirects": "too many redirects",
    "OperationalError": "database unavailable",
    "IntegrityError": "database constraint violated",
    "JSONDecodeError": "invalid JSON",
    "UnicodeDecodeError": "invalid UTF-8",
    "KeyError": "missing field",
    "PermissionError": "permission denied",
    "FileNotFoundError": "file not found",
}
_LEADING = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Failed|Unavailable))(?::\s*|$)")
_NAME = re.compile(r"\b(?:[a-z_][\w]*\.)*(" + "|".join(sorted(PHRASES, key=len, reverse=True)) + r")\b")


def plain_error(text: str | None) -> str:
    """A stored error as a person reads it: no leading class name, known names in words."""
    if not text:
        return ""
    message = text.strip()
    for _ in range(3):  # "RetryableError: FetchError: …"
        match = _LEADING.match(message)
        if not match:
            break
        rest = message[match.end():].strip()
        message = rest or PHRASES.get(match.group(1), "failed")
    return _NAME.sub(lambda m: PHRASES[m.group(1)], message)


def reason(exc: BaseException) -> str:
    """One readable line for an exception: the driver's own first line, never a class name or a
    traceback (``(psycopg.OperationalError) connection failed: …`` → ``connection failed: …``)."""
    inner = getattr(exc, "orig", None) or exc
    first = (str(inner).strip().splitlines() or [""])[0]
    first = re.sub(r"^\((?:[\w.]+)\)\s*", "", first)[:160]
    return plain_error(first) or plain_error(type(inner).__name__)

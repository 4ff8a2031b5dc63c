"""Signature verification over raw request bytes.

Every check compares in constant time, accepts a list of secrets (rotation) and takes the clock
as an argument so tests can freeze it. Failures raise ``SignatureError`` with a short reason that
is logged but never sent back to the caller.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

DEFAULT_TOLERANCE = 300
MIN_KEY_BYTES = 16  # a shorter HMAC key can be guessed; bridge.config.secret_policy refuses to start with one


class SignatureError(Exception):
    """The request is not authentic (bad, missing, stale or future signature)."""


def hmac_digest(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def matches_any(expected: Sequence[bytes], presented: Sequence[bytes]) -> bool:
    """True when any presented signature equals any expected one (constant time per pair)."""
    found = False
    for want in expected:
        for got in presented:
            found |= hmac.compare_digest(want, got)
    return found


def check_timestamp(timestamp: str | None, now: float, tolerance: int = DEFAULT_TOLERANCE) -> int:
    """Parse a unix-seconds timestamp and enforce the window in both directions."""
    if not timestamp:
        raise SignatureError("missing timestamp")
    try:
        ts = int(timestamp.strip())
    except ValueError:
        raise SignatureError("timestamp is not an integer") from None
    if ts < now - tolerance:
        raise SignatureError("timestamp too old")
    if ts > now + tolerance:
        raise SignatureError("timestamp in the future")
    return ts


def check_iso_timestamp(value: str, now: float, tolerance: int = DEFAULT_TOLERANCE) -> float:
    """Parse an ISO 8601 timestamp with an offset (``Z`` or ``+hh:mm``) and enforce the window in
    both directions; returns unix seconds."""
    text = (value or "").strip()
    if not text:
        raise SignatureError("missing timestamp")
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise SignatureError("timestamp is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise SignatureError("timestamp has no offset")
    ts = parsed.timestamp()
    if ts < now - tolerance:
        raise SignatureError("timestamp too old")
    if ts > now + tolerance:
        raise SignatureError("timestamp in the future")
    return ts


def verify_base64_hmac(message: bytes, signature: str, secrets: Sequence[str]) -> None:
    """``signature`` is base64(HMAC-SHA256(secret, message)) for one of the secrets, each used as
    the UTF-8 string it is (not decoded)."""
    try:
        presented = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not base64") from None
    if not matches_any([hmac_digest(s.encode(), message) for s in secrets], [presented]):
        raise SignatureError("signature mismatch")


def verify_hub_signature(body: bytes, header: str, secrets: Sequence[str]) -> None:
    """``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` for one of the secrets."""
    scheme, _, value = header.strip().partition("=")
    if scheme != "sha256" or not value:
        raise SignatureError("X-Hub-Signature is not sha256=<hex>")
    presented = value.strip().lower().encode()
    if not matches_any([hmac_digest(s.encode(), body).hex().encode() for s in secrets], [presented]):
        raise SignatureError("signature mismatch")


def verify_shared_secret(token: str, secrets: Sequence[str]) -> None:
    """For senders that cannot sign: the secret itself, compared in constant time."""
    if not matches_any([s.encode() for s in secrets], [token.encode()]):
        raise SignatureError("shared secret mismatch")


@functools.lru_cache(maxsize=64)  # the configured secrets, decoded once per process rather than per request
def standard_webhook_key(secret: str) -> bytes:
    """Decode a Standard Webhooks secret (``whsec_`` + base64, prefix and padding optional)."""
    value = secret.strip()
    if value.startswith("whsec_"):
        value = value[len("whsec_"):]
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a Standard Webhooks secret is 'whsec_' followed by base64") from None


def verify_standard_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> str:
    """Verify ``webhook-id``/``webhook-timestamp``/``webhook-signature``; return the id.

    The signed content is ``id.timestamp.body``; the signature header is a space-separated list of
    ``v1,<base64 HMAC-SHA256>`` entries (other versions such as ``v1a`` are skipped).
    """
    if not secrets:
        raise SignatureError("no secret configured")
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signature = headers.get("webhook-signature", "")
    if not msg_id or not signature:
        raise SignatureError("missing webhook-id or webhook-signature")
    check_timestamp(timestamp, now, tolerance)
    presented: list[bytes] = []
    for entry in signature.split():
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        try:
            presented.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not presented:
        raise SignatureError("no v1 signature in webhook-signature")
    signed = f"{msg_id}.{timestamp.strip()}.".encode() + body
    keys = []
    for secret in secrets:  # start-up refuses malformed secrets; one that slips through is no 500
        try:
            keys.append(standard_webhook_key(secret))
        except ValueError:
            continue
    if not any(len(key) >= MIN_KEY_BYTES for key in keys):
        raise SignatureError("no usable secret configured")
    expected = [hmac_digest(key, signed) for key in keys if len(key) >= MIN_KEY_BYTES]
    if not matches_any(expected, presented):
        raise SignatureError("signature mismatch")
    return msg_id


def sign_standard_webhook(body: bytes, msg_id: str, timestamp: int, secret: str) -> str:
    """The ``webhook-signature`` value for a body (used by tests, docs and `bridge` tooling)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac_digest(standard_webhook_key(secret), signed)).decode()

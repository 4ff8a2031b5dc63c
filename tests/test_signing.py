"""Standard Webhooks verification, checked against the reference library's own signatures."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from bridge import signing
from tests.helpers import OTHER_SECRET, SECRET

BODY = b'{"event_id":"e1","type":"handoff.requested"}'
NOW = 1_764_000_000


def _reference_headers(secret: str = SECRET, ts: int = NOW, msg_id: str = "msg_1") -> dict[str, str]:
    sig = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC), BODY.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


def test_reference_signature_verifies() -> None:
    assert signing.verify_standard_webhook(BODY, _reference_headers(), [SECRET], NOW) == "msg_1"


def test_our_signer_matches_the_reference() -> None:
    assert signing.sign_standard_webhook(BODY, "msg_1", NOW, SECRET) == _reference_headers()["webhook-signature"]


def test_rotation_accepts_either_secret() -> None:
    assert signing.verify_standard_webhook(BODY, _reference_headers(OTHER_SECRET), [SECRET, OTHER_SECRET], NOW)
    with pytest.raises(signing.SignatureError):
        signing.verify_standard_webhook(BODY, _reference_headers(OTHER_SECRET), [SECRET], NOW)


def test_multi_signature_header_with_one_good_entry() -> None:
    headers = _reference_headers()
    headers["webhook-signature"] = "v1,AAAA v1a,bm90LWNoZWNrZWQ= " + headers["webhook-signature"]
    assert signing.verify_standard_webhook(BODY, headers, [SECRET], NOW)


@pytest.mark.parametrize("signature", ["garbage", "v1,", "v1,not*base64", "v1a,AAAA", "", "v2,AAAA"])
def test_malformed_signatures_are_auth_errors_not_crashes(signature: str) -> None:
    headers = {**_reference_headers(), "webhook-signature": signature}
    with pytest.raises(signing.SignatureError):
        signing.verify_standard_webhook(BODY, headers, [SECRET], NOW)


@pytest.mark.parametrize("offset,ok", [(-301, False), (-299, True), (299, True), (301, False)])
def test_timestamp_window_both_ways(offset: int, ok: bool) -> None:
    headers = _reference_headers(ts=NOW + offset)
    if ok:
        assert signing.verify_standard_webhook(BODY, headers, [SECRET], NOW)
    else:
        with pytest.raises(signing.SignatureError):
            signing.verify_standard_webhook(BODY, headers, [SECRET], NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_rejected(missing: str) -> None:
    headers = _reference_headers()
    del headers[missing]
    with pytest.raises(signing.SignatureError):
        signing.verify_standard_webhook(BODY, headers, [SECRET], NOW)


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(signing.SignatureError):
        signing.verify_standard_webhook(BODY + b" ", _reference_headers(), [SECRET], NOW)


def test_non_integer_timestamp_is_rejected() -> None:
    with pytest.raises(signing.SignatureError):
        signing.verify_standard_webhook(BODY, {**_reference_headers(), "webhook-timestamp": "abc"}, [SECRET], NOW)


def test_secret_without_prefix_or_padding_is_the_same_key() -> None:
    raw = SECRET.removeprefix("whsec_").rstrip("=")
    assert signing.standard_webhook_key(raw) == base64.b64decode(SECRET.removeprefix("whsec_"))


def test_every_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = signing.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    headers = {**_reference_headers(), "webhook-signature": "v1,AAAA"}  # wrong length too
    with pytest.raises(signing.SignatureError):
        signing.verify_standard_webhook(BODY, headers, [SECRET, OTHER_SECRET], NOW)
    assert len(calls) == 2


def test_iso_timestamps_need_an_offset_and_the_window() -> None:
    now = datetime(2026, 11, 2, 10, 0, tzinfo=UTC).timestamp()
    assert signing.check_iso_timestamp("2026-11-02T10:00:00Z", now) == now
    assert signing.check_iso_timestamp("2026-11-02T11:00:00+01:00", now) == now
    for value, why in (("", "missing timestamp"), ("1762077600", "timestamp is not ISO 8601"),
                       ("2026-11-02T10:00:00", "timestamp has no offset"),
                       ("2026-11-02T09:54:59Z", "timestamp too old"),
                       ("2026-11-02T10:05:01Z", "timestamp in the future")):
        with pytest.raises(signing.SignatureError, match=why):
            signing.check_iso_timestamp(value, now)


def test_base64_hmac_and_hub_signature_take_any_configured_secret() -> None:
    digest = signing.hmac_digest(b"two", b"message")
    signing.verify_base64_hmac(b"message", base64.b64encode(digest).decode(), ("one", "two"))
    signing.verify_hub_signature(b"message", f"sha256={digest.hex().upper()}", ("one", "two"))
    with pytest.raises(signing.SignatureError, match="signature is not base64"):
        signing.verify_base64_hmac(b"message", digest.hex() + "%", ("two",))
    with pytest.raises(signing.SignatureError, match="signature mismatch"):
        signing.verify_hub_signature(b"other", f"sha256={digest.hex()}", ("two",))
    signing.verify_shared_secret("two", ("one", "two"))
    with pytest.raises(signing.SignatureError, match="shared secret mismatch"):
        signing.verify_shared_secret("three", ("one", "two"))

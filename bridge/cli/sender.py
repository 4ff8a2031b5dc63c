"""``bridge send``: deliver an example payload to a running bridge the way its platform would.

Each platform authenticates differently (docs/platforms/<slug>.md). ``credentials`` turns a body
and the platform's secret into the headers and query a real delivery carries, for every scheme
that rests on a shared secret. Freshchat (an RSA key only Freshchat holds) and Bot Framework (a JWT
from Microsoft's identity platform) cannot be imitated: ``bridge parse`` checks their payloads
offline instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

from bridge.signing import sign_standard_webhook

UNSIGNABLE = {
    "freshchat": "Freshchat signs with an RSA key only Freshchat holds",
    "botframework": "Bot Framework sends a JWT from Microsoft's identity platform",
}


class CannotSign(ValueError):
    """This platform's deliveries cannot be imitated from a shared secret."""


def credentials(slug: str, body: bytes, secret: str, now: float | None = None
                ) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, query) of a delivery of ``body`` from platform ``slug`` signed with ``secret``."""
    if slug in UNSIGNABLE:
        raise CannotSign(f"{UNSIGNABLE[slug]}; check the payload offline with `bridge parse --source {slug} FILE`")
    stamp = int(time.time() if now is None else now)
    json_type = {"Content-Type": "application/json"}
    if slug in ("generic", "ada"):
        message_id = f"msg_{uuid.uuid4().hex[:24]}"
        signature = sign_standard_webhook(body, message_id, stamp, secret)
        prefix = "svix" if slug == "ada" else "webhook"
        return json_type | {f"{prefix}-id": message_id, f"{prefix}-timestamp": str(stamp),
                            f"{prefix}-signature": signature}, {}
    if slug == "intercom":
        digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        return json_type | {"X-Hub-Signature": f"sha1={digest}"}, {}
    if slug == "chatwoot":
        digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return json_type | {"X-Chatwoot-Signature": f"sha256={digest}", "X-Chatwoot-Timestamp": str(stamp),
                            "X-Chatwoot-Delivery": str(uuid.uuid4())}, {}
    if slug == "sunshine-conversations":
        return json_type | {"X-API-Key": secret}, {}
    if slug == "drift":
        return json_type | {"X-Verification-Token": secret}, {}
    if slug in ("crisp", "rasa", "botpress"):
        return json_type, {"key" if slug == "crisp" else "token": secret}
    if slug in ("dialogflow-cx", "amazon-lex-v2"):
        return json_type | {"X-Bridge-Token": secret}, {}
    raise CannotSign(f"no way to sign for {slug!r}")


def basic(user_password: str) -> str:
    """An ``Authorization`` value for HTTP basic (``user:password``), as Dialogflow CX or Rasa may send."""
    return "Basic " + base64.b64encode(user_password.encode()).decode()

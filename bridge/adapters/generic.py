"""The bridge's own format, for any bot that is not one of the supported platforms.

Body: ``handoff-event.v1.schema.json`` (docs/architecture.md). Authentication: Standard Webhooks
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``id.timestamp.body``), secret ``GENERIC_WEBHOOK_SECRET`` (``whsec_...``; comma list for rotation).
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge import signing
from bridge.adapters.base import Adapter, Inbound, MalformedPayload, Unauthorized, load_json, validate_event
from bridge.events import Event


class GenericAdapter(Adapter):
    slug = "generic"

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        try:
            signing.verify_standard_webhook(inbound.body, inbound.headers, secrets, inbound.now, tolerance)
        except signing.SignatureError as exc:
            raise Unauthorized(str(exc)) from None

    def parse(self, inbound: Inbound, max_depth: int = 64) -> list[Event]:
        data = load_json(inbound.body, max_depth)
        if not isinstance(data, dict):
            raise MalformedPayload("the body must be a JSON object")
        return [validate_event(data)]

"""What the vendor-event adapters (Zendesk, Jira) share with the chatbot ones, and where they differ.

The shape is the chatbots' (``bridge.adapters.base.Adapter``): ``verify`` an ``Inbound``, ``decode``
its body (depth-limited), read its ``event_type``, look the type up in an explicit ``handlers``
registry and call ``handler(subject, Delivery)``. What comes out is not an ``Event`` but typed
changes (``bridge.adapters.vendor.changes``): vendor JSON stops here, the loop sees only those.

Two things differ from a chatbot. The request path only verifies, decodes and stores the delivery
(``delivery_id``, ``stored_type``); ``parse`` runs in the worker over the stored body. And every
delivery past the signature is answered 2xx, so what cannot be applied is not an HTTP error but a
``result`` on the stored row: ``NotJSON`` / ``NotAnObject`` (``invalid_json``, ``invalid_payload``),
``UnsupportedEvent`` (``unsupported_event``) and ``Ignored`` (its own result, e.g. ``no_ticket``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from bridge.adapters import jsonsafe
from bridge.adapters.base import Delivery, Inbound, MalformedPayload, UnsupportedEvent
from bridge.adapters.vendor.changes import Change


class NotJSON(MalformedPayload):
    code = "invalid_json"


class NotAnObject(MalformedPayload):
    code = "invalid_payload"


class Ignored(Exception):
    """A well-formed delivery with nothing to apply; ``result`` is recorded on its row."""

    def __init__(self, result: str) -> None:
        super().__init__(result)
        self.result = result


# Every vendor event handler has this one signature, like the chatbots' ``Handler``.
VendorHandler = Callable[[dict[str, Any], Delivery], list[Change]]


class VendorAdapter:
    """Base class; subclasses set ``source`` and ``handlers`` and implement ``verify``,
    ``event_type`` and ``delivery_id``."""

    source: ClassVar[str] = ""
    handlers: ClassVar[Mapping[str, VendorHandler]] = {}

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        """Raise ``bridge.adapters.base.Unauthorized`` with the reason (logged, never answered)."""
        raise NotImplementedError

    def decode(self, inbound: Inbound, max_depth: int = 64) -> dict[str, Any]:
        try:
            body = jsonsafe.loads(inbound.body, max_depth)
        except jsonsafe.JSONError as exc:
            raise NotJSON(str(exc)) from None
        if not isinstance(body, dict):
            raise NotAnObject("the body must be a JSON object")
        return body

    def event_type(self, body: dict[str, Any]) -> str:
        """The type to dispatch on."""
        raise NotImplementedError

    def stored_type(self, body: dict[str, Any]) -> str:
        """The type recorded with the stored delivery (``vendor_events.event_type``)."""
        return self.event_type(body)

    def delivery_id(self, inbound: Inbound, body: dict[str, Any]) -> str:
        """The key that makes a repeat of the same delivery a duplicate."""
        raise NotImplementedError

    def handler(self, kind: str) -> VendorHandler:
        found = self.handlers.get(kind)
        if found is None:
            raise UnsupportedEvent(kind)
        return found

    def parse(self, inbound: Inbound, max_depth: int = 64) -> list[Change]:
        body = self.decode(inbound, max_depth)
        kind = self.event_type(body)
        return self.handler(kind)(body, Delivery(inbound, body, kind))

"""The bridge's own format, for any bot that is not one of the supported platforms.

Body: ``handoff-event.v1.schema.json`` (docs/architecture.md). Authentication: Standard Webhooks
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``id.timestamp.body``), secret ``GENERIC_WEBHOOK_SECRET`` (``whsec_...``; comma list for rotation).

The schema lets senders add fields; the bridge keeps the whole body in the inbox for audit but uses
only the fields it knows. ``unknown_fields`` names the others (``evidence.console_errors``), so a
sender's typo is answered in the 202 (``"ignored": [...]``) instead of losing evidence silently.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from bridge import signing
from bridge.adapters.base import Adapter, Inbound, MalformedPayload, Unauthorized, load_json, validate_event
from bridge.events import Event

MAX_NAMED = 50  # a body made of thousands of unknown keys gets the first 50 named


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

    def ignored(self, inbound: Inbound, max_depth: int = 64) -> list[str]:
        try:
            data = load_json(inbound.body, max_depth)
        except MalformedPayload:
            return []
        return unknown_fields(data)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X | None``, ``list[X]`` or ``X`` (None for plain values and free dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def unknown_fields(data: Any, model: type[BaseModel] = Event, prefix: str = "") -> list[str]:
    """Dotted paths of the keys the canonical model does not know, in document order. Items of a list
    share one path (``conversation.messages[].mood``); free-form objects (``customer.attributes``)
    have no unknown keys."""
    found: list[str] = []
    if not isinstance(data, dict):
        return found
    for key, value in data.items():
        path = f"{prefix}{key}"
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if field is None:
            if path not in found:
                found.append(path)
            continue
        inner = _model_of(field.annotation)
        if inner is None:
            continue
        items = value if isinstance(value, list) else [value]
        suffix = "[]" if isinstance(value, list) else ""
        for item in items:
            for name in unknown_fields(item, inner, f"{path}{suffix}."):
                if name not in found:
                    found.append(name)
        if len(found) >= MAX_NAMED:
            break
    return found[:MAX_NAMED]


def suggestion(path: str, model: type[BaseModel] = Event) -> str | None:
    """The known field a misspelt one most likely meant (``evidence.console_errors`` →
    ``evidence.console_logs``), or None."""
    parts = path.replace("[]", "").split(".")
    current: type[BaseModel] | None = model
    for part in parts[:-1]:
        field = current.model_fields.get(part) if current else None
        current = _model_of(field.annotation) if field else None
        if current is None:
            return None
    known = list(current.model_fields) if current else []
    last = parts[-1].lower()
    close = [k for k in known if k.startswith(last) or last.startswith(k.split("_")[0] + "_")]
    close += difflib.get_close_matches(last, known, n=1, cutoff=0.6)
    if not close:
        return None
    return path.rsplit(".", 1)[0] + "." + close[0] if "." in path else close[0]

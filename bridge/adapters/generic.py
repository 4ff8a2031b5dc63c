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
import functools
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from bridge import signing
from bridge.adapters import jsonsafe
from bridge.adapters.base import (
    Adapter,
    Delivery,
    Handler,
    Inbound,
    InvalidPayload,
    MalformedPayload,
    Unauthorized,
    load_json,
    validate_event,
)
from bridge.events import Event

MAX_NAMED = 50  # a body made of thousands of unknown keys gets the first 50 named


def parse_event(data: dict[str, Any], d: Delivery) -> Event:
    d.inbound.memo["json"] = data  # read only from here on (validation does not change it)
    return validate_event(data)


EVENT_HANDLERS: dict[str, Handler] = {"event": parse_event}


class GenericAdapter(Adapter):
    slug = "generic"
    handlers = EVENT_HANDLERS

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        try:
            signing.verify_standard_webhook(inbound.body, inbound.headers, secrets, inbound.now, tolerance)
        except signing.SignatureError as exc:
            raise Unauthorized(str(exc)) from None

    def event_type(self, body: dict[str, Any]) -> str:
        # The body is the canonical event itself: its ``type`` is validated with the rest (422), so
        # there is one handler and no type of it is ever "unsupported".
        return "event"

    def parse(self, inbound: Inbound, max_depth: int = 64) -> list[Event]:
        """The event, read on the fast path when it can be (``fast_parse``), else as every adapter reads."""
        return fast_parse(self, inbound, max_depth) or super().parse(inbound, max_depth)

    def event_in_body(self, inbound: Inbound) -> bool:
        # Only a body the fast path took: jiter refused anything ``jsonsafe.loads`` would repair (a lone
        # surrogate, a byte order mark), so the standard parser reads exactly what was validated.
        return "unknown" in inbound.memo

    def ignored(self, inbound: Inbound, max_depth: int = 64) -> list[str]:
        if "unknown" in inbound.memo:
            return list(inbound.memo["unknown"])
        data = inbound.memo.get("json")
        if data is None:
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


@functools.lru_cache(maxsize=512)
def _field(model: type[BaseModel], key: str) -> tuple[bool, type[BaseModel] | None]:
    """Whether ``model`` has the field ``key``, and the model its value holds: worked out once per
    (model, key), not once per message of a long transcript."""
    found = model.model_fields.get(key)
    return (found is not None, _model_of(found.annotation) if found is not None else None)


def unknown_fields(data: Any, model: type[BaseModel] = Event, prefix: str = "") -> list[str]:
    """Dotted paths of the keys the canonical model does not know, in document order (the first
    ``MAX_NAMED``). Items of a list share one path (``conversation.messages[].mood``); free-form
    objects (``customer.attributes``) have no unknown keys."""
    found: dict[str, None] = {}  # ordered, and a repeat is one lookup however many were found
    _walk(data, model, prefix, found)
    return list(found)[:MAX_NAMED]


@functools.lru_cache(maxsize=64)
def _shape(model: type[BaseModel]) -> tuple[frozenset[str], dict[str, type[BaseModel]]]:
    """The field names of ``model``, and those of its fields that hold a model, worked out once."""
    nested = {key: inner for key in model.model_fields if (inner := _field(model, key)[1]) is not None}
    return frozenset(model.model_fields), nested


def _walk(data: Any, model: type[BaseModel], prefix: str, found: dict[str, None]) -> None:
    if not isinstance(data, dict):
        return
    known, nested = _shape(model)
    if data.keys() <= known:  # the usual object (every message of a long transcript): one set test
        inner = [key for key in nested if key in data]
        if not inner:
            return
        keys: Any = inner if len(inner) == 1 else [key for key in data if key in nested]
    else:
        keys = data
    for key in keys:
        value = data[key]
        known_key, inner_model = _field(model, key) if isinstance(key, str) else (False, None)
        if not known_key:
            found.setdefault(f"{prefix}{key}")
        elif inner_model is not None:
            items = value if isinstance(value, list) else [value]
            path = f"{prefix}{key}{'[]' if isinstance(value, list) else ''}."
            for item in items:
                _walk(item, inner_model, path, found)
                if len(found) >= MAX_NAMED:
                    return
        if len(found) >= MAX_NAMED:
            return


# The deepest container the schema itself allows (event.conversation.messages[].sources[] is 6): with a
# depth limit below it, a typed part could be too deep and only the exact path can tell.
TYPED_DEPTH = 8


def fast_parse(adapter: Adapter, inbound: Inbound, max_depth: int) -> list[Event] | None:
    """The event of a usual body without a Python pass over the transcript, or None: then the exact path
    (``Adapter.parse``) decides, with its reasons, whatever was wrong.

    jiter parses and refuses what strict JSON refuses but overflowing numbers and depth
    (``jsonsafe.fast_loads``); the handler's validation checks every typed field (a number that
    overflowed is inf, which no field takes: see tests/test_events_schema.py). What neither checked,
    the fields the schema does not know and the free-form ones (``customer.attributes``), is checked
    here for depth and infinity (``residue``), while naming the unknown ones. Any refusal on the way
    goes to the exact path: a body refused here is refused there with its 400 or 422 reason (a 400
    first, as always), and one accepted here is accepted there as the same event.
    """
    if max_depth < TYPED_DEPTH:
        return None
    data = jsonsafe.fast_loads(inbound.body)
    if type(data) is not dict:
        return None
    delivery = Delivery(inbound, data, "event")
    try:
        events = [adapter.handler("event")(adapter.subject(delivery), delivery)]
    except InvalidPayload:
        events = None
    unknown = residue(data, max_depth) if events else None
    if unknown is None:
        inbound.memo.pop("json", None)
        return None
    inbound.memo["unknown"] = unknown
    return events


@functools.lru_cache(maxsize=64)
def _free(model: type[BaseModel]) -> frozenset[str]:
    """Fields of ``model`` whose value no schema checks (``dict[str, Any]``)."""
    return frozenset(key for key, field in model.model_fields.items() if _holds_any(field.annotation))


def _holds_any(annotation: Any) -> bool:
    return annotation is Any or any(_holds_any(arg) for arg in typing.get_args(annotation))


def residue(data: dict[str, Any], max_depth: int, model: type[BaseModel] = Event) -> list[str] | None:
    """For a body ``model`` validated: ``unknown_fields(data)``, or None when a part no schema checked
    (an unknown field's value, a free-form field) is deeper than ``max_depth`` or holds an infinite
    number. Objects with neither unknown keys nor model-holding keys present are skipped by one set
    test each, so the usual transcript costs a pass in C, not a walk in Python."""
    found: dict[str, None] = {}
    return list(found)[:MAX_NAMED] if _residue(data, model, "", 1, max_depth, found) else None


def _residue(data: dict[str, Any], model: type[BaseModel], prefix: str, depth: int, max_depth: int,
             found: dict[str, None]) -> bool:
    known, nested = _shape(model)
    free = _free(model)
    for key in data:  # document order, as unknown_fields names them
        value = data[key]
        if key not in known:
            if len(found) < MAX_NAMED:
                found.setdefault(f"{prefix}{key}")
            if not jsonsafe.untyped_ok(value, depth + 1, max_depth):
                return False
        elif key in free:
            if not jsonsafe.untyped_ok(value, depth + 1, max_depth):
                return False
        elif key in nested and value is not None:
            inner = nested[key]
            if isinstance(value, list):
                path = f"{prefix}{key}[]."
                inner_known, inner_nested = _shape(inner)
                look = inner_nested.keys() | _free(inner)
                # Validated: every item is an object of ``inner``. Only those with a key it does not
                # know, or one holding more to look at, need a visit; the keys of all of them at once
                # (one union, in C) usually show there are none.
                every = set().union(*value)
                if every <= inner_known and look.isdisjoint(every):
                    continue
                for item in [i for i in value if not (i.keys() <= inner_known and look.isdisjoint(i))]:
                    if not _residue(item, inner, path, depth + 2, max_depth, found):
                        return False
            elif not _residue(value, inner, f"{prefix}{key}.", depth + 1, max_depth, found):
                return False
    return True


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

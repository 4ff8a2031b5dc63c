"""The package's models and the published JSON Schema accept and reject the same documents."""

from __future__ import annotations

import copy
import json
import math
import typing
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from bridge.events import Event
from tests.helpers import EVENT_SCHEMA_FILE, generic_event

SCHEMA = json.loads(EVENT_SCHEMA_FILE.read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = generic_event(event_id="evt-1")
    doc["evidence"] = {"screenshots": [{"kind": "screenshot", "url": "https://x.example/s.png"}]}
    doc["occurred_at"] = "2026-11-28T10:00:00Z"
    target: Any = doc
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is DELETE:
        del target[int(last) if last.isdigit() else last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return doc


DELETE = object()

VALID = [
    generic_event(event_id="evt-a"),
    _with("occurred_at", "2026-11-28T10:00:00+02:00"),
    _with("conversation.messages.1.confidence", 0),
    _with("conversation.messages.1.confidence", 1),
    _with("customer.account", {"mrr": 1200.5, "renewal_date": "2027-01-31", "sla": "premium-1h"}),
    _with("customer.attributes", {"anything": [1, {"x": None}]}),
    _with("evidence.screenshots.0.size_bytes", 3.0),
    _with("unknown_extra", {"ignored": True}),
    _with("type", "conversation.closed"),
    _with("conversation.messages", []),
]

INVALID = [
    _with("event_id", ""),
    _with("event_id", 42),
    _with("event_id", DELETE),
    _with("type", "handoff.maybe"),
    _with("conversation.id", ""),
    _with("conversation", DELETE),
    _with("conversation.messages", DELETE),
    _with("conversation.messages.0.role", "robot"),
    _with("conversation.messages.0.text", None),
    _with("conversation.messages.1.confidence", 1.5),
    _with("conversation.messages.1.confidence", "0.4"),
    _with("occurred_at", "yesterday"),
    _with("occurred_at", "2026-11-28"),
    _with("customer.email", "x" * 321),
    _with("customer.account", {"mrr": "lots"}),
    _with("customer.account", {"renewal_date": "31/01/2027"}),
    _with("schema_version", 2),
    _with("evidence.screenshots.0.kind", "gif"),
    _with("evidence.screenshots.0.size_bytes", -1),
    _with("evidence.screenshots", [{}] * 21),
    _with("handoff", {"requested_by": "manager"}),
    _with("customer.attributes", "not an object"),
]


def pydantic_accepts(doc: dict[str, Any]) -> bool:
    try:
        Event.from_json(copy.deepcopy(doc))
        return True
    except ValidationError:
        return False


@pytest.mark.parametrize("doc", VALID)
def test_both_accept(doc: dict[str, Any]) -> None:
    assert VALIDATOR.is_valid(doc)
    assert pydantic_accepts(doc)


@pytest.mark.parametrize("doc", INVALID)
def test_both_reject(doc: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(doc)
    assert not pydantic_accepts(doc)


def test_own_triage_conversations_are_valid_events() -> None:
    files = sorted((EVENT_SCHEMA_FILE.parent / "triage" / "conversations").glob("*.json"))
    assert files
    for path in files:
        doc = json.loads(path.read_text())
        assert VALIDATOR.is_valid(doc), path.name
        assert pydantic_accepts(doc), path.name


def test_round_trip_keeps_the_generic_shape() -> None:
    doc = _with("occurred_at", "2026-11-28T10:00:00Z")
    out = Event.from_json(doc).to_json()
    assert VALIDATOR.is_valid(out)
    assert out["conversation"]["messages"][0]["text"] == doc["conversation"]["messages"][0]["text"]
    assert "partial" not in out["conversation"]


def _float_fields(model: type[BaseModel], prefix: str = "", seen: frozenset[type] = frozenset()) -> list[tuple]:
    """(dotted path, model, field name) of every float field in the event's model tree."""
    from bridge.adapters.generic import _model_of

    out: list[tuple] = []
    for name, field in model.model_fields.items():
        args = {field.annotation, *typing.get_args(field.annotation)}
        if float in args:
            out.append((prefix + name, model, name))
        inner = _model_of(field.annotation)
        if inner is not None and inner not in seen:
            out += _float_fields(inner, f"{prefix}{name}.", seen | {model})
    return out


def test_every_float_field_of_the_event_refuses_infinity() -> None:
    """The webhook's fast path (bridge/adapters/generic.py) leaves a number that overflows (1e999, read
    as inf) to the schema wherever a field is typed: a float field taking inf would let it through."""
    fields = _float_fields(Event)
    assert {path for path, _, _ in fields} >= {"conversation.messages.confidence", "customer.account.mrr",
                                               "evidence.network_requests.duration_ms"}
    for path, model, name in fields:
        for value in (math.inf, -math.inf):
            with pytest.raises(ValidationError):
                model.model_validate({name: value, **_required(model)})
            assert path


def _required(model: type[BaseModel]) -> dict[str, Any]:
    return {"role": "customer", "text": "x"} if model.__name__ == "Message" else {}

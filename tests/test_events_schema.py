"""The package's models and the published JSON Schema accept and reject the same documents."""

from __future__ import annotations

import copy
import json
import math
import re
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from bridge.events import DATETIME_MESSAGE, Event
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


_RFC3339_REFERENCE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _reference_datetime(value: Any) -> datetime:
    """The Python validator the date-time fields had before they were checked inside pydantic-core."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339_REFERENCE.match(value):
        raise ValueError("not RFC 3339")
    return datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "zZ" else value)


DATETIME_CASES: list[Any] = [
    "2026-11-28T10:00:00Z", "2026-11-28t10:00:00z", "2026-11-28 10:00:00+02:00", "2026-11-28T10:00:00-05:30",
    "2026-11-28T10:00:00.123456789Z", "2026-11-28T10:00:00.1Z", "2026-11-28T10:00:00.9999995Z",
    "2026-11-28T10:00:00.000000Z", "2026-11-28T10:00:00-00:00", "2026-11-28T10:00:00+23:59", "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z", "2024-02-29T12:00:00Z",
    # refused by both
    "2026-11-28T23:59:60Z", "2026-02-30T10:00:00Z", "2025-02-29T10:00:00Z", "2026-11-28T24:00:00Z",
    "2026-11-28T10:60:00Z", "2026-13-01T10:00:00Z", "0000-01-01T00:00:00Z", "2026-11-28T10:00:00+24:00",
    "2026-11-28T10:00:00+0200", "2026-11-28T10:00Z", "2026-11-28T10:00:00", "2026-11-28", "1700000000",
    "2026-11-28T10:00:00.Z", "2026-11-28T10:00:00,5Z", "\uff12\uff10\uff12\uff16-11-28T10:00:00Z",
    "2026-11-28T10:00:00Z\n", " 2026-11-28T10:00:00Z", "2026-11-28T10:00:00+02:00:00", "2026-11-28X10:00:00Z",
    "20261128T100000Z", "", 1700000000, 1.5, True, ["2026-11-28T10:00:00Z"],
    datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=-3))),
]


@pytest.mark.parametrize("value", DATETIME_CASES, ids=repr)
def test_date_times_are_read_as_the_python_validator_read_them(value: Any) -> None:
    """``occurred_at`` and ``sent_at`` are checked inside pydantic-core (bridge/events.py): the same
    strings are accepted, giving the same instant and the same JSON, and the rest refused with the
    same reason."""
    try:
        expected: datetime | None = _reference_datetime(value)
    except ValueError:
        expected = None
    doc = _with("occurred_at", value)
    doc["conversation"]["messages"][0]["sent_at"] = value
    if expected is None:
        with pytest.raises(ValidationError) as refused:
            Event.from_json(doc)
        reasons = {(err["loc"][-1], err["msg"]) for err in refused.value.errors()}
        assert reasons == {("occurred_at", DATETIME_MESSAGE), ("sent_at", DATETIME_MESSAGE)}
        return
    event = Event.from_json(doc)
    for got in (event.occurred_at, event.conversation.messages[0].sent_at):
        assert got == expected and got.utcoffset() == expected.utcoffset()
        assert got.isoformat() == expected.isoformat()
    dumped = event.to_json()
    reference = Event.from_json(_with("occurred_at", expected)).to_json()
    assert dumped["occurred_at"] == reference["occurred_at"]
    assert VALIDATOR.is_valid(dumped)

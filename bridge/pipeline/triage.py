"""``bridge triage``: run the trigger engine incrementally over a saved conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.adapters import ADAPTERS
from bridge.adapters.base import AdapterError, Inbound, UnsupportedEvent, load_json, validate_event
from bridge.events import Event
from bridge.pipeline import transcript
from bridge.pipeline.trigger_config import TriggerConfig
from bridge.pipeline.triggers import evaluate_incrementally


def load_events(path: Path, source: str | None) -> list[Event]:
    body = path.read_bytes()
    if source and source != "generic":
        adapter = ADAPTERS.get(source)
        if adapter is None:
            raise ValueError(f"unknown source {source!r}")
        try:
            return adapter.parse(Inbound(body=body, headers={}))
        except (AdapterError, UnsupportedEvent) as exc:
            raise ValueError(str(exc)) from None
    try:
        return [validate_event(load_json(body))]
    except AdapterError as exc:
        raise ValueError(str(exc)) from None


def triage_file(path: Path, source: str | None = None, config: TriggerConfig | None = None) -> dict[str, Any]:
    """One line of ``bridge triage``: the engine fed the file's conversation message by message."""
    events = load_events(path, source)
    if not events:
        raise ValueError("no event in this file")
    merged: Event | None = None
    for event in events:  # a platform payload may carry several events of one conversation
        merged = transcript.merge(merged, event)
    assert merged is not None
    decision = evaluate_incrementally(merged, config)
    return {
        "file": path.name,
        "escalate": decision.escalate,
        "triggers": decision.trigger_ids,
        "at_message": decision.at_message,
    }

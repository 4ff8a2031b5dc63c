"""Saved payloads read from disk (``bridge triage``, ``bridge package``): a file's events, parsed by
its platform's adapter (or as a generic event), and its conversation as one merged event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.adapters import ADAPTERS
from bridge.adapters.base import AdapterError, Inbound, UnsupportedEvent, load_json, validate_event
from bridge.events import Event
from bridge.pipeline import llm_judge, transcript
from bridge.pipeline.triage import triage_line
from bridge.pipeline.trigger_config import TriggerConfig


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


def load_conversation(path: Path, source: str | None = None) -> Event:
    """The file's conversation as one merged event (a platform payload may carry several)."""
    events = load_events(path, source)
    if not events:
        raise ValueError("no event in this file")
    merged: Event | None = None
    for event in events:
        merged = transcript.merge(merged, event)
    assert merged is not None
    return merged


def triage_file(
    path: Path, source: str | None = None, config: TriggerConfig | None = None,
    judge: llm_judge.JudgeOptions | None = None,
) -> dict[str, Any]:
    """One line of ``bridge triage``: the engine fed the file's conversation message by message."""
    return triage_line(path.name, load_conversation(path, source), config, judge)

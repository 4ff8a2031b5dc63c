"""``bridge triage``: run the trigger engine incrementally over a saved conversation.

With ``judge`` options whose mode is ``llm`` or ``both`` (and a key), the LLM judge is asked where it
applies (see ``bridge.pipeline.llm_judge``); the line then says which judge decided and, when the LLM's
answer was not used, why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.adapters import ADAPTERS
from bridge.adapters.base import AdapterError, Inbound, UnsupportedEvent, load_json, validate_event
from bridge.events import Event
from bridge.pipeline import llm_judge, transcript
from bridge.pipeline.trigger_config import TriggerConfig
from bridge.pipeline.triggers import decide


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


def judge_event(
    event: Event, config: TriggerConfig | None = None, judge: llm_judge.JudgeOptions | None = None,
    call: llm_judge.Call | None = None,
) -> llm_judge.Outcome:
    """The local judge's decision, then the LLM judge's where ``judge`` makes it apply."""
    local = decide(event, config)
    if judge is None:
        return llm_judge.Outcome(local)
    return llm_judge.run(event, local, judge, call=call)


def triage_file(
    path: Path, source: str | None = None, config: TriggerConfig | None = None,
    judge: llm_judge.JudgeOptions | None = None,
) -> dict[str, Any]:
    """One line of ``bridge triage``: the engine fed the file's conversation message by message."""
    outcome = judge_event(load_conversation(path, source), config, judge)
    decision = outcome.decision
    line: dict[str, Any] = {
        "file": path.name,
        "escalate": decision.escalate,
        "triggers": decision.trigger_ids,
        "at_message": decision.at_message,
    }
    if judge is not None and judge.mode != "local":
        line["judge"] = decision.judge
        if outcome.error:
            line["llm_error"] = outcome.error
        if outcome.voided:
            line["voided"] = list(outcome.voided)
        line["evidence"] = [hit.to_json() for hit in decision.triggers]
    return line

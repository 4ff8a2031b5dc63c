"""``bridge triage``: run the trigger engine incrementally over a conversation (pure: the file is read
by ``bridge.adapters.files``).

With ``judge`` options whose mode is ``llm`` or ``both`` (and a key), the LLM judge is asked where it
applies (see ``bridge.pipeline.llm_judge``); the line then says which judge decided and, when the LLM's
answer was not used, why.
"""

from __future__ import annotations

from typing import Any

from bridge.events import Event
from bridge.pipeline import llm_judge
from bridge.pipeline.trigger_config import TriggerConfig
from bridge.pipeline.triggers import decide


def judge_event(
    event: Event, config: TriggerConfig | None = None, judge: llm_judge.JudgeOptions | None = None,
    call: llm_judge.Call | None = None,
) -> llm_judge.Outcome:
    """The local judge's decision, then the LLM judge's where ``judge`` makes it apply."""
    local = decide(event, config)
    if judge is None:
        return llm_judge.Outcome(local)
    return llm_judge.run(event, local, judge, call=call)


def triage_line(
    name: str, event: Event, config: TriggerConfig | None = None, judge: llm_judge.JudgeOptions | None = None,
) -> dict[str, Any]:
    """One line of ``bridge triage`` for the conversation of file ``name``, fed message by message
    (``bridge.adapters.files.triage_file`` reads the file)."""
    outcome = judge_event(event, config, judge)
    decision = outcome.decision
    line: dict[str, Any] = {
        "file": name,
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

"""The LLM judge: a second opinion on whether and when a conversation must go to a human.

It is asked only where it can help: the judge is ``llm`` or ``both`` (``BRIDGE_JUDGE``, or
``bridge triage --judge``), ``OPENAI_API_KEY`` is set, and the local judge is uncertain
(``Decision.uncertain``) or the bot itself hands off (``handoff.requested``). The model reads the
redacted transcript (messages numbered 1..n with their roles, bot confidences, the hand-off reason)
and answers, in a strict JSON schema, the triggers it sees with a verbatim quote each, and the message
after which a good support lead steps in. A quote that is not in the redacted transcript (whitespace
and case aside) voids its trigger: the model cannot escalate on words nobody wrote. When the call
fails, times out or answers garbage, the local verdict stands.

Combining (``mode``):

- ``llm``: the LLM's verdict when it answered, the local one otherwise. A hand-off always escalates:
  when none of the LLM's triggers survives its quote check on a hand-off, the local verdict stands.
- ``both``: escalate if either judge does, at the earlier of their messages, with the union of their
  triggers (the LLM's quotes as evidence; local evidence for triggers only the local judge found).

``bot_handoff`` stays a fallback in every combination: dropped when another trigger explains it.

What is asked and what is taken from the answer are in ``bridge.pipeline.judge_prompt`` (pure).
This module holds the options, the cache and the run: pure apart from the injected ``call`` (the
request; ``bridge.pipeline.llm.chat_json`` by default, the
one client with its timeout, single retry and loopback-only http) and the cache. Answers are cached
by prompt version, model and redacted transcript, in memory and as JSON files under
``<BRIDGE_DATA_DIR>/cache/judge/``, so each conversation update is asked about at most once; failures
are remembered in memory for a few minutes so a retried job does not wait out the same timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.config import Settings
from bridge.events import Decision, Event
from bridge.pipeline.judge_prompt import SCHEMA, JudgeError, build_prompt, cache_key, combine, parse_answer
from bridge.pipeline.llm_cache import AnswerCache

log = logging.getLogger("bridge.pipeline.llm_judge")

DEFAULT_MODEL = "gpt-4o-mini"
MODES = ("local", "llm", "both")
MAX_TIMEOUT = 15.0

Call = Callable[[list[dict[str, str]], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class JudgeOptions:
    mode: str = "local"
    api_key: str = ""
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    timeout: float = MAX_TIMEOUT
    threshold: float = 0.5  # low confidence, as the local judge reads it (BRIDGE_LOW_CONFIDENCE_THRESHOLD)
    cache_dir: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.mode in ("llm", "both") and bool(self.api_key)

    def applies(self, event: Event, local: Decision) -> bool:
        """Whether the LLM is asked about this conversation as it stands."""
        return self.enabled and (local.uncertain or event.type == "handoff.requested")


def options_from_settings(settings: Settings, mode: str | None = None) -> JudgeOptions:
    """``mode`` overrides ``BRIDGE_JUDGE`` (the CLI's ``--judge``); unknown modes mean local."""
    chosen = (mode or settings.judge_mode).strip().lower()
    openai, threshold = settings.openai, settings.low_confidence_threshold
    return JudgeOptions(
        mode=chosen if chosen in MODES else "local",
        api_key=openai.api_key,
        model=openai.model or DEFAULT_MODEL,
        base_url=openai.base_url,
        timeout=max(0.1, min(MAX_TIMEOUT if openai.timeout is None else openai.timeout, MAX_TIMEOUT)),
        threshold=0.5 if threshold is None else threshold,
        cache_dir=settings.data_dir / "cache" / "judge",
    )


# --- cache ----------------------------------------------------------------------------------------

def _answer(data: object) -> dict[str, Any] | None:
    return data if isinstance(data, dict) else None


class JudgeCache(AnswerCache[dict[str, Any]]):
    """Checked-shape answers of the judge by key (transcript, model, endpoint, prompt version)."""

    def __init__(self, size: int = 512, failure_ttl: float = 300.0) -> None:
        super().__init__(_answer, dict, size, failure_ttl)


CACHE = JudgeCache()


# --- the judge ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    decision: Decision
    asked: bool = False  # the LLM judge applied (asked now, or answered from the cache)
    cached: bool = False
    error: str | None = None  # why its answer is not used, when it is not (no content)
    voided: tuple[str, ...] = field(default_factory=tuple)


def default_call(options: JudgeOptions) -> Call:
    def call(messages: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
        from bridge.pipeline import llm  # lazily: the openai package loads only when used

        return llm.chat_json(api_key=options.api_key, base_url=options.base_url, model=options.model,
                             messages=messages, schema=schema, timeout=options.timeout, retries=1,
                             name="triage_verdict")

    return call


def _why(exc: Exception) -> str:
    if isinstance(exc, JudgeError):
        return f"LLM judge answer unusable ({exc}); local judge decides"
    if type(exc).__name__ == "LLMError":
        return f"LLM judge unavailable ({exc}); local judge decides"
    return f"LLM judge failed ({type(exc).__name__}); local judge decides"


def run(event: Event, local: Decision, options: JudgeOptions, *, call: Call | None = None,
        cache: JudgeCache = CACHE) -> Outcome:
    """The decision of ``options.mode`` for ``event``, given the local judge's; never raises for the LLM."""
    if not options.applies(event, local):
        return Outcome(local)
    prompt = build_prompt(event, options.threshold)
    key = cache_key(prompt, options.model)
    data = cache.get(key, options.cache_dir)
    cached = data is not None
    if data is None:
        if (reason := cache.failed(key)) is not None:
            return Outcome(local, asked=True, error=reason)
        try:
            data = (call or default_call(options))(prompt.messages, SCHEMA)
            verdict = parse_answer(data, prompt)
        except Exception as exc:  # noqa: BLE001 - the local judge decides whatever went wrong
            reason = _why(exc)
            cache.fail(key, reason)
            log.warning("bridge.judge.llm_failed", extra={"reason": reason})
            return Outcome(local, asked=True, error=reason)
        cache.put(key, data, options.cache_dir)
    else:
        try:
            verdict = parse_answer(data, prompt)
        except JudgeError as exc:
            return Outcome(local, asked=True, cached=True, error=_why(exc))
    decision = combine(local, verdict, options.mode, handoff=event.type == "handoff.requested")
    return Outcome(decision, asked=True, cached=cached, voided=verdict.voided)


def judge(event: Event, local: Decision, options: JudgeOptions, *, call: Call | None = None,
          cache: JudgeCache = CACHE) -> Decision:
    """``run`` without the bookkeeping: the decision alone."""
    return run(event, local, options, call=call, cache=cache).decision

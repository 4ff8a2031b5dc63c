"""The LLM summary of a handoff, asked by the worker (network and disk I/O: not in the pipeline).

``summarize`` calls the LLM only when ``OPENAI_API_KEY`` is set, on the redacted prompt
``bridge.pipeline.summary.build_prompt`` makes, and falls back to the extractive summary on any
failure: the handoff never fails because of the summary.

Cache: LLM results are kept per case in a small in-process LRU and, when a data directory is
given, as JSON files under ``<BRIDGE_DATA_DIR>/cache/summary/`` so separate RQ worker processes on
one machine share them. The key hashes case id, model, endpoint and the redacted prompt, so a
transcript that grew gets a fresh summary. Failures are remembered in memory for a few minutes so
the case's later delivery steps do not each wait out the same timeout.
"""

from __future__ import annotations

import hashlib
import json

from bridge.config import Settings
from bridge.events import Decision, Event, Summary
from bridge.pipeline.llm_cache import AnswerCache
from bridge.pipeline.summary import DEFAULT_MODEL, PROMPT_VERSION, SCHEMA, build_prompt, extractive_summary, from_llm


def _summary(data: object) -> Summary:
    return Summary.model_validate(data, strict=False)


class SummaryCache(AnswerCache[Summary]):
    """LLM summaries by key (case, model, endpoint, redacted prompt)."""

    def __init__(self, size: int = 256, failure_ttl: float = 300.0) -> None:
        super().__init__(_summary, Summary.to_json, size, failure_ttl)


CACHE = SummaryCache()


def _timeout(settings: Settings) -> float:
    value = settings.openai.timeout
    return max(0.1, min(15.0 if value is None else value, 15.0))


def summarize(
    event: Event,
    decision: Decision,
    settings: Settings,
    *,
    case_id: str | None = None,
    cache: SummaryCache = CACHE,
) -> Summary:
    """The package summary. Network I/O only when OPENAI_API_KEY is set; never raises for the LLM."""
    fallback = extractive_summary(event, decision)
    api_key = settings.openai.api_key
    if not api_key:
        return fallback
    from bridge.pipeline import llm  # imported lazily: the openai package loads only when used

    model = settings.openai.model or DEFAULT_MODEL
    base_url = settings.openai.base_url
    messages, redactor = build_prompt(event, decision)
    identity = json.dumps([PROMPT_VERSION, case_id or event.conversation.id, model, base_url, messages])
    key = hashlib.sha256(identity.encode()).hexdigest()[:40]
    directory = settings.data_dir / "cache" / "summary"
    cached = cache.get(key, directory)
    if cached is not None:
        return cached
    if (reason := cache.failed(key)) is not None:
        return fallback.model_copy(update={"note": reason})
    try:
        data = llm.chat_json(
            api_key=api_key, base_url=base_url, model=model, messages=messages, schema=SCHEMA,
            timeout=_timeout(settings), retries=1,
        )
        summary = from_llm(data, fallback, model, redactor.counts)
    except llm.LLMError as exc:
        reason = f"LLM summary unavailable ({exc}); extractive summary used"
    except Exception as exc:  # noqa: BLE001 - the handoff must not fail because of the summary
        reason = f"LLM summary unusable ({type(exc).__name__}); extractive summary used"
    else:
        cache.put(key, summary, directory)
        return summary
    cache.fail(key, reason)
    return fallback.model_copy(update={"note": reason, "redacted": redactor.counts})

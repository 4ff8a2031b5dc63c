"""The one place that talks to an OpenAI-compatible API (the only module importing ``openai``).

SDK defaults do not fit a queue worker (600 s timeout, 2 retries that honour ``Retry-After`` up
to 60 s, all sleeping inside the job), so the client is built with ``max_retries=0`` and the one
retry we allow happens here, only for transport-level failures, inside a hard time budget.
A malformed answer is not retried: the caller falls back (to the extractive summary, or to the
local trigger judge) instead.
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai

MAX_TIMEOUT = 15.0
RETRYABLE = (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)


class LLMError(Exception):
    """The call failed or answered something unusable; the message is safe to log (no content)."""


def chat_json(
    *,
    api_key: str,
    model: str,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    base_url: str | None = None,
    timeout: float = MAX_TIMEOUT,
    retries: int = 1,
    name: str = "handoff_summary",
) -> dict[str, Any]:
    """One structured-output chat completion; returns the parsed JSON object or raises LLMError."""
    timeout = min(timeout, MAX_TIMEOUT)
    client = openai.OpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)
    try:
        for attempt in range(retries + 1):
            try:
                response = client.chat.completions.create(
                    model=model,
                    messages=messages,  # type: ignore[arg-type]
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": name, "strict": True, "schema": schema},
                    },
                    temperature=0,
                )
                break
            except RETRYABLE as exc:
                if attempt >= retries:
                    raise LLMError(f"{type(exc).__name__} after {attempt + 1} attempts") from None
                time.sleep(0.2)
            except openai.OpenAIError as exc:
                raise LLMError(type(exc).__name__) from None
    finally:
        client.close()
    try:
        choice = response.choices[0]
        content = choice.message.content
    except (AttributeError, IndexError, TypeError):
        raise LLMError("response has no choices") from None
    if getattr(choice.message, "refusal", None):
        raise LLMError("model refused")
    if not isinstance(content, str):
        raise LLMError("response has no text content")
    try:
        data = json.loads(content)
    except ValueError:
        raise LLMError("response content is not JSON") from None
    if not isinstance(data, dict):
        raise LLMError("response JSON is not an object")
    return data

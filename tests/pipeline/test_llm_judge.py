"""The LLM judge against a local OpenAI-compatible stub (``tests/openai_stub.py``): when it is asked,
what it is sent, how its quotes are checked, and that the local judge decides whenever it fails."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.config import ConfigError, Settings
from bridge.events import Decision, Event, TriggerHit
from bridge.pipeline import judge_prompt, llm_judge
from bridge.pipeline.judge_prompt import SCHEMA, Prompt, build_prompt, parse_answer
from bridge.pipeline.llm_judge import JudgeCache, JudgeOptions
from tests.helpers import generic_event
from tests.openai_stub import Reply, Stub, running_stub


@pytest.fixture
def stub() -> Iterator[Stub]:
    with running_stub() as state:
        yield state


MESSAGES = [
    {"role": "customer", "text": "Hi, invoice INV-2231 shows Pro twice this month. Mail me at ana@example.com"},
    {"role": "bot", "text": "Duplicate lines usually mean two workspaces. See Settings → Billing.", "confidence": 0.46},
    {"role": "customer", "text": "There is only one workspace.  I was charged TWICE, I want a refund for the extra."},
    {"role": "bot", "text": "I understand. Is there anything else?", "confidence": 0.81},
]
UNCERTAIN = Decision(escalate=False, uncertain=True)
LOCAL_BUG = Decision(escalate=True, at_message=3, uncertain=True,
                     triggers=[TriggerHit(trigger="product_bug", message_index=3, evidence="charged TWICE")])
REFUND = {"id": "billing_exception", "message": 3, "quote": "i was  charged twice, I want a refund"}


def event(messages: list[dict[str, Any]] | None = None, type_: str = "conversation.updated", **extra: Any) -> Event:
    return Event.from_json(generic_event(messages=messages or MESSAGES, type_=type_, **extra))


def options(tmp_path: Path, stub: Stub | None, mode: str = "llm", **env: str) -> JudgeOptions:
    extra = {"OPENAI_API_KEY": "sk-test-key-for-the-stub", "OPENAI_MODEL": "stub-model", "OPENAI_TIMEOUT": "2",
             "BRIDGE_JUDGE": mode, **({"OPENAI_BASE_URL": stub.url} if stub else {}), **env}
    return llm_judge.options_from_settings(Settings(data_dir=tmp_path / "var", extra=extra))


def sent_payload(stub: Stub, index: int = 0) -> dict[str, Any]:
    user = stub.requests[index]["json"]["messages"][1]["content"]
    return json.loads(user.split("\n", 1)[1])  # type: ignore[no-any-return]


def test_a_valid_answer_decides_and_the_request_is_redacted_and_structured(tmp_path: Path, stub: Stub) -> None:
    stub.answer(triggers=[REFUND], at_message=4)
    outcome = llm_judge.run(event(), UNCERTAIN, options(tmp_path, stub), cache=JudgeCache())
    decision = outcome.decision
    assert decision.escalate and decision.judge == "llm" and decision.at_message == 4
    assert decision.trigger_ids == ["billing_exception"]
    assert decision.triggers[0].message_index == 3 and "charged twice" in decision.triggers[0].evidence
    assert outcome.asked and not outcome.cached and outcome.error is None
    body = stub.requests[0]["json"]
    assert stub.requests[0]["path"] == "/v1/chat/completions" and body["model"] == "stub-model"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "triage_verdict"
    assert fmt["json_schema"]["strict"] is True and fmt["json_schema"]["schema"] == SCHEMA
    system = body["messages"][0]["content"]
    assert "untrusted" in system and "customer_requested_human" in system and "prefix by prefix" in system
    payload = sent_payload(stub)
    assert [(m["n"], m["role"]) for m in payload["messages"]] == [(1, "customer"), (2, "bot"), (3, "customer"),
                                                                  (4, "bot")]
    assert payload["messages"][1]["confidence"] == 0.46 and "confidence" not in payload["messages"][0]
    assert payload["low_confidence_threshold"] == 0.5 and payload["handoff"] is None
    assert "ana@example.com" not in json.dumps(body) and "[EMAIL_1]" in payload["messages"][0]["text"]


def test_the_handoff_reason_is_sent_and_quotable(tmp_path: Path, stub: Stub) -> None:
    handoff = event(type_="handoff.requested", handoff={"requested_by": "bot", "reason": "Account takeover suspected"})
    local = Decision(escalate=True, at_message=4, triggers=[TriggerHit(trigger="bot_handoff", message_index=4)])
    stub.answer(triggers=[{"id": "bot_handoff", "message": 4, "quote": "account takeover suspected"}], at_message=4)
    decision = llm_judge.judge(handoff, local, options(tmp_path, stub), cache=JudgeCache())
    assert sent_payload(stub)["handoff"] == {"requested_by": "bot", "reason": "Account takeover suspected",
                                             "topic": ""}
    assert decision.judge == "llm" and decision.trigger_ids == ["bot_handoff"]


def test_a_quote_not_in_the_transcript_voids_its_trigger(tmp_path: Path, stub: Stub) -> None:
    invented = {"id": "negative_sentiment", "message": 3, "quote": "this is the worst service ever"}
    stub.answer(triggers=[invented, REFUND], at_message=3)
    outcome = llm_judge.run(event(), UNCERTAIN, options(tmp_path, stub), cache=JudgeCache())
    assert outcome.decision.trigger_ids == ["billing_exception"] and outcome.voided == ("negative_sentiment",)
    # Every quote invented (another update, so not the cached answer): nothing survives, no escalation.
    stub.answer(triggers=[invented], at_message=3)
    grown = event([*MESSAGES, {"role": "customer", "text": "ok"}])
    outcome = llm_judge.run(grown, UNCERTAIN, options(tmp_path, stub), cache=JudgeCache())
    assert outcome.decision == Decision(escalate=False, uncertain=True, judge="llm")
    assert outcome.voided == ("negative_sentiment",)


def test_quotes_are_checked_modulo_case_whitespace_width_and_quotation_marks() -> None:
    prompt = Prompt(messages=[], texts={1: "Das   ist KAPUTT seit\nv4.2", 2: "ＥＲＲ-５０２"}, extras=(), count=2)
    for quote in ("das ist kaputt", "„ist kaputt seit v4.2“", "err-502", "KAPUTT SEIT V4.2..."):
        verdict = parse_answer({"triggers": [{"id": "product_bug", "message": 1, "quote": quote}],
                                "at_message": 1}, prompt)
        assert verdict.escalate, quote
    for quote in ("kaputt since v4.2", "", "…", "das ist … seit"):
        verdict = parse_answer({"triggers": [{"id": "product_bug", "message": 1, "quote": quote}],
                                "at_message": 1}, prompt)
        assert not verdict.escalate and verdict.voided == ("product_bug",), quote


def test_the_moment_is_never_before_surviving_evidence_and_quotes_find_their_message() -> None:
    prompt = Prompt(messages=[], texts={1: "hello", 2: "it crashed", 3: "get me a human"}, extras=(), count=3)
    verdict = parse_answer({"triggers": [
        {"id": "product_bug", "message": 1, "quote": "made up"},
        {"id": "customer_requested_human", "message": 1, "quote": "get me a human"},  # wrong number, real quote
    ], "at_message": 1}, prompt)
    assert [(h.trigger, h.message_index) for h in verdict.hits] == [("customer_requested_human", 3)]
    assert verdict.at_message == 3


def test_bot_handoff_is_only_a_fallback() -> None:
    prompt = Prompt(messages=[], texts={1: "I want a person", 2: "Passing you to the team."}, extras=(), count=2)
    verdict = parse_answer({"triggers": [
        {"id": "bot_handoff", "message": 2, "quote": "passing you to the team"},
        {"id": "customer_requested_human", "message": 1, "quote": "I want a person"}], "at_message": 1}, prompt)
    assert [h.trigger for h in verdict.hits] == ["customer_requested_human"]


def test_timeout_means_the_local_judge_decides(tmp_path: Path, stub: Stub) -> None:
    stub.replies += [Reply(content=json.dumps({"triggers": [REFUND], "at_message": 3}), delay=1.5)] * 2
    started = time.monotonic()
    outcome = llm_judge.run(event(), LOCAL_BUG, options(tmp_path, stub, OPENAI_TIMEOUT="0.3"), cache=JudgeCache())
    assert time.monotonic() - started < 1.5
    assert outcome.decision == LOCAL_BUG and outcome.decision.judge == "local"
    assert outcome.error and "APITimeoutError" in outcome.error
    assert len(stub.requests) == 2  # the one retry of the shared client, no more


@pytest.mark.parametrize("reply", [
    Reply(content="not json {"),
    Reply(content=json.dumps(["a", "list"])),
    Reply(content=json.dumps({"at_message": 3})),
    Reply(content=json.dumps({"triggers": [{"id": "refund", "message": 3, "quote": "refund"}], "at_message": 3})),
    Reply(content=json.dumps({"triggers": [{**REFUND, "message": 9}], "at_message": 3})),
    Reply(content=json.dumps({"triggers": [REFUND], "at_message": 0})),
    Reply(content=json.dumps({"triggers": [REFUND], "at_message": True})),
    Reply(raw=b"<html>gateway</html>"),
    Reply(status=400, raw=b'{"error": {"message": "bad request"}}'),
], ids=["not-json", "not-object", "no-triggers", "unknown-id", "message-out-of-range", "at-zero", "at-bool",
        "html", "http-400"])
def test_garbage_means_the_local_judge_decides(tmp_path: Path, stub: Stub, reply: Reply) -> None:
    stub.replies.append(reply)
    cache = JudgeCache()
    outcome = llm_judge.run(event(), LOCAL_BUG, options(tmp_path, stub, mode="both"), cache=cache)
    assert outcome.decision == LOCAL_BUG and outcome.error
    assert len(stub.requests) == 1  # garbage is not retried
    # ... nor asked again for the same update while the failure is remembered
    assert llm_judge.run(event(), LOCAL_BUG, options(tmp_path, stub, mode="both"), cache=cache).decision == LOCAL_BUG
    assert len(stub.requests) == 1
    assert not list((tmp_path / "var" / "cache" / "judge").glob("*.json"))


def test_a_cache_hit_makes_no_second_call(tmp_path: Path, stub: Stub) -> None:
    stub.answer(triggers=[REFUND], at_message=3)
    first = llm_judge.run(event(), UNCERTAIN, options(tmp_path, stub), cache=JudgeCache())
    other_process = llm_judge.run(event(), UNCERTAIN, options(tmp_path, stub), cache=JudgeCache())
    assert other_process.decision == first.decision and other_process.cached and len(stub.requests) == 1
    assert len(list((tmp_path / "var" / "cache" / "judge").glob("*.json"))) == 1
    # A new update (the transcript grew) or another model is a new question.
    stub.answer(triggers=[], at_message=None)
    grown = event([*MESSAGES, {"role": "customer", "text": "Hello??"}])
    assert llm_judge.run(grown, UNCERTAIN, options(tmp_path, stub), cache=JudgeCache()).decision.escalate is False
    stub.answer(triggers=[], at_message=None)
    llm_judge.run(event(), UNCERTAIN, options(tmp_path, stub, OPENAI_MODEL="other-model"), cache=JudgeCache())
    assert len(stub.requests) == 3


def test_not_asked_when_the_local_judge_is_certain_and_the_bot_did_not_hand_off(tmp_path: Path, stub: Stub) -> None:
    certain = Decision(escalate=False)
    assert llm_judge.run(event(), certain, options(tmp_path, stub), cache=JudgeCache()).asked is False
    assert llm_judge.run(event(), LOCAL_BUG.model_copy(update={"uncertain": False}), options(tmp_path, stub, "both"),
                         cache=JudgeCache()).asked is False
    # Nor with the local judge configured, nor without a key, whatever the local judge says.
    assert llm_judge.run(event(), UNCERTAIN, options(tmp_path, stub, mode="local"), cache=JudgeCache()).asked is False
    assert llm_judge.run(event(), UNCERTAIN, options(tmp_path, stub, OPENAI_API_KEY=""),
                         cache=JudgeCache()).asked is False
    assert stub.requests == []
    # A hand-off is asked about even when the local judge is sure.
    stub.answer(triggers=[], at_message=None)
    handoff = event(type_="handoff.requested")
    sure = Decision(escalate=True, at_message=3, triggers=[TriggerHit(trigger="customer_requested_human")])
    outcome = llm_judge.run(handoff, sure, options(tmp_path, stub), cache=JudgeCache())
    assert outcome.asked and len(stub.requests) == 1
    assert outcome.decision == sure  # the LLM found nothing, but a hand-off always escalates


def test_both_escalates_at_the_earlier_message_with_the_union_of_triggers(tmp_path: Path, stub: Stub) -> None:
    stub.answer(triggers=[
        REFUND, {"id": "product_bug", "message": 3, "quote": "only one workspace"},
        {"id": "low_confidence", "message": 2, "quote": "Duplicate lines usually mean two workspaces."},
    ], at_message=2)
    decision = llm_judge.judge(event(), LOCAL_BUG, options(tmp_path, stub, mode="both"), cache=JudgeCache())
    assert decision.judge == "both" and decision.escalate and decision.at_message == 2
    assert sorted(decision.trigger_ids) == ["billing_exception", "low_confidence", "product_bug"]
    bug = next(h for h in decision.triggers if h.trigger == "product_bug")
    assert bug.evidence == "only one workspace"  # the LLM's quote is the evidence
    # Only the local judge escalates: its verdict, marked as judged by both.
    stub.answer(triggers=[], at_message=None)
    alone = llm_judge.judge(event([*MESSAGES, {"role": "customer", "text": "?"}]), LOCAL_BUG,
                            options(tmp_path, stub, mode="both"), cache=JudgeCache())
    assert (alone.escalate, alone.trigger_ids, alone.at_message, alone.judge) == (True, ["product_bug"], 3, "both")


def test_combine_keeps_local_evidence_for_triggers_only_it_found() -> None:
    verdict = judge_prompt.Verdict(hits=(TriggerHit(trigger="negative_sentiment", message_index=5, evidence="ugh"),),
                                at_message=5)
    handoff_local = Decision(escalate=True, at_message=4, triggers=[TriggerHit(trigger="bot_handoff")])
    both = judge_prompt.combine(handoff_local, verdict, "both", handoff=True)
    assert both.trigger_ids == ["negative_sentiment"] and both.at_message == 4  # bot_handoff is the fallback
    assert judge_prompt.combine(LOCAL_BUG, verdict, "both", handoff=False).trigger_ids == [
        "negative_sentiment", "product_bug"]
    assert judge_prompt.combine(LOCAL_BUG, None, "both", handoff=False) == LOCAL_BUG


def test_settings() -> None:
    opts = llm_judge.options_from_settings(Settings(data_dir=Path("/d"), extra={"OPENAI_TIMEOUT": "600"}))
    assert (opts.mode, opts.timeout, opts.model, opts.enabled) == ("local", 15.0, "gpt-4o-mini", False)
    assert opts.cache_dir == Path("/d/cache/judge")
    assert llm_judge.options_from_settings(Settings(extra={"BRIDGE_JUDGE": "both", "OPENAI_API_KEY": "k"})).enabled
    assert llm_judge.options_from_settings(Settings(extra={"BRIDGE_JUDGE": "both"}), mode="local").mode == "local"
    with pytest.raises(ConfigError, match="BRIDGE_JUDGE"):
        Settings.from_env({"BRIDGE_JUDGE": "gpt"})


def test_long_conversations_keep_their_numbering() -> None:
    long = event([{"role": "customer" if i % 2 else "bot", "text": f"message {i}"} for i in range(1, 201)])
    prompt = build_prompt(long)
    assert prompt.count == 200 and len(prompt.texts) == judge_prompt.MAX_MESSAGES
    assert min(prompt.texts) == 1 and max(prompt.texts) == 200 and 2 not in prompt.texts

"""The handoff package: every section (docs/architecture.md), priority with its reason, and `bridge package`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge.cli.package import package as package_command
from bridge.events import Decision, Event, Summary, TriggerHit
from bridge.pipeline.package import build_package
from bridge.pipeline.priority import prioritize
from bridge.pipeline.render import markdown
from tests.helpers import generic_event

BUG = Decision(escalate=True, at_message=1,
               triggers=[TriggerHit(trigger="product_bug", message_index=1, evidence="error 500")])


def _decision(*triggers: str, evidence: str = "") -> Decision:
    return Decision(escalate=True, at_message=1,
                    triggers=[TriggerHit(trigger=t, message_index=1, evidence=evidence) for t in triggers])  # type: ignore[arg-type]


def _event(customer: dict[str, Any] | None = None, **extra: Any) -> Event:
    data = generic_event(occurred_at="2026-03-01T10:00:00Z", **extra)
    if customer is not None:
        data["customer"] = customer
    return Event.from_json(data)


def test_package_holds_every_section() -> None:
    messages = [
        {"role": "customer", "text": "Export fails with error 500"},
        {"role": "bot", "text": "Try the CSV option.", "confidence": 0.4,
         "sources": [{"title": "Export guide", "url": "https://help.example.com/export"}]},
        {"role": "customer", "text": "Same error. A person please."},
    ]
    event = _event(messages=messages, evidence={
        "console_logs": [{"level": "info", "message": "boot"}, {"level": "error", "message": "TypeError: x"}],
        "network_requests": [{"method": "POST", "url": "/api/export", "status": 500}],
        "device": {"browser": "Chrome 131", "app_version": "4.2.1"},
        "session_replay_url": "https://replay.example.com/r/1",
    })
    package = build_package("hb-1", "generic", event, BUG)
    assert package.priority == "normal" and package.priority_reason == "normal: product_bug (normal)"
    assert package.summary.source == "extractive" and "error 500" in package.summary.issue
    assert [a.message_index for a in package.attempts] == [2]
    assert package.attempts[0].sources[0].title == "Export guide"
    # The session replay shows the steps: nothing is missing.
    assert package.completeness.missing == [] and package.completeness.score == 100
    assert "session" in package.opening_line and package.language == "en"
    text = markdown(package)
    for heading in ("## Summary", "## Why escalated", "## Priority", "## Completeness", "## Customer",
                    "## What the bot tried", "## Evidence", "## Suggested opening line (en)",
                    "## Transcript (3 messages)"):
        assert heading in text
    assert text.index("TypeError: x") < text.index("boot")  # console errors first
    assert "POST /api/export → 500" in text and "https://replay.example.com/r/1" in text


def test_given_summary_is_used_as_is() -> None:
    summary = Summary(issue="From the LLM", source="llm", model="m")
    assert build_package("hb-1", "generic", _event(), BUG, summary=summary).summary == summary


def test_partial_transcript_is_flagged() -> None:
    data = generic_event()
    data["conversation"]["partial"] = True
    package = build_package("hb-1", "generic", Event.from_json(data), BUG)
    assert package.transcript_partial and "(partial" in markdown(package)


@pytest.mark.parametrize(
    ("customer", "decision", "expected", "reason_bits"),
    [
        ({"plan": "free"}, _decision("low_confidence"), "low", ["low_confidence (low)"]),
        ({"plan": "pro"}, _decision("customer_requested_human"), "normal", []),
        ({"plan": "pro"}, _decision("negative_sentiment", evidence="this is useless"), "high", []),
        ({"plan": "Enterprise"}, _decision("product_bug"), "high", ["+1 plan Enterprise"]),
        ({"plan": "pro", "account": {"mrr": 12000, "currency": "USD"}}, _decision("product_bug"), "high",
         ["+1 MRR 12,000 USD ≥ 5,000"]),
        ({"plan": "pro", "account": {"mrr": 1500}}, _decision("low_confidence"), "normal", ["+1 MRR 1,500 ≥ 1,000"]),
        ({"account": {"sla": "Premium 4h"}}, _decision("billing_exception"), "urgent", ["+1 SLA Premium 4h"]),
        ({"account": {"renewal_date": "2026-03-20"}}, _decision("bot_handoff"), "high",
         ["+1 renewal in 19 days (2026-03-20)"]),
        ({"account": {"renewal_date": "2026-09-20"}}, _decision("bot_handoff"), "normal", []),
        ({"plan": "pro"}, _decision("negative_sentiment", evidence="I will cancel my subscription"), "urgent",
         ["+1 churn threat at message 1"]),
        ({"plan": "enterprise", "account": {"mrr": 50000, "sla": "platinum", "renewal_date": "2026-03-02"}},
         _decision("negative_sentiment", evidence="switching to a competitor"), "urgent", []),
    ],
)
def test_priority_and_its_checkable_reason(customer: dict[str, Any], decision: Decision, expected: str,
                                           reason_bits: list[str]) -> None:
    priority, reason = prioritize(_event(customer), decision)
    assert priority == expected
    assert reason.startswith(f"{expected}: ")
    for bit in reason_bits:
        assert bit in reason


def test_priority_without_a_clock_skips_the_renewal_rule() -> None:
    data = generic_event(customer={"account": {"renewal_date": "2026-03-20"}})
    assert prioritize(Event.from_json(data), _decision("bot_handoff"))[0] == "normal"


def _signals(sentiments: list[float | None], platform: str = "dialogflow-cx", priority: str | None = None,
             **extra: Any) -> Event:
    """A conversation whose customer turns carry the platform's sentiment, and maybe a handoff priority."""
    messages = []
    for index, sentiment in enumerate(sentiments):
        turn: dict[str, Any] = {"role": "customer", "text": f"turn {index}"}
        if sentiment is not None:
            turn["sentiment"] = sentiment
        messages += [turn, {"role": "bot", "text": "Let me check."}]
    data = generic_event(messages=messages, bot={"platform": platform}, occurred_at="2026-03-01T10:00:00Z", **extra)
    if priority:
        data["handoff"]["priority"] = priority
    return Event.from_json(data)


@pytest.mark.parametrize(
    ("event", "decision", "expected"),
    [
        # Strongly negative platform sentiment weighs like the negative_sentiment trigger and is named.
        (_signals([-0.2, -0.9]), _decision("low_confidence"), "high: Dialogflow CX sentiment −0.9 at message 3 (high)"),
        (_signals([-0.6]), Decision(escalate=False), "high: Dialogflow CX sentiment −0.6 at message 1 (high)"),
        (_signals([-0.95, -0.7], "amazon-lex-v2"), _decision("product_bug"),
         "high: Amazon Lex V2 sentiment −0.95 at message 1 (high)"),
        # On a tie with the engine's lead both are named; it never stacks a level on the trigger.
        (_signals([-0.9]), _decision("billing_exception"),
         "high: billing_exception, Dialogflow CX sentiment −0.9 at message 1 (high)"),
        # Mild or absent sentiment changes nothing.
        (_signals([-0.59, 0.8, None]), _decision("low_confidence"), "low: low_confidence (low)"),
        # A churn word in the strongly negative turn counts as the trigger's churn evidence would.
        (Event.from_json(generic_event(bot={"platform": "amazon-lex-v2"}, messages=[
            {"role": "customer", "text": "This is useless, I'm cancelling my subscription", "sentiment": -0.8}])),
         _decision("customer_requested_human"),
         "urgent: Amazon Lex V2 sentiment −0.8 at message 1 (high) +1 churn threat at message 1"),
        # A handoff priority is a floor applied last, named whether or not it raised the level.
        (_signals([None], "botframework", priority="high"), _decision("product_bug"),
         "high: product_bug (normal) ≥ high Bot Framework handoff priority"),
        (_signals([None], "botframework", priority="urgent"), _decision("low_confidence"),
         "urgent: low_confidence (low) ≥ urgent Bot Framework handoff priority"),
        (_signals([None], "botframework", priority="low",
                  customer={"plan": "Enterprise"}), _decision("billing_exception"),
         "urgent: billing_exception (high) +1 plan Enterprise ≥ low Bot Framework handoff priority"),
        (_signals([-0.9], "my-own-bot", priority="urgent"), _decision("low_confidence"),
         "urgent: my-own-bot sentiment −0.9 at message 1 (high) ≥ urgent my-own-bot handoff priority"),
    ],
)
def test_platform_signals_in_the_priority_and_its_reason(event: Event, decision: Decision, expected: str) -> None:
    priority, reason = prioritize(event, decision)
    assert reason == expected and priority == expected.split(":")[0]


def test_the_package_carries_the_raised_priority() -> None:
    package = build_package("hb-1", "dialogflow-cx", _signals([-0.9]), _decision("low_confidence"))
    assert package.priority == "high" and "Dialogflow CX sentiment −0.9" in package.priority_reason
    assert package.conversation.messages[0].sentiment == -0.9


def test_cli_prints_markdown_and_json(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(generic_event()))
    runner = CliRunner()
    md = runner.invoke(package_command, [str(path)])
    assert md.exit_code == 0, md.output
    assert md.output.startswith("# Handoff package: case cli-conv-1") and "## Transcript" in md.output
    js = runner.invoke(package_command, [str(path), "--json"])
    assert js.exit_code == 0
    data = json.loads(js.stdout)
    assert data["case_id"] == "cli-conv-1" and data["decision"]["escalate"] is True
    assert {"summary", "completeness", "opening_line", "priority", "priority_reason", "attempts"} <= set(data)


def test_cli_rejects_an_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"not": "an event"}')
    result = CliRunner().invoke(package_command, [str(path)])
    assert result.exit_code == 2 and "bad.json" in result.stderr


def test_a_long_paste_is_read_by_its_head_and_tail_but_carried_whole() -> None:
    """The summary's facts, the urgency facts, the topic and the earlier tickets read a long message's
    head and tail (bridge/pipeline/window.py): the same as from the cut message. The package still
    carries the whole message, and what is said only inside the paste is not lifted."""
    from bridge.pipeline import window

    log = "".join(f'File "/srv/app/sync.py", line {200 + k % 700}, in push: KeyError: row {k:05d} missing\n'
                  for k in range(1_200))
    middle = len(log) // 2
    text = ("40 users are locked out since the sync broke, see ticket #48211:\n" + log[:middle]
            + "Our lawyer says see ticket #55555 by the 3rd of March.\n" + log[middle:]
            + "We will not renew if this is not fixed by Friday.")
    assert len(text) > 4 * (window.READ_HEAD + window.READ_TAIL)

    def package_of(body: str) -> Any:
        return build_package("hb-1", "generic", _event(messages=[{"role": "customer", "text": body}]), BUG)

    long, cut = package_of(text), package_of(window.window(text))
    assert long.summary == cut.summary and long.topic == cut.topic
    assert long.earlier_tickets == cut.earlier_tickets == ["48211"]
    urgency = long.summary.urgency
    assert any("40 users" in fact for fact in urgency) and any("not renew" in fact for fact in urgency)
    assert not any("lawyer" in fact for fact in urgency)
    assert long.conversation.messages[0].text == text  # the ticket and the bug get all of it

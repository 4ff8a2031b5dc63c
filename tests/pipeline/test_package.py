"""The handoff package: every section (docs/architecture.md), priority with its reason, and `bridge package`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge.cli_package import package as package_command
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
    assert package.completeness.missing == ["steps"] and package.completeness.score == 80
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

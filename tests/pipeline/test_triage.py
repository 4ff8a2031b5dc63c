"""``triage_file``: the contract of ``bridge triage`` (docs/architecture.md) on files written here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.adapters.files import triage_file
from bridge.pipeline import trigger_config


def _write(tmp_path: Path, name: str, messages: list[dict[str, Any]], **extra: Any) -> Path:
    data = {
        "schema_version": 1,
        "event_id": f"evt-{name}",
        "type": "conversation.updated",
        "conversation": {"id": f"c-{name}", "language": "en", "messages": messages},
        **extra,
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_prints_the_contract_fields_for_an_escalation(tmp_path: Path) -> None:
    path = _write(tmp_path, "bug", [
        {"role": "customer", "text": "How do I share a board?"},
        {"role": "bot", "text": "Board → Share → invite by email.", "confidence": 0.9},
        {"role": "customer", "text": "Sharing fails with 'Error 500: internal server error' since this morning."},
        {"role": "bot", "text": "Please try again later.", "confidence": 0.7},
    ])
    assert triage_file(path) == {"file": "bug.json", "escalate": True, "triggers": ["product_bug"], "at_message": 3}


def test_a_quiet_conversation_does_not_escalate(tmp_path: Path) -> None:
    path = _write(tmp_path, "quiet", [
        {"role": "customer", "text": "Can I change the colour of my dashboard?"},
        {"role": "bot", "text": "Yes: Dashboard → ⋯ → Theme.", "confidence": 0.91},
        {"role": "customer", "text": "Lovely, done. Thanks!"},
    ])
    assert triage_file(path) == {"file": "quiet.json", "escalate": False, "triggers": [], "at_message": None}


def test_at_message_is_the_first_escalating_message_not_the_last(tmp_path: Path) -> None:
    path = _write(tmp_path, "late", [
        {"role": "customer", "text": "Where are the payroll reports?"},
        {"role": "bot", "text": "I'm not sure, I couldn't find that in our help center.", "confidence": 0.2},
        {"role": "customer", "text": "Can I talk to a person?"},
        {"role": "bot", "text": "Of course, connecting you now.", "confidence": 0.9},
    ])
    result = triage_file(path)
    assert result["at_message"] == 2 and result["triggers"] == ["low_confidence"]


def test_handoff_requested_always_escalates(tmp_path: Path) -> None:
    path = _write(tmp_path, "handoff", [
        {"role": "customer", "text": "Someone used my card in another country, I didn't make these payments."},
        {"role": "bot", "text": "I've blocked the card and I'm passing you to our fraud team now.", "confidence": 0.9},
        {"role": "customer", "text": "Thank you"},
    ], type="handoff.requested", handoff={"requested_by": "bot", "reason": "Suspected card fraud; fraud team"})
    assert triage_file(path) == {"file": "handoff.json", "escalate": True, "triggers": ["bot_handoff"],
                                 "at_message": 2}


def test_uses_the_config_it_is_given(tmp_path: Path) -> None:
    path = _write(tmp_path, "threshold", [
        {"role": "customer", "text": "Can I bulk-archive projects?"},
        {"role": "bot", "text": "Yes, select them and choose Archive.", "confidence": 0.62},
    ])
    assert triage_file(path)["escalate"] is False
    strict = trigger_config.load("", "0.7")
    assert triage_file(path, config=strict)["triggers"] == ["low_confidence"]


def test_invalid_files_raise_value_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError):
        triage_file(bad)
    with pytest.raises(ValueError, match="unknown source"):
        triage_file(bad, "no-such-platform")

"""The suggested opening line: per trigger and language, acknowledging the bot and taking ownership."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.events import TRIGGERS, Event
from bridge.pipeline.opening import EVIDENCE_WORDS, LINES, ORDER, lead_trigger, opening_line
from tests.helpers import generic_event

LANGS = ("en", "es", "de", "fr", "pt", "it", "nl", "ja")
# A word per language that shows the line names the AI assistant (acknowledging the failed bot).
ASSISTANT = {"en": "assistant", "es": "asistente", "de": "Assistent", "fr": "assistant", "pt": "assistente",
             "it": "assistente", "nl": "assistent", "ja": "AIアシスタント"}
# And one that shows first-person ownership.
OWNERSHIP = {"en": ("I'm taking", "I'll"), "es": ("me encargo",), "de": ("ich",),
             "fr": ("je m'en", "je prends", "je reprends"), "pt": ("vou", "eu assumo"), "it": ("me ne occupo",),
             "nl": ("ik ",), "ja": ("私が",)}


def _event(language: str, name: str | None = "Ana Lima", **extra: Any) -> Event:
    data = generic_event(**extra)
    data["conversation"]["language"] = language
    if name is None:
        data["customer"].pop("name")
    else:
        data["customer"]["name"] = name
    return Event.from_json(data)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_line_per_trigger_and_language(trigger: str, lang: str) -> None:
    line = opening_line(_event(lang), [trigger])
    assert LINES[trigger][lang] in line
    assert ASSISTANT[lang].lower() in line.lower()
    assert any(marker.lower() in line.lower() for marker in OWNERSHIP[lang])
    assert "Ana" in line and "Lima" not in line  # first name only


def test_lines_differ_by_trigger_within_a_language() -> None:
    for lang in LANGS:
        assert len({LINES[t][lang] for t in TRIGGERS}) == len(TRIGGERS)


def test_evidence_at_hand_is_mentioned() -> None:
    evidence = {"screenshots": [{"kind": "screenshot", "url": "https://cdn.example.com/s.png"}],
                "device": {"browser": "Safari 18", "os": "iOS 18"}}
    en = opening_line(_event("en", evidence=evidence), ["product_bug"])
    assert "I already have your screenshot and your browser and device details" in en
    es = opening_line(_event("es", evidence=evidence), ["product_bug"])
    assert EVIDENCE_WORDS["screenshot"]["es"] in es and EVIDENCE_WORDS["device"]["es"] in es
    ja = opening_line(_event("ja", evidence=evidence), ["product_bug"])
    assert "スクリーンショットとブラウザと端末の情報は確認済み" in ja


def test_without_evidence_it_still_promises_no_repetition() -> None:
    line = opening_line(_event("en"), ["low_confidence"])
    assert line.endswith("I've read our whole conversation, so you won't need to repeat anything.")


def test_billing_mentions_the_account_details() -> None:
    data = generic_event()
    data["customer"]["account"] = {"id": "acc-9", "mrr": 99.0}
    line = opening_line(Event.from_json(data), ["billing_exception"])
    assert "your account details" in line and "billing decision" in line


def test_greeting_without_a_name_and_japanese_honorific() -> None:
    assert opening_line(_event("de", name=None), ["bot_handoff"]).startswith("Hallo,")
    assert opening_line(_event("en", name="ana@example.com"), ["bot_handoff"]).startswith("Hi,")
    assert opening_line(_event("ja", name="山田 太郎"), ["bot_handoff"]).startswith("山田 太郎様、")


def test_most_specific_trigger_shapes_the_line() -> None:
    assert lead_trigger(["customer_requested_human", "product_bug"]) == "product_bug"
    assert lead_trigger([]) == "bot_handoff"
    assert set(ORDER) == set(TRIGGERS)


def test_language_detected_from_text_when_not_declared() -> None:
    event = Event.from_json(generic_event(messages=[
        {"role": "customer", "text": "La exportación no funciona y quiero hablar con una persona"}]))
    assert LINES["customer_requested_human"]["es"] in opening_line(event, ["customer_requested_human"])

"""Completeness: per-trigger checklists, the 0-100 score, and the questions sent back to the bot."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.events import Event
from bridge.pipeline.completeness import QUESTIONS, assess, detect_language, language_of, needs_more
from tests.helpers import generic_event

FULL_EVIDENCE: dict[str, Any] = {
    "page_url": "https://app.example.com/export",
    "device": {"browser": "Firefox 133", "os": "Windows 11", "app_version": "4.2.1"},
    "console_logs": [{"level": "error", "message": "Uncaught TypeError"}],
    "screenshots": [{"kind": "screenshot", "url": "https://cdn.example.com/s.png"}],
    "steps_to_reproduce": ["Open Reports", "Click Export"],
}


def _event(texts: list[str], **extra: Any) -> Event:
    messages = [{"role": "customer", "text": t} for t in texts]
    return Event.from_json(generic_event(messages=messages, **extra))


def test_bug_with_everything_scores_100_and_asks_nothing() -> None:
    event = _event(["The export button does nothing since yesterday"], evidence=FULL_EVIDENCE)
    result = assess(event, ["product_bug"])
    assert result.score == 100 and result.missing == [] and result.questions == []


def test_bug_without_evidence_lists_what_is_missing() -> None:
    event = _event(["The export button does nothing since yesterday"])
    result = assess(event, ["product_bug"])
    assert result.missing == ["steps", "error", "environment", "visual"]
    assert result.score == 20  # 1 of 5: the description
    assert result.questions == [QUESTIONS[i]["en"] for i in result.missing]
    assert "Which app version, browser or device are you using?" in result.questions


@pytest.mark.parametrize(
    ("evidence", "texts", "score"),
    [
        ({"device": {"app_version": "4.2.1"}}, ["Export broken with error 500 again"], 60),
        # A replay shows both what happened and the steps that led to it.
        ({"session_replay_url": "https://replay.example.com/1"}, ["Export broken with error 500 again"], 80),
        ({}, ["1. open reports\n2. click export\nIt crashes with ERR-77 every time"], 60),
    ],
)
def test_bug_items_count_from_evidence_or_text(evidence: dict[str, Any], texts: list[str], score: int) -> None:
    assert assess(_event(texts, evidence=evidence), ["product_bug"]).score == score


@pytest.mark.parametrize("texts", [
    ["First I open the report, then I click export and then it fails. 400 users are affected."],
    ["The error happens when I export, then nothing."],
    ["Quiero hablar con una persona, por favor"],
])
def test_keywords_are_not_evidence(texts: list[str]) -> None:
    """Issue 16, point 9: "then" is not steps, "400 users" or the word "error" is not an error message,
    and a request for a person in Spanish is not a description of the problem."""
    result = assess(_event(texts), ["product_bug"])
    assert "steps" in result.missing and "error" in result.missing
    assert result.score < 100 and needs_more(_event(texts), ["product_bug"])
    if texts[0].startswith("Quiero"):
        assert "issue" in result.missing and "¿Podría describir el problema en una o dos frases?" in result.questions


@pytest.mark.parametrize("text", ["It says 'Export failed (E-4031)' every time", "HTTP 403 on save",
                                  "Fehlermeldung: „Speichern nicht möglich“", "TypeError in the console"])
def test_an_error_the_customer_quotes_counts(text: str) -> None:
    assert "error" not in assess(_event([text]), ["product_bug"]).missing


def test_the_status_answer_explains_the_failure_whatever_its_code() -> None:
    evidence = {"network_requests": [{"method": "GET", "url": "https://api.example.com/status", "status": 200,
                                      "response_excerpt": "{\"status\":\"degraded\"}"}]}
    assert "error" not in assess(_event(["Sync is stuck"], evidence=evidence), ["product_bug"]).missing


def test_billing_checklist() -> None:
    missing_all = _event(["I have a question about my bill please"], customer=None)
    assert assess(missing_all, ["billing_exception"]).missing == ["account", "amount", "outcome"]
    complete = _event(["I was charged $49.99 twice on invoice INV-2031, I want a refund"])
    result = assess(complete, ["billing_exception"])
    assert result.score == 100 and result.present[0] == "the customer's account"


def test_union_of_checklists_is_deduplicated() -> None:
    event = _event(["talk to a person"], customer=None)
    result = assess(event, ["customer_requested_human", "negative_sentiment", "low_confidence"])
    assert result.missing == ["issue", "contact"] and result.score == 0


def test_bot_reason_is_checked_but_never_asked_of_the_customer() -> None:
    event = Event.from_json(generic_event(type_="conversation.updated"))
    result = assess(event, ["bot_handoff"])
    assert "reason" in result.missing
    assert all("reason" not in q for q in result.questions) and len(result.questions) == 0


def test_no_triggers_uses_the_default_checklist() -> None:
    assert assess(_event(["My dashboard shows the wrong totals"]), []).score == 100


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Quiero hablar con una persona, la exportación no funciona", "es"),
        ("Ich möchte mit einem Menschen sprechen, der Export ist kaputt", "de"),
        ("Je veux parler à un humain, l'export ne marche pas", "fr"),
        ("Eu quero falar com uma pessoa, a exportação não funciona", "pt"),
        ("Voglio parlare con una persona, l'esportazione non funziona", "it"),
        ("Ik wil graag met een mens praten, de export werkt niet", "nl"),
        ("担当者と話したいです。エクスポートが動きません", "ja"),
        ("I want to talk to a person, the export is broken", "en"),
    ],
)
def test_questions_come_back_in_the_conversation_language(text: str, lang: str) -> None:
    event = _event([text])
    assert detect_language(text) == lang
    questions = needs_more(event, ["product_bug"])
    assert questions and questions == [QUESTIONS[i][lang] for i in assess(event, ["product_bug"]).missing]


def test_declared_language_wins_over_detection() -> None:
    event = Event.from_json(generic_event(conversation_id="c", messages=[{"role": "customer", "text": "hello there"}]))
    data = event.to_json()
    data["conversation"]["language"] = "pt-BR"
    assert language_of(Event.from_json(data)) == "pt"
    data["conversation"]["language"] = "sv"  # unsupported: fall back to the customer's locale, then detection
    data["customer"]["locale"] = "de-AT"
    assert language_of(Event.from_json(data)) == "de"


def test_every_askable_item_has_all_eight_languages() -> None:
    for item, by_lang in QUESTIONS.items():
        assert set(by_lang) == {"en", "es", "de", "fr", "pt", "it", "nl", "ja"}, item
        assert all(q.strip() for q in by_lang.values())


def _reference_says_what_is_wrong(text: str) -> bool:
    """The whole text at once, as the check was first written."""
    import re

    from bridge.pipeline.completeness import _ASK_PERSON, _JAPANESE

    rest = _ASK_PERSON.sub(" ", text)
    if _JAPANESE.search(rest):
        return len(re.sub(r"\W", "", rest)) >= 10
    return len(re.findall(r"\w+", rest)) >= 4


_TOKENS = [
    # phrases the check removes, in their languages, and pieces of them
    "hi", "Hello", "please", "por favor", "s'il vous plaît", "bitte", "now", "yes", "ok", "oui", "sim",
    "can I", "could i", "i want to", "I'd like to", "let me", "talk to a human", "speak with a real person",
    "chat with someone", "get me an agent", "give me a person", "quiero hablar con una persona",
    "hablar con alguien", "ich möchte mit einem Mitarbeiter sprechen", "will mit einer Mitarbeiterin sprechen",
    "mitarbeiterinnen", "je voudrais parler à un conseiller", "je veux parler à quelqu'un",
    "quero falar com um atendente", "voglio parlare con un operatore", "ik wil graag met een medewerker spreken",
    "担当者と話したい", "人と話したい", "オペレーター", "オペレータ", "talk", "to", "a", "human",
    # words, numbers and Japanese that are not
    "export", "invoice", "failed", "E-4012", "v4.2.1", "2026", "_id", "請求書", "エラー", "です", "ー",
    # separators and characters at the edges of what a phrase may hold
    " ", " ", "  ", "\n", "\t", ".", ",", "!", "?", ";", ":", "-", "/", "(", ")", '"', "'", "’", "\u00a0",
    "、", "。", "・", "゠", "…", "😤", "ſ", "K", "İ", "ß", "SS",
]


@pytest.mark.parametrize("seed", range(8))
def test_says_what_is_wrong_is_the_whole_text_check(seed: int) -> None:
    """Read a sentence at a time with an early answer, the check says what reading the whole text says."""
    import random

    from bridge.pipeline.completeness import _says_what_is_wrong

    rng = random.Random(seed)
    agreed = {True: 0, False: 0}
    for _ in range(1500):
        n = rng.choice((1, 2, 3, 4, 6, 10, 30, 120))
        text = "".join(rng.choice(_TOKENS) + rng.choice(("", " ", " ", "  ")) for _ in range(n))
        expected = _reference_says_what_is_wrong(text)
        assert _says_what_is_wrong(text) is expected, repr(text)
        agreed[expected] += 1
    assert min(agreed.values()) > 50  # both answers were exercised


def _reference_language(text: str) -> str:
    """The detection as first written: every word tested against every language's stop words."""
    import re

    from bridge.pipeline.completeness import _JAPANESE, _STOPWORDS

    if len(_JAPANESE.findall(text)) >= 2:
        return "ja"
    words = re.findall(r"[a-zà-ÿ']+", text.lower())
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] > 0 else "en"


@pytest.mark.parametrize("seed", range(4))
def test_language_detection_counts_as_it_did(seed: int) -> None:
    import random

    from bridge.pipeline.completeness import _STOPWORDS

    rng = random.Random(seed)
    vocabulary = sorted({w for stop in _STOPWORDS.values() for w in stop}) + [
        "Export", "FACTURA", "Rechnung", "l'export", "don't", "naïve", "ÉTÉ", "請", "求", "エ", "42", ".", "\n"]
    seen = set()
    for _ in range(2000):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.choice((0, 1, 2, 5, 20, 200))))
        expected = _reference_language(text)
        assert detect_language(text) == expected, repr(text)
        seen.add(expected)
    assert seen == {"en", "es", "de", "fr", "pt", "it", "nl", "ja"}  # every answer was exercised, ties included

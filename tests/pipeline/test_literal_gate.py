"""``trigger_prefilter.LiteralGate``: a pattern skipped for a text could not have matched it. Held on
the patterns the package builder runs over whatever the customer pasted (the summary's facts, the
privacy terms), on every message of the triage corpus and on random texts built from their words."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from bridge.pipeline import flags, summary
from bridge.pipeline.trigger_prefilter import LiteralGate

CORPUS = Path(__file__).resolve().parents[2] / "data" / "triage" / "conversations"


def _corpus_texts() -> list[str]:
    texts = []
    for path in sorted(CORPUS.glob("*.json")):
        texts += [m.get("text") or "" for m in json.loads(path.read_text(encoding="utf-8"))["conversation"]["messages"]]
    return texts


def _matches(patterns: list[re.Pattern[str]], text: str) -> list[tuple[str, tuple[int, int]]]:
    return [(p.pattern, m.span()) for p in patterns for m in p.finditer(text)]


PIECES = [
    "E4012", "AB-12", "0x1F2E", "DE281947356", "ch_3PMq8L2eZvKYlo2C1a9xR4tA", "HTTP 503", "status: 404", "Fehler 500",
    "order #A1B2C3", "Bestellung Nr. 7781-22", "注文番号：AB-1234", "#88231", "invoice INV-2024-77", "inv 1234",
    "$49.99", "€ 12,50", "120 EUR", "v4.2.1", "version 3.1", "GDPR", "article 17", "right to be forgotten", "DSAR",
    "personenbezogenen", "données personnelles", "lawyer", "ICO complaint", "個人情報", "ſtatus 404", "İnvoice 77",
    "the", "export", "failed", "my", "data", ":", "#", "-", "_", ".", " ", " ", "\n", "(", ")",
]


def test_the_gate_changes_no_match() -> None:
    rng = random.Random(11)
    texts = _corpus_texts() + ["".join(rng.choice(PIECES) + rng.choice(("", " ")) for _ in range(rng.choice((1, 3, 9))))
                               for _ in range(5000)]
    privacy = LiteralGate([flags._PRIVACY], lambda p: p)
    found = 0
    for text in texts:
        facts = _matches(summary.fact_patterns(text), text)
        assert facts == _matches(summary.fact_patterns(text, gated=False), text), text
        terms = _matches(privacy(text), text)
        assert terms == _matches([flags._PRIVACY], text), text
        found += bool(facts) + bool(terms)
    assert found > 3000


def test_a_pattern_without_required_literals_always_runs() -> None:
    anything = re.compile(r"\d+")
    words = re.compile(r"(?i)\b(?:refund|chargeback)\b")
    gate = LiteralGate([anything, words], lambda p: p)
    assert gate("nothing here") == [anything]
    assert gate("a CHARGEBACK") == [anything, words]  # case-insensitively, in their order
    assert LiteralGate([], lambda p: p)("text") == []


def test_the_judges_shapes_are_the_same_through_the_gate() -> None:
    """The judge's shape features (bridge/pipeline/judge_shapes.py) behind the gate equal every shape
    searched, on the corpus and on random texts (with the characters re folds: ſ, İ, K)."""
    from bridge.pipeline import judge_shapes, trigger_config

    fast = trigger_config.load()
    slow = trigger_config.build(trigger_config._read_yaml(trigger_config.DEFAULTS_FILE), shortcuts=False)
    assert fast.shortcuts and not slow.shortcuts
    rng = random.Random(13)
    pieces = PIECES + ["instead of", "INSTEAD OF", "rather than", "au lieu de", "ſtatt ", "anstatt", "ではなく",
                       "Traceback", "NullPointerException", "at com.x.Y(", "TypeError", "panic:", "Uncaught",
                       "stack trace", "usd", "JPY", "円", "₹5", "£ 3", "K", "4xx", "502", "1.2.3", "v2.0"]
    texts = _corpus_texts() + ["".join(rng.choice(pieces) + rng.choice(("", " ")) for _ in range(rng.choice((1, 3, 9))))
                               for _ in range(5000)]
    found = 0
    for text in texts:
        gated = list(judge_shapes.shapes(text, fast))
        assert gated == list(judge_shapes.shapes(text, slow)), text
        found += bool(gated)
    assert found > 2000
    assert all(need for need in judge_shapes.shape_gate().needs[2:])  # the word shapes are gated by their words

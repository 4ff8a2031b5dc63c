"""The urgency facts' gate: a pattern is searched only in a sentence holding one of its required
literals, and that changes nothing: every sentence carries the same facts as with every pattern run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bridge.events import Event
from bridge.pipeline import urgency
from tests.helpers import generic_event

CORPUS = Path(__file__).resolve().parents[2] / "data" / "triage" / "conversations"


def _same(sentence: str) -> None:
    gated = [(kind, m.span(), m.group()) for kind, _, m in urgency.hits(sentence)]
    every = [(kind, m.span(), m.group()) for kind, _, m in urgency.hits(sentence, gated=False)]
    assert gated == every, sentence


def test_every_pattern_has_required_literals() -> None:
    assert all(need for need in urgency._gate().needs)  # none always runs: the gate matters for each


def test_the_gate_changes_nothing_on_the_corpus() -> None:
    """Every message of the triage corpus (1,180 conversations, eight languages), sentence by sentence."""
    sentences = 0
    carried = 0
    for path in sorted(CORPUS.glob("*.json")):
        for message in json.loads(path.read_text(encoding="utf-8"))["conversation"]["messages"]:
            for sentence in urgency._sentences(message.get("text") or ""):
                _same(sentence)
                sentences += 1
                carried += bool(urgency.hits(sentence, gated=False))
    assert sentences > 5000 and carried > 500


_PIECES = [
    "40", "3", "12:30", "5pm", "9 a.m.", "2026-12-07", "07/12/2026", "14.", "3rd", "users", "Nutzer", "personas",
    "locked out", "by", "before", "until", "must", "deadline", "Friday", "vendredi", "tomorrow", "mañana", "heute",
    "March", "mars", "Mai", "hours", "Stunden", "jours", "still waiting", "third time", "since monday", "cancel",
    "won't renew", "Kündigung", "résilier", "GDPR", "article 17", "lawyer", "chargeback", "switching to", "解約",
    "10名", "12月3日", "明日", "までに", "all of our", "everyone", "whole team", "ſ", "İ", "K", "ß", "day",
    "export", "failed", "invoice", "the", "our", ",", ".", "!", "?", ":", "/", "-", "\n", " ", " ", "  ", "'",
]


@pytest.mark.parametrize("seed", range(6))
def test_the_gate_changes_nothing_on_random_sentences(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(1500):
        text = "".join(rng.choice(_PIECES) + rng.choice(("", " ", " ")) for _ in range(rng.choice((1, 3, 8, 20))))
        for sentence in urgency._sentences(text):
            _same(sentence)


def test_a_pasted_log_keeps_the_facts_around_it() -> None:
    line = 'File "/srv/app/export.py", line 212, in run_export: ValueError: invoice total mismatch (E-4012)\n'
    text = ("40 users are locked out and payroll closes today at 5pm.\n" + line * 200
            + "We will not renew if this is not fixed by Friday.")
    event = Event.from_json(generic_event(messages=[{"role": "customer", "text": text}]))
    facts = urgency.urgency_facts(event)
    assert facts == ["40 users are locked out and payroll closes today at 5pm.",
                     "We will not renew if this is not fixed by Friday."]

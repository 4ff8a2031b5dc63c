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


# The date and time patterns as they were before their lookaheads (bridge/pipeline/urgency.py): a
# lookahead must only make them faster.
_BEFORE = {"date": urgency.re.compile(
    rf"(?i)\b\d{{1,2}}(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|de\s+)?(?:{urgency._MONTHS})\b"
    rf"|\b(?:{urgency._MONTHS})\s+\d{{1,2}}\b"
    r"|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\d+月\d+日"), "time": urgency.re.compile(
    r"(?i)\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\b\d{1,2}:\d{2}\b|\b\d{1,2}h(?:\d{2})?\b"
    r"|\bbetween \d{1,2} and \d{1,2}\b|\d{1,2}時")}
_MONTH_WORDS = ["January", "jan.", "Sept", "sep.", "märz", "MÄRZ", "février", "août", "septiembre", "dezembro",
                "mei", "Mai", "ſeptember", "Kelvin", "decembre", "Dec.", "marzo", "mar", "maart"]


def _same_date(sentence: str) -> None:
    for kind, before in _BEFORE.items():
        got, want = dict(urgency.PATTERNS)[kind].search(sentence), before.search(sentence)
        assert (got and (got.span(), got.group())) == (want and (want.span(), want.group())), (kind, sentence)


def test_the_date_and_time_patterns_find_what_they_found_before() -> None:
    checked = 0
    for path in sorted(CORPUS.glob("*.json")):
        for message in json.loads(path.read_text(encoding="utf-8"))["conversation"]["messages"]:
            for sentence in urgency._sentences(message.get("text") or ""):
                _same_date(sentence)
                checked += bool(_BEFORE["date"].search(sentence)) + bool(_BEFORE["time"].search(sentence))
    assert checked > 50
    rng = random.Random(7)
    pieces = _PIECES + _MONTH_WORDS + ["1", "31", "05", "2026", ". ", "x", "between", "BETWEEN", "and", "h", "H",
                                       "am", "P.M.", "時", "12h30", "9:05"]
    for _ in range(20_000):
        _same_date("".join(rng.choice(pieces) + rng.choice(("", " ", " ", "\t")) for _ in range(rng.choice((2, 4, 9)))))


def test_sentences_are_split_where_they_were() -> None:
    before = urgency.re.compile(r"(?<![ap]\.m\.)(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+|(?<=[。！？])|\n+")
    rng = random.Random(11)
    pieces = _PIECES + ["a.m. ", "p.m.\n", "e.g. ", "i.e.  ", "Mr. ", "。", "！", "？ ", "...", "?!", "\n\n"]
    texts = [path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.json"))[:200]]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.choice((3, 10, 40)))) for _ in range(5000)]
    for text in texts:
        assert urgency._SPLIT.split(text) == before.split(text), text

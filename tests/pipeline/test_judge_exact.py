"""The judge's shortcuts are exact: the literal prefilter over the phrase lists, the VADER call
shared by a turn's two readings and the rows cached per text change what it costs, never what it
decides.

``trigger_config.build(..., shortcuts=False)`` is the reference path (every regular expression
runs on every text, VADER is called as written), and ``judge.judge(..., reference=True)`` reads
each message as the one merged dict training reads, every name looked up at every message. On
every conversation of the corpus, the locked split's included (comparing identity there tunes
nothing), both paths must give the same features, in the same order and with the same values, the
same score at every message bit for bit, and the same decision, evidence and scores included.
Whatever features the judge reads, this compares the two paths of the code as it is.
"""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import chain
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from bridge.events import Message
from bridge.pipeline import judge, judge_features, judge_lexicon, judge_train, trigger_config, trigger_rules
from bridge.pipeline.trigger_config import TriggerConfig
from bridge.pipeline.trigger_prefilter import Prefilter, fold_case, required_literals

CORPUS = Path(__file__).resolve().parents[2] / "data" / "triage"


def reference() -> TriggerConfig:
    return trigger_config.build(trigger_config._read_yaml(trigger_config.DEFAULTS_FILE), shortcuts=False)


@pytest.fixture(scope="module")
def paths() -> tuple[TriggerConfig, TriggerConfig]:
    fast = trigger_config.load()
    assert fast.shortcuts and fast.prefilter is not None
    slow = reference()
    assert not slow.shortcuts and slow.prefilter is None
    return fast, slow


def test_features_and_decisions_on_the_whole_corpus_are_the_reference_paths(
        paths: tuple[TriggerConfig, TriggerConfig]) -> None:
    fast, slow = paths
    model = judge.load()
    examples = judge_train.load_corpus(CORPUS, "all")
    locked = set(json.loads((CORPUS / "split.json").read_text())["test"])
    assert len(examples) > 1000 and locked <= {e.name for e in examples}
    escalated = worded = 0
    for example in examples:
        quick = [list(f.items()) for _, _, f in judge_features.positions(example.event, fast)]
        exact = [list(f.items()) for _, _, f in judge_features.positions(example.event, slow)]
        assert quick == exact, example.name
        # The merged dict is the walk's blocks then the message's own features, concatenated: no
        # name is in two of them (else a later value or an earlier place would differ).
        walked = [list(chain(*(judge_features.text_features(*b) for b in blocks), own.items()))
                  for _, _, blocks, own in judge_features.walk(example.event, fast)]
        assert walked == quick, example.name
        # Every message's scores from the cached rows of each text (the judge) against the merged
        # dict looked up name by name, the whole conversation through (not only up to a decision):
        # equal floats, all positive, are the same bits.
        by_rows = list(judge.steps(example.event, fast, model))
        by_dict = list(judge.steps(example.event, slow, model, reference=True))
        assert [s for _, s, _, _ in by_rows] == [s for _, s, _, _ in by_dict], example.name
        for (_, scores, own, rows), (_, _, features, _) in zip(by_rows, by_dict, strict=True):
            assert (judge.precise_hits(own), judge.assisted(own)) == (
                judge.precise_hits(features), judge.assisted(features)), example.name
            for trigger in scores:
                words = model.top_words_of(rows, trigger)
                assert words == model.top_words(features, trigger), example.name
                worded += bool(words)
        decision = judge.judge(example.event, fast, model)
        assert decision == judge.judge(example.event, slow, model), example.name
        assert decision == judge.judge(example.event, slow, model, reference=True), example.name
        escalated += decision.escalate
    assert escalated > 500  # the comparison covered decisions with triggers and evidence, not only "no"
    assert worded > 5000  # and evidence words, not only empty lists


def test_the_prefilter_skipped_work_on_the_corpus(paths: tuple[TriggerConfig, TriggerConfig]) -> None:
    """Not a timing: the prefilter has a literal for every shipped pattern and rules most of them
    out of a typical message (otherwise it would be exact and useless)."""
    fast, _ = paths
    assert fast.prefilter is not None
    lists = [getattr(fast, name) for name in trigger_config.PREFILTERED]
    needs = [need for patterns in lists for need in patterns.needs]
    assert needs and all(need for need in needs)
    texts = [m.text for e in judge_train.load_corpus(CORPUS, "test") for m in e.event.conversation.messages]
    gates = [fast.prefilter.gate(trigger_rules.normalize(t)) for t in texts]
    runnable = sum(len(patterns.runnable(gate)) for gate in gates for patterns in lists)
    assert 0 < runnable < 0.25 * len(needs) * len(texts)


# ── case folding: the prefilter lowers text the way re.IGNORECASE compares it ─────────────────

def test_fold_case_keeps_one_character_for_each() -> None:
    every = "".join(map(chr, range(0x110000)))
    assert len(fold_case(every)) == len(every)
    assert fold_case("İSTANBUL ſo ΟΔΟΣ σ") == "istanbul so οδος ς"


def test_what_ignorecase_matches_to_a_literal_character_folds_to_it(
        paths: tuple[TriggerConfig, TriggerConfig]) -> None:
    """For every character of the shipped literals (and every letter of ASCII), every code point
    that ``re`` matches to it case-insensitively folds to the same character."""
    fast, _ = paths
    assert fast.prefilter is not None
    alphabet = {c for literal in fast.prefilter.literals for c in literal} | set("abcdefghijklmnopqrstuvwxyz")
    every = "".join(map(chr, range(0x110000)))
    folded = fold_case(every)
    for char in sorted(alphabet):
        matched = [m.start() for m in re.finditer(re.escape(char), every, re.IGNORECASE)]
        assert matched, char
        assert {folded[i] for i in matched} == {fold_case(char)}, char


# ── the literals a pattern needs ─────────────────────────────────────────────────────────────

@pytest.mark.parametrize(("pattern", "need"), [
    (r"\b(speak|talk)\s+(to|with)\b", {"speak", "talk"}),
    (r"no longer", {"longer"}),  # never across whitespace: the rules join sentences with a space
    (r"cleared? (the )?cache", {"cleare"}),
    (r"(foo|bar)bazz", {"bazz"}),
    (r"\b(an?|the) (human|agent)", {"human", "agent"}),
    (r"x(abc|)y", {"x"}),  # an empty branch requires nothing
    (r"\w+Error\b|Traceback", {"error", "traceback"}),
    (r"(?:ab|cd)+ e", {"ab", "cd"}),  # a repeat needs its content once
    (r"ΟΔΟΣ", {"οδος"}),  # σ and ς are one letter to re.IGNORECASE
])
def test_required_literals(pattern: str, need: set[str]) -> None:
    assert required_literals(re.compile(pattern, trigger_config.FLAGS)) == need


@pytest.mark.parametrize("pattern", [r"\d+", r"(abc)?x?", r"[^a]+", r"(a|\d)", r"\s+", "(?=abc)"])
def test_patterns_without_a_required_literal_always_run(pattern: str) -> None:
    regex = re.compile(pattern, trigger_config.FLAGS)
    assert required_literals(regex) is None
    patterns = trigger_config.Patterns((regex,), (None,))
    assert patterns.runnable(Prefilter([patterns]).gate("nothing here")) == (regex,)


SHIPPED = [rx for name in trigger_config.PREFILTERED for rx in getattr(trigger_config.load(), name).regexes]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_pattern_that_matches_finds_one_of_its_literals(data: st.DataObject) -> None:
    """Texts built from a shipped pattern's own literals in any case, with code, quotes, odd
    whitespace and look-alike letters between them: a match implies a literal found."""
    regex = data.draw(st.sampled_from(SHIPPED))
    need = required_literals(regex)
    assert need
    words = sorted(need) + ["to", "a", "the", "me", "i", "ſ", "İ", "ı", "\n", "  ", "`x`", "'", '"', ".", "?", "!"]
    pieces = data.draw(st.lists(st.sampled_from(words), max_size=8))
    text = "".join(data.draw(st.sampled_from([p, p.upper(), p.title(), " " + p])) for p in pieces)
    patterns = trigger_config.Patterns((regex,), (need,))
    runs = patterns.runnable(Prefilter([patterns]).gate(trigger_rules.normalize(text)))
    own = trigger_rules.own_voice(text)
    joined = " ".join(trigger_rules._SENTENCE.split(own))  # sentences joined as mood() reads them
    for searched in (trigger_rules.normalize(text), trigger_rules.prose(text), own, joined):
        if regex.search(searched):
            assert runs == (regex,), (regex.pattern, text)


# ── texts that cut, join or case-fold across a phrase ────────────────────────────────────────

TRICKY = [
    "This is\n\nso frustrating. My boss is furious. And you're not listening!!",
    "I want to speak\nto a human",
    "Can I `talk` to a real person? \"I want a refund\" said my customer. I want my money back.",
    "ſo FRUſTRATED, I WANT MY MONEY BACK",
    "BİLLİNG owner has left the company, we need billing access",
    "```\nTraceback (most recent call last):\n  File x\nValueError: boom\n```\nit stopped working",
    "oh great, it crashed again… since the last update nothing changed on our side",
    "Thanks, that worked! The app still crashes though",
    "",
    "   ",
    "Je voudrais parler à un conseiller",
    "This is a waste\nof my time.\nYou are not\nlistening",  # mood() joins the lines: "waste of my time"
    "オペレーターと話したいです。昨日までは使えたのに、保存できなくなりました",
]


@pytest.mark.parametrize("text", TRICKY)
def test_each_detector_reads_tricky_texts_as_the_reference_does(text: str,
                                                                  paths: tuple[TriggerConfig, TriggerConfig]) -> None:
    fast, slow = paths
    customer = Message.model_validate({"role": "customer", "text": text, "attachments": [{"kind": "screenshot"}]})
    bot = Message.model_validate({"role": "bot", "text": text, "confidence": 0.9})
    assert trigger_rules.human_request(text, fast) == trigger_rules.human_request(text, slow)
    assert trigger_rules.product_bug(customer, fast) == trigger_rules.product_bug(customer, slow)
    assert trigger_rules.billing_exception(text, fast) == trigger_rules.billing_exception(text, slow)
    assert trigger_rules.low_confidence(bot, fast) == trigger_rules.low_confidence(bot, slow)
    for english in (True, False):
        for after_repeat in (True, False):
            assert (trigger_rules.mood(text, fast, english=english, after_repeat=after_repeat)
                    == trigger_rules.mood(text, slow, english=english, after_repeat=after_repeat))


def test_tricky_texts_are_not_trivially_equal(paths: tuple[TriggerConfig, TriggerConfig]) -> None:
    """The texts above exercise the detectors: several fire (on both paths, by the test above)."""
    fast, _ = paths
    assert trigger_rules.human_request(TRICKY[1], fast) == "speak\nto a human"
    assert trigger_rules.billing_exception(TRICKY[3], fast)
    assert trigger_rules.mood(TRICKY[0], fast, english=True, after_repeat=False).points >= 2
    assert trigger_rules.mood(TRICKY[3], fast, english=True, after_repeat=False).points >= 2
    assert "waste of my time" in trigger_rules.mood(TRICKY[11], fast, english=False, after_repeat=False).cues


@pytest.mark.parametrize("text", ["This is\n\nso   bad 😡!!", "  great  \t job ?? ", "I love it\n🙂", "Not good."])
def test_vader_reads_the_text_with_its_whitespace_collapsed_the_same(text: str) -> None:
    analyzer = trigger_rules._vader()
    assert trigger_rules.vader_compound(text) == analyzer.polarity_scores(text)["compound"]


# ── the judge's own shortcuts: concept phrases in one automaton pass, accents by one translate ──

@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=40))
def test_fold_deletes_exactly_the_combining_marks(text: str) -> None:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    assert judge_lexicon.fold(text) == " ".join(stripped.split())


PHRASE_PIECES = [p for p, _ in judge_lexicon.PHRASES[::7]] + ["x", " ", "wieder da", "nog steeds", "ai", "."]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PHRASE_PIECES), max_size=8))
def test_concepts_are_those_a_phrase_by_phrase_search_finds(pieces: list[str]) -> None:
    """One Aho–Corasick pass finds what ``phrase in text`` for every phrase found, overlaps included."""
    folded = judge_lexicon.fold("".join(pieces))
    padded = f" {folded} "
    words: set[str] = set().union(*map(judge_lexicon._word_concepts, folded.split()))
    assert judge_lexicon.concepts(folded) == words | {c for p, c in judge_lexicon.PHRASES if p in padded}

"""The measuring tools for the judge's variants (bench/judge_variants.py, bench/judge_experiments.py):
their decision rules agree with the shipped one where they should, never look ahead, and the
NB-scaled model is what its exported weights compute."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from bench import judge_experiments, judge_variants
from bench.judge_variants import Rule
from bridge.pipeline import judge, judge_train, trigger_config

CORPUS = Path(__file__).resolve().parents[2] / "data" / "triage"
THRESHOLDS = {"customer_requested_human": 0.6, "product_bug": 0.6, "negative_sentiment": 0.6,
              "billing_exception": 0.6, "low_confidence": 0.6}
NONE: frozenset[str] = frozenset()


def customer(bug: float, forced: frozenset[str] = NONE) -> judge_variants.Step:
    return ({"customer_requested_human": 0.1, "product_bug": bug, "negative_sentiment": 0.2,
             "billing_exception": 0.1}, forced, NONE, {})


def bot(confirm_bug: float, low: float = 0.1) -> judge_variants.Step:
    return ({"low_confidence": low}, NONE, NONE, {"product_bug": confirm_bug, "customer_requested_human": 0.0,
                                                  "negative_sentiment": 0.0, "billing_exception": 0.0})


def shipped(steps: list[judge_variants.Step]) -> tuple[int, list[str]] | None:
    return judge.first_escalation([(s, set(f), set(h)) for s, f, h, _ in steps], THRESHOLDS, 0.8)


def test_without_a_band_the_deferring_rule_is_the_shipped_one() -> None:
    rule = Rule(THRESHOLDS, 0.8)
    for steps in ([customer(0.7), bot(0.0)], [customer(0.3), bot(0.9, low=0.7)], [customer(0.3), bot(0.0)],
                  [customer(0.2, frozenset({"customer_requested_human"}))]):
        assert judge_variants.first_escalation(steps, rule) == shipped(steps)


def test_a_grey_crossing_waits_for_the_bots_answer_and_never_escalates_earlier() -> None:
    rule = Rule(THRESHOLDS, 0.8, band={"product_bug": 0.5}, confirm={"product_bug": 0.4})
    grey, sure = customer(0.7), customer(0.9)  # the sure bar is 0.6 + 0.5 * 0.4 = 0.8
    assert judge_variants.first_escalation([grey, bot(0.1)], rule) is None  # the answer cleared it
    assert judge_variants.first_escalation([grey, bot(0.5)], rule) == (2, ["product_bug"])
    assert judge_variants.first_escalation([grey], rule) is None  # no answer yet: not now
    assert judge_variants.first_escalation([grey], rule, settle=True) == (1, ["product_bug"])  # a hand-off
    assert judge_variants.first_escalation([grey, customer(0.1)], rule) == (2, ["product_bug"])
    assert judge_variants.first_escalation([sure, bot(0.0)], rule) == (1, ["product_bug"])
    forced = customer(0.7, frozenset({"customer_requested_human"}))
    assert judge_variants.first_escalation([forced], rule) == shipped([forced])
    for steps in ([grey, bot(0.5)], [grey, bot(0.1), customer(0.9)], [customer(0.1), grey, customer(0.1)]):
        found, before = judge_variants.first_escalation(steps, rule), shipped(steps)
        assert found is not None and before is not None and found[0] >= before[0]


def test_the_answer_models_learn_from_bot_answers_only() -> None:
    [example] = [e for e in judge_train.load_corpus(CORPUS, "train")
                 if e.label["escalate"] and "product_bug" in e.label["required"]
                 and len(e.event.conversation.messages) >= 4][:1]
    roles = [m.role for m in example.event.conversation.messages]
    rows = judge_variants.answer_targets(example, len(roles))
    for role, row in zip(roles, rows, strict=True):
        if role == "customer":
            assert set(row.values()) == {None}
        else:
            assert row["low_confidence"] is None and row["product_bug"] in (0.0, 1.0, None)
    at = [i for i, r in enumerate(roles, 1) if r == "bot" and example.label["earliest_message"] <= i
          <= example.label["latest_message"]]
    assert all(rows[i - 1]["product_bug"] == 1.0 for i in at)


def test_the_gate_never_overrules_a_precise_rule_and_memory_names_earlier_scores() -> None:
    steps = [({"product_bug": 0.9}, set(), set()), ({"product_bug": 0.1}, {"customer_requested_human"}, set())]
    assert judge_experiments.first_escalation(steps, THRESHOLDS, 0.8, gates=[0.0, 0.0], gate_cut=0.5) == \
        (2, ["customer_requested_human"])
    assert judge_experiments.first_escalation(steps, THRESHOLDS, 0.8, memory={})[1] == ["product_bug"]
    assert judge_experiments.first_escalation(steps, THRESHOLDS, 0.8) == judge.first_escalation(steps, THRESHOLDS, 0.8)


def test_context_features_never_look_ahead() -> None:
    cfg = trigger_config.load()
    # (not a hand-off: the hand-off's reason joins the last message's features, wherever it is)
    example = next(e for e in judge_train.load_corpus(CORPUS, "train")
                   if len(e.event.conversation.messages) >= 6 and e.event.type != "handoff.requested")
    full = list(judge_experiments.context_positions(example.event, cfg))
    assert any(name.startswith(("ek:", "x:")) for _, _, features in full for name in features)
    raw = json.loads((CORPUS / "conversations" / example.name).read_text(encoding="utf-8"))
    messages = raw["conversation"]["messages"]
    for n in (2, 4):
        cut = type(example.event).model_validate({**raw, "conversation": {**raw["conversation"],
                                                                          "messages": messages[:n]}})
        prefix = list(judge_experiments.context_positions(cut, cfg))
        assert [f for _, _, f in prefix] == [f for _, _, f in full[:n]]


def test_nb_scaled_weights_are_what_the_model_computes() -> None:
    np = pytest.importorskip("numpy")
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.csr_matrix(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=float))  # noqa: N806
    y = np.array([1, 1, 0, 0])
    ratio = judge_variants.nb_ratio(X, y)
    assert ratio[0] > 0 > ratio[1] and abs(ratio[2]) < 1e-9  # only in positives, only in negatives, both
    model = judge_variants.NBScaled(judge_train._fit(X.multiply(ratio).tocsr(), y, 1.0), ratio)
    for row in range(4):
        raw = float(X[row].toarray()[0] @ model.coef_[0] + model.intercept_[0])
        assert math.isclose(model.predict_proba(X[row])[0, 1], 1 / (1 + math.exp(-raw)), rel_tol=1e-9)


def test_the_experiments_verdicts_without_options_are_the_shipped_ones() -> None:
    """bench/judge_experiments.py decides through ``judge_train.verdicts`` with its own rule: with no
    gate, no memory and one co-trigger share, it says what the shipped rule says, hand-offs included."""
    cfg = trigger_config.load()
    examples = judge_train.load_corpus(CORPUS, "train")[::12]
    data = judge_train.build(examples, cfg)
    rng = random.Random(15)
    scores = [{t: rng.random() for t in judge_train.LEARNED} for _ in data.features]
    shipped_verdicts = judge_train.verdicts(data, scores, THRESHOLDS, 0.8, cfg, 0.5)
    assert judge_experiments.verdicts(data, scores, THRESHOLDS, 0.8, cfg, 0.5) == shipped_verdicts
    assert any(v.escalate and v.triggers for v in shipped_verdicts.values())
    assert any(e.event.type == "handoff.requested" for e in examples)
    gated = judge_experiments.verdicts(data, scores, THRESHOLDS, 0.8, cfg, 0.5, gates=[0.0] * len(scores),
                                       gate_cut=0.5)
    assert gated != shipped_verdicts  # the rule given is the one applied


def test_conversation_weights_give_each_conversation_one_vote_per_target() -> None:
    import numpy as np

    groups = [0, 0, 0, 0, 1, 2, 2]
    y = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    w = judge_variants.conversation_weights(groups, y, 1.0)
    assert w.mean() == pytest.approx(1.0)
    per = {(g, t): 0.0 for g, t in zip(groups, y, strict=True)}
    for g, t, weight in zip(groups, y, w, strict=True):
        per[(g, t)] += weight
    assert len({round(v, 9) for v in per.values()}) == 1  # three negatives of conversation 0 weigh one row's
    soft = judge_variants.conversation_weights(groups, y, 0.5)
    assert soft[0] / soft[4] == pytest.approx(1 / math.sqrt(3))
    assert judge_variants.FIT_KINDS["cw"] == "cw1" and judge_variants.FIT_KINDS["cws"] == "cw0.5"


def test_naming_targets_cover_only_an_escalations_window() -> None:
    from types import SimpleNamespace

    label = {"escalate": True, "earliest_message": 2, "latest_message": 3, "required": ["product_bug"],
             "allowed": ["negative_sentiment"]}
    rows = judge_variants.naming_targets(SimpleNamespace(label=label), 4)  # type: ignore[arg-type]
    assert all(v is None for v in rows[0].values()) and all(v is None for v in rows[3].values())
    for row in rows[1:3]:
        assert row["product_bug"] == 1.0 and row["negative_sentiment"] is None
        assert row["billing_exception"] == 0.0 and row["customer_requested_human"] == 0.0
    calm = dict(label, escalate=False)
    assert all(v is None for row in judge_variants.naming_targets(SimpleNamespace(label=calm), 4)  # type: ignore[arg-type]
               for v in row.values())


def test_renaming_keeps_the_deciding_trigger_and_the_precise_rules() -> None:
    rule = Rule(THRESHOLDS, 0.8, name={"negative_sentiment": 0.5}, keep=0.3)
    naming = {"product_bug": 0.1, "billing_exception": 0.2, "negative_sentiment": 0.6, "customer_requested_human": 0.0}
    chosen = ["product_bug", "billing_exception", "customer_requested_human"]
    named = judge_variants.renamed(chosen, frozenset({"customer_requested_human"}), naming, rule)
    assert named == ["product_bug", "customer_requested_human", "negative_sentiment"]
    assert judge_variants.renamed(chosen, NONE, naming, Rule(THRESHOLDS, 0.8)) == chosen  # no bars: as decided

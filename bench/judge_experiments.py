"""The variants of the judge measured on 2026-12-06 that did not win (docs/triage.md, "Better
ranking?"), kept out of the product so they can be measured again when the corpus grows:

(a) a second stage that decides "escalate at all": a small logistic stacker over the per-trigger
    scores and the structural signals of a message (the per-trigger models each say how much a
    message looks like their trigger; the hard negatives look like one trigger in isolation). It
    reads all the scores at once, the strongest score each trigger has had so far and the ``s:``
    signals; a trigger's crossing escalates only where the gate agrees (a precise rule decides alone
    as before). Trained on out-of-fold first-stage scores;
(b) conversation-context features (``context_positions``);
(c) stronger regularisation (``judge_nested.make_procedure(C=...)``, a product option);
(d) one co-trigger share per trigger, and triggers named by their best score so far.

``python -m bench.judge_experiments [--options JSON] [--context]``, e.g. ``--options '{"gate": true}'``
or ``--options '{"memory": true, "per_trigger_co": true}'``: the nested cross-validation figures, as
``python -m bridge.pipeline.judge_nested`` prints them for the shipped procedure.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from bridge.events import Event, Message
from bridge.pipeline import judge_features, judge_nested, judge_train
from bridge.pipeline.judge_nested import Procedure
from bridge.pipeline.judge_train import LEARNED, ROLE, Dataset, Verdict
from bridge.pipeline.trigger_config import TriggerConfig

Features = dict[str, float]


def features(scores: dict[str, float], best: dict[str, float], message: Features) -> Features:
    """The gate's inputs at one message: this message's scores, each trigger's best so far, and the
    message's structural signals."""
    out: Features = {f"g:p:{t}": p for t, p in scores.items()}
    out.update((f"g:max:{t}", p) for t, p in best.items())
    if scores:
        top = max(scores.values())
        out["g:top"] = top
        out["g:second"] = sorted(scores.values())[-2] if len(scores) > 1 else 0.0
    out.update((name, v) for name, v in message.items() if name.startswith("s:"))
    return out


def running_best(best: dict[str, float], scores: dict[str, float]) -> dict[str, float]:
    """Each trigger's strongest score so far, including this message's."""
    merged = dict(best)
    for t, p in scores.items():
        merged[t] = max(p, merged.get(t, 0.0))
    return merged


def probability(weights: dict[str, float], intercept: float, gate_features: Features) -> float:
    total = intercept + sum(weights.get(name, 0.0) * v for name, v in gate_features.items())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, total))))


def target(label: dict[str, Any], index: int) -> float | None:
    """1 where stepping in at this 1-based message is on time, 0 where it would be wrong or early,
    None after the window (too late either way)."""
    if not label["escalate"] or index < label["earliest_message"]:
        return 0.0
    return 1.0 if index <= label["latest_message"] else None


def rows(data: Any, scores: Sequence[dict[str, float]]) -> list[Features]:
    """Gate inputs of every row of a ``judge_train.Dataset``, walking each conversation in order."""
    out: list[Features] = []
    best: dict[str, float] = {}
    last_group, index = None, 0
    for r, g in enumerate(data.groups):
        if g != last_group:
            best, last_group, index = {}, g, 0
        index += 1
        role = data.examples[g].event.conversation.messages[index - 1].role
        mine = {t: p for t, p in scores[r].items() if ROLE[t] == role}
        best = running_best(best, mine)
        out.append(features(mine, best, data.features[r]))
    return out


def targets(data: Any) -> list[float | None]:
    out: list[float | None] = []
    index, last_group = 0, None
    for g in data.groups:
        index = index + 1 if g == last_group else 1
        last_group = g
        out.append(target(data.examples[g].label, index))
    return out


C = 1.0
SEED = 15


def fit_gate(inputs: list[Features], y: list[float | None], C: float = C) -> tuple[dict[str, float], float]:  # noqa: N803
    """Weights by name and the intercept of an L2 logistic regression (liblinear: deterministic)."""
    import numpy as np
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    keep = [r for r, t in enumerate(y) if t is not None]
    vectorizer = DictVectorizer(sparse=False)  # a hundred or so inputs: dense is simplest
    X = vectorizer.fit_transform([inputs[r] for r in keep])  # noqa: N806
    model = LogisticRegression(C=C, solver="liblinear", class_weight="balanced", max_iter=500, random_state=SEED)
    model.fit(X, np.array([y[r] for r in keep]))
    names = vectorizer.get_feature_names_out()
    return {str(n): float(w) for n, w in zip(names, model.coef_[0], strict=True)}, float(model.intercept_[0])


def cross_fitted(data: Any, scores: Sequence[dict[str, float]], k: int = 5, C: float = C) -> list[float]:  # noqa: N803
    """Each row's gate probability from a gate that never saw its conversation."""
    inputs, y = rows(data, scores), targets(data)
    out = [0.0] * len(inputs)
    for train_rows, held_rows in judge_train.folds(data.groups, k):
        weights, intercept = fit_gate([inputs[r] for r in train_rows], [y[r] for r in train_rows], C)
        for r in held_rows:
            out[r] = probability(weights, intercept, inputs[r])
    return out


# --- (a), (d): the decision rule with a gate, per-trigger co-trigger shares and memory ------------

def first_escalation(steps: list[tuple[dict[str, float], set[str], set[str]]], thresholds: dict[str, float],
                     co: float | dict[str, float], assist: float = 1.0, gates: list[float] | None = None,
                     gate_cut: float = 0.0, memory: dict[str, float] | None = None) -> tuple[int, list[str]] | None:
    """``judge.first_escalation``, where a crossing counts only if the gate (when there is one) is at
    least ``gate_cut``, ``co`` may be one share per trigger, and with ``memory`` (each trigger's best
    score in earlier steps, updated in place) a trigger's best score so far counts for naming it."""
    for index, (scores, forced, helped) in enumerate(steps, start=1):
        if memory is not None:
            for t, p in scores.items():
                memory[t] = max(p, memory.get(t, 0.0))
        bar = {t: thresholds[t] * (assist if t in helped else 1.0) for t in (memory if memory is not None else scores)}
        crossed = any(p >= bar[t] for t, p in scores.items())
        if crossed and gates is not None and gates[index - 1] < gate_cut:
            crossed = False
        if forced or crossed:
            pool = scores if memory is None else memory
            share = co if isinstance(co, dict) else dict.fromkeys(pool, co)
            chosen = {t for t, p in pool.items() if p >= share[t] * bar[t]} | forced
            return index, sorted(chosen, key=lambda t: -pool.get(t, 1.0) / bar.get(t, 1.0))
    return None


def verdicts(data: Dataset, scores: list[dict[str, float]], thresholds: dict[str, float], co: float | dict[str, float],
             cfg: TriggerConfig, assist: float = 1.0, gates: list[float] | None = None,
             gate_cut: float = 0.0, memory: bool = False) -> dict[str, Verdict]:
    """``judge_train.verdicts`` with this module's rule."""
    def decide(steps: list[judge_train.Step], rows: list[int]) -> tuple[int, list[str]] | None:
        gated = None if gates is None else [gates[r] for r in rows]
        return first_escalation(steps, thresholds, co, assist, gated, gate_cut, {} if memory else None)

    return judge_train.verdicts(data, scores, thresholds, 1.0, cfg, assist, decide)


GATE_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def tune_gated(data: Dataset, scores: list[dict[str, float]], cfg: TriggerConfig, gates: list[float] | None,
               per_trigger_co: bool = False, memory: bool = False) -> tuple[dict[str, float], Any, float, float]:
    """``judge_train.tune``, and the gate's cut searched with the rest when there are gate scores;
    with ``per_trigger_co`` one co-trigger share per trigger; with ``memory`` triggers named by their
    best score so far."""
    labels = {e.name: e.label for e in data.examples}

    def score(thresholds: dict[str, float], co: Any, assist: float, cut: float) -> float:
        found = verdicts(data, scores, thresholds, co, cfg, assist, gates, cut, memory)
        return judge_train.objective(judge_train.metrics(labels, found))

    thresholds, assist, cut = {t: 0.5 for t in LEARNED}, 1.0, 0.0
    co: Any = {t: 0.8 for t in LEARNED} if per_trigger_co else 0.8
    best = score(thresholds, co, assist, cut)
    for _ in range(3):
        for trigger in LEARNED:
            for value in judge_train.GRID:
                trial = {**thresholds, trigger: value}
                result = score(trial, co, assist, cut)
                if result > best + 1e-9:
                    best, thresholds = result, trial
        for key in LEARNED if per_trigger_co else [None]:
            for value in judge_train.CO_GRID:
                option = {**co, key: value} if key else value
                result = score(thresholds, option, assist, cut)
                if result > best + 1e-9:
                    best, co = result, option
        for value in judge_train.ASSIST_GRID:
            result = score(thresholds, co, value, cut)
            if result > best + 1e-9:
                best, assist = result, value
        for value in GATE_GRID if gates is not None else ():
            result = score(thresholds, co, assist, value)
            if result > best + 1e-9:
                best, cut = result, value
    return thresholds, co, assist, cut


def make_procedure(k: int = 5, C: dict[str, float] | None = None,  # noqa: N803
                   class_weight: dict[str, Any] | None = None, gate: bool = False, per_trigger_co: bool = False,
                   memory: bool = False) -> Procedure:
    """``judge_nested.make_procedure`` with the gate (its cut tuned with the thresholds),
    per-trigger co-trigger shares and memory as options."""
    per_trigger = judge_nested.per_trigger_c(C)

    def fit(data: Dataset, X: Any, cfg: TriggerConfig) -> Any:  # noqa: N803
        scores, models = judge_nested.fit_both(data, X, per_trigger, k, class_weight)
        gates = cross_fitted(data, scores, k) if gate else None
        thresholds, co, assist, cut = tune_gated(data, scores, cfg, gates, per_trigger_co, memory)
        gate_model = fit_gate(rows(data, scores), targets(data)) if gate else None

        def judge_held(held: Dataset, X_held: Any) -> tuple[dict[str, Verdict], dict[str, Any]]:  # noqa: N803
            held_scores = judge_train.predict(models, X_held)
            held_gates = None
            if gate_model is not None:
                held_gates = [probability(*gate_model, row) for row in rows(held, held_scores)]
            chosen = {"thresholds": thresholds, "co": co, "assist": assist, "gate_cut": cut}
            return verdicts(held, held_scores, thresholds, co, cfg, assist, held_gates, cut, memory), chosen

        return judge_held

    return fit


# --- (b): conversation-context features -----------------------------------------------------------

NEGATIVE = {"s:mood<2", "s:mood<3", "s:mood>=3", "s:vader<-0.6"}


def _concepts(features: Features, prefix: str) -> list[str]:
    return [name[len(prefix):] for name in features if name.startswith(prefix) and "+" not in name]


def context_positions(event: Event, cfg: TriggerConfig) -> Iterator[tuple[int, Message, Features]]:
    """``judge_features.positions`` with what the conversation so far adds to a customer turn: the
    concepts of the customer's earlier turns (money named before, an exception asked now), the bot's
    last answer's concepts against the customer's now (a refusal, then anger or an exception), and
    how many earlier turns were negative or went unanswered (frustration that accumulates). Built
    from the features of earlier messages only, so it never looks ahead either."""
    earlier: set[str] = set()
    bot_concepts: list[str] = []
    negative = non_answers = 0
    for index, message, features in judge_features.positions(event, cfg):
        if message.role == "customer":
            now = _concepts(features, "ck:")
            extra: Features = {f"ek:{c}": 1.0 for c in sorted(earlier)}
            extra.update((f"x:{b}>{c}", 1.0) for b in bot_concepts for c in now)
            if negative:
                extra[judge_features._bin("s:negative_turns", negative, (2, 3))] = 1.0
            if non_answers:
                extra[judge_features._bin("s:non_answers", non_answers, (2, 3))] = 1.0
            earlier.update(now)
            negative += int("ANGER" in now or bool(features.keys() & NEGATIVE))
            features = {**features, **extra}
        elif message.role == "bot":
            non_answers += int(bool(features.keys() & {"s:below_threshold", "s:bot_repeats", "s:past_question"}))
            bot_concepts = _concepts(features, "bk:")
        yield index, message, features


def build_with_context(examples: Sequence[judge_train.Example], cfg: TriggerConfig) -> Dataset:
    """``judge_train.build`` over ``context_positions``."""
    data = Dataset([], [], [], list(examples))
    for g, example in enumerate(examples):
        found = list(context_positions(example.event, cfg))
        data.features += [features for _, _, features in found]
        data.targets += judge_train.targets(example, len(found))
        data.groups += [g] * len(found)
    return data


def main() -> None:  # pragma: no cover - a measuring tool
    import argparse
    import json
    import time

    from bridge.pipeline import judge_nested, trigger_config
    from bridge.pipeline.triage_eval import default_corpus

    parser = argparse.ArgumentParser()
    parser.add_argument("--outer", type=int, default=5)
    parser.add_argument("--options", type=json.loads, default={}, metavar="JSON",
                        help='make_procedure options, e.g. \'{"gate": true}\'')
    parser.add_argument("--context", action="store_true", help="with the conversation-context features")
    args = parser.parse_args()
    cfg = trigger_config.load()
    examples = judge_train.load_corpus(default_corpus(), "train")
    started = time.monotonic()
    data = build_with_context(examples, cfg) if args.context else None
    outcome = judge_nested.nested(examples, cfg, outer=args.outer, procedure=make_procedure(**args.options),
                                  data=data, progress=print)
    result = judge_nested.summary(outcome, examples)
    result["seconds"] = round(time.monotonic() - started)
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":  # pragma: no cover
    main()

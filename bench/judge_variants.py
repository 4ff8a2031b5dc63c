"""Variants of the judge's training procedure, measured against the shipped one by nested
cross-validation on the training part only (docs/triage.md, "Better ranking?"). Not product code:
what wins moves into ``bridge/pipeline``; what does not stays here so it can be measured again when
the corpus grows.

``python -m bench.judge_variants VARIANT...`` runs every named variant on the same outer folds in
one process (the features are built once, each model set is fitted once and shared by the variants
that only decide differently) and prints each fold's figures and the paired differences from the
first variant. Variants:

* ``base``: the shipped procedure (its verdicts are checked against ``judge_train.verdicts``);
* ``defer``: wait for the bot's answer — a customer turn whose score crosses its trigger's
  threshold but stays under a second, higher bar (``band`` of the way from the threshold to 1) is
  deferred to the next message: at the bot's answer a second model per trigger, trained on the bot's
  answers (the customer's turn and what the bot said to it), confirms it or clears it; a customer
  turn before any answer escalates it. The band and the confirming bar are tuned on inner folds with
  the thresholds. Deferral never looks past the message it decides at; it can only escalate later;
* ``nb``: columns scaled by their naive-Bayes log-count ratio per trigger (NBSVM) before fitting;
* ``nb+defer``: both;
* ``cw`` / ``cws``: each conversation's rows of one target weigh ``1/n`` / ``1/sqrt(n)`` together
  (``conversation_weights``), so a long conversation counts no more than a one-message request;
* ``name`` / ``name+drop``: the shipped rule decides when; naming models per trigger, trained only inside
  escalations' windows (``naming_targets``), add triggers over their bars (and, with ``drop``, remove
  co-triggers under one) at the message it decides at (``renamed``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.pipeline import judge, judge_nested, judge_train
from bridge.pipeline.judge_nested import MEASURES, subset
from bridge.pipeline.judge_train import LEARNED, ROLE, Dataset, Example, Verdict
from bridge.pipeline.trigger_config import TriggerConfig

CUSTOMER = [t for t in LEARNED if ROLE[t] == "customer"]
BAND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
CONFIRM_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def answer_targets(example: Example, n: int) -> list[dict[str, float | None]]:
    """Targets of the confirming models: at the bot's answers, each customer trigger as
    ``judge_train.targets`` labels a message (1 inside the window where it is required, 0 where
    stepping in would be wrong or early); at customer turns, unknown."""
    label = example.label
    roles = [m.role for m in example.event.conversation.messages]
    rows: list[dict[str, float | None]] = []
    for index in range(1, n + 1):
        row: dict[str, float | None] = dict.fromkeys(LEARNED)
        if roles[index - 1] == "bot":
            for t in CUSTOMER:
                if not label["escalate"] or index < label["earliest_message"]:
                    row[t] = 0.0
                elif index > label["latest_message"] or (t not in label["required"] and t in label["allowed"]):
                    row[t] = None
                else:
                    row[t] = 1.0 if t in label["required"] else 0.0
        rows.append(row)
    return rows


def retargeted(data: Dataset, targets: Callable[[Example, int], list[dict[str, float | None]]]) -> Dataset:
    """The same rows with other targets, ``targets(example, its row count)`` per conversation (rows are
    grouped by conversation, in order)."""
    count: dict[int, int] = {}
    for g in data.groups:
        count[g] = count.get(g, 0) + 1
    out: list[dict[str, float | None]] = []
    for g, example in enumerate(data.examples):
        out += targets(example, count.get(g, 0))
    return Dataset(data.features, out, data.groups, data.examples)


def with_answer_targets(data: Dataset) -> Dataset:
    """The same rows with the confirming models' targets."""
    return retargeted(data, answer_targets)


def naming_targets(example: Example, n: int) -> list[dict[str, float | None]]:
    """Targets of the naming models: inside an escalating conversation's window (where stepping in is
    on time), each trigger 1 where it is required, 0 where it is neither required nor allowed; unknown
    everywhere else. They learn which triggers an escalation has, not when to escalate."""
    label = example.label
    rows: list[dict[str, float | None]] = []
    for index in range(1, n + 1):
        row: dict[str, float | None] = dict.fromkeys(LEARNED)
        if label["escalate"] and label["earliest_message"] <= index <= label["latest_message"]:
            for t in LEARNED:
                if t in label["required"]:
                    row[t] = 1.0
                elif t not in label["allowed"]:
                    row[t] = 0.0
        rows.append(row)
    return rows


def with_naming_targets(data: Dataset) -> Dataset:
    return retargeted(data, naming_targets)


# --- NB weighting (NBSVM) ------------------------------------------------------------------------

class NBScaled:
    """A logistic regression over columns scaled by their naive-Bayes log-count ratio (NBSVM, Wang &
    Manning 2012), seen from outside as one over the raw columns: ``coef_`` is the fitted weight times
    the ratio, so the shipped model and the judge are unchanged in form."""

    def __init__(self, model: Any, ratio: Any) -> None:
        self.model, self.ratio = model, ratio
        self.coef_ = model.coef_ * ratio
        self.intercept_ = model.intercept_

    def predict_proba(self, X: Any) -> Any:  # noqa: N803
        return self.model.predict_proba(X.multiply(self.ratio).tocsr())


def nb_ratio(X: Any, y: Any, alpha: float = 1.0) -> Any:  # noqa: N803
    """Per column, log((p/|p|)/(q/|q|)) with p, q the smoothed counts of rows where it is present
    among the positive and the negative rows (binarised, as in the paper)."""
    import numpy as np

    present = (X != 0).astype(np.float64)
    p = alpha + np.asarray(present[y == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(present[y == 0].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


# --- rows weighted by conversation ---------------------------------------------------------------

def conversation_weights(groups: Sequence[int], y: Any, power: float) -> Any:  # noqa: N803
    """Per row, ``1 / n ** power`` where ``n`` is the number of rows of its conversation with its
    target (a 30-message conversation weighs as much as a one-message one at ``power`` 1), scaled to a
    mean of 1 so that ``C`` keeps its meaning."""
    import numpy as np

    count: dict[tuple[int, float], int] = {}
    for g, target in zip(groups, y, strict=True):
        count[(g, target)] = count.get((g, target), 0) + 1
    w = np.array([count[(g, target)] ** -power for g, target in zip(groups, y, strict=True)])
    return w * (len(w) / w.sum())


def _fit_weighted(X: Any, y: Any, C: float, weights: Any) -> Any:  # noqa: N803
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, solver="liblinear", class_weight="balanced", max_iter=200,
                               random_state=judge_train.SEED)
    model.fit(X, y, sample_weight=weights)
    return model


FIT_KINDS = {"base": "plain", "defer": "plain", "nb": "nb", "nb+defer": "nb", "cw": "cw1", "cws": "cw0.5",
             "name": "plain", "name+drop": "plain"}


def fit_models(data: Dataset, rows: Sequence[int] | range, C: dict[str, float], X: Any,  # noqa: N803
               kind: str | bool) -> dict[str, Any]:
    """``judge_train.fit_models``, with NB-scaled columns (``nb``) or rows weighted by conversation
    (``cw<power>``); ``False`` or ``plain`` is the shipped fit."""
    if kind in (False, "plain"):
        return judge_train.fit_models(data, rows, C, None, X)
    import numpy as np

    nb = kind in (True, "nb")
    models = {}
    for trigger in LEARNED:
        keep = [r for r in rows if data.targets[r][trigger] is not None]
        y = np.array([data.targets[r][trigger] for r in keep])
        if y.sum() == 0:
            continue
        if nb:
            ratio = nb_ratio(X[keep], y)
            models[trigger] = NBScaled(judge_train._fit(X[keep].multiply(ratio).tocsr(), y, C[trigger]), ratio)
        else:
            weights = conversation_weights([data.groups[r] for r in keep], y, float(str(kind)[2:]))
            models[trigger] = _fit_weighted(X[keep], y, C[trigger], weights)
    return models


def out_of_fold(data: Dataset, C: dict[str, float], k: int, X: Any, nb: str | bool) -> list[dict[str, float]]:  # noqa: N803
    """``judge_train.out_of_fold`` over this module's ``fit_models``."""
    scores: list[dict[str, float]] = [{} for _ in data.features]
    for train_rows, held_rows in judge_train.folds(data.groups, k):
        for r, found in zip(held_rows, judge_train.predict(fit_models(data, train_rows, C, X, nb), X[held_rows]),
                            strict=True):
            scores[r].update(found)
    return scores


# --- deciding from per-row scores ---------------------------------------------------------------

Step = tuple[dict[str, float], frozenset[str], frozenset[str], dict[str, float]]


@dataclass
class Steps:
    """Per conversation, what the decision rule reads at each message (precomputed once: the
    coordinate search decides every conversation a few hundred times)."""

    examples: list[Example]
    steps: list[list[Step]]
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: list[list[dict[str, float]]] = field(default_factory=list)  # the naming models' scores, per step

    @classmethod
    def of(cls, data: Dataset, scores: list[dict[str, float]], answers: list[dict[str, float]] | None,
           naming: list[dict[str, float]] | None = None) -> Steps:
        rows: dict[int, list[int]] = {}
        for r, g in enumerate(data.groups):
            rows.setdefault(g, []).append(r)
        names = [[naming[r] for r in rows.get(g, [])] for g in range(len(data.examples))] if naming else []
        steps = []
        for g, example in enumerate(data.examples):
            messages = example.event.conversation.messages
            steps.append([({t: p for t, p in scores[r].items() if ROLE[t] == m.role},
                           frozenset(judge.precise_hits(data.features[r])), frozenset(judge.assisted(data.features[r])),
                           answers[r] if answers is not None and m.role == "bot" else {})
                          for r, m in zip(rows.get(g, []), messages, strict=True)])
        return cls(data.examples, steps, {e.name: e.label for e in data.examples}, names)


@dataclass(frozen=True)
class Rule:
    thresholds: dict[str, float]
    co: float
    assist: float = 1.0
    band: dict[str, float] = field(default_factory=dict)  # 0 (or absent): no deferral
    confirm: dict[str, float] = field(default_factory=dict)
    name: dict[str, float] = field(default_factory=dict)  # naming bars (absent: the naming model adds nothing)
    keep: float = 0.0  # a co-trigger stays named when the naming model gives it at least this


def _chosen(scores: dict[str, float], forced: frozenset[str], bar: dict[str, float], co: float) -> list[str]:
    chosen = {t for t, p in scores.items() if p >= co * bar[t]} | forced
    return sorted(chosen, key=lambda t: -scores.get(t, 1.0) / bar.get(t, 1.0))


def first_escalation(steps: Sequence[Step], rule: Rule, settle: bool = False) -> tuple[int, list[str]] | None:
    """``judge.first_escalation`` with deferral: a crossing under its trigger's sure bar waits for
    the next message (confirmed at a bot answer by the answer model, escalated at a customer turn);
    with ``settle`` (a hand-off: no answer will come) a deferral still open at the end escalates."""
    pending: tuple[int, list[str], set[str]] | None = None
    for index, (scores, forced, helped, answers) in enumerate(steps, start=1):
        bar = {t: rule.thresholds[t] * (rule.assist if t in helped else 1.0) for t in scores}
        crossed = {t for t, p in scores.items() if p >= bar[t]}
        if pending is not None:
            _, chosen, waiting = pending
            pending = None
            if not answers:  # the customer again, no answer between
                if forced or crossed:
                    return index, _chosen(scores, forced, bar, rule.co)
                return index, chosen
            if any(answers.get(t, 0.0) >= rule.confirm.get(t, 1.0) for t in waiting):
                return index, chosen
        if forced:
            return index, _chosen(scores, forced, bar, rule.co)
        if crossed:
            sure = {t for t in crossed
                    if scores[t] >= bar[t] + rule.band.get(t, 0.0) * (1.0 - bar[t]) or not rule.band.get(t)}
            if sure:
                return index, _chosen(scores, forced, bar, rule.co)
            pending = (index, _chosen(scores, forced, bar, rule.co), crossed)
    if pending is not None and settle:
        return pending[0], pending[1]
    return None


def renamed(chosen: list[str], forced: frozenset[str], naming: dict[str, float], rule: Rule) -> list[str]:
    """The triggers named at an escalation once the naming models are asked: the strongest crossing
    and the precise rules' stay; a co-trigger stays where its naming score reaches ``rule.keep``; any
    trigger whose naming score reaches its bar is added."""
    kept = [chosen[0]] + [t for t in chosen[1:] if t in forced or naming.get(t, 1.0) >= rule.keep]
    added = sorted((t for t, p in naming.items() if t not in kept and p >= rule.name.get(t, 2.0)),
                   key=lambda t: -naming[t])
    return kept + added


def verdicts(steps: Steps, rule: Rule, cfg: TriggerConfig) -> dict[str, Verdict]:
    out = {}
    for g, (example, conv) in enumerate(zip(steps.examples, steps.steps, strict=True)):
        found = first_escalation(conv, rule, settle=example.event.type == "handoff.requested")
        if found is not None and steps.names and (rule.name or rule.keep):
            index, chosen = found
            found = (index, renamed(chosen, conv[index - 1][1], steps.names[g][index - 1], rule))
        out[example.name] = judge_train.verdict(example, found, cfg)
    return out


NAME_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 2.0)
KEEP_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


def tune_naming(steps: Steps, cfg: TriggerConfig, rule: Rule, drop: bool) -> Rule:
    """Naming bars per trigger (and, with ``drop``, the bar a co-trigger must keep) searched with the
    decision rule fixed, from the rule as it is (no renaming)."""
    def score(trial: Rule) -> float:
        return judge_train.objective(judge_train.metrics(steps.labels, verdicts(steps, trial, cfg)))

    best = score(rule)
    for _ in range(2):
        for t in LEARNED:
            for value in NAME_GRID:
                trial = Rule(rule.thresholds, rule.co, rule.assist, rule.band, rule.confirm, {**rule.name, t: value},
                             rule.keep)
                result = score(trial)
                if result > best + 1e-9:
                    best, rule = result, trial
        for value in KEEP_GRID if drop else ():
            trial = Rule(rule.thresholds, rule.co, rule.assist, rule.band, rule.confirm, rule.name, value)
            result = score(trial)
            if result > best + 1e-9:
                best, rule = result, trial
    return rule


def tune(steps: Steps, cfg: TriggerConfig, defer: bool) -> Rule:
    """``judge_train.tune``'s coordinate search, with each customer trigger's band and confirming bar
    searched too when ``defer`` (band 0 everywhere is the shipped rule, where the search starts)."""
    def score(rule: Rule) -> float:
        return judge_train.objective(judge_train.metrics(steps.labels, verdicts(steps, rule, cfg)))

    rule = Rule({t: 0.5 for t in LEARNED}, 0.8, 1.0, dict.fromkeys(CUSTOMER, 0.0), dict.fromkeys(CUSTOMER, 0.3))
    best = score(rule)

    def consider(trial: Rule) -> None:
        nonlocal best, rule
        result = score(trial)
        if result > best + 1e-9:
            best, rule = result, trial

    for _ in range(3):
        for t in LEARNED:
            for value in judge_train.GRID:
                consider(Rule({**rule.thresholds, t: value}, rule.co, rule.assist, rule.band, rule.confirm))
        for value in judge_train.CO_GRID:
            consider(Rule(rule.thresholds, value, rule.assist, rule.band, rule.confirm))
        for value in judge_train.ASSIST_GRID:
            consider(Rule(rule.thresholds, rule.co, value, rule.band, rule.confirm))
        for t in CUSTOMER if defer else ():
            for value in BAND_GRID:
                consider(Rule(rule.thresholds, rule.co, rule.assist, {**rule.band, t: value}, rule.confirm))
            for value in CONFIRM_GRID:
                consider(Rule(rule.thresholds, rule.co, rule.assist, rule.band, {**rule.confirm, t: value}))
    return rule


# --- the nested run -----------------------------------------------------------------------------

def run(examples: Sequence[Example], cfg: TriggerConfig, variants: Sequence[str], outer: int = 5, inner: int = 5,
        C: float = judge_train.DEFAULT_C, progress: Any = print, with_errors: bool = False) -> dict[str, Any]:  # noqa: N803
    from sklearn.feature_extraction import DictVectorizer

    data = judge_train.build(examples, cfg)
    X = DictVectorizer().fit_transform(judge_train.frequent(data))  # noqa: N806
    per_trigger = dict.fromkeys(LEARNED, C)
    conversations = sorted(set(data.groups))
    fold_of = judge_train.fold_assignment(conversations, outer)
    pooled: dict[str, dict[str, Verdict]] = {v: {} for v in variants}
    folds: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    rules: dict[str, list[Any]] = {v: [] for v in variants}
    for i in range(outer):
        fit_part, fit_rows = subset(data, [g for g in conversations if fold_of[g] != i])
        held_part, held_rows = subset(data, [g for g in conversations if fold_of[g] == i])
        X_fit, X_held = X[fit_rows], X[held_rows]  # noqa: N806
        labels = {e.name: e.label for e in held_part.examples}
        for nb in sorted({FIT_KINDS[v] for v in variants}):
            mine = [v for v in variants if FIT_KINDS[v] == nb]
            oof = out_of_fold(fit_part, per_trigger, inner, X_fit, nb)
            models = fit_models(fit_part, range(len(fit_part.features)), per_trigger, X_fit, nb)
            held = judge_train.predict(models, X_held)
            oof_answers = held_answers = None
            if any(v.endswith("defer") for v in mine):
                answers = with_answer_targets(fit_part)
                oof_answers = out_of_fold(answers, per_trigger, inner, X_fit, nb)
                answer_models = fit_models(answers, range(len(answers.features)), per_trigger, X_fit, nb)
                held_answers = judge_train.predict(answer_models, X_held)
            oof_names = held_names = None
            if any(v.startswith("name") for v in mine):
                naming = with_naming_targets(fit_part)
                oof_names = out_of_fold(naming, per_trigger, inner, X_fit, nb)
                held_names = judge_train.predict(fit_models(naming, range(len(naming.features)), per_trigger, X_fit,
                                                            nb), X_held)
            inner_steps = Steps.of(fit_part, oof, oof_answers, oof_names)
            held_steps = Steps.of(held_part, held, held_answers, held_names)
            for v in mine:
                rule = tune(inner_steps, cfg, defer=v.endswith("defer"))
                if v.startswith("name"):
                    rule = tune_naming(inner_steps, cfg, rule, drop=v == "name+drop")
                found = verdicts(held_steps, rule, cfg)
                if v in ("base", "nb"):  # the fast rule here is the shipped one
                    assert found == judge_train.verdicts(held_part, held, rule.thresholds, rule.co, cfg, rule.assist)
                pooled[v].update(found)
                folds[v].append(judge_train.metrics(labels, found))
                rules[v].append({"thresholds": rule.thresholds, "co": rule.co, "assist": rule.assist,
                                 "band": rule.band, "confirm": rule.confirm, "name": rule.name, "keep": rule.keep})
                progress(f"fold {i + 1}/{outer} {v}: " + " ".join(f"{m} {folds[v][-1][m]:.3f}" for m in MEASURES))
    all_labels = {e.name: e.label for e in examples}
    first = variants[0]
    report: dict[str, Any] = {}
    for v in variants:
        report[v] = {"pooled": {m: round(x, 4) for m, x in judge_train.metrics(all_labels, pooled[v]).items()},
                     "folds": {m: [round(f[m], 3) for f in folds[v]] for m in MEASURES},
                     "paired_delta": {m: [round(f[m] - b[m], 3) for f, b in zip(folds[v], folds[first], strict=True)]
                                      for m in MEASURES},
                     "mean_delta": {m: round(statistics.mean(f[m] - b[m] for f, b in zip(folds[v], folds[first],
                                                                                          strict=True)), 4)
                                    for m in MEASURES},
                     "objective_delta": [round(judge_train.objective(f) - judge_train.objective(b), 3)
                                         for f, b in zip(folds[v], folds[first], strict=True)],
                     "rules": rules[v]}
        if with_errors:
            report[v]["errors"] = judge_nested.errors(judge_nested.Outcome(pooled[v], folds[v], rules[v]), examples)
    return report


def main() -> None:  # pragma: no cover - a measuring tool
    from bridge.pipeline import trigger_config
    from bridge.pipeline.triage_eval import default_corpus

    parser = argparse.ArgumentParser()
    parser.add_argument("variants", nargs="+", choices=tuple(FIT_KINDS))
    parser.add_argument("--outer", type=int, default=5)
    parser.add_argument("--C", type=float, default=judge_train.DEFAULT_C)
    parser.add_argument("--out", default=None, help="also write the report (JSON) here")
    parser.add_argument("--errors", action="store_true", help="also list each variant's held-out mistakes by kind")
    parser.add_argument("--more-concepts", action="store_true", help="with bench/judge_concepts_tried.py's words")
    args = parser.parse_args()
    if args.more_concepts:
        from bench import judge_concepts_tried

        judge_concepts_tried.install()
    cfg = trigger_config.load()
    examples = judge_train.load_corpus(default_corpus(), "train")
    started = time.monotonic()
    report = run(examples, cfg, args.variants, outer=args.outer, C=args.C, with_errors=args.errors)
    report["seconds"] = round(time.monotonic() - started)
    text = json.dumps(report, indent=1, ensure_ascii=False)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":  # pragma: no cover
    main()

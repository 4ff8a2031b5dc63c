"""Nested cross-validation of the judge's whole training procedure, on the training part only.

The out-of-fold figures ``judge_train.train`` reports are optimistic: the thresholds are chosen on
the very scores they are then measured on. Here the whole procedure runs inside each of ``outer``
folds grouped by conversation: the inner out-of-fold scores of the outer-training conversations
choose the thresholds, the models are fitted on those conversations and judge the held-out ones,
and the pooled verdicts are scored with the evaluation set's scorer. This is the yardstick for
comparing training procedures; the locked test split is never read here.

``python -m bridge.pipeline.judge_nested [--errors] [--options JSON]`` prints the figures
(a few minutes on two cores; ``--options`` are ``make_procedure``'s: ``C``, ``class_weight``);
``bridge triage train --nested`` adds them to its report.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.pipeline import judge_train
from bridge.pipeline.judge_train import Dataset, Example, Verdict
from bridge.pipeline.trigger_config import TriggerConfig

MEASURES = ("recall", "false_escalation", "trigger_exact", "on_time")


def subset(data: Dataset, groups: Sequence[int]) -> tuple[Dataset, list[int]]:
    """The conversations ``groups`` of ``data`` as a dataset of their own, and its rows in ``data``."""
    wanted = set(groups)
    rows = [r for r, g in enumerate(data.groups) if g in wanted]
    renumber = {g: i for i, g in enumerate(sorted(wanted))}
    part = Dataset([data.features[r] for r in rows], [data.targets[r] for r in rows],
                   [renumber[data.groups[r]] for r in rows], [data.examples[g] for g in sorted(wanted)])
    return part, rows


@dataclass
class Outcome:
    """Pooled verdicts over the held-out conversations, and the metrics of each outer fold."""

    verdicts: dict[str, Verdict]
    folds: list[dict[str, float]]
    settings: list[dict[str, Any]]

    def pooled(self, labels: dict[str, dict[str, Any]]) -> dict[str, float]:
        return judge_train.metrics(labels, self.verdicts)

    def spread(self) -> dict[str, tuple[float, float]]:
        """Per measure, the smallest and largest of the outer folds' figures."""
        return {m: (min(f[m] for f in self.folds), max(f[m] for f in self.folds)) for m in MEASURES}


# A procedure: from a training dataset (and its rows of the vectorised matrix) to a function that
# gives verdicts on other conversations. ``make_procedure()`` with no options is the shipped one.
Procedure = Callable[[Dataset, Any, TriggerConfig], Callable[[Dataset, Any], tuple[dict[str, Verdict], dict[str, Any]]]]


def make_procedure(k: int = 5, C: dict[str, float] | None = None,  # noqa: N803
                   class_weight: dict[str, Any] | None = None) -> Procedure:
    """A training procedure as ``judge_train.train`` runs it: thresholds tuned on inner out-of-fold
    scores, models fitted on every row; ``C`` and ``class_weight`` per trigger are the variants of
    the shipped one (the others measured are in ``bench/judge_experiments.py`` and
    ``bench/judge_variants.py``)."""
    per_trigger = per_trigger_c(C)

    def fit(data: Dataset, X: Any, cfg: TriggerConfig) -> Any:  # noqa: N803
        scores, models = fit_both(data, X, per_trigger, k, class_weight)
        thresholds, co, assist = judge_train.tune(data, scores, cfg)

        def judge_held(held: Dataset, X_held: Any) -> tuple[dict[str, Verdict], dict[str, Any]]:  # noqa: N803
            held_scores = judge_train.predict(models, X_held)
            chosen = {"thresholds": thresholds, "co": co, "assist": assist}
            return judge_train.verdicts(held, held_scores, thresholds, co, cfg, assist), chosen

        return judge_held

    return fit


def per_trigger_c(C: dict[str, float] | None) -> dict[str, float]:  # noqa: N803
    """``C`` per learned trigger: the given ones, the default for the others."""
    return {t: (C or {}).get(t, judge_train.DEFAULT_C) for t in judge_train.LEARNED}


def fit_both(data: Dataset, X: Any, C: dict[str, float], k: int,  # noqa: N803
             class_weight: dict[str, Any] | None) -> tuple[list[dict[str, float]], dict[str, Any]]:
    """What a procedure fits on its training conversations: the out-of-fold scores its settings are
    tuned on (``k`` inner folds), and the models fitted on every row."""
    scores = judge_train.out_of_fold(data, C, k=k, X=X, class_weight=class_weight)
    return scores, judge_train.fit_models(data, range(len(data.features)), C, None, X, class_weight)


def nested(examples: Sequence[Example], cfg: TriggerConfig, outer: int = 5, inner: int = 5,
           procedure: Procedure | None = None, data: Dataset | None = None,
           progress: Callable[[str], None] | None = None) -> Outcome:
    """Run ``procedure`` (default: the shipped training) in ``outer`` grouped folds."""
    from sklearn.feature_extraction import DictVectorizer

    procedure = procedure or make_procedure(inner)
    data = data or judge_train.build(examples, cfg)
    # The vocabulary is fitted on every training conversation: it reads no label.
    X = DictVectorizer().fit_transform(judge_train.frequent(data))  # noqa: N806
    conversations = sorted(set(data.groups))
    fold_of = judge_train.fold_assignment(conversations, outer)
    verdicts: dict[str, Verdict] = {}
    per_fold, settings = [], []
    for i in range(outer):
        fit_part, fit_rows = subset(data, [g for g in conversations if fold_of[g] != i])
        held_part, held_rows = subset(data, [g for g in conversations if fold_of[g] == i])
        judge_held = procedure(fit_part, X[fit_rows], cfg)
        found, chosen = judge_held(held_part, X[held_rows])
        verdicts.update(found)
        labels = {e.name: e.label for e in held_part.examples}
        per_fold.append(judge_train.metrics(labels, found))
        settings.append(chosen)
        if progress:
            progress(f"fold {i + 1}/{outer}: " + " ".join(f"{m} {per_fold[-1][m]:.3f}" for m in MEASURES))
    return Outcome(verdicts, per_fold, settings)


def summary(outcome: Outcome, examples: Sequence[Example]) -> dict[str, Any]:
    """Pooled figures, the spread over outer folds and per-trigger recall (for a report)."""
    from bridge.pipeline import triage_score

    labels = {e.name: e.label for e in examples}
    pooled = outcome.pooled(labels)
    report = triage_score.score(labels, [{"file": n, "escalate": v.escalate, "triggers": list(v.triggers),
                                          "at_message": v.at} for n, v in outcome.verdicts.items()])
    per_trigger = {t.trigger: round(t.recall, 3) for t in report.triggers if t.recall is not None}
    return {"pooled": {m: round(v, 4) for m, v in pooled.items()},
            "fold_range": {m: [round(lo, 4), round(hi, 4)] for m, (lo, hi) in outcome.spread().items()},
            "fold_sd": {m: round(statistics.pstdev(f[m] for f in outcome.folds), 3) for m in MEASURES},
            "trigger_recall": per_trigger, "folds": len(outcome.folds)}


def errors(outcome: Outcome, examples: Sequence[Example]) -> dict[str, list[str]]:
    """The held-out mistakes by kind: false escalations, misses per required trigger, wrong extra
    triggers, early or late (names of training conversations, for error analysis)."""
    out: dict[str, list[str]] = {}
    for e in examples:
        v, label = outcome.verdicts[e.name], e.label
        fine = set(label["required"]) | set(label["allowed"])
        if v.escalate and not label["escalate"]:
            out.setdefault("false_escalation:" + ",".join(v.triggers), []).append(e.name)
        if not label["escalate"]:
            continue
        if not v.escalate:
            out.setdefault("missed:" + ",".join(label["required"]), []).append(e.name)
            continue
        for t in label["required"]:
            if t not in v.triggers:
                out.setdefault(f"without:{t}", []).append(e.name)
        for t in v.triggers:
            if t not in fine:
                out.setdefault(f"extra:{t}", []).append(e.name)
        if v.at is not None and v.at < label["earliest_message"]:
            out.setdefault("early", []).append(e.name)
        elif v.at is not None and v.at > label["latest_message"]:
            out.setdefault("late", []).append(e.name)
    return out


def main() -> None:  # pragma: no cover - a measuring tool
    import argparse
    import json
    import time

    from bridge.pipeline import trigger_config
    from bridge.pipeline.triage_eval import default_corpus

    parser = argparse.ArgumentParser()
    parser.add_argument("--errors", action="store_true", help="also list the held-out mistakes by kind")
    parser.add_argument("--outer", type=int, default=5)
    parser.add_argument("--options", type=json.loads, default={}, metavar="JSON",
                        help='make_procedure options, e.g. \'{"C": {"product_bug": 8}}\'')
    args = parser.parse_args()
    cfg = trigger_config.load()
    examples = judge_train.load_corpus(default_corpus(), "train")
    started = time.monotonic()
    outcome = nested(examples, cfg, outer=args.outer, procedure=make_procedure(**args.options), progress=print)
    result = summary(outcome, examples)
    result["seconds"] = round(time.monotonic() - started)
    if args.errors:
        result["errors"] = errors(outcome, examples)
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":  # pragma: no cover
    main()

"""Training the learned judge: ``bridge triage train`` (scikit-learn, deterministic).

The corpus (``data/triage``) labels whole conversations; the judge scores single message
positions. Each labelled conversation becomes position targets, per trigger:

* before ``earliest_message``: 0 for every trigger (stepping in would be early);
* from ``earliest_message`` to ``latest_message``: 1 for the ``required`` triggers, 0 for triggers
  neither required nor allowed, unknown (left out) for ``allowed`` ones;
* after ``latest_message``: left out (the conversation should have been escalated already);
* every position of a conversation that should not escalate: 0.

One L2 logistic regression per trigger (liblinear: deterministic) over the features of
``judge_features``. Thresholds are chosen on out-of-fold scores (grouped k-fold over conversations
of the training part only — never the locked test split), by the conversation-level metrics the
product is judged on. The exported model is a gzipped JSON of feature weights, rounded, and the
thresholds; training twice gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.events import TRIGGERS, Event
from bridge.pipeline import judge_features
from bridge.pipeline.trigger_config import TriggerConfig

# What each learned trigger reads: the customer's turns, or the bot's answers. ``bot_handoff`` is
# not learned: a hand-off event always escalates, explained by the transcript when it can be.
ROLE = {"customer_requested_human": "customer", "product_bug": "customer", "negative_sentiment": "customer",
        "billing_exception": "customer", "low_confidence": "bot"}
LEARNED = [t for t in TRIGGERS if t in ROLE]
GATED = True  # each trigger is learned (and judged) only at messages of its role
DIGITS = 4  # weights are rounded: the file is small and training is byte-reproducible
MIN_WEIGHT = 0.002  # |weight| below this is dropped from the exported model
SEED = 15


@dataclass(frozen=True)
class Example:
    name: str
    event: Event
    label: dict[str, Any]


def load_corpus(root: Path, part: str = "train") -> list[Example]:
    """The corpus' conversations of one part: ``train`` (not in the locked split), ``test`` or ``all``."""
    labels = json.loads((root / "labels.json").read_text(encoding="utf-8"))
    test = set(json.loads((root / "split.json").read_text(encoding="utf-8"))["test"])
    out = []
    for name in sorted(labels):
        if (part == "train" and name in test) or (part == "test" and name not in test):
            continue
        event = Event.model_validate(json.loads((root / "conversations" / name).read_text(encoding="utf-8")))
        out.append(Example(name, event, labels[name]))
    return out


def targets(example: Example, n: int) -> list[dict[str, float | None]]:
    """Per position (0-based list of 1-based positions 1..n): trigger → 1, 0 or None (left out).
    A trigger is judged only at messages of the role it reads."""
    label = example.label
    roles = [m.role for m in example.event.conversation.messages]
    rows: list[dict[str, float | None]] = []
    for index in range(1, n + 1):
        row: dict[str, float | None] = {}
        for trigger in LEARNED:
            if GATED and roles[index - 1] != ROLE[trigger]:
                row[trigger] = None
            elif not label["escalate"] or index < label["earliest_message"]:
                row[trigger] = 0.0
            elif index > label["latest_message"]:
                row[trigger] = None
            elif trigger in label["required"]:
                row[trigger] = 1.0
            elif trigger in label["allowed"]:
                row[trigger] = None
            else:
                row[trigger] = 0.0
        rows.append(row)
    return rows


@dataclass
class Dataset:
    features: list[dict[str, float]]
    targets: list[dict[str, float | None]]
    groups: list[int]  # which conversation each row belongs to
    examples: list[Example]


def build(examples: Sequence[Example], cfg: TriggerConfig) -> Dataset:
    data = Dataset([], [], [], list(examples))
    for g, example in enumerate(examples):
        rows = list(judge_features.positions(example.event, cfg))
        data.features += [features for _, _, features in rows]
        data.targets += targets(example, len(rows))
        data.groups += [g] * len(rows)
    return data


MIN_DF = 1  # a feature seen in fewer conversations than this is dropped (no label is looked at)


def frequent(data: Dataset) -> list[dict[str, float]]:
    """The rows with only features that occur in at least ``MIN_DF`` conversations."""
    seen: dict[str, set[int]] = {}
    for row, g in zip(data.features, data.groups, strict=True):
        for name in row:
            seen.setdefault(name, set()).add(g)
    keep = {name for name, groups in seen.items() if len(groups) >= MIN_DF}
    return [{k: v for k, v in row.items() if k in keep} for row in data.features]


def _fit(X: Any, y: Any, C: float, class_weight: Any = "balanced") -> Any:  # noqa: N803 (scikit-learn's names)
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, solver="liblinear", class_weight=class_weight, max_iter=200,
                               random_state=SEED)
    model.fit(X, y)
    return model


def fit_models(data: Dataset, rows: Iterable[int], C: dict[str, float], vectorizer: Any, X: Any,  # noqa: N803
               class_weight: dict[str, Any] | None = None) -> dict[str, Any]:
    """One model per trigger, on the given rows (where that trigger's target is known)."""
    import numpy as np

    rows = list(rows)
    models = {}
    for trigger in LEARNED:
        keep = [r for r in rows if data.targets[r][trigger] is not None]
        y = np.array([data.targets[r][trigger] for r in keep])
        if y.sum() == 0:
            continue
        models[trigger] = _fit(X[keep], y, C[trigger], (class_weight or {}).get(trigger, "balanced"))
    return models


def fold_assignment(conversations: Sequence[int], k: int) -> dict[int, int]:
    """Each conversation's fold, shuffled with a fixed seed."""
    order = sorted(conversations)
    random.Random(SEED).shuffle(order)
    return {g: i % k for i, g in enumerate(order)}


def folds(groups: list[int], k: int) -> list[tuple[list[int], list[int]]]:
    """Grouped k-fold over conversations, shuffled with a fixed seed."""
    fold_of = fold_assignment(sorted(set(groups)), k)
    return [([r for r, g in enumerate(groups) if fold_of[g] != i], [r for r, g in enumerate(groups) if fold_of[g] == i])
            for i in range(k)]


def out_of_fold(data: Dataset, C: dict[str, float], k: int = 5, X: Any = None,  # noqa: N803
                class_weight: dict[str, Any] | None = None) -> list[dict[str, float]]:
    """Each row's scores from models that never saw its conversation (``X``: the rows already
    vectorised, when the caller has them)."""
    from sklearn.feature_extraction import DictVectorizer

    vectorizer = DictVectorizer()
    if X is None:
        X = vectorizer.fit_transform(frequent(data))  # noqa: N806
    scores: list[dict[str, float]] = [{} for _ in data.features]
    for train_rows, held_rows in folds(data.groups, k):
        models = fit_models(data, train_rows, C, vectorizer, X, class_weight)
        for r, found in zip(held_rows, predict(models, X[held_rows]), strict=True):
            scores[r].update(found)
    return scores


def predict(models: dict[str, Any], X: Any) -> list[dict[str, float]]:  # noqa: N803
    """Each row's probability per trigger, from fitted models (``fit_models``)."""
    out: list[dict[str, float]] = [{} for _ in range(X.shape[0])]
    for trigger, model in models.items():
        for row, p in zip(out, model.predict_proba(X)[:, 1], strict=True):
            row[trigger] = float(p)
    return out


def export(data: Dataset, C: dict[str, float], thresholds: dict[str, float], co: float,
           assist: float = 1.0) -> dict[str, Any]:
    """The shipped model: rounded weights by feature name, intercepts, thresholds."""
    from sklearn.feature_extraction import DictVectorizer

    vectorizer = DictVectorizer()
    X = vectorizer.fit_transform(frequent(data))  # noqa: N806
    models = fit_models(data, range(len(data.features)), C, vectorizer, X)
    names = vectorizer.get_feature_names_out()
    weights: dict[str, list[float]] = {}
    intercepts = {}
    order = list(models)
    for j, trigger in enumerate(order):
        coef = models[trigger].coef_[0]
        intercepts[trigger] = round(float(models[trigger].intercept_[0]), DIGITS)
        for name, w in zip(names, coef, strict=True):
            if abs(w) >= MIN_WEIGHT:
                weights.setdefault(str(name), [0.0] * len(order))[j] = round(float(w), DIGITS)
    import base64
    from array import array

    names_sorted = sorted(weights)
    flat = array("f", [w for name in names_sorted for w in weights[name]])
    # Names one per line and the weights as little-endian float32: a worker decodes this without
    # building a Python object per weight (the peak memory of loading a dict of lists is ~5x).
    if flat.itemsize != 4:
        raise RuntimeError("float32 expected")
    return {"version": 2, "triggers": order, "roles": {t: ROLE[t] for t in order}, "intercepts": intercepts,
            "thresholds": {t: thresholds[t] for t in order}, "co": co, "assist": assist, "C": C,
            "features": len(names_sorted),
            "names": "\n".join(names_sorted), "weights": base64.b64encode(flat.tobytes()).decode()}


def shipped_path() -> Path:
    return Path(__file__).with_name("judge_model.json.gz")


def write(model: dict[str, Any], path: Path) -> None:
    raw = json.dumps(model, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    # mtime=0: the same model gives the same bytes (the reproduction test compares files).
    path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))


# --- thresholds, from out-of-fold scores --------------------------------------------------------

GRID = (0.03, 0.05, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CO_GRID = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class Verdict:
    escalate: bool
    triggers: tuple[str, ...]
    at: int | None


Step = tuple[dict[str, float], set[str], set[str]]  # scores of the message's role, precise and assisting rules
# A decision rule: the first escalation (1-based step, triggers) of one conversation's steps, given
# also each step's row in the dataset; ``judge.first_escalation`` with fixed settings is the shipped one.
Decide = Callable[[list[Step], list[int]], tuple[int, list[str]] | None]


def verdicts(data: Dataset, scores: list[dict[str, float]], thresholds: dict[str, float], co: float,
             cfg: TriggerConfig, assist: float = 1.0, decide: Decide | None = None) -> dict[str, Verdict]:
    """What the judge would say on each conversation, from per-row scores: the runtime's rule, or
    ``decide`` (a variant's rule, bench/judge_experiments.py) in its place."""
    from bridge.pipeline import judge

    def shipped(steps: list[Step], _: list[int]) -> tuple[int, list[str]] | None:
        return judge.first_escalation(steps, thresholds, co, assist)

    rule = decide or shipped
    rows: dict[int, list[int]] = {}
    for r, g in enumerate(data.groups):
        rows.setdefault(g, []).append(r)
    out = {}
    for g, example in enumerate(data.examples):
        mine = rows.get(g, [])
        steps = [({t: p for t, p in scores[r].items() if ROLE[t] == m.role}, judge.precise_hits(data.features[r]),
                  judge.assisted(data.features[r])) for r, m in zip(mine, example.event.conversation.messages,
                                                                     strict=True)]
        out[example.name] = verdict(example, rule(steps, mine), cfg)
    return out


def verdict(example: Example, found: tuple[int, list[str]] | None, cfg: TriggerConfig) -> Verdict:
    """A conversation's verdict from its first escalation (or None), as ``judge.judge`` completes
    it: the triggers the bot's stated reason adds on a hand-off; a hand-off nothing in the
    transcript explains, by its reason alone."""
    from bridge.pipeline import judge, triggers

    if found:
        stated = [h.trigger for h in judge.stated_reasons(example.event, found[1], cfg)]
        return Verdict(True, tuple(found[1] + stated), found[0])
    if example.event.type == "handoff.requested":
        at = judge._handoff_index(example.event.conversation.messages)
        return Verdict(True, tuple(h.trigger for h in triggers.handoff_hits(example.event.handoff, at, cfg)), at)
    return Verdict(False, (), None)


def metrics(labels: dict[str, dict[str, Any]], verdict: dict[str, Verdict]) -> dict[str, float]:
    """Escalation recall, false escalation, trigger exactness and on time (``triage_score``)."""
    from bridge.pipeline import triage_score

    report = triage_score.score(labels, [{"file": name, "escalate": v.escalate, "triggers": list(v.triggers),
                                          "at_message": v.at} for name, v in verdict.items()])
    return {"recall": report.recall or 0.0, "false_escalation": report.false_escalation_rate or 0.0,
            "trigger_exact": report.trigger_exactness or 0.0, "on_time": report.on_time_rate or 0.0}


def objective(m: dict[str, float]) -> float:
    """Recall, exactness and timeliness, with false escalations above 5 % heavily penalised."""
    return m["recall"] + m["trigger_exact"] + m["on_time"] - 0.5 * m["false_escalation"] \
        - 3 * max(0.0, m["false_escalation"] - 0.05)


ASSIST_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def tune(data: Dataset, scores: list[dict[str, float]], cfg: TriggerConfig) -> tuple[dict[str, float], float, float]:
    """Per-trigger thresholds, the co-trigger share and the rule assist, by coordinate search over
    fixed grids."""
    labels = {e.name: e.label for e in data.examples}

    def score(thresholds: dict[str, float], co: float, assist: float) -> float:
        return objective(metrics(labels, verdicts(data, scores, thresholds, co, cfg, assist)))

    thresholds, co, assist = {t: 0.5 for t in LEARNED}, 0.8, 1.0
    best = score(thresholds, co, assist)
    for _ in range(3):
        for trigger in LEARNED:
            for value in GRID:
                trial = {**thresholds, trigger: value}
                result = score(trial, co, assist)
                if result > best + 1e-9:
                    best, thresholds = result, trial
        for value in CO_GRID:
            result = score(thresholds, value, assist)
            if result > best + 1e-9:
                best, co = result, value
        for value in ASSIST_GRID:
            result = score(thresholds, co, value)
            if result > best + 1e-9:
                best, assist = result, value
    return thresholds, co, assist


DEFAULT_C = 32.0


def train(root: Path, cfg: TriggerConfig, k: int = 5, C: float = DEFAULT_C) -> tuple[dict[str, Any], dict[str, Any]]:  # noqa: N803
    """The model from the training part of the corpus, and a report of its out-of-fold scores."""
    examples = load_corpus(root, "train")
    data = build(examples, cfg)
    per_trigger = {t: C for t in LEARNED}
    scores = out_of_fold(data, per_trigger, k=k)
    thresholds, co, assist = tune(data, scores, cfg)
    labels = {e.name: e.label for e in examples}
    oof = metrics(labels, verdicts(data, scores, thresholds, co, cfg, assist))
    model = export(data, per_trigger, thresholds, co, assist)
    report = {"conversations": len(examples), "positions": len(data.features), "folds": k,
              "out_of_fold": {key: round(v, 4) for key, v in oof.items()}, "features": model["features"]}
    return model, report

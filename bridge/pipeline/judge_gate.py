"""A second stage that decides "escalate at all": a small logistic stacker over the per-trigger
scores and the structural signals of a message.

The per-trigger models each say how much a message looks like their trigger; the hard negatives
(a developer's own deployment error, "are you a real person?", a how-to about a refund) look like
one trigger in isolation. The gate reads all the scores at once, the strongest score each trigger
has had so far in the conversation, and the structural signals (``s:`` features: turn counts,
rules, mood, evidence…), and gives the probability that stepping in at this message is right. A
trigger's crossing escalates only where the gate agrees (a precise rule decides alone as before).

Trained on out-of-fold first-stage scores (never on scores of a model that saw the conversation);
shipped as named weights in the judge's model file; pure Python at run time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

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
    from bridge.pipeline.judge_train import ROLE

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


def fit(inputs: list[Features], y: list[float | None], C: float = C) -> tuple[dict[str, float], float]:  # noqa: N803
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
    from bridge.pipeline.judge_train import folds

    inputs, y = rows(data, scores), targets(data)
    out = [0.0] * len(inputs)
    for train_rows, held_rows in folds(data.groups, k):
        weights, intercept = fit([inputs[r] for r in train_rows], [y[r] for r in train_rows], C)
        for r in held_rows:
            out[r] = probability(weights, intercept, inputs[r])
    return out

"""``bridge triage eval``: the judge on the corpus in ``data/triage/``, scored like the shared scorer.

The metrics are those of ``../shared/eval/triage/README.md`` (and its ``score`` script): escalation
recall, false-escalation rate, trigger exactness (required ⊆ predicted ⊆ required ∪ allowed), on time
(``earliest_message ≤ at_message ≤ latest_message``), per-trigger recall over files where the id is
required and precision over every prediction of it. Triggers of a non-escalating prediction are
ignored and a file without a prediction counts as not escalated, as there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bridge.pipeline import triage_score

SPLITS = ("test", "train", "all")


def default_corpus() -> Path:
    """``data/triage`` of the repository this package runs from (an editable install or a clone)."""
    return Path(__file__).resolve().parents[2] / "data" / "triage"


def load_corpus(root: Path, split: str = "test") -> tuple[dict[str, dict[str, Any]], list[Path]]:
    """The labels of ``split`` (the locked ``test`` split of split.json, the rest, or all) and the files."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    try:
        labels: dict[str, dict[str, Any]] = json.loads((root / "labels.json").read_text(encoding="utf-8"))
        locked = set(json.loads((root / "split.json").read_text(encoding="utf-8"))["test"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read the corpus in {root}: {exc}") from None
    if split == "test":
        labels = {name: label for name, label in labels.items() if name in locked}
    elif split == "train":
        labels = {name: label for name, label in labels.items() if name not in locked}
    files = [root / "conversations" / name for name in sorted(labels)]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"{len(missing)} labelled file(s) missing from {root / 'conversations'}: {missing[0]}, …")
    return labels, files


def score(labels: Mapping[str, Mapping[str, Any]], predictions: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Scores of ``predictions`` (file name -> {escalate, triggers, at_message}) against ``labels``:
    ``triage_score.score`` (the evaluation set's definitions), as the dict ``report`` prints."""
    result = triage_score.score(labels, [{"file": name, **pred} for name, pred in predictions.items()])
    return {
        "files": result.files, "positives": result.positives, "negatives": result.negatives,
        "caught": result.caught, "false_escalations": result.false_escalations, "exact": result.exact,
        "timely": result.on_time, "early": result.too_early, "late": result.too_late,
        "no_time": result.no_at_message, "recall": result.recall,
        "false_escalation": result.false_escalation_rate, "trigger_exact": result.trigger_exactness,
        "on_time": result.on_time_rate,
        "per_trigger": {t.trigger: {"support": t.support, "predicted": t.predicted, "recall": t.recall,
                                    "precision": t.precision} for t in result.triggers},
        "misses": [{"file": name, "problems": list(problems)} for name, problems in sorted(result.problems.items())],
    }


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_line(result: Mapping[str, Any]) -> str:
    """The scorer's last line."""
    return (f"recall={fmt(result['recall'])} false_escalation={fmt(result['false_escalation'])} "
            f"trigger_exact={fmt(result['trigger_exact'])} on_time={fmt(result['on_time'])}")


def report(result: Mapping[str, Any]) -> list[str]:
    """The metrics and per-trigger table as text lines (misses left to the caller)."""
    pos, caught = result["positives"], result["caught"]
    lines = [
        f"{'escalation recall':<24}{fmt(result['recall']):>7}  {caught}/{pos}",
        f"{'false-escalation rate':<24}{fmt(result['false_escalation']):>7}  "
        f"{result['false_escalations']}/{result['negatives']}",
        f"{'trigger exactness':<24}{fmt(result['trigger_exact']):>7}  {result['exact']}/{pos}",
        f"{'on-time rate':<24}{fmt(result['on_time']):>7}  {result['timely']}/{pos}  "
        f"(early {result['early']}, late {result['late']}, no at_message {result['no_time']})",
        f"{'trigger':<26}{'support':>8}{'predicted':>10}{'recall':>8}{'precision':>10}",
    ]
    for t, p in result["per_trigger"].items():
        lines.append(f"{t:<26}{p['support']:>8}{p['predicted']:>10}{fmt(p['recall']):>8}{fmt(p['precision']):>10}")
    return lines

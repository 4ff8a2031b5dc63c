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

from bridge.events import TRIGGERS

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


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def score(labels: Mapping[str, Mapping[str, Any]], predictions: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Scores of ``predictions`` (file name -> {escalate, triggers, at_message}) against ``labels``."""
    counts = {"positives": 0, "negatives": 0, "caught": 0, "false_escalations": 0, "exact": 0,
              "timely": 0, "early": 0, "late": 0, "no_time": 0}
    per = {t: {"support": 0, "hit": 0, "predicted": 0, "correct": 0} for t in TRIGGERS}
    misses: list[dict[str, Any]] = []
    for name in sorted(labels):
        label = labels[name]
        pred = predictions.get(name) or {"escalate": False, "triggers": [], "at_message": None}
        escalate = bool(pred.get("escalate"))
        predicted = set(pred.get("triggers") or []) if escalate else set()
        at = pred.get("at_message") if escalate else None
        required = set(label.get("required") or [])
        acceptable = required | set(label.get("allowed") or [])
        problems: list[str] = []
        for t in predicted & set(per):
            per[t]["predicted"] += 1
            per[t]["correct"] += int(bool(label["escalate"]) and t in acceptable)
        if label["escalate"]:
            counts["positives"] += 1
            for t in required & set(per):
                per[t]["support"] += 1
                per[t]["hit"] += int(t in predicted)
            window = f"{label['earliest_message']}-{label['latest_message']}"
            if not escalate:
                problems.append(f"missed (required {', '.join(sorted(required))}; window {window})")
            else:
                counts["caught"] += 1
                lacking, extra = sorted(required - predicted), sorted(predicted - acceptable)
                counts["exact"] += int(not lacking and not extra)
                if lacking:
                    problems.append(f"missing {', '.join(lacking)}")
                if extra:
                    problems.append(f"unexpected {', '.join(extra)}")
                if at is None:
                    counts["no_time"] += 1
                    problems.append(f"no at_message (window {window})")
                elif at < label["earliest_message"]:
                    counts["early"] += 1
                    problems.append(f"too early: at {at}, window {window}")
                elif at > label["latest_message"]:
                    counts["late"] += 1
                    problems.append(f"too late: at {at}, window {window}")
                else:
                    counts["timely"] += 1
        else:
            counts["negatives"] += 1
            if escalate:
                counts["false_escalations"] += 1
                problems.append(f"false escalation at {at} ({', '.join(sorted(predicted)) or 'no trigger'})")
        if problems:
            misses.append({"file": name, "problems": problems})
    pos = counts["positives"]
    return {
        "files": len(labels),
        **counts,
        "recall": _ratio(counts["caught"], pos),
        "false_escalation": _ratio(counts["false_escalations"], counts["negatives"]),
        "trigger_exact": _ratio(counts["exact"], pos),
        "on_time": _ratio(counts["timely"], pos),
        "per_trigger": {t: {"support": p["support"], "predicted": p["predicted"],
                            "recall": _ratio(p["hit"], p["support"]), "precision": _ratio(p["correct"], p["predicted"])}
                        for t, p in per.items()},
        "misses": misses,
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

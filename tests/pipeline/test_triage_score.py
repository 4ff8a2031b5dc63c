"""``triage_score``: the evaluation sets' metrics on hand-made labels, on our own small labelled set
through the ``bridge triage`` command, and (an extra) against the shared set's own ``score`` script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge.events import TRIGGERS
from bridge.pipeline.triage_score import Report, TriggerScore, parse_labels, score
from tests.conftest import shared_path

OWN_SET = Path(__file__).resolve().parents[1] / "fixtures" / "triage"
SUMMARY = re.compile(r"recall=(\S+) false_escalation=(\S+) trigger_exact=(\S+) on_time=(\S+)")


def label(*required: str, allowed: tuple[str, ...] = (), window: tuple[int, int] = (1, 1)) -> dict[str, Any]:
    return {"escalate": True, "required": list(required), "allowed": list(allowed),
            "earliest_message": window[0], "latest_message": window[1], "why": "test"}


QUIET = {"escalate": False, "required": [], "allowed": [], "earliest_message": None, "latest_message": None}


def predict(file: str, *triggers: str, at: Any = None, escalate: Any = True) -> dict[str, Any]:
    return {"file": file, "escalate": escalate, "triggers": list(triggers), "at_message": at}


def by_id(report: Report) -> dict[str, TriggerScore]:
    return {t.trigger: t for t in report.triggers}


# ---- hand-computed ---------------------------------------------------------------------------

def test_the_four_numbers_and_the_per_trigger_table_by_hand() -> None:
    labels = {
        "a.json": label("product_bug", allowed=("negative_sentiment",), window=(2, 3)),
        "b.json": label("customer_requested_human", window=(1, 1)),
        "c.json": QUIET,
        "d.json": QUIET,
        "e.json": label("billing_exception", "low_confidence", window=(2, 4)),
    }
    predictions = [
        predict("conversations/a.json", "product_bug", "negative_sentiment", at=3),  # exact, on time; path dropped
        predict("b.json", "customer_requested_human", "bot_handoff", at=2),  # caught; extra id; late
        predict("c.json", "low_confidence", at=1),  # a false escalation
        predict("d.json", "product_bug", at=4, escalate=False),  # no escalation: its trigger and moment don't count
        predict("zzz.json", "product_bug", at=1),  # a file the labels do not know
        {"escalate": True},  # no file name
    ]  # e.json: no prediction, so it did not escalate
    report = score(labels, predictions)

    # 3 should escalate (a, b, e): a and b caught; only a exact and on time. 2 should not: c escalated.
    assert (report.files, report.positives, report.negatives) == (5, 3, 2)
    assert (report.caught, report.exact, report.on_time, report.false_escalations) == (2, 1, 1, 1)
    assert (report.too_early, report.too_late, report.no_at_message) == (0, 1, 0)
    assert (report.without_prediction, report.unknown_files, report.unreadable) == (1, ("zzz.json",), 1)
    assert report.recall == pytest.approx(2 / 3) and report.false_escalation_rate == pytest.approx(1 / 2)
    assert report.trigger_exactness == pytest.approx(1 / 3) and report.on_time_rate == pytest.approx(1 / 3)
    assert report.summary() == "recall=0.667 false_escalation=0.500 trigger_exact=0.333 on_time=0.333"

    t = by_id(report)
    # support/found: required ids of should-escalate files; predicted/right: escalating predictions.
    assert (t["product_bug"].support, t["product_bug"].found, t["product_bug"].predicted, t["product_bug"].right) \
        == (1, 1, 1, 1)
    assert (t["customer_requested_human"].recall, t["customer_requested_human"].precision) == (1.0, 1.0)
    assert (t["negative_sentiment"].support, t["negative_sentiment"].recall, t["negative_sentiment"].precision) \
        == (0, None, 1.0)  # only allowed on a, never required
    assert (t["bot_handoff"].predicted, t["bot_handoff"].precision) == (1, 0.0)
    assert (t["low_confidence"].support, t["low_confidence"].recall, t["low_confidence"].predicted,
            t["low_confidence"].precision) == (1, 0.0, 1, 0.0)  # predicted on c, which should not escalate
    assert (t["billing_exception"].support, t["billing_exception"].recall, t["billing_exception"].precision) \
        == (1, 0.0, None)
    assert [s.trigger for s in report.triggers] == list(TRIGGERS)

    assert set(report.problems) == {"b.json", "c.json", "e.json"}
    assert any("bot_handoff" in p for p in report.problems["b.json"])
    assert any("too late" in p for p in report.problems["b.json"])
    assert report.problems["e.json"][0] == "no prediction"


def test_timing_edges_and_unknown_ids() -> None:
    labels = {name: label("product_bug", window=(3, 4)) for name in ("early", "untimed", "first", "last")}
    report = score(labels, [predict("early", "product_bug", at=2), predict("untimed", "product_bug"),
                            predict("first", "product_bug", at=3), predict("last", "product_bug", "made_up", at=4)])
    # Both ends of the window are on time; escalating without a moment is caught but not on time.
    assert (report.caught, report.too_early, report.no_at_message, report.on_time) == (4, 1, 1, 2)
    assert report.exact == 3  # an id outside the vocabulary is allowed by no label
    assert report.unknown_triggers == {"made_up": 1} and by_id(report)["product_bug"].predicted == 4
    assert report.summary() == "recall=1.000 false_escalation=n/a trigger_exact=0.750 on_time=0.500"


def test_predictions_are_read_as_leniently_as_the_shared_scorer_reads_them() -> None:
    labels = {"x.json": label("product_bug", window=(1, 2))}
    report = score(labels, [predict("x.json", at=9),  # replaced: the last prediction for a file counts
                            {"file": "x.json", "escalate": 1, "triggers": "product_bug", "at_message": "2"}])
    assert (report.caught, report.exact, report.no_at_message) == (1, 1, 1)  # "2" is not an integer
    report = score(labels, [{"file": "x.json", "escalate": True, "triggers": None, "at_message": True}])
    assert (report.caught, report.exact, report.no_at_message) == (1, 0, 1)


@pytest.mark.parametrize("bad", [{}, [], {"x.json": {"required": []}}, {"x.json": {"escalate": "yes"}},
                                 {"x.json": {"escalate": True, "earliest_message": 1}},
                                 {"x.json": {"escalate": True, "earliest_message": 1, "latest_message": True}}])
def test_malformed_labels_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_labels(bad)


# ---- our own labelled set through the command ------------------------------------------------

def bridge_triage(files: list[Path], cwd: Path) -> list[dict[str, Any]]:
    """``bridge triage FILE...`` as installed (README), run from a temporary folder."""
    script = Path(sys.executable).with_name("bridge")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from bridge.cli import main; main()"]
    done = subprocess.run([*command, "triage", *map(str, files)], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_own_set_through_bridge_triage_and_the_scorer(tmp_path: Path) -> None:
    labels = json.loads((OWN_SET / "labels.json").read_text())
    files = sorted((OWN_SET / "conversations").glob("*.json"))
    assert sorted(p.name for p in files) == sorted(labels) and 6 <= len(files) <= 10
    predictions = bridge_triage(files, tmp_path)

    # The contract of each line (docs/architecture.md): what the scorer relies on.
    assert [p["file"] for p in predictions] == [f.name for f in files]
    for line, path in zip(predictions, files, strict=True):
        assert set(line) == {"file", "escalate", "triggers", "at_message"}
        assert isinstance(line["escalate"], bool) and set(line["triggers"]) <= set(TRIGGERS)
        length = len(json.loads(path.read_text())["conversation"]["messages"])
        if line["escalate"]:
            assert line["triggers"] and 1 <= line["at_message"] <= length
        else:
            assert line["triggers"] == [] and line["at_message"] is None

    report = score(labels, predictions)
    positives = {name for name, lab in labels.items() if lab["escalate"]}
    escalated = {p["file"] for p in predictions if p["escalate"]}
    # Not a judgement of the engine: the totals the scorer must compute from these lines.
    assert (report.files, report.positives) == (len(labels), len(positives))
    assert report.negatives == len(labels) - len(positives)
    assert (report.without_prediction, report.unknown_files, report.unreadable) == (0, (), 0)
    assert report.caught == len(positives & escalated)
    assert report.false_escalations == len(escalated - positives)
    assert report.on_time + report.too_early + report.too_late + report.no_at_message == report.caught
    assert report.exact <= report.caught
    assert sum(t.support for t in report.triggers) == sum(len(labels[n]["required"]) for n in positives)
    assert sum(t.predicted for t in report.triggers) == sum(len(p["triggers"]) for p in predictions)
    missed = positives - escalated
    assert {n for n in report.problems if n in missed} == missed
    assert SUMMARY.fullmatch(report.summary())


# ---- extra: the shared evaluation set and its own scorer -------------------------------------

def test_agrees_with_the_shared_scorer_on_bridge_triage_of_the_shared_set(tmp_path: Path) -> None:
    folder = shared_path("eval/triage")
    predictions = bridge_triage(sorted((folder / "conversations").glob("*.json")), tmp_path)
    lines = tmp_path / "predictions.jsonl"
    lines.write_text("".join(json.dumps(p) + "\n" for p in predictions), encoding="utf-8")
    done = subprocess.run([sys.executable, str(folder / "score"), str(folder / "labels.json"), str(lines)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    theirs = SUMMARY.fullmatch(done.stdout.strip().splitlines()[-1])
    ours = SUMMARY.fullmatch(score(json.loads((folder / "labels.json").read_text()), predictions).summary())
    assert theirs and ours and theirs.groups() == ours.groups()

"""Score ``bridge triage`` predictions against labelled conversations.

The metrics are the evaluation sets' (``eval/triage/README.md`` in the project's shared material), so
a score computed here and one printed by that set's ``score`` script agree number for number:

- escalation recall: should-escalate files the prediction escalated;
- false-escalation rate: should-not files the prediction escalated;
- trigger exactness: should-escalate files escalated with every ``required`` id and nothing outside
  ``required`` ∪ ``allowed``;
- on-time rate: should-escalate files escalated with ``earliest_message ≤ at_message ≤ latest_message``;
- per trigger: recall over the files that require the id, precision over every prediction of it
  (right when the file should escalate and allows the id).

A labelled file without a prediction counts as "did not escalate"; a prediction that does not
escalate has no triggers and no ``at_message``, whatever it says. Pure: labels and predictions in,
a ``Report`` out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.events import TRIGGERS


@dataclass(frozen=True)
class Label:
    escalate: bool
    required: frozenset[str] = frozenset()
    allowed: frozenset[str] = frozenset()
    earliest: int | None = None
    latest: int | None = None

    @property
    def window(self) -> str:
        return f"{self.earliest}-{self.latest}"


@dataclass(frozen=True)
class Prediction:
    escalate: bool
    triggers: frozenset[str]
    at_message: int | None


NO_ESCALATION = Prediction(False, frozenset(), None)


@dataclass(frozen=True)
class TriggerScore:
    trigger: str
    support: int  # files that should escalate and require it
    found: int  # of those, files whose escalating prediction names it
    predicted: int  # escalating predictions that name it, on any file
    right: int  # of those, on a file that should escalate and allows it

    @property
    def recall(self) -> float | None:
        return _ratio(self.found, self.support)

    @property
    def precision(self) -> float | None:
        return _ratio(self.right, self.predicted)


@dataclass(frozen=True)
class Report:
    files: int
    positives: int
    negatives: int
    caught: int
    false_escalations: int
    exact: int
    on_time: int
    too_early: int
    too_late: int
    no_at_message: int
    without_prediction: int
    unknown_files: tuple[str, ...]  # predictions for files the labels do not know (ignored)
    unreadable: int  # prediction items with no "file" name
    triggers: tuple[TriggerScore, ...]
    unknown_triggers: Mapping[str, int]  # predicted ids outside the vocabulary, and how often
    problems: Mapping[str, tuple[str, ...]]  # file -> what went wrong, for every file with a problem

    @property
    def recall(self) -> float | None:
        return _ratio(self.caught, self.positives)

    @property
    def false_escalation_rate(self) -> float | None:
        return _ratio(self.false_escalations, self.negatives)

    @property
    def trigger_exactness(self) -> float | None:
        return _ratio(self.exact, self.positives)

    @property
    def on_time_rate(self) -> float | None:
        return _ratio(self.on_time, self.positives)

    def summary(self) -> str:
        """The one line both scorers end with."""
        return (f"recall={fmt(self.recall)} false_escalation={fmt(self.false_escalation_rate)} "
                f"trigger_exact={fmt(self.trigger_exactness)} on_time={fmt(self.on_time_rate)}")


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---- inputs ------------------------------------------------------------------------------------

def parse_labels(data: Any) -> dict[str, Label]:
    """``labels.json`` as read by ``json.load``; a malformed label is a ``ValueError`` naming its file."""
    if not isinstance(data, Mapping) or not data:
        raise ValueError("labels must be a non-empty object mapping file names to labels")
    labels: dict[str, Label] = {}
    for name, raw in data.items():
        if not isinstance(raw, Mapping) or not isinstance(raw.get("escalate"), bool):
            raise ValueError(f"label {name!r} has no boolean 'escalate'")
        if raw["escalate"] and not (_is_int(raw.get("earliest_message")) and _is_int(raw.get("latest_message"))):
            raise ValueError(f"label {name!r} escalates but has no integer earliest_message and latest_message")
        labels[name] = Label(
            escalate=raw["escalate"],
            required=frozenset(raw.get("required") or ()),
            allowed=frozenset(raw.get("allowed") or ()),
            earliest=raw.get("earliest_message"),
            latest=raw.get("latest_message"),
        )
    return labels


def parse_prediction(raw: Mapping[str, Any]) -> Prediction:
    """One line of ``bridge triage``, read as leniently as the evaluation sets' scorer reads it: a
    truthy ``escalate``, a single trigger given as a string, a non-integer ``at_message`` (ignored)."""
    triggers = raw.get("triggers")
    if isinstance(triggers, str):
        triggers = [triggers]
    elif not isinstance(triggers, list):
        triggers = []
    at = raw.get("at_message")
    return Prediction(escalate=bool(raw.get("escalate", False)),
                      triggers=frozenset(str(t) for t in triggers),
                      at_message=at if _is_int(at) else None)


# ---- scoring -----------------------------------------------------------------------------------

def score(labels: Mapping[str, Any], predictions: Iterable[Mapping[str, Any]]) -> Report:
    """``labels``: ``labels.json`` as ``json.load`` reads it; ``predictions``: the JSON objects
    ``bridge triage`` prints, one per file. Files are matched on the base name of ``file``; for a file
    predicted twice the last prediction counts."""
    known = parse_labels(labels)
    by_file: dict[str, Prediction] = {}
    unreadable = 0
    for raw in predictions:
        name = raw.get("file") if isinstance(raw, Mapping) else None
        if not isinstance(name, str) or not name:
            unreadable += 1
            continue
        by_file[os.path.basename(name)] = parse_prediction(raw)

    tally = dict.fromkeys(("positives", "negatives", "caught", "false", "exact", "on_time", "early", "late",
                           "untimed", "missing"), 0)
    support = dict.fromkeys(TRIGGERS, 0)
    found = dict.fromkeys(TRIGGERS, 0)
    predicted = dict.fromkeys(TRIGGERS, 0)
    right = dict.fromkeys(TRIGGERS, 0)
    unknown: dict[str, int] = {}
    problems: dict[str, tuple[str, ...]] = {}

    for name in sorted(known):
        label = known[name]
        notes: list[str] = []
        prediction = by_file.get(name)
        if prediction is None:
            tally["missing"] += 1
            notes.append("no prediction")
            prediction = NO_ESCALATION
        # A prediction that does not escalate names no trigger and no moment.
        named = prediction.triggers if prediction.escalate else frozenset()
        at = prediction.at_message if prediction.escalate else None
        acceptable = label.required | label.allowed

        for trigger in named:
            if trigger not in predicted:
                unknown[trigger] = unknown.get(trigger, 0) + 1
                continue
            predicted[trigger] += 1
            right[trigger] += int(label.escalate and trigger in acceptable)

        if not label.escalate:
            tally["negatives"] += 1
            if prediction.escalate:
                tally["false"] += 1
                moment = "" if at is None else f" at message {at}"
                notes.append(f"escalated{moment} but should not (triggers: {', '.join(sorted(named)) or 'none'})")
        else:
            tally["positives"] += 1
            for trigger in label.required & support.keys():
                support[trigger] += 1
                found[trigger] += int(trigger in named)
            if not prediction.escalate:
                notes.append(f"did not escalate (required: {', '.join(sorted(label.required))}; "
                             f"window {label.window})")
            else:
                tally["caught"] += 1
                lacking, extra = label.required - named, named - acceptable
                tally["exact"] += int(not lacking and not extra)
                if lacking:
                    notes.append(f"lacks {', '.join(sorted(lacking))}")
                if extra:
                    notes.append(f"names {', '.join(sorted(extra))}, which the label does not allow")
                assert label.earliest is not None and label.latest is not None  # parse_labels checked
                if at is None:
                    tally["untimed"] += 1
                    notes.append(f"no at_message (window {label.window})")
                elif at < label.earliest:
                    tally["early"] += 1
                    notes.append(f"too early: message {at}, window {label.window}")
                elif at > label.latest:
                    tally["late"] += 1
                    notes.append(f"too late: message {at}, window {label.window}")
                else:
                    tally["on_time"] += 1
        if notes:
            problems[name] = tuple(notes)

    return Report(
        files=len(known), positives=tally["positives"], negatives=tally["negatives"], caught=tally["caught"],
        false_escalations=tally["false"], exact=tally["exact"], on_time=tally["on_time"],
        too_early=tally["early"], too_late=tally["late"], no_at_message=tally["untimed"],
        without_prediction=tally["missing"], unknown_files=tuple(sorted(set(by_file) - set(known))),
        unreadable=unreadable,
        triggers=tuple(TriggerScore(t, support[t], found[t], predicted[t], right[t]) for t in TRIGGERS),
        unknown_triggers=dict(sorted(unknown.items())), problems=problems,
    )

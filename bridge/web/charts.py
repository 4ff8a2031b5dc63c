"""Chart geometry for the dashboard: plain data the templates turn into inline SVG.

Nothing here writes markup, so every label goes through Jinja's autoescaping. Charts are pictures
first: every point and bar carries its number in an SVG ``<title>`` (shown on hover) and the same
numbers are in the tables below the charts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from bridge.metrics.model import Breakdown, RecoveryReport, Row

Kind = Literal["count", "rate", "seconds"]


@dataclass(frozen=True)
class MetricInfo:
    label: str
    kind: Kind
    better: Literal["higher", "lower", ""] = ""
    help: str = ""


METRIC_INFO: dict[str, MetricInfo] = {
    "conversations": MetricInfo("Conversations", "count", "", "conversations the bridge saw"),
    "escalations": MetricInfo("Escalations", "count", "", "conversations handed to a human"),
    "escalation_rate": MetricInfo("Escalation rate", "rate", "", "escalations / conversations"),
    "share_of_escalations": MetricInfo("Share of escalations", "rate", "",
                                       "this group's escalations / all escalations in the period"),
    "time_to_ack_median_s": MetricInfo("Time to acknowledge, median", "seconds", "lower",
                                       "escalation → the owner took the case"),
    "time_to_ack_p90_s": MetricInfo("Time to acknowledge, p90", "seconds", "lower", "9 in 10 cases within"),
    "time_to_first_useful_response_median_s": MetricInfo(
        "First useful response, median", "seconds", "lower", "escalation → first real agent reply (not holding)"),
    "time_to_first_useful_response_p90_s": MetricInfo("First useful response, p90", "seconds", "lower",
                                                      "9 in 10 cases within"),
    "csat": MetricInfo("Escalation CSAT", "rate", "higher", "good / (good + bad) on bridge tickets"),
    "csat_baseline": MetricInfo("Helpdesk CSAT (non-bridge)", "rate", "higher", "baseline for comparison"),
    "reopen_rate": MetricInfo("Reopen rate", "rate", "lower", "reopened within 7 days / solved"),
    "repeat_contact_rate": MetricInfo("Repeat-contact rate", "rate", "lower",
                                      "same customer and topic back within 7 days / solved"),
    "kb_suggestions": MetricInfo("KB suggestions", "count", "", "content gaps drafted as KB articles"),
    "kb_conversions": MetricInfo("KB conversions", "count", "higher", "KB changes marked done"),
    "kb_conversion_rate": MetricInfo("KB conversion rate", "rate", "higher", "conversions / suggestions"),
}


@dataclass(frozen=True)
class ChartSpec:
    key: str
    title: str
    metrics: tuple[str, ...]
    note: str = ""


# One trend chart per question a support lead asks; together they show every metric in METRICS.
TREND_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("volume", "Conversations and escalations", ("conversations", "escalations")),
    ChartSpec("escalation-rate", "Escalation rate", ("escalation_rate",)),
    ChartSpec("ack", "Time to acknowledge", ("time_to_ack_median_s", "time_to_ack_p90_s"), "lower is better"),
    ChartSpec("first-response", "Time to first useful response",
              ("time_to_first_useful_response_median_s", "time_to_first_useful_response_p90_s"), "lower is better"),
    ChartSpec("csat", "Escalation CSAT vs helpdesk baseline", ("csat", "csat_baseline"), "higher is better"),
    ChartSpec("reopen", "Reopen rate after handoff", ("reopen_rate",), "lower is better"),
    ChartSpec("repeat", "Repeat-contact rate after handoff", ("repeat_contact_rate",), "lower is better"),
    ChartSpec("kb", "AI failures turned into KB updates", ("kb_suggestions", "kb_conversions")),
    ChartSpec("kb-rate", "KB conversion rate", ("kb_conversion_rate",), "higher is better"),
)


def info(metric: str) -> MetricInfo:
    return METRIC_INFO.get(metric, MetricInfo(metric.replace("_", " ").capitalize(), "count"))


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def fmt(metric: str, value: float | None) -> str:
    """A value as a person reads it; ``—`` when there is no data (never a made-up zero)."""
    if value is None:
        return "—"
    kind = info(metric).kind
    if value == 0:
        return "0%" if kind == "rate" else "0"
    if kind == "rate":
        return f"{value * 100:.1f}%" if value < 0.1 else f"{value * 100:.0f}%"
    if kind == "seconds":
        return duration(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def count(value: float | None) -> str:
    """A numerator or denominator: always a whole number."""
    return "" if value is None else f"{int(round(value)):,}"


def auto_granularity(conversations: int, days: float) -> str:
    """Daily points only when the days are full enough to mean something (about 20 conversations a
    day); otherwise weekly, so six conversations a day do not swing a rate from 0 to 100 %."""
    return "day" if days <= 31 and conversations >= 20 * max(days, 1) else "week"


def nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value - 1e-12:
            return float(candidate)
    return float(10 ** (exponent + 1))


# Round steps per kind of axis: whole counts, percentages people say aloud, and clock durations.
RATE_STEPS = (0.05, 0.1, 0.2, 0.25, 0.5)
SECOND_STEPS = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800,
                345600, 604800)
MAX_INTERVALS = 5


def _count_step(top: float) -> float:
    exponent = max(0, math.floor(math.log10(max(top, 1))) - 1)
    for base in (1, 2, 5, 10, 20, 50, 100):
        step = base * 10**exponent
        if top / step <= MAX_INTERVALS:
            return float(step)
    return float(10 ** (exponent + 3))


def nice_ticks(values: Iterable[float], kind: Kind) -> list[float]:
    """Axis ticks from zero at round steps (0, 15 min, 30 min, 45 min, 1 h; 0, 25 %, 50 %; 0, 2, 4,
    6), at most five intervals, the last at or above the largest value."""
    top = max((v for v in values if v is not None), default=0.0)
    if kind == "rate":
        top = min(max(top, 0.05), 1.0) if top <= 1 else top
        step = next((s for s in RATE_STEPS if top / s <= MAX_INTERVALS), 0.25 * math.ceil(top / 1.25))
    elif kind == "seconds":
        top = max(top, 60.0)
        step = next((float(s) for s in SECOND_STEPS if top / s <= MAX_INTERVALS), 604800.0 * math.ceil(top / 3024000))
    else:
        top = max(top, 1.0)
        step = _count_step(top)
    count = max(1, math.ceil(top / step - 1e-9))
    return [round(step * i, 6) for i in range(count + 1)]


def tick_label(kind: Kind, value: float) -> str:
    """A round tick as a person reads it: ``0``, ``30 min``, ``2 h``, ``1 d``, ``25%``, ``40``."""
    if kind == "rate":
        percent = value * 100
        return f"{percent:.0f}%" if float(round(percent, 6)).is_integer() else f"{percent:.1f}%"
    if kind == "seconds":
        seconds = int(round(value))
        if seconds == 0:
            return "0"
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds % size == 0:
                return f"{seconds // size} {unit}"
        return f"{seconds} s"
    return f"{value:,.0f}"


# --- trend lines -------------------------------------------------------------------------------

W, H = 360, 170
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 12, 26


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Line:
    metric: str
    label: str
    index: int  # colour slot
    segments: list[str]  # polyline "x,y x,y" runs, broken where a period has no data
    dots: list[Dot]
    total: str


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class LineChart:
    spec: ChartSpec
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: int = W
    height: int = H
    left: int = LEFT
    right: int = W - RIGHT
    top: int = TOP
    bottom: int = H - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(line.dots for line in self.lines)


def periods_of(report: RecoveryReport) -> list[date]:
    return sorted({point.period for series in report.series for point in series.points})


def _period_label(period: date, granularity: str) -> str:
    return f"week of {period:%b %d}" if granularity == "week" else f"{period:%a %b %d}"


def line_chart(spec: ChartSpec, report: RecoveryReport) -> LineChart:
    periods = periods_of(report)
    by_metric = {series.metric: series for series in report.series}
    values = [p.value for m in spec.metrics if m in by_metric for p in by_metric[m].points if p.value is not None]
    kind = info(spec.metrics[0]).kind
    ticks = nice_ticks(values, kind)
    top = ticks[-1] or 1.0
    span_x = (W - RIGHT) - LEFT
    span_y = (H - BOTTOM) - TOP

    def x_of(i: int) -> float:
        return round(LEFT + (span_x * i / (len(periods) - 1) if len(periods) > 1 else span_x / 2), 1)

    def y_of(v: float) -> float:
        return round(TOP + span_y * (1 - v / top), 1)

    index = {period: i for i, period in enumerate(periods)}
    lines: list[Line] = []
    for slot, metric in enumerate(spec.metrics):
        series = by_metric.get(metric)
        granularity = series.granularity if series else "day"
        segments: list[str] = []
        run: list[str] = []
        dots: list[Dot] = []
        points = {p.period: p for p in (series.points if series else [])}
        for period in periods:
            point = points.get(period)
            if point is None or point.value is None:
                if run:
                    segments.append(" ".join(run))
                run = []
                continue
            x, y = x_of(index[period]), y_of(point.value)
            run.append(f"{x},{y}")
            title = f"{info(metric).label}, {_period_label(period, granularity)}: {fmt(metric, point.value)}"
            dots.append(Dot(x, y, f"{title} (n={point.n})"))
        if run:
            segments.append(" ".join(run))
        lines.append(Line(metric, info(metric).label, slot, segments, dots, fmt(metric, report.total(metric))))
    y_ticks = [Tick(y_of(t), tick_label(kind, t)) for t in ticks]
    picks = sorted({0, len(periods) // 2, len(periods) - 1}) if periods else []
    x_ticks = [Tick(x_of(i), f"{periods[i]:%b %d}") for i in picks]
    return LineChart(spec, lines, y_ticks, x_ticks)


# --- breakdowns --------------------------------------------------------------------------------

BAR_H, BAR_GAP, LABEL_W, BAR_W = 18, 6, 175, 150


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    width: float
    value: str
    title: str


@dataclass(frozen=True)
class BarChart:
    metric: str
    title: str
    bars: list[Bar]
    height: int
    label_w: int = LABEL_W
    bar_w: int = BAR_W
    width: int = LABEL_W + BAR_W + 60


def bar_chart(breakdown: Breakdown, limit: int = 12, labels: dict[str, str] | None = None) -> BarChart:
    rows = sorted(breakdown.rows, key=lambda r: (r.value is None, -(r.value or 0), r.key))[:limit]
    top = max((r.value or 0.0 for r in rows), default=0.0) or 1.0
    bars = []
    for i, row in enumerate(rows):
        text = fmt(breakdown.metric, row.value)
        width = 0.0 if row.value is None else round(max(1.0, BAR_W * row.value / top), 1)
        label = (labels or {}).get(row.key) or (row.key.replace("_", " ") if row.key else "(none)")
        bars.append(Bar(label, i * (BAR_H + BAR_GAP), width, text, f"{label}: {text} (n={row.n})"))
    height = max(1, len(rows)) * (BAR_H + BAR_GAP)
    return BarChart(breakdown.metric, info(breakdown.metric).label, bars, height)


def breakdown_charts(report: RecoveryReport, dimension: str, labels: dict[str, str] | None = None) -> list[BarChart]:
    """``labels``: how a person reads a key (an owner's name for their Slack id)."""
    order = {metric: i for i, metric in enumerate(METRIC_INFO)}
    chosen = [b for b in report.breakdowns if b.dimension == dimension and b.rows]
    return [bar_chart(b, labels=labels) for b in sorted(chosen, key=lambda b: order.get(b.metric, 99))]


def breakdown_table(report: RecoveryReport, dimension: str,
                    labels: dict[str, str] | None = None) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Rows = keys of the dimension, columns = metrics: the numbers behind the bars. A rate shows its
    own numerator and denominator ("50% (2 / 4)") so nobody mistakes a total for a group's figure."""
    chosen = [b for b in report.breakdowns if b.dimension == dimension]
    order = {metric: i for i, metric in enumerate(METRIC_INFO)}
    chosen.sort(key=lambda b: order.get(b.metric, 99))
    keys = sorted({row.key for b in chosen for row in b.rows})

    def cell(metric: str, row: Row) -> str:
        text = fmt(metric, row.value)
        if info(metric).kind == "rate" and row.value is not None and row.denominator:
            text += f" ({row.numerator} / {row.denominator})"
        return text

    cells = {(b.metric, row.key): cell(b.metric, row) for b in chosen for row in b.rows}
    shown = {key: (labels or {}).get(key) or key.replace("_", " ") for key in keys}
    return [b.metric for b in chosen], [(shown[key], [cells.get((b.metric, key), "—") for b in chosen])
                                        for key in keys]


def dimensions_present(report: RecoveryReport, known: Iterable[str]) -> list[str]:
    present = {b.dimension for b in report.breakdowns}
    return [d for d in known if d in present]


# --- outcome cohorts ---------------------------------------------------------------------------

COHORTS: tuple[tuple[str, str], ...] = (
    ("human_fixed_it", "AI escalated, a human fixed it"),
    ("ai_delayed_customer", "AI delayed the customer, the human started over"),
    ("open", "Still open"),
)


@dataclass(frozen=True)
class Segment:
    key: str
    label: str
    count: int
    x: float
    width: float
    share: str


@dataclass
class CohortBar:
    segments: list[Segment] = field(default_factory=list)
    total: int = 0
    width: int = 600


def cohort_bar(cohorts: dict[str, int], width: int = 600) -> CohortBar:
    keys: Sequence[tuple[str, str]] = COHORTS + tuple((k, k.replace("_", " ")) for k in cohorts
                                                      if k not in dict(COHORTS))
    total = sum(max(0, cohorts.get(k, 0)) for k, _ in keys)
    bar = CohortBar(total=total, width=width)
    x = 0.0
    for key, label in keys:
        count = max(0, cohorts.get(key, 0))
        share = count / total if total else 0.0
        bar.segments.append(Segment(key, label, count, round(x, 1), round(width * share, 1), f"{share * 100:.0f}%"))
        x += width * share
    return bar

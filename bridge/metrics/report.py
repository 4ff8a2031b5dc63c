"""The recovery report: did the handoffs work? Definitions are in docs/metrics.md, word for word.

Reads ``cases``, ``timeline``, ``kb_suggestions`` and ``csat_samples``. Every case is judged once
into ``CaseFacts`` (``bridge.metrics.facts``), counted into its UTC day's parts
(``bridge.metrics.days``, kept for whole days), and every figure, series point and breakdown row is
``finish`` over the merged parts of its days and group, so totals and breakdowns cannot drift.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from bridge.config import Settings
from bridge.metrics import days
from bridge.metrics.days import DayPart, Part, merge, part, utc_day
from bridge.metrics.facts import CaseFacts
from bridge.metrics.model import (
    COUNTS,
    DIMENSIONS,
    METRICS,
    SHARE,
    Breakdown,
    Point,
    RecoveryReport,
    Row,
    Series,
    Value,
    breakdown_metrics,
)
from bridge.store import loop_repo

if TYPE_CHECKING:  # the session is only handed on to store functions
    from bridge.store.db import Session

FILTERS = ("team", "trigger", "platform", "owner", "completeness_band")


# --- figures ------------------------------------------------------------------------------------

def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ratio(metric: str, num: float, den: float) -> Value:
    return Value(metric=metric, value=(num / den) if den else None, numerator=num, denominator=den)


def tally(cases: Sequence[CaseFacts], conversations: Sequence[CaseFacts], baseline: float | None
          ) -> tuple[list[Value], dict[str, int]]:
    """Every metric of METRICS over counted cases, and how many cases stand behind each value (its
    denominator population); ``conversations`` is the escalation-rate denominator."""
    return finish(part(cases, conversations), baseline)


def finish(p: Part, baseline: float | None) -> tuple[list[Value], dict[str, int]]:
    """Every metric of METRICS from a group's part, and how many cases stand behind each value."""
    acks, useful = p.acks, p.useful  # sorted
    values = {
        "conversations": Value(metric="conversations", value=p.counted),
        "escalations": Value(metric="escalations", value=p.escalations),
        "escalation_rate": _ratio("escalation_rate", p.escalations, p.counted),
        "time_to_ack_median_s": Value(metric="time_to_ack_median_s", value=percentile(acks, 50), denominator=len(acks)),
        "time_to_ack_p90_s": Value(metric="time_to_ack_p90_s", value=percentile(acks, 90), denominator=len(acks)),
        "time_to_first_useful_response_median_s": Value(
            metric="time_to_first_useful_response_median_s", value=percentile(useful, 50), denominator=len(useful)),
        "time_to_first_useful_response_p90_s": Value(
            metric="time_to_first_useful_response_p90_s", value=percentile(useful, 90), denominator=len(useful)),
        "csat": _ratio("csat", p.good, p.good + p.bad),
        "csat_baseline": Value(metric="csat_baseline", value=baseline),
        "reopen_rate": _ratio("reopen_rate", p.reopened, p.solved),
        "repeat_contact_rate": _ratio("repeat_contact_rate", p.repeat, p.solved),
        "kb_suggestions": Value(metric="kb_suggestions", value=p.suggested),
        "kb_conversions": Value(metric="kb_conversions", value=p.done),
        "kb_conversion_rate": _ratio("kb_conversion_rate", p.done, p.suggested),
    }
    special = {"conversations": p.counted, "escalation_rate": p.counted, "csat": p.good + p.bad,
               "reopen_rate": p.solved, "repeat_contact_rate": p.solved, "kb_conversion_rate": p.suggested}
    ns = {}
    for metric in METRICS:
        if metric in special:
            ns[metric] = special[metric]
        elif metric.startswith("time_to_ack"):
            ns[metric] = len(acks)
        elif metric.startswith("time_to_first_useful"):
            ns[metric] = len(useful)
        else:
            ns[metric] = p.escalations
    return [values[m] for m in METRICS], ns


def parse_baseline(settings: Settings | None) -> float | None:
    """``BRIDGE_CSAT_BASELINE``: a share (0.82) or a percentage (82)."""
    return settings.csat_baseline if settings else None


def _period(day: date, granularity: str) -> date:
    """First day of the day or ISO week (Monday) holding the UTC day ``day``."""
    return day - timedelta(days=day.weekday()) if granularity == "week" else day


def _periods(since: datetime, until: datetime, granularity: str) -> list[date]:
    out, current = [], _period(utc_day(since), granularity)
    step = timedelta(days=7 if granularity == "week" else 1)
    while datetime.combine(current, time(), tzinfo=UTC) < until:
        out.append(current)
        current += step
    return out


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Gathering a long history builds several objects per case and keeps them to the end: every few
    hundred allocations the cycle collector would walk the growing heap again, a third of a
    100,000-case report's time. What a report drops is freed by reference counting (a cold report
    over 100,000 cases peaked at the same RSS without the collector); it resumes afterwards.
    (Process-wide: a request served beside a report is only spared the same walks.)"""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build_report(
    session: Session,
    since: datetime,
    until: datetime,
    filters: dict[str, str] | None = None,
    granularity: str = "day",
    *,
    settings: Settings | None = None,
) -> RecoveryReport:
    """The recovery report of the conversations that started in [since, until)."""
    if granularity not in ("day", "week"):
        raise ValueError("granularity must be 'day' or 'week'")
    with _no_cycle_collection():
        return _build(session, since, until, filters, granularity, settings)


def _build(session: Session, since: datetime, until: datetime, filters: dict[str, str] | None,
           granularity: str, settings: Settings | None) -> RecoveryReport:
    filters = {k: v for k, v in (filters or {}).items() if v and k in FILTERS}
    baseline = parse_baseline(settings)
    if baseline is None:
        good, bad = loop_repo.csat_baseline(session, since, until)
        baseline = good / (good + bad) if good + bad else None
    by_day = days.by_day(session, since, until, filters)
    total = merge(d.all for d in by_day.values())
    totals = finish(total, baseline)[0] + [
        Value(metric="excluded_proactive", value=sum(d.proactive for d in by_day.values())),
        Value(metric="excluded_duplicate", value=sum(d.duplicate for d in by_day.values())),
    ]
    cohorts = {"human_fixed_it": 0, "ai_delayed_customer": 0, "open": 0}
    for d in by_day.values():
        for name, n in d.cohorts.items():
            cohorts[name] += n
    return RecoveryReport(since=since, until=until, filters=filters, totals=totals,
                          series=_series(by_day, since, until, granularity, baseline),
                          breakdowns=_breakdowns(by_day, total.escalations, baseline), cohorts=cohorts)


def _series(by_day: dict[date, DayPart], since: datetime, until: datetime, granularity: str,
            baseline: float | None) -> list[Series]:
    by_period: dict[date, list[Part]] = {p: [] for p in _periods(since, until, granularity)}
    for day, d in by_day.items():
        by_period.setdefault(_period(day, granularity), []).append(d.all)
    computed, ns = {}, {}
    for p, parts in by_period.items():
        values, ns[p] = finish(merge(parts), baseline)
        computed[p] = {v.metric: v for v in values}
    return [
        Series(metric=m, granularity=granularity, points=[
            Point(period=p, value=computed[p][m].value, n=ns[p][m]) for p in sorted(by_period)
        ])
        for m in METRICS
    ]


def _breakdowns(by_day: dict[date, DayPart], all_escalations: int, baseline: float | None) -> list[Breakdown]:
    """Per dimension, each row over its own cases: a platform's conversations are the denominator of
    its escalation rate; a trigger's or a team's escalations are its share of all escalations."""
    out: list[Breakdown] = []
    for dimension in DIMENSIONS:
        grouped: dict[str, list[Part]] = {}
        for d in by_day.values():
            for key, p in d.rows.get(dimension, {}).items():
                grouped.setdefault(key, []).append(p)
        merged = {key: merge(parts) for key, parts in grouped.items()}
        keys = sorted(key for key, p in merged.items() if p.cases)  # a row needs cases, not only conversations
        rows: dict[str, dict[str, Value]] = {}
        ns: dict[str, dict[str, int]] = {}
        for key in keys:
            values, ns[key] = finish(merged[key], baseline)
            rows[key] = {v.metric: v for v in values}
            mine = int(rows[key]["escalations"].value or 0)
            rows[key][SHARE] = _ratio(SHARE, mine, all_escalations)
        for metric in breakdown_metrics(dimension):
            out.append(Breakdown(metric=metric, dimension=dimension, rows=[
                _row(key, rows[key][metric], all_escalations if metric == SHARE else ns[key][metric])
                for key in keys
            ]))
    return out


def _whole(x: float | None) -> int | None:
    return int(x) if x is not None and float(x).is_integer() else None


def _row(key: str, value: Value, n: int) -> Row:
    return Row(key=key, value=value.value, n=n, numerator=_whole(value.numerator),
               denominator=_whole(value.denominator))


def parse_since(text: str, now: datetime) -> datetime:
    """``30d``, ``2w``, ``12h`` or an ISO date/time → the start of the window."""
    match = re.fullmatch(r"\s*(\d+)\s*([dhw])\s*", text)
    if match:
        unit = {"d": "days", "h": "hours", "w": "weeks"}[match.group(2)]
        return now - timedelta(**{unit: int(match.group(1))})
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def flat_rows(report: RecoveryReport) -> Iterable[dict[str, Any]]:
    """Totals then breakdowns as flat rows (CSV and table output)."""
    for v in report.totals:
        yield {"dimension": "all", "key": "all", "metric": v.metric, "value": v.value,
               "numerator": v.numerator, "denominator": v.denominator}
    for b in report.breakdowns:
        for r in b.rows:
            counted = b.metric in COUNTS
            yield {"dimension": b.dimension, "key": r.key, "metric": b.metric, "value": r.value,
                   "numerator": None if counted else r.numerator,
                   "denominator": None if counted else (r.denominator if r.denominator is not None else r.n)}


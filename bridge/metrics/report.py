"""The recovery report: did the handoffs work? Definitions are in docs/metrics.md, word for word.

Reads ``cases``, ``timeline``, ``kb_suggestions`` and ``csat_samples``. Every case is judged once
into ``CaseFacts`` (``bridge.metrics.facts``), and every figure, series point and breakdown row is
the same function over a different subset of those facts, so totals and breakdowns cannot drift.
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
from bridge.metrics.facts import CaseFacts, gather
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
    denominator population); ``conversations`` is the escalation-rate denominator. One pass each:
    over a long history this runs once per period and per breakdown row."""
    escalations = good = bad = solved = reopened = repeat = suggested = done = 0
    acks: list[float] = []
    useful: list[float] = []
    for c in cases:
        if not c.escalated or c.proactive or c.duplicate:  # escalated and counted only
            continue
        escalations += 1
        if c.time_to_ack is not None:
            acks.append(c.time_to_ack)
        if c.time_to_useful is not None:
            useful.append(c.time_to_useful)
        if c.csat == "good":
            good += 1
        elif c.csat == "bad":
            bad += 1
        if c.solves:
            solved += 1
            reopened += c.reopened
            repeat += c.repeat
        suggested += c.kb_suggested
        done += c.kb_done
    counted = sum(1 for c in conversations if not (c.proactive or c.duplicate))
    values = {
        "conversations": Value(metric="conversations", value=counted),
        "escalations": Value(metric="escalations", value=escalations),
        "escalation_rate": _ratio("escalation_rate", escalations, counted),
        "time_to_ack_median_s": Value(metric="time_to_ack_median_s", value=percentile(acks, 50), denominator=len(acks)),
        "time_to_ack_p90_s": Value(metric="time_to_ack_p90_s", value=percentile(acks, 90), denominator=len(acks)),
        "time_to_first_useful_response_median_s": Value(
            metric="time_to_first_useful_response_median_s", value=percentile(useful, 50), denominator=len(useful)),
        "time_to_first_useful_response_p90_s": Value(
            metric="time_to_first_useful_response_p90_s", value=percentile(useful, 90), denominator=len(useful)),
        "csat": _ratio("csat", good, good + bad),
        "csat_baseline": Value(metric="csat_baseline", value=baseline),
        "reopen_rate": _ratio("reopen_rate", reopened, solved),
        "repeat_contact_rate": _ratio("repeat_contact_rate", repeat, solved),
        "kb_suggestions": Value(metric="kb_suggestions", value=suggested),
        "kb_conversions": Value(metric="kb_conversions", value=done),
        "kb_conversion_rate": _ratio("kb_conversion_rate", done, suggested),
    }
    special = {"conversations": counted, "escalation_rate": counted, "csat": good + bad, "reopen_rate": solved,
               "repeat_contact_rate": solved, "kb_conversion_rate": suggested}
    ns = {}
    for metric in METRICS:
        if metric in special:
            ns[metric] = special[metric]
        elif metric.startswith("time_to_ack"):
            ns[metric] = len(acks)
        elif metric.startswith("time_to_first_useful"):
            ns[metric] = len(useful)
        else:
            ns[metric] = escalations
    return [values[m] for m in METRICS], ns


def parse_baseline(settings: Settings | None) -> float | None:
    """``BRIDGE_CSAT_BASELINE``: a share (0.82) or a percentage (82)."""
    return settings.csat_baseline if settings else None


def _period(at: datetime, granularity: str) -> date:
    """First day (UTC) of the day or ISO week (Monday) containing ``at``."""
    day = at.astimezone(UTC).date()
    return day - timedelta(days=day.weekday()) if granularity == "week" else day


def _periods(since: datetime, until: datetime, granularity: str) -> list[date]:
    out, current = [], _period(since, granularity)
    step = timedelta(days=7 if granularity == "week" else 1)
    while datetime.combine(current, time(), tzinfo=UTC) < until:
        out.append(current)
        current += step
    return out


def _matches(c: CaseFacts, filters: dict[str, str]) -> bool:
    return all(value in c.value(name) for name, value in filters.items())


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
    everything = gather(session, since, until)
    in_window = [c for c in everything if since <= c.created_at < until]
    cases = [c for c in in_window if _matches(c, filters)]
    # The escalation-rate denominator: conversations only have a platform before a human gets them,
    # so only the platform filter narrows it.
    conversations = [c for c in in_window if _matches(c, {k: v for k, v in filters.items() if k == "platform"})]
    baseline = parse_baseline(settings)
    if baseline is None:
        good, bad = loop_repo.csat_baseline(session, since, until)
        baseline = good / (good + bad) if good + bad else None
    totals = tally(cases, conversations, baseline)[0]
    totals += [
        Value(metric="excluded_proactive", value=sum(c.proactive for c in conversations)),
        Value(metric="excluded_duplicate", value=sum(c.duplicate and not c.proactive for c in conversations)),
    ]
    series = _series(cases, conversations, since, until, granularity, baseline)
    breakdowns = _breakdowns(cases, conversations, baseline)
    cohorts = {"human_fixed_it": 0, "ai_delayed_customer": 0, "open": 0}
    for c in cases:
        if c.counted and c.cohort:
            cohorts[c.cohort] += 1
    return RecoveryReport(since=since, until=until, filters=filters, totals=totals, series=series,
                          breakdowns=breakdowns, cohorts=cohorts)


def _series(cases: list[CaseFacts], conversations: list[CaseFacts], since: datetime, until: datetime,
            granularity: str, baseline: float | None) -> list[Series]:
    periods = _periods(since, until, granularity)
    by_period: dict[date, tuple[list[CaseFacts], list[CaseFacts]]] = {p: ([], []) for p in periods}
    for c in cases:
        by_period.setdefault(_period(c.created_at, granularity), ([], []))[0].append(c)
    for c in conversations:
        by_period.setdefault(_period(c.created_at, granularity), ([], []))[1].append(c)
    computed, ns = {}, {}
    for p, (cs, cv) in by_period.items():
        values, ns[p] = tally(cs, cv, baseline)
        computed[p] = {v.metric: v for v in values}
    return [
        Series(metric=m, granularity=granularity, points=[
            Point(period=p, value=computed[p][m].value, n=ns[p][m]) for p in sorted(by_period)
        ])
        for m in METRICS
    ]


def _breakdowns(cases: list[CaseFacts], conversations: list[CaseFacts], baseline: float | None) -> list[Breakdown]:
    """Per dimension, each row over its own cases: a platform's conversations are the denominator of
    its escalation rate; a trigger's or a team's escalations are its share of all escalations."""
    out: list[Breakdown] = []
    all_escalations = sum(c.escalated and c.counted for c in cases)
    by_platform: dict[str, list[CaseFacts]] = {}
    for c in conversations:
        by_platform.setdefault(c.platform, []).append(c)
    for dimension in DIMENSIONS:
        subsets: dict[str, list[CaseFacts]] = {}
        for c in cases:
            for k in c.value(dimension):
                subsets.setdefault(k, []).append(c)
        keys = sorted(subsets)
        rows: dict[str, dict[str, Value]] = {}
        ns: dict[str, dict[str, int]] = {}
        for key in keys:
            subset = subsets[key]
            own = by_platform.get(key, []) if dimension == "platform" else subset
            values, ns[key] = tally(subset, own, baseline)
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


"""The recovery report's figures per UTC day, kept for whole days and added up into any window.

Every figure of the report is a sum or a percentile over cases, so a window's figures are its
days' parts merged: counts added, times concatenated (kept sorted, so merging is a run merge).
A whole day's parts are kept in ``report_days`` while the days they depend on are unchanged
(``days_repo.digests``): its own cases, the day before (a duplicate across midnight) and every day
up to its *reach*, the last moment a later contact could turn one of its solved cases into a
repeat. A report then judges, links and counts only the days that changed and the window's two
partial days; a 90-day report over 100,000 unchanged cases reads 90 rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from bridge.metrics import cache
from bridge.metrics.facts import DUPLICATE_WINDOW, TIMELINE_KINDS, WINDOW, CaseFacts, gather_span
from bridge.metrics.model import DIMENSIONS
from bridge.store import days_repo

if TYPE_CHECKING:  # the session is only handed on to store functions
    from bridge.store.db import Session

VERSION = "d1"  # bump when ``Part``, ``DayPart`` or what they count change
ONE_DAY = timedelta(days=1)
SPAN_DAYS = 7  # the most days judged, linked and counted at once


@dataclass(slots=True)
class Part:
    """What a group's figures are computed from: ``cases`` in the group, ``counted`` conversations
    behind its escalation rate, the counters, and the sorted times behind its percentiles."""

    cases: int = 0
    counted: int = 0
    escalations: int = 0
    good: int = 0
    bad: int = 0
    solved: int = 0
    reopened: int = 0
    repeat: int = 0
    suggested: int = 0
    done: int = 0
    acks: list[float] = field(default_factory=list)
    useful: list[float] = field(default_factory=list)


def part(cases: Sequence[CaseFacts], conversations: Sequence[CaseFacts]) -> Part:
    p = Part(cases=len(cases))
    for c in cases:
        if not c.escalated or c.proactive or c.duplicate:  # escalated and counted only
            continue
        p.escalations += 1
        if c.time_to_ack is not None:
            p.acks.append(c.time_to_ack)
        if c.time_to_useful is not None:
            p.useful.append(c.time_to_useful)
        if c.csat == "good":
            p.good += 1
        elif c.csat == "bad":
            p.bad += 1
        if c.solves:
            p.solved += 1
            p.reopened += c.reopened
            p.repeat += c.repeat
        p.suggested += c.kb_suggested
        p.done += c.kb_done
    p.counted = sum(1 for c in conversations if not (c.proactive or c.duplicate))
    p.acks.sort()
    p.useful.sort()
    return p


_COUNTERS = ("cases", "counted", "escalations", "good", "bad", "solved", "reopened", "repeat", "suggested", "done")


def merge(parts: Iterable[Part]) -> Part:
    out = Part()
    for p in parts:
        for name in _COUNTERS:
            setattr(out, name, getattr(out, name) + getattr(p, name))
        out.acks += p.acks
        out.useful += p.useful
    out.acks.sort()  # sorted runs: timsort merges them
    out.useful.sort()
    return out


def _part_json(p: Part) -> list[Any]:
    return [*(getattr(p, name) for name in _COUNTERS), p.acks, p.useful]


def _part_from(data: list[Any]) -> Part:
    return Part(*data)


@dataclass(slots=True)
class DayPart:
    """One day's (or one partial day's) parts: all its cases, and per breakdown row."""

    all: Part
    proactive: int  # excluded conversations
    duplicate: int
    cohorts: dict[str, int]
    rows: dict[str, dict[str, Part]]  # dimension → key → part

    def to_json(self) -> dict[str, Any]:
        return {"all": _part_json(self.all), "excluded": [self.proactive, self.duplicate], "cohorts": self.cohorts,
                "rows": {d: {k: _part_json(p) for k, p in keys.items()} for d, keys in self.rows.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DayPart:
        return cls(all=_part_from(data["all"]), proactive=data["excluded"][0], duplicate=data["excluded"][1],
                   cohorts=data["cohorts"],
                   rows={d: {k: _part_from(p) for k, p in keys.items()} for d, keys in data["rows"].items()})


def day_part(cases: Sequence[CaseFacts], conversations: Sequence[CaseFacts]) -> DayPart:
    """A platform's row counts its own conversations (its escalation rate's denominator), also on a
    day it has conversations but no case in the filtered set; the other rows count their cases."""
    cohorts = {"human_fixed_it": 0, "ai_delayed_customer": 0, "open": 0}
    for c in cases:
        if c.counted and c.cohort:
            cohorts[c.cohort] += 1
    by_platform: dict[str, list[CaseFacts]] = {}
    for c in conversations:
        by_platform.setdefault(c.platform, []).append(c)
    rows: dict[str, dict[str, Part]] = {}
    for dimension in DIMENSIONS:
        subsets: dict[str, list[CaseFacts]] = {}
        for c in cases:
            for k in c.value(dimension):
                subsets.setdefault(k, []).append(c)
        if dimension == "platform":
            rows[dimension] = {k: part(subsets.get(k, []), by_platform.get(k, []))
                               for k in subsets.keys() | by_platform.keys()}
        else:
            rows[dimension] = {k: part(subset, subset) for k, subset in subsets.items()}
    return DayPart(all=part(cases, conversations), proactive=sum(c.proactive for c in conversations),
                   duplicate=sum(c.duplicate and not c.proactive for c in conversations), cohorts=cohorts, rows=rows)


def utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _depends(day: date, reach: date, digests: dict[date, str]) -> str:
    """The digests of the days ``day``'s figures depend on, hashed: the day before through reach."""
    text = "\n".join(f"{d}:{digests.get(d, '')}" for d in _days(day - ONE_DAY, reach))
    return hashlib.sha256(f"{VERSION}/{cache.VERSION}\n{text}".encode()).hexdigest()


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def matches(c: CaseFacts, filters: dict[str, str]) -> bool:
    return all(value in c.value(name) for name, value in filters.items())


def scope_of(filters: dict[str, str]) -> str:
    """The key a set of filters keeps its days under: empty for none, readable when short."""
    text = "&".join(f"{name}={value}" for name, value in sorted(filters.items()))
    return text if len(text) <= 160 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def by_day(session: Session, since: datetime, until: datetime, filters: dict[str, str]) -> dict[date, DayPart]:
    """Each UTC day's parts of the conversations started in [since, until) that pass ``filters``:
    whole days from ``report_days`` while they hold, the rest judged, linked and counted (and whole
    days kept). The escalation-rate denominator: conversations only have a platform before a human
    gets them, so only the platform filter narrows it."""
    scope = scope_of(filters)
    platform_only = {k: v for k, v in filters.items() if k == "platform"}
    first_whole = utc_day(since) + (ONE_DAY if _start(utc_day(since)) < since else timedelta())
    last_whole = utc_day(until) - ONE_DAY  # the day holding ``until`` is partial (until is excluded)
    digests = days_repo.digests(session, _start(first_whole - ONE_DAY), TIMELINE_KINDS) \
        if first_whole <= last_whole else {}
    out: dict[date, DayPart] = {}
    if digests:
        for day, (version, reach, depends, data) in days_repo.stored(session, scope, first_whole, last_whole).items():
            if version == VERSION and depends == _depends(day, reach, digests):
                out[day] = DayPart.from_json(data)
    for first, last in _spans(since, until, set(out)):
        keep: list[tuple[date, str, date, str, Any]] = []
        found: dict[date, list[CaseFacts]] = {}
        for f in gather_span(session, first, last):
            found.setdefault(utc_day(f.created_at), []).append(f)
        for day in _days(utc_day(first), utc_day(last - timedelta(microseconds=1))):
            everyone = found.get(day, [])
            cases = [c for c in everyone if matches(c, filters)] if filters else everyone
            conversations = [c for c in everyone if matches(c, platform_only)] if platform_only else everyone
            out[day] = day_part(cases, conversations)
            if first_whole <= day <= last_whole and digests and _settled(day, everyone):
                reach = _reach(day, everyone)
                keep.append((day, VERSION, reach, _depends(day, reach, digests), out[day].to_json()))
        days_repo.save(session, scope, keep)
    return out


def _reach(day: date, cases: Sequence[CaseFacts]) -> date:
    """The last day whose conversations can change these cases' links: the next day (30 minutes
    past midnight) or 7 days after their last solve."""
    latest = max((s for c in cases for s in c.solves), default=None)
    return max(day + ONE_DAY, utc_day(latest + WINDOW)) if latest else day + ONE_DAY


def _settled(day: date, cases: Sequence[CaseFacts]) -> bool:
    """A solve stamped before its own case's day would link to days before the one this row says
    it depends on (vendor clocks): such a day is counted afresh every time, never kept."""
    earliest = min((s for c in cases for s in c.solves), default=None)
    return earliest is None or earliest >= _start(day) - DUPLICATE_WINDOW


def _spans(since: datetime, until: datetime, known: set[date]) -> list[tuple[datetime, datetime]]:
    """The runs of days in [since, until) not in ``known``, as [first, last) clipped to the window, at
    most ``SPAN_DAYS`` long: a report over a history nothing was kept of holds a week's judgments at a
    time, not the whole window's, and keeps each week as it goes."""
    spans: list[tuple[datetime, datetime]] = []
    day = utc_day(since)
    while _start(day) < until:
        if day not in known:
            first, last = max(since, _start(day)), min(until, _start(day + ONE_DAY))
            if spans and spans[-1][1] == first and last - spans[-1][0] <= SPAN_DAYS * ONE_DAY:
                spans[-1] = (spans[-1][0], last)
            else:
                spans.append((first, last))
        day += ONE_DAY
    return spans

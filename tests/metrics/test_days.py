"""The recovery report from kept days (``report_days``) is the report counted afresh, case by case,
on SQLite and PostgreSQL; every kind of change that can move a kept day's figures (a case, its
timeline, its KB suggestion, a later duplicate or repeat contact, an erasure) is seen at once; and
an unchanged history is read back, not judged again."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bridge.config import Settings
from bridge.metrics import cache, days, report
from bridge.metrics.facts import DUPLICATE_WINDOW, TIMELINE_KINDS, CaseFacts, _link, judge
from bridge.metrics.model import (
    DIMENSIONS,
    METRICS,
    SHARE,
    Breakdown,
    Point,
    RecoveryReport,
    Series,
    Value,
    breakdown_metrics,
)
from bridge.runtime import Runtime, install
from bridge.store import erasure, loop_repo
from bridge.store.migrate import upgrade
from bridge.store.models import CaseFactsRow, CaseRow, KbSuggestionRow, ReportDayRow
from tests.metrics.test_report import case, tl

START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 24
TOPICS = ("sso", "refund", "export", "checkout", None)
TRIGGERS = ("low_confidence", "product_bug", "customer_requested_human", "billing_exception")
TEAMS = {"low_confidence": "support", "product_bug": "engineering", "customer_requested_human": "support",
         "billing_exception": "billing"}
# Windows that start and end mid-day, on a midnight, and one inside a single day.
WINDOWS = [(START + timedelta(days=2, hours=7), START + timedelta(days=DAYS - 3, hours=15)),
           (START + timedelta(days=1), START + timedelta(days=DAYS)),
           (START + timedelta(days=5, hours=2), START + timedelta(days=5, hours=20))]


def _make(rng: random.Random, n: int, prefix: str, customers: int) -> tuple[list[CaseRow], list[Any], list[Any]]:
    cases, timeline, kb = [], [], []
    for i in range(n):
        cid = f"{prefix}{i}"
        who = rng.randrange(customers)
        created = START + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
        if rng.random() < 0.25 and cases:  # close to another conversation of a customer: duplicates
            other = rng.choice(cases)
            created = other.created_at + timedelta(minutes=rng.randrange(-40, 40))
            who = int((other.customer_email or "c0@x").split("@")[0][1:])
        trigger = rng.choice(TRIGGERS) if rng.random() < 0.7 else None
        escalated = created + timedelta(minutes=rng.randrange(3)) if trigger else None
        cases.append(case(cid, f"c{who}@x", created, escalated=escalated, trigger=trigger,
                          team=TEAMS[trigger] if trigger else None,
                          ack=rng.choice([None, rng.uniform(5, 5000)]) if trigger else None,
                          useful=rng.choice([None, rng.uniform(5, 9000)]) if trigger else None,
                          topic=rng.choice(TOPICS), platform=rng.choice(["generic", "intercom"]),
                          proactive=rng.random() < 0.05))
        if escalated and rng.random() < 0.6:
            solved = escalated + timedelta(hours=rng.uniform(0.2, 60))
            timeline.append(tl(cid, "ticket.solved", solved))
            if rng.random() < 0.3:
                timeline.append(tl(cid, "ticket.reopened", solved + timedelta(days=rng.uniform(0.1, 9))))
            if rng.random() < 0.5:
                timeline.append(tl(cid, "csat.rated", solved + timedelta(hours=1), score=rng.choice(["good", "bad"])))
        if escalated and rng.random() < 0.5:
            timeline.append(tl(cid, "agent.replied", escalated + timedelta(minutes=5), holding=False,
                               reasked=["x"] if rng.random() < 0.2 else []))
        if escalated and rng.random() < 0.2:
            kb.append(KbSuggestionRow(case_id=cid, title="t", body="b", source="template",
                                      status=rng.choice(["suggested", "done"]), created_at=created))
    return cases, timeline, kb


@pytest.fixture
def store(any_store_settings: Settings) -> Runtime:
    rt = install(Runtime.build(any_store_settings))
    upgrade(rt.store)
    rows, timeline, kb = _make(random.Random(7), 420, "k", 60)
    with rt.store.session() as s:
        s.add_all(rows)
        s.flush()
        s.add_all(timeline + kb)
        s.commit()
    return rt


def gather(s: Any, since: datetime, until: datetime) -> list[CaseFacts]:
    """How the report read its cases before days were kept: everything from 30 minutes before the
    window on, linked at once."""
    return _link(cache.facts_since(s, since - DUPLICATE_WINDOW, TIMELINE_KINDS, judge, CaseFacts))


def reference(s: Any, since: datetime, until: datetime, granularity: str,
              filters: dict[str, str] | None = None) -> RecoveryReport:
    """The report as it was counted before days were kept: every case of the window at once."""
    filters = filters or {}
    in_window = [c for c in gather(s, since, until) if since <= c.created_at < until]
    cases = [c for c in in_window if days.matches(c, filters)]
    conversations = [c for c in in_window if days.matches(c, {k: v for k, v in filters.items() if k == "platform"})]
    good, bad = loop_repo.csat_baseline(s, since, until)
    baseline = good / (good + bad) if good + bad else None
    totals = report.tally(cases, conversations, baseline)[0] + [
        Value(metric="excluded_proactive", value=sum(c.proactive for c in conversations)),
        Value(metric="excluded_duplicate", value=sum(c.duplicate and not c.proactive for c in conversations))]
    by_period: dict[date, tuple[list[CaseFacts], list[CaseFacts]]] = {
        p: ([], []) for p in report._periods(since, until, granularity)}
    for c in cases:
        by_period.setdefault(report._period(days.utc_day(c.created_at), granularity), ([], []))[0].append(c)
    for c in conversations:
        by_period.setdefault(report._period(days.utc_day(c.created_at), granularity), ([], []))[1].append(c)
    computed = {p: report.tally(cs, cv, baseline) for p, (cs, cv) in by_period.items()}
    series = [Series(metric=m, granularity=granularity, points=[
        Point(period=p, value=computed[p][0][METRICS.index(m)].value, n=computed[p][1][m]) for p in sorted(by_period)])
        for m in METRICS]
    breakdowns, everyone = [], sum(c.escalated and c.counted for c in cases)
    by_platform: dict[str, list[CaseFacts]] = {}
    for c in conversations:
        by_platform.setdefault(c.platform, []).append(c)
    for dimension in DIMENSIONS:
        subsets: dict[str, list[CaseFacts]] = {}
        for c in cases:
            for k in c.value(dimension):
                subsets.setdefault(k, []).append(c)
        rows = {}
        for key, subset in subsets.items():
            own = by_platform.get(key, []) if dimension == "platform" else subset
            values, ns = report.tally(subset, own, baseline)
            rows[key] = ({v.metric: v for v in values}, ns)
            rows[key][0][SHARE] = report._ratio(SHARE, int(rows[key][0]["escalations"].value or 0), everyone)
        for metric in breakdown_metrics(dimension):
            breakdowns.append(Breakdown(metric=metric, dimension=dimension, rows=[
                report._row(k, rows[k][0][metric], everyone if metric == SHARE else rows[k][1][metric])
                for k in sorted(subsets)]))
    cohorts = {"human_fixed_it": 0, "ai_delayed_customer": 0, "open": 0}
    for c in cases:
        if c.counted and c.cohort:
            cohorts[c.cohort] += 1
    return RecoveryReport(since=since, until=until, filters=filters, totals=totals, series=series,
                          breakdowns=breakdowns, cohorts=cohorts)


FILTERS: list[dict[str, str]] = [{}, {"platform": "intercom"}, {"trigger": "product_bug"},
                                 {"team": "support", "platform": "generic"}]


def _check(rt: Runtime, granularity: str = "day") -> None:
    for since, until in WINDOWS:
        for filters in FILTERS:
            with rt.store.session() as s:
                got = report.build_report(s, since, until, filters, granularity=granularity)
            with rt.store.session() as s:
                assert got == reference(s, since, until, granularity, filters), (since, until, granularity, filters)


def _kept(rt: Runtime) -> int:
    with rt.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(ReportDayRow)) or 0)


def test_a_report_from_kept_days_is_the_report_counted_afresh(store: Runtime) -> None:
    with store.store.session() as s:  # the seed links: duplicates and repeat contacts both occur
        facts = gather(s, START, START + timedelta(days=DAYS))
    assert sum(f.duplicate for f in facts) >= 20 and sum(f.repeat for f in facts) >= 3
    _check(store)  # counts and keeps the whole days
    # per set of filters, the whole days of the 1st window and of the 2nd, which adds day 1
    assert _kept(store) == (DAYS - 1) * len(FILTERS)
    _check(store)  # read back
    _check(store, "week")


def test_an_unchanged_history_is_read_back_and_only_the_partial_days_counted(
        store: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    since, until = WINDOWS[0]
    with store.store.session() as s:
        report.build_report(s, since, until)
    spans: list[tuple[datetime, datetime]] = []
    real = days.gather_span
    monkeypatch.setattr(days, "gather_span", lambda s, a, b: spans.append((a, b)) or real(s, a, b))
    with store.store.session() as s:
        report.build_report(s, since, until)
    assert spans == [(since, START + timedelta(days=3)), (START + timedelta(days=DAYS - 3), until)]


def _case_ids(rt: Runtime) -> list[str]:
    with rt.store.session() as s:
        return sorted(s.scalars(select(CaseRow.id)))


def test_every_change_is_seen_at_once(store: Runtime) -> None:
    """After each change, the report from kept days is the report counted afresh."""
    _check(store)
    rng = random.Random(11)
    changes = ["solve", "ack", "kb", "duplicate", "repeat", "rating", "reassign"] * 2
    rng.shuffle(changes)
    for n, change in enumerate(changes):
        ids = _case_ids(store)
        with store.store.session() as s:
            target = s.get(CaseRow, rng.choice([i for i in ids if i.startswith("k")]))
            assert target is not None
            now = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=n)
            if change == "solve":  # the timeline grows, the case row does not
                s.add(tl(target.id, "ticket.solved", target.created_at + timedelta(hours=5)))
            elif change == "rating":
                s.add(tl(target.id, "csat.rated", target.created_at + timedelta(hours=6), score="bad"))
            elif change == "ack":
                s.execute(update(CaseRow).where(CaseRow.id == target.id).values(
                    escalated_at=target.created_at, acknowledged_at=target.created_at + timedelta(seconds=42),
                    triggers=["product_bug"], team="engineering", updated_at=now))
            elif change == "reassign":
                s.execute(update(CaseRow).where(CaseRow.id == target.id).values(owner="support:zoe", updated_at=now))
            elif change == "kb":  # only the suggestion's status moves
                row = s.scalar(select(KbSuggestionRow).where(KbSuggestionRow.status == "suggested"))
                if row is None:
                    s.add(KbSuggestionRow(case_id=target.id, title="t", body="b", source="template",
                                          status="suggested", created_at=now))
                else:
                    row.status, row.done_at = "done", now
            else:  # a later conversation of the same customer: 10 minutes after midnight, or after a solve
                at = datetime.combine(days.utc_day(target.created_at) + timedelta(days=1), datetime.min.time(),
                                      tzinfo=UTC) + timedelta(minutes=10)
                if change == "repeat":
                    at = target.created_at + timedelta(days=2)
                    s.add(tl(target.id, "ticket.solved", target.created_at + timedelta(days=1)))
                s.add(case(f"n{n}", target.customer_email or "c1@x", at, topic=(target.event.get("handoff") or {})
                           .get("topic") or "sso"))
            s.commit()
        _check(store)


def test_an_erasure_drops_the_cached_judgment_and_the_kept_days(store: Runtime) -> None:
    _check(store)
    assert _kept(store) > 0
    with store.store.session() as s:
        victim = s.scalar(select(CaseRow).where(CaseRow.customer_email == "c3@x").limit(1))
        assert victim is not None and s.get(CaseFactsRow, victim.id) is not None
        erasure.scrub_case(s, victim)
        s.commit()
        assert s.get(CaseFactsRow, victim.id) is None  # it held the customer's e-mail and words
    assert _kept(store) == 0
    _check(store)  # the scrubbed case no longer links to the customer's other conversations


def test_a_day_round_trips_through_its_json() -> None:
    rng = random.Random(3)
    cases = []
    for i in range(40):
        cases.append(CaseFacts(
            id=str(i), platform=rng.choice(["a", "b"]), created_at=START, customer=(None, None),
            escalated=rng.random() < 0.8, triggers=("product_bug",), team="t", owner="o", band="high",
            time_to_ack=rng.choice([None, rng.random() * 100]), csat=rng.choice([None, "good", "bad"]),
            solves=(START,) if rng.random() < 0.5 else (), repeat=rng.random() < 0.3))
    part = days.day_part(cases, cases)
    assert days.DayPart.from_json(part.to_json()) == part
    assert part.all.acks == sorted(part.all.acks) and part.rows["platform"].keys() == {"a", "b"}
    merged = days.merge([part.rows["platform"]["a"], part.rows["platform"]["b"]])
    assert (merged.cases, merged.escalations, merged.acks) == (part.all.cases, part.all.escalations, part.all.acks)


def test_spans_are_the_unknown_days_clipped_to_the_window() -> None:
    since, until = START + timedelta(hours=5), START + timedelta(days=4, hours=3)
    day = [START.date() + timedelta(days=i) for i in range(5)]
    assert days._spans(since, until, set()) == [(since, until)]
    assert days._spans(since, until, {day[1], day[2]}) == [(since, START + timedelta(days=1)),
                                                          (START + timedelta(days=3), until)]
    assert days._spans(since, START + timedelta(days=4), set(day[1:4])) == [(since, START + timedelta(days=1))]
    week = days.SPAN_DAYS * timedelta(days=1)  # a long run is judged a week at a time
    end = START + 2 * week + timedelta(hours=1)
    assert days._spans(since, end, set()) == [(since, START + week), (START + week, START + 2 * week),
                                              (START + 2 * week, end)]


def test_a_report_over_a_history_nothing_was_kept_of_goes_a_week_at_a_time(
        store: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Judged a week at a time and kept as it goes: a failure halfway keeps the weeks done."""
    since, until = WINDOWS[1]
    calls: list[tuple[datetime, datetime]] = []
    real = days.gather_span

    def failing_on_the_third(s: Any, a: datetime, b: datetime) -> Any:
        calls.append((a, b))
        if len(calls) == 3:
            raise RuntimeError("stopped")
        return real(s, a, b)

    monkeypatch.setattr(days, "gather_span", failing_on_the_third)
    with store.store.session() as s, pytest.raises(RuntimeError):
        report.build_report(s, since, until)
    assert all(b - a <= timedelta(days=days.SPAN_DAYS) for a, b in calls)
    assert _kept(store) == 2 * days.SPAN_DAYS
    monkeypatch.setattr(days, "gather_span", real)
    _check(store)


def _totals(rt: Runtime, since: datetime, until: datetime) -> dict[str, Any]:
    with rt.store.session() as s:
        got = report.build_report(s, since, until)
    with rt.store.session() as s:
        assert got == reference(s, since, until, "day")
    return {v.metric: (v.value, v.numerator) for v in got.totals}


def test_a_later_conversation_changes_an_earlier_kept_day(store: Runtime) -> None:
    """Only the later day's digest moves; the earlier day depends on it (the next day, and the 7
    days after its solves) and is counted again."""
    day = START + timedelta(days=10)
    window = (START + timedelta(days=9), START + timedelta(days=11))  # day 10 is its only whole day
    with store.store.session() as s:
        s.add(case("late-a", "solo@x", day + timedelta(hours=23, minutes=50), topic="sso"))
        s.add(case("late-b", "other@x", day + timedelta(hours=9), escalated=day + timedelta(hours=9),
                   trigger="billing_exception", team="billing", topic="refund"))
        s.flush()
        s.add(tl("late-b", "ticket.solved", day + timedelta(hours=10)))
        s.commit()
    before = _totals(store, *window)
    assert _kept(store) >= 1
    with store.store.session() as s:  # 15 minutes later, the next day, escalated: it counts, late-a does not
        s.add(case("late-c", "solo@x", day + timedelta(days=1, minutes=5), escalated=day + timedelta(days=1, minutes=5),
                   trigger="product_bug", team="engineering", topic="sso"))
        s.commit()
    after = _totals(store, *window)
    assert after["excluded_duplicate"][0] == before["excluded_duplicate"][0] + 1
    with store.store.session() as s:  # five days after late-b's solve, about the same thing: a repeat
        s.add(case("late-d", "other@x", day + timedelta(days=5), topic="refund"))
        s.commit()
    again = _totals(store, *window)
    assert again["repeat_contact_rate"][1] == after["repeat_contact_rate"][1] + 1


def test_a_change_that_moves_a_time_by_a_microsecond_is_seen(store: Runtime) -> None:
    """The digests compare times to the microsecond, as the per-case stamps do."""
    _check(store)
    with store.store.session() as s:
        target = s.scalar(select(CaseRow).where(CaseRow.escalated_at.is_not(None), CaseRow.id.like("k%"),
                                                CaseRow.created_at >= START + timedelta(days=3)).limit(1))
        assert target is not None
        s.execute(update(CaseRow).where(CaseRow.id == target.id).values(
            owner="support:micro", updated_at=target.updated_at + timedelta(microseconds=1)))
        s.commit()
    _check(store)
    with store.store.session() as s:
        got = report.build_report(s, *WINDOWS[0])
    owners = next(b for b in got.breakdowns if b.dimension == "owner")
    assert "support:micro" in [r.key for r in owners.rows]


def test_days_kept_by_an_older_version_are_dropped(store: Runtime) -> None:
    with store.store.session() as s:
        s.add(ReportDayRow(day=START.date(), scope="team=gone", version="d0", reach=START.date(), depends="x",
                           data={}))
        s.commit()
    _check(store)
    with store.store.session() as s:
        assert s.scalar(select(func.count()).select_from(ReportDayRow).where(ReportDayRow.version != days.VERSION)) == 0
        assert s.scalar(select(func.count()).select_from(ReportDayRow)) == (DAYS - 1) * len(FILTERS)


def test_a_day_of_many_cases_is_digested_exactly(any_store_settings: Settings) -> None:
    """A busy day: 6,000 cases started on one UTC day. Their times summed in epoch microseconds pass
    SQLite's 64-bit integers (``integer overflow`` broke every report of such a store); the digest
    still moves when one of those times moves by a microsecond."""
    from sqlalchemy import insert

    from bridge.store import days_repo

    rt = install(Runtime.build(any_store_settings))
    upgrade(rt.store)
    day = datetime(2026, 11, 20, tzinfo=UTC)
    rows = [{"id": f"busy-{n}", "platform": "generic", "conversation_id": f"busy-{n}", "status": "resolved",
             "event": case(f"busy-{n}", f"c{n}@x", day).event,
             "created_at": day + timedelta(seconds=n * 14, microseconds=n),
             "updated_at": day + timedelta(seconds=n * 14 + 60, microseconds=999_999 - n),
             "escalated_at": day + timedelta(seconds=n * 14 + 5), "acknowledged_at": None,
             "first_response_at": None} for n in range(6_000)]
    with rt.store.session() as s:
        s.execute(insert(CaseRow), rows)
        s.commit()
        before = days_repo.digests(s, day, TIMELINE_KINDS)
        assert list(before) == [day.date()]
        s.execute(update(CaseRow).where(CaseRow.id == "busy-4321").values(
            updated_at=rows[4321]["updated_at"] + timedelta(microseconds=1)))
        s.commit()
        after = days_repo.digests(s, day, TIMELINE_KINDS)
    assert after[day.date()] != before[day.date()]
    with rt.store.session() as s:  # and the report over that day is counted
        got = report.build_report(s, day, day + timedelta(days=1))
    assert got.total("conversations") == 6_000

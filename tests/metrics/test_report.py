"""Each recovery metric against a value computed by hand on a small hand-built set of cases.

The set (window 2026-11-01 .. 2026-11-08, T0 = 2026-11-02 10:00 UTC):

  case  customer  created   escalated  trigger / team                     notes
  A     a@x       T0        T0+1m      low_confidence / support           ack 600 s, useful reply 1200 s, solved,
                                                                          rated bad then good, KB suggested + done
  B     b@x       T0+1h     T0+1h      product_bug / engineering          ack 300 s, useful 3600 s, solved, reopened
                                                                          after 1 day, solved again, rated bad
  C     c@x       T0+2h     T0+2h      customer_requested_human / support only a holding reply and a bot reply:
                                                                          no useful response; KB suggested
  D     d@x       T0+3h     —          (intercom)                         contained by the bot
  E     e@x       T0+4h     —                                             proactive: no customer message
  F     a@x       T0+10m    T0+10m     low_confidence / support           duplicate of A (ack 60 s must not count)
  H     h@x       T0+5h     T0+5h      billing_exception / billing        ack 1200 s, useful 600 s, solved at T0+6h,
                                                                          reopened 8 days later (outside 7 days)
  I     h@x       T0+1d     —                                             same topic as H, 18 h after its solve:
                                                                          a repeat contact of H
  J     h@x       T0+9d     —                                             outside the window
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bridge.metrics.model import METRICS
from bridge.metrics.report import build_report, percentile
from bridge.runtime import Runtime
from bridge.store.models import CaseRow, CsatSampleRow, KbSuggestionRow, TimelineRow

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
SINCE, UNTIL = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC)
M = timedelta(minutes=1)


def event(conversation: str, email: str, topic: str | None, customer_says: bool = True) -> dict[str, Any]:
    messages = [{"role": "bot", "text": "Hi! Want a tour of the new dashboard?"}]
    if customer_says:
        messages.append({"role": "customer", "text": f"I need help with {topic or 'something'} on my account"})
    data: dict[str, Any] = {"event_id": f"e-{conversation}", "type": "conversation.updated",
                            "conversation": {"id": conversation, "messages": messages},
                            "customer": {"email": email, "id": email.split("@")[0]}}
    if topic:
        data["handoff"] = {"topic": topic}
    return data


def case(cid: str, email: str, created: datetime, *, escalated: datetime | None = None, trigger: str | None = None,
         team: str | None = None, ack: float | None = None, useful: float | None = None, topic: str | None = None,
         platform: str = "generic", proactive: bool = False) -> CaseRow:
    return CaseRow(
        id=cid, platform=platform, conversation_id=cid, status="escalated" if escalated else "open",
        triggers=[trigger] if trigger else [], team=team, owner=f"{team}:ana" if team else None,
        customer_email=email, customer_id=email.split("@")[0], event=event(cid, email, topic, not proactive),
        refs={}, created_at=created, updated_at=created, escalated_at=escalated,
        acknowledged_at=escalated + timedelta(seconds=ack) if escalated and ack is not None else None,
        first_response_at=escalated + timedelta(seconds=useful) if escalated and useful is not None else None,
    )


def tl(cid: str, kind: str, at: datetime, **detail: Any) -> TimelineRow:
    return TimelineRow(case_id=cid, kind=kind, at=at, actor="zendesk:9001", detail=detail)


@pytest.fixture
def seeded(rt: Runtime) -> Runtime:
    return seed(rt)


def seed(rt: Runtime) -> Runtime:
    """The hand-built set of the module docstring."""
    with rt.store.session() as s:
        s.add_all([
            case("A", "a@x.com", T0, escalated=T0 + M, trigger="low_confidence", team="support", ack=600, useful=1200,
                 topic="sso"),
            case("B", "b@x.com", T0 + 60 * M, escalated=T0 + 60 * M, trigger="product_bug", team="engineering",
                 ack=300, useful=3600, topic="checkout"),
            case("C", "c@x.com", T0 + 120 * M, escalated=T0 + 120 * M, trigger="customer_requested_human",
                 team="support", topic="export"),
            case("D", "d@x.com", T0 + 180 * M, platform="intercom", topic="password"),
            case("E", "e@x.com", T0 + 240 * M, proactive=True),
            case("F", "a@x.com", T0 + 10 * M, escalated=T0 + 10 * M, trigger="low_confidence", team="support", ack=60,
                 useful=60, topic="sso"),
            case("H", "h@x.com", T0 + 300 * M, escalated=T0 + 300 * M, trigger="billing_exception", team="billing",
                 ack=1200, useful=600, topic="refund"),
            case("I", "h@x.com", T0 + timedelta(days=1), topic="refund"),
            case("J", "h@x.com", T0 + timedelta(days=9), topic="refund"),
        ])
        s.add_all([
            tl("A", "agent.replied", T0 + 21 * M, holding=False, reasked=[]),
            tl("A", "ticket.solved", T0 + timedelta(days=1)),
            tl("A", "csat.rated", T0 + timedelta(days=1, hours=1), score="bad"),
            tl("A", "csat.rated", T0 + timedelta(days=1, hours=2), score="good"),  # changed their mind: latest wins
            tl("B", "ticket.solved", T0 + timedelta(days=2)),
            tl("B", "ticket.reopened", T0 + timedelta(days=3)),
            tl("B", "ticket.solved", T0 + timedelta(days=4)),  # solved twice: still one solved ticket
            tl("B", "csat.rated", T0 + timedelta(days=4), score="bad"),
            tl("C", "agent.replied", T0 + 125 * M, holding=True, reasked=[]),
            tl("F", "ticket.solved", T0 + timedelta(hours=3)),
            tl("F", "csat.rated", T0 + timedelta(hours=4), score="bad"),  # a duplicate's rating must not count
            tl("H", "ticket.solved", T0 + timedelta(hours=6)),
            tl("H", "ticket.reopened", T0 + timedelta(days=8, hours=6)),  # 8 days after the solve: not a reopen
            tl("H", "ticket.solved", T0 + timedelta(days=8, hours=7)),
        ])
        s.add_all([
            KbSuggestionRow(case_id="A", title="SSO", body="...", source="template", status="done",
                            created_at=T0 + timedelta(days=1), done_at=T0 + timedelta(days=2), done_by="U1"),
            KbSuggestionRow(case_id="C", title="Export", body="...", source="template", status="suggested",
                            created_at=T0 + timedelta(days=1)),
            KbSuggestionRow(case_id="F", title="dup", body="...", source="template", status="done",
                            created_at=T0 + timedelta(days=1)),
        ])
        s.add_all([CsatSampleRow(ticket_id=str(i), score=score, rated_at=T0 + timedelta(hours=i))
                   for i, score in enumerate(["good", "good", "good", "bad"])]
                  + [CsatSampleRow(ticket_id="old", score="bad", rated_at=SINCE - timedelta(days=1))])
        s.commit()
    return rt


def report(rt: Runtime, **kwargs: Any) -> Any:
    with rt.store.session() as s:
        return build_report(s, SINCE, UNTIL, settings=rt.settings, **kwargs)


def test_percentiles_interpolate_linearly() -> None:
    assert percentile([60, 120, 180, 240], 50) == 150
    assert percentile([10, 20, 30, 40, 50], 90) == 46
    assert percentile([], 50) is None


def test_every_total_matches_the_hand_computed_value(seeded: Runtime) -> None:
    r = report(seeded)
    expected = {
        # A B C D H I counted; E proactive and F duplicate are in no denominator; J is outside the window
        "conversations": 6,
        "escalations": 4,                                  # A B C H
        "escalation_rate": 4 / 6,
        "time_to_ack_median_s": 600,                       # [300, 600, 1200]; F's 60 s does not count
        "time_to_ack_p90_s": 600 + 0.8 * 600,              # rank 1.8 → 1080
        "time_to_first_useful_response_median_s": 1200,    # [600, 1200, 3600]; C's holding reply does not count
        "time_to_first_useful_response_p90_s": 1200 + 0.8 * 2400,  # 3120
        "csat": 1 / 2,                                     # A good (latest), B bad; F's bad rating excluded
        "csat_baseline": 3 / 4,                            # non-bridge ratings in the window
        "reopen_rate": 1 / 3,                              # solved A B H; B reopened within 7 days, H after 8
        "repeat_contact_rate": 1 / 3,                      # H: I came back about "refund" 18 h after the solve
        "kb_suggestions": 2,                               # A, C (F is a duplicate)
        "kb_conversions": 1,                               # A
        "kb_conversion_rate": 1 / 2,
    }
    for metric, value in expected.items():
        assert r.total(metric) == pytest.approx(value), metric
    assert r.total("excluded_proactive") == 1 and r.total("excluded_duplicate") == 1
    assert r.cohorts == {"human_fixed_it": 1, "ai_delayed_customer": 2, "open": 1}  # A | B (reopen), H (repeat) | C
    for metric in ("conversations", "escalations", "kb_suggestions", "kb_conversions"):
        assert isinstance(r.total(metric), int), metric  # counts are integers, never 4.0
    ratio = next(v for v in r.totals if v.metric == "escalation_rate")
    assert (ratio.numerator, ratio.denominator) == (4, 6) and isinstance(ratio.numerator, int)


def test_csat_baseline_from_the_environment_wins(seeded: Runtime) -> None:
    rt = seeded
    rt.settings = rt.settings.with_overrides(extra={"BRIDGE_CSAT_BASELINE": "82%"})
    assert report(rt).total("csat_baseline") == pytest.approx(0.82)


def test_breakdowns(seeded: Runtime) -> None:
    r = report(seeded)

    def rows(metric: str, dimension: str) -> dict[str, Any]:
        b = next(b for b in r.breakdowns if b.metric == metric and b.dimension == dimension)
        return {row.key: (row.value, row.n) for row in b.rows}

    assert rows("escalations", "team") == {"billing": (1, 1), "engineering": (1, 1), "support": (2, 2)}
    # a team has no conversations of its own: its share of all escalations instead, never the total
    assert rows("share_of_escalations", "team")["support"] == (pytest.approx(2 / 4), 4)
    for dimension in ("trigger", "team", "owner", "completeness_band"):
        present = {b.metric for b in r.breakdowns if b.dimension == dimension}
        assert not present & {"conversations", "escalation_rate", "csat_baseline"}, dimension
    # per platform the denominator is that platform's conversations
    assert rows("escalation_rate", "platform") == {"generic": (pytest.approx(4 / 5), 5), "intercom": (0.0, 1)}
    assert rows("conversations", "platform") == {"generic": (5, 5), "intercom": (1, 1)}
    assert all(isinstance(v, int) for v, _ in rows("conversations", "platform").values())
    assert not any(b.metric == "csat_baseline" for b in r.breakdowns)  # the helpdesk figure is one number
    assert rows("reopen_rate", "trigger") == {
        "billing_exception": (0.0, 1), "customer_requested_human": (None, 0), "low_confidence": (0.0, 1),
        "product_bug": (1.0, 1)}
    assert rows("csat", "trigger")["low_confidence"] == (1.0, 1)
    assert set(rows("escalations", "completeness_band")) <= {"high", "medium", "low"}


def test_filters(seeded: Runtime) -> None:
    r = report(seeded, filters={"team": "support"})
    assert r.total("escalations") == 2
    assert r.total("escalation_rate") == pytest.approx(2 / 6)
    assert r.total("time_to_ack_median_s") == 600  # A only (C never acknowledged)
    assert report(seeded, filters={"platform": "intercom"}).total("escalation_rate") == 0.0


def test_day_and_week_series(seeded: Runtime) -> None:
    r = report(seeded, granularity="day")
    conversations = next(s for s in r.series if s.metric == "conversations")
    assert [p.period for p in conversations.points] == [date(2026, 11, d) for d in range(1, 8)]
    by_day = {p.period: p.value for p in conversations.points}
    assert by_day[date(2026, 11, 2)] == 5 and by_day[date(2026, 11, 3)] == 1 and by_day[date(2026, 11, 1)] == 0
    rate = {p.period: (p.value, p.n) for p in next(s for s in r.series if s.metric == "escalation_rate").points}
    assert rate[date(2026, 11, 2)] == (pytest.approx(4 / 5), 5)
    assert rate[date(2026, 11, 1)] == (None, 0)  # no data is not zero
    weekly = report(seeded, granularity="week")
    points = next(s for s in weekly.series if s.metric == "escalations").points
    assert [(p.period, p.value) for p in points] == [(date(2026, 10, 26), 0), (date(2026, 11, 2), 4)]


def test_empty_store_gives_none_not_zero(rt: Runtime) -> None:
    r = report(rt)
    assert r.total("conversations") == 0
    assert r.total("escalation_rate") is None and r.total("csat") is None and r.total("reopen_rate") is None


def test_prometheus_collector_exposes_the_figures_a_worker_kept(seeded: Runtime) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from bridge.metrics import snapshot
    from bridge.metrics.prom import RecoveryCollector

    now = [UNTIL]
    seeded.clock = lambda: now[0]  # type: ignore[method-assign]
    registry = CollectorRegistry()
    registry.register(RecoveryCollector(seeded, timedelta(days=7)))
    text = generate_latest(registry).decode()
    assert "bridge_recovery{" not in text and "bridge_recovery_snapshot_age_seconds{" not in text  # no worker yet
    assert "bridge_vendor_events_dead 0.0" in text  # the live gauges do not wait for one
    assert "bridge_oldest_unfinished_event_age_seconds 0.0" in text

    week = timedelta(days=7)
    assert snapshot.refresh(seeded, week)
    now[0] = UNTIL + timedelta(seconds=30)
    text = generate_latest(registry).decode()
    assert 'bridge_recovery{metric="escalations",window="7d"} 4.0' in text
    assert 'bridge_recovery{metric="reopen_rate",window="7d"}' in text
    assert 'metric="csat",window="7d"' in text
    assert 'bridge_recovery_snapshot_age_seconds{window="7d"} 30.0' in text
    expected = report(seeded)
    for metric in METRICS:  # every figure the report has, and no other
        value = expected.total(metric)
        line = f'bridge_recovery{{metric="{metric}",window="7d"}}'
        assert (line in text) == (value is not None), metric
        if value is not None:
            assert float(text.split(line, 1)[1].split()[0]) == pytest.approx(value), metric
    for cohort, count in expected.cohorts.items():
        assert f'bridge_recovery_cohort_cases{{cohort="{cohort}",window="7d"}} {float(count)}' in text
    assert 'bridge_recovery_by_trigger{metric="escalations",trigger=' in text

    from bridge.store import metrics_repo

    with seeded.store.engine.connect() as conn:  # the store's settled rows, counted too
        settled = metrics_repo.read_snapshot(conn, metrics_repo.SETTLED)
        assert settled is not None and settled[1] == metrics_repo.settled_counts(conn)
    assert not snapshot.refresh(seeded, week)  # 30 s old: another worker's refresh would wait too
    now[0] = UNTIL + timedelta(seconds=61)
    assert snapshot.refresh(seeded, week)
    assert 'bridge_recovery_snapshot_age_seconds{window="7d"} 0.0' in generate_latest(registry).decode()


def test_csv_rows_have_their_own_denominators_and_whole_counts(seeded: Runtime) -> None:
    import csv
    import io

    from bridge.metrics.report import flat_rows

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["dimension", "key", "metric", "value", "numerator", "denominator"])
    writer.writerows(flat_rows(report(seeded)))
    rows = list(csv.DictReader(io.StringIO(out.getvalue()), fieldnames=writer.fieldnames))
    assert not [r for r in rows if r["dimension"] == "trigger" and r["metric"] in ("conversations", "csat_baseline")]
    counts = [r["value"] for r in rows if r["metric"] in ("conversations", "escalations") and r["value"]]
    assert counts and not any("." in v for v in counts)  # "4", never "4.0"
    share = next(r for r in rows if r["dimension"] == "team" and r["key"] == "support"
                 and r["metric"] == "share_of_escalations")
    assert (share["numerator"], share["denominator"]) == ("2", "4")
    rate = next(r for r in rows if r["dimension"] == "platform" and r["key"] == "generic"
                and r["metric"] == "escalation_rate")
    assert (rate["numerator"], rate["denominator"]) == ("4", "5")

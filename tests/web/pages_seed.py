"""Seed data for the page tests: cases made through the real pipeline, then the loop closed by
timeline rows and case columns (what the Zendesk and Slack event handlers record), and a small
recovery report that stands in for ``bridge.metrics.report.build_report`` where a test needs fixed numbers.
"""

from __future__ import annotations

import sys
import types
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.metrics.model import Breakdown, Point, RecoveryReport, Row, Series, Value
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.web import pages
from bridge.worker.runner import run_due
from tests.helpers import dumps, generic_event, signed_headers

NOW = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
HOSTILE = "<script>alert('x')</script>"


def with_pages(app: Flask) -> Flask:
    """The app with the pages blueprint, whether or not create_app registers it yet."""
    if "pages" not in app.blueprints:
        app.register_blueprint(pages.bp)
    return app


def seed_case(
    client: FlaskClient, rt: Runtime, at: datetime, conversation_id: str,
    messages: list[dict[str, Any]] | None = None, **extra: Any,
) -> str:
    """Post a signed generic event at ``at`` (the store's clock) and run the pipeline to the end."""
    rt.clock = lambda: at
    body = dumps(generic_event(conversation_id=conversation_id, messages=messages, **extra))
    response = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert response.status_code == 202, response.get_data(as_text=True)
    run_due(rt)
    return str(response.get_json()["case"])


def close_loop(
    rt: Runtime, case_id: str, ack: int = 300, holding: int | None = 600, reply: int = 1800,
    solve: int | None = 7200, csat: str | None = "good", comment: str = "", reopen: int | None = None,
) -> None:
    """What the vendor events record, seconds after escalation: ack, replies, solve, reopen, CSAT."""
    with rt.store.session() as s:
        case = repo.get_case(s, case_id)
        assert case is not None and case.escalated_at is not None
        t0, ticket = case.escalated_at, "4242"
        repo.add_timeline(s, case_id, "case.acknowledged", "slack:U0OWNER", t0 + timedelta(seconds=ack),
                          {"owner": "U0OWNER", "via": "slack"})
        case.acknowledged_at, case.status = t0 + timedelta(seconds=ack), "acknowledged"
        if holding is not None:
            repo.add_timeline(s, case_id, "agent.replied", "zendesk:7", t0 + timedelta(seconds=holding),
                              {"ticket_id": ticket, "author_id": 7, "holding": True, "comment_id": 1})
        repo.add_timeline(s, case_id, "agent.replied", "zendesk:7", t0 + timedelta(seconds=reply),
                          {"ticket_id": ticket, "author_id": 7, "holding": False, "comment_id": 2})
        case.first_response_at = t0 + timedelta(seconds=reply)
        if solve is not None:
            repo.add_timeline(s, case_id, "ticket.solved", "zendesk:7", t0 + timedelta(seconds=solve),
                              {"ticket_id": ticket, "from": "open"})
            case.resolved_at, case.status = t0 + timedelta(seconds=solve), "resolved"
        if reopen is not None:
            repo.add_timeline(s, case_id, "ticket.reopened", "zendesk:9", t0 + timedelta(seconds=reopen),
                              {"ticket_id": ticket, "from": "solved", "to": "open"})
        if csat is not None:
            at = t0 + timedelta(seconds=(solve or reply) + 600)
            repo.add_timeline(s, case_id, "csat.rated", "zendesk:customer", at, {"score": csat, "comment": comment})
        s.commit()


def fake_report(since: datetime, until: datetime, filters: dict[str, str], granularity: str) -> RecoveryReport:
    """Fixed numbers: 4 days, two of them without CSAT (so those points are missing, not zero)."""
    days = [date(2026, 10, 28) + timedelta(days=i) for i in range(4)]
    values: dict[str, list[float | None]] = {
        "conversations": [40, 52, 47, 60], "escalations": [8, 10, 9, 12],
        "escalation_rate": [0.2, 0.19, 0.19, 0.2],
        "time_to_ack_median_s": [300, 420, 360, 280], "time_to_ack_p90_s": [1500, 1800, 1200, 900],
        "time_to_first_useful_response_median_s": [1800, 2400, 2000, 1700],
        "time_to_first_useful_response_p90_s": [7200, 9000, 8000, 6000],
        "csat": [0.8, None, 0.9, None], "csat_baseline": [0.7, 0.72, 0.71, 0.7],
        "reopen_rate": [0.1, 0.05, 0.0, 0.08], "repeat_contact_rate": [0.05, 0.1, 0.0, 0.0],
        "kb_suggestions": [2, 3, 1, 2], "kb_conversions": [1, 1, 0, 2], "kb_conversion_rate": [0.5, 0.33, 0.0, 1.0],
    }
    series = [Series(metric=m, granularity=granularity,
                     points=[Point(period=d, value=v, n=5) for d, v in zip(days, vs, strict=True)])
              for m, vs in values.items()]
    totals = [Value(metric=m, value=next((v for v in reversed(vs) if v is not None), None)) for m, vs in values.items()]
    breakdowns = [
        Breakdown(metric="escalations", dimension="trigger",
                  rows=[Row(key="product_bug", value=14, n=14), Row(key=HOSTILE, value=3, n=3),
                        Row(key="low_confidence", value=22, n=22)]),
        Breakdown(metric="csat", dimension="trigger",
                  rows=[Row(key="product_bug", value=0.75, n=8), Row(key="low_confidence", value=None, n=0)]),
        Breakdown(metric="escalations", dimension="team", rows=[Row(key="billing", value=9, n=9)]),
    ]
    return RecoveryReport(since=since, until=until, filters=filters, totals=totals, series=series,
                          breakdowns=breakdowns, cohorts={"human_fixed_it": 20, "ai_delayed_customer": 5, "open": 14})


def install_fake_report(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Make ``bridge.metrics.report.build_report`` the fake for this test; returns the calls it gets."""
    calls: list[tuple[Any, ...]] = []

    def build_report(session: Any, since: datetime, until: datetime, filters: dict[str, str],
                     granularity: str) -> RecoveryReport:
        calls.append((since, until, dict(filters), granularity))
        return fake_report(since, until, filters, granularity)

    module = types.ModuleType("bridge.metrics.report")
    module.build_report = build_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bridge.metrics.report", module)
    return calls

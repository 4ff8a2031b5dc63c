"""The report's one-pass tally is the metrics' definitions (docs/metrics.md) computed one by one, and a
report leaves the cycle collector as it found it."""

from __future__ import annotations

import gc
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridge.metrics import report as recovery
from bridge.metrics.facts import CaseFacts
from bridge.metrics.model import METRICS
from bridge.metrics.report import percentile, tally
from bridge.runtime import Runtime

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _definitions(cases: list[CaseFacts], conversations: list[CaseFacts]) -> dict[str, tuple[Any, Any, Any, int]]:
    """metric → (value, numerator, denominator, n), each from its definition, one list at a time."""
    esc = [c for c in cases if c.escalated and c.counted]
    convs = [c for c in conversations if c.counted]
    acks = [c.time_to_ack for c in esc if c.time_to_ack is not None]
    useful = [c.time_to_useful for c in esc if c.time_to_useful is not None]
    rated = [c for c in esc if c.csat is not None]
    good = sum(c.csat == "good" for c in esc)
    solved = [c for c in esc if c.solved]
    suggested = [c for c in esc if c.kb_suggested]
    done = sum(c.kb_done for c in esc)

    def rate(num: int, den: int) -> tuple[float | None, int, int]:
        return (num / den if den else None), num, den

    return {
        "conversations": (len(convs), None, None, len(convs)),
        "escalations": (len(esc), None, None, len(esc)),
        "escalation_rate": (*rate(len(esc), len(convs)), len(convs)),
        "time_to_ack_median_s": (percentile(acks, 50), None, len(acks), len(acks)),
        "time_to_ack_p90_s": (percentile(acks, 90), None, len(acks), len(acks)),
        "time_to_first_useful_response_median_s": (percentile(useful, 50), None, len(useful), len(useful)),
        "time_to_first_useful_response_p90_s": (percentile(useful, 90), None, len(useful), len(useful)),
        "csat": (*rate(good, len(rated)), len(rated)),
        "csat_baseline": (0.8, None, None, len(esc)),
        "reopen_rate": (*rate(sum(c.reopened for c in solved), len(solved)), len(solved)),
        "repeat_contact_rate": (*rate(sum(c.repeat for c in solved), len(solved)), len(solved)),
        "kb_suggestions": (len(suggested), None, None, len(esc)),
        "kb_conversions": (done, None, None, len(esc)),
        "kb_conversion_rate": (*rate(done, len(suggested)), len(suggested)),
    }


def _random_case(rng: random.Random, n: int) -> CaseFacts:
    escalated = rng.random() < 0.7
    return CaseFacts(
        id=f"c{n}", platform=rng.choice(["generic", "intercom"]), created_at=T0 + timedelta(hours=n),
        customer=(f"{n}@x", None), proactive=rng.random() < 0.1, duplicate=rng.random() < 0.1, escalated=escalated,
        time_to_ack=rng.choice([None, rng.uniform(1, 900)]), time_to_useful=rng.choice([None, rng.uniform(1, 9000)]),
        solves=(T0,) * rng.randrange(0, 3), reopened=rng.random() < 0.3, repeat=rng.random() < 0.2,
        csat=rng.choice([None, "good", "bad"]), kb_suggested=rng.random() < 0.4, kb_done=rng.random() < 0.2)


def test_the_tally_is_each_definition() -> None:
    rng = random.Random(19)
    for size in (0, 1, 2, 5, 40, 300):
        cases = [_random_case(rng, n) for n in range(size)]
        conversations = cases + [_random_case(rng, 1000 + n) for n in range(size // 3)]
        values, ns = tally(cases, conversations, 0.8)
        assert [v.metric for v in values] == list(METRICS)
        want = _definitions(cases, conversations)
        for v in values:
            value, numerator, denominator, n = want[v.metric]
            assert (v.value, ns[v.metric]) == (value, n), v.metric
            if numerator is not None:
                assert (v.numerator, v.denominator) == (numerator, denominator), v.metric
            elif denominator is not None:
                assert v.denominator == denominator, v.metric


@pytest.mark.parametrize("enabled", [True, False])
def test_a_report_runs_without_the_cycle_collector_and_restores_it(rt: Runtime, enabled: bool,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = recovery.days.by_day

    def watching(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(recovery.days, "by_day", watching)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with rt.store.session() as s:
            recovery.build_report(s, T0, T0 + timedelta(days=30))
        assert seen == [False]
        assert gc.isenabled() is enabled
        monkeypatch.setattr(recovery.days, "by_day", lambda *a: 1 / 0)
        with rt.store.session() as s, pytest.raises(ZeroDivisionError):
            recovery.build_report(s, T0, T0 + timedelta(days=30))
        assert gc.isenabled() is enabled  # restored when the report fails too
    finally:
        (gc.enable if was else gc.disable)()

"""bench/drain.py's page section: what it renders from a results file (no benchmark runs here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.drain import DRAIN, Timers, section


def test_the_section_shows_each_run_and_its_ratio_to_one_process(tmp_path: Path) -> None:
    run = {"store": "postgres", "backlog": 100, "complete": True, "cpu_s": 9.5, "peak_rss_mb": [60.1, 90.2],
           "steps_per_handoff": 5.0, "jobs_per_s": 60.0}
    results = {"drain": {"at": "2026-12-06T07:00:00+00:00", "cores": 2, "runs": [
        {**run, "processes": 1, "handoffs": 100, "events_processed": 100, "seconds": 10.0, "rate": 10.0},
        {**run, "processes": 2, "handoffs": 0, "events_processed": 100, "seconds": 5.0, "rate": 18.0,
         "complete": False}]},
        "stages": [{"store": "sqlite", "handoffs": 3, "at": "now", "stages": [
            {"stage": "deliver: summary", "calls_per_handoff": 2.0, "p50_ms": 1.5, "p95_ms": 2.5,
             "ms_per_handoff": 3.0}]}]}
    path = tmp_path / "drain.json"
    path.write_text(json.dumps(results))
    text = section(path)
    assert DRAIN in text
    assert "| postgres | 1 | 100/100 | 5.0 | 10.0 | **10.0** | 60.0 | 1.00 | 95 | 60.1, 90.2 |" in text
    assert "| postgres | 2 | 0/100 (cut) | 5.0 | 5.0 | **18.0** | 60.0 | 1.80 |" in text
    assert "| deliver: summary | 2.0 | 1.5 | 2.5 | 3.0 |" in text
    assert section(tmp_path / "missing.json") == ""


def test_timers_record_each_call_even_when_it_raises() -> None:
    class Owner:
        @staticmethod
        def work(fail: bool) -> str:
            if fail:
                raise ValueError("no")
            return "ok"

    timers = Timers()
    timers.wrap(Owner, "work", "stage")
    assert Owner.work(False) == "ok"
    with pytest.raises(ValueError):
        Owner.work(True)
    assert len(timers.ms["stage"]) == 2 and all(ms >= 0 for ms in timers.ms["stage"])


def test_the_chain_section_puts_each_run_before_and_after_side_by_side(tmp_path: Path) -> None:
    from bench.drain_chain import HEADER, collect, section

    def run(rate: float, complete: bool = True) -> dict:
        return {"drain": {"runs": [{"store": "sqlite", "processes": 1, "backlog": 200, "complete": complete,
                                    "handoffs": 200 if complete else 0, "seconds": 200 / rate, "rate": rate,
                                    "cpu_s": 10.0, "events_processed": 200}]}}

    (tmp_path / "dr_old_sqlite_1.json").write_text(json.dumps(run(4.0)))
    (tmp_path / "dr_old_sqlite_1_r2.json").write_text(json.dumps(run(2.0)))
    (tmp_path / "dr_old_sqlite_1_r3.json").write_text(json.dumps(run(5.0)))
    (tmp_path / "dr_new_sqlite_1.json").write_text(json.dumps(run(6.0)))
    stage = {"stage": "deliver: summary", "calls_per_handoff": 5.0, "p50_ms": 1.0, "p95_ms": 2.0}
    for name, ms in (("stages_old_1", 10.0), ("stages_old_2", 12.0), ("stages_new_1", 1.0)):
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"stages": [{"store": "sqlite", "stages": [{**stage, "ms_per_handoff": ms}]}]}))
    results = {"at": "2026-12-06", "before": "aaa", "after": "bbb", **collect(tmp_path),
               "trips": {"sqlite": {"old": {"stmts": 80, "commits": 13}, "new": {"stmts": 59, "commits": 12}}}}
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(results))
    text = section(path)
    assert HEADER in text
    assert "| sqlite | 1 | 3 + 1 of 200 | 4.00 [2.00–5.00] | 6.00 | 50 [50–50] | 50 |" in text
    assert "| deliver: summary | 5 | 5 | 11 | 1 |" in text  # the median of the two before runs
    assert "| sqlite | 80 | 59 | 13 | 12 |" in text
    assert section(tmp_path / "missing.json") == ""


def test_a_later_round_has_its_own_section_and_counted_jobs_and_round_trips(tmp_path: Path) -> None:
    from bench.drain_chain import collect, section

    counted = {"old": {"jobs": 6.0, "stmts": 59.0, "commits": 12.0},
               "new": {"jobs": 1.0, "stmts": 50.0, "commits": 7.0}}
    stage = {"stage": "handoff, all jobs", "calls_per_handoff": 1.0, "p50_ms": 1.0, "p95_ms": 2.0,
             "ms_per_handoff": 5.0}
    for version in ("old", "new"):
        (tmp_path / f"stages_{version}_1.json").write_text(json.dumps(
            {"stages": [{"store": "sqlite", "stages": [stage], "per_handoff": counted[version]}]}))
    gathered = collect(tmp_path)
    assert gathered["trips"] == {"sqlite": counted}
    path = tmp_path / "drain-chain-2.json"
    path.write_text(json.dumps({"at": "2026-12-07", "before": "aaa", "after": "bbb", "title": "Fewer jobs: round two",
                                "jobs_note": "one job per handoff", **gathered}))
    text = section(path)
    assert "## Fewer jobs: round two" in text and "### Backlog drain (one job per handoff)" in text
    assert "| sqlite | 6 | 1 | 59 | 50 | 12 | 7 |" in text


def test_the_section_says_whether_the_workers_carried_opentelemetry(tmp_path: Path) -> None:
    run = {"store": "sqlite", "backlog": 10, "complete": True, "cpu_s": 1.0, "peak_rss_mb": [60.0],
           "steps_per_handoff": 5.0, "jobs_per_s": 6.0, "processes": 1, "handoffs": 10, "events_processed": 10,
           "seconds": 1.0, "rate": 10.0}
    path = tmp_path / "drain.json"
    for loads, words in ((True, "loads the OpenTelemetry SDK (installed here"),
                         (False, "does not load the OpenTelemetry SDK")):
        path.write_text(json.dumps({"drain": {"at": "now", "cores": 2, "runs": [{**run, "redis_loads_otel": loads}]}}))
        assert words in section(path)
    path.write_text(json.dumps({"drain": {"at": "now", "cores": 2, "runs": [run]}}))  # older results: no line
    assert "OpenTelemetry" not in section(path)

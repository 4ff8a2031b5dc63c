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

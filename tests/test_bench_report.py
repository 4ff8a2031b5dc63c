"""bench/run's page: the drain and queue-memory rows it renders from a results dict (no benchmark runs here)."""

from __future__ import annotations

from bench.report import carried, sections, summary_rows


def _run(processes: int, rate: float, seconds: float) -> dict:
    return {"processes": processes, "store": "sqlite", "backlog": 10_000, "handoffs": 10_000, "complete": True,
            "seconds": seconds, "rate": rate, "cpu_s": 460.0, "steps_per_handoff": 5.0,
            "peak_rss_mb": [88.0, 96.5, 126.4], "duplicate_creates": 0}


def test_the_drain_rows_judge_the_rate_per_process_and_the_gain_of_a_second_one() -> None:
    r = {"scale": [_run(1, 12.5, 800.0), _run(2, 23.0, 434.8)]}
    rows = {row[0]: row for row in summary_rows(r)}
    one = rows["Backlog drain at instant stubs, handoffs/s with 1 job process (≥ 25)"]
    assert one[1] == "12.5" and one[3] == "**not met**"
    two = rows["Backlog drain, 2 job processes ÷ 1 (≥ 1.8)"]
    assert two[1] == "1.84" and two[3] == "**met**"
    text = "\n".join(sections(r))
    assert "| 2 | 10,000/10,000 | 434.8 | **23.0** | 1.84 | 46 | 5.0 | 88, 96, 126 | 0 |" in text
    assert "extrapolated" not in text.replace("not extrapolated", "")


def test_the_queue_memory_row_is_judged_on_the_largest_process_of_the_worker_tree() -> None:
    r = {"rss_queue": {"supervisor": 60.2, "child 1": 95.0, "child 2": 126.4}}
    (row,) = [x for x in summary_rows(r) if x[0].startswith("Queue worker RSS")]
    assert row[1] == "126.4 MB" and row[3] == "**not met**"
    assert "child 2 126.4" in row[2]


def test_a_hand_written_study_survives_a_re_render_and_generated_sections_are_not_doubled() -> None:
    old = ("# Performance\n\n## Summary\n\nold table\n\n## Exact commands\n\n```sh\n# web: gunicorn\n```\n\n"
           "## Notes from this run\n\n- an old note\n\n## Sustained load\n\nold rows\n\n"
           "## Slack clicks, before and after (2026-12-07)\n\nmeasured by hand\n")
    page = "# Performance\n\n## Summary\n\nnew table\n\n## Exact commands\n\n## Sustained load\n\nnew rows\n"
    kept = carried(old, page)
    assert kept == "\n## Slack clicks, before and after (2026-12-07)\n\nmeasured by hand\n"
    assert carried("a page from before this rule, without the commands section", page) == ""


def test_each_body_size_is_judged_against_its_own_ingest_target() -> None:
    # Issue 19: 10 KB at >= 0.6x the bare app, 50 KB at >= 0.4x.
    half = {"bridge": [{"p99": 9.0}], "bare": [{"p99": 3.0}]}
    sat = {"bridge": [{"rps": 450.0}], "bare": [{"rps": 1000.0}]}
    r = {"ingest": {size: {"ratio": [0.45], "sat": sat, "half": half, "half_rate": 225.0} for size in ("10k", "50k")}}
    rows = {row[0]: row for row in summary_rows(r)}
    assert rows["Ingest 10 KB: bridge ÷ bare max rps (≥ 0.6)"][3] == "**not met**"
    assert rows["Ingest 50 KB: bridge ÷ bare max rps (≥ 0.4)"][3] == "**met**"

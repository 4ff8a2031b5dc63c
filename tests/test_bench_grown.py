"""bench/grown.py fills a store the bridge reads as its own; bench/report_store.py renders the sweep
and the grown-store round (no timing is asserted anywhere)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench.grown import fill_sqlite
from bench.report_store import grown_summary, kb, probe_lines, sweep_lines
from bridge.store import loop_repo, repo
from bridge.store.db import Store
from bridge.store.migrate import upgrade
from bridge.worker import intake


def test_grown_rows_are_what_the_intake_writes(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    store = Store(f"sqlite:///{db}")
    upgrade(store)
    out = fill_sqlite(db, 200, now=time.time())
    assert (out["rows"], out["cases"], out["vendor_events"]) == (200, 40, 40)
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT key, sender_event_id, case_id, batch FROM inbox ORDER BY id").fetchall()
        cases = {cid: conv for cid, conv in c.execute("SELECT id, conversation_id FROM cases")}
    assert len(rows) == 200
    for key, sender_id, case_id, _ in rows:
        assert key == intake.event_key("generic", sender_id)  # where the dedupe lookup lands
        assert case_id == intake.case_id_for("generic", cases[case_id])
    assert rows[1][3] == rows[0][0] and rows[0][3] is None  # routine rows name their batch's leader
    with store.session() as s:
        row = repo.get_inbox(s, rows[-1][0])
        assert row is not None and row.state == "processed"
        now = datetime.now(UTC)
        assert now - timedelta(days=7, minutes=1) < row.received_at <= now
        assert repo.delete_old_inbox(s, now - timedelta(days=7, minutes=1)) == 0  # all inside the window
        # The Zendesk webhooks that came back are processed: nothing due, nothing stale, all readable.
        assert loop_repo.due_vendor_events(s, now) == [] and loop_repo.stale_vendor_events(s, now, now) == []
        states = s.execute(text("SELECT state, count(*) FROM vendor_events GROUP BY state")).all()
        assert [tuple(r) for r in states] == [("processed", 40)]
        assert repo.insert_inbox(s, dict(  # a redelivery of a grown event is a duplicate
            key=rows[5][0], platform="generic", sender_event_id=rows[5][1], event_type="conversation.updated",
            case_id=rows[5][2], body=b"{}", headers={}, event={}, received_at=now, state="received",
            attempts=0, next_attempt_at=now, updated_at=now)) is False
    store.engine.dispose()


def _run(rps: float, p99: float, cpu: float = 0.0) -> dict:
    return {"rps": rps, "p99": p99, "cpu_us": cpu}


def test_sweep_cost_per_kb_and_grown_verdicts() -> None:
    assert (kb("1k"), kb("500k")) == ("1 KB", "500 KB")
    r = {"body_bytes": {"1k": 1024, "10k": 10 * 1024},
         "ingest": {"1k": {"sat": {"bare": [_run(1000, 5, 300)], "bridge": [_run(500, 9, 1000)]}, "ratio": [0.5]},
                    "10k": {"sat": {"bare": [_run(1000, 5, 310)], "bridge": [_run(250, 9, 1900)]},
                            "ratio": [0.25]}}}
    text = "\n".join(sweep_lines(r))
    assert "| 10 KB | 10240 | 0.25 | 310 | 1900 | 1590 | 100.0 |" in text  # (1900 - 1000) µs / 9 KB
    runs = {"empty": [_run(400, 10), _run(420, 11)], "grown": [_run(380, 10.5), _run(300, 30)]}
    store = {"sat": runs, "half": runs, "slack": runs,
             "ratio": {"sat": [0.95, 0.93], "half": [1.05, 1.2], "slack": [1.3, 1.4]}}
    rows = grown_summary({"grown": {"rows": 1_000_000, "stores": {"sqlite": store}}})
    assert [row[3] for row in rows] == ["**met**", "**not met**", "**not met**"]
    assert rows[0][0].startswith("Grown store (1,000,000 inbox rows), sqlite: ingest 10 KB, max req/s")
    probe = {"empty": {"q": {"ms": 0.2, "plan": []}},
             "grown": {"q": {"ms": 0.3, "plan": ["SEARCH inbox USING INDEX ix (state=?)"]}}}
    assert "| q | 0.2 | 0.3 | `SEARCH inbox USING INDEX ix (state=?)` |" in "\n".join(probe_lines(probe))

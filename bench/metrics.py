"""How the recovery report and /dashboard scale with history (issue 19, item 7).

``python -m bench.metrics [--copies 480] [--store postgres] [--out …]``: runs ``bridge
seed-demo`` into a temporary folder (about 200 conversations over 30 days), grows the SQLite store
to ``copies`` × that by copying every case and its timeline as a different customer, shifted
pseudo-randomly across the last 60 days, then times ``build_report`` for 30 and 90 days — cold (every
case judged, the per-case cache and the whole days kept) and warm (an unchanged history read back) —,
90 days *live* (before each run, as traffic would: a new conversation now by a customer seen 5 days
ago and a solve now of that case, so the days they touch and the days that depend on them are counted
again), and a logged-in ``GET /dashboard`` for 30 and 90 days (warm), each the median of three. With
``--store postgres`` the grown report tables are copied into a fresh PostgreSQL database
(``bench_metrics``), vacuumed and analysed, and everything is timed there.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHIFTED = ("created_at", "updated_at", "escalated_at", "acknowledged_at", "first_response_at", "resolved_at",
           "closed_at")


def grow(db: Path, copies: int) -> int:
    """Copy every seeded case (and its timeline) ``copies`` times, each copy another customer."""
    c = sqlite3.connect(db)
    cols = [r[1] for r in c.execute("pragma table_info(cases)")]
    tcols = [r[1] for r in c.execute("pragma table_info(timeline)") if r[1] != "id"]

    def shift(column: str, hours: int) -> str:  # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"
        return (f"CASE WHEN {column} IS NULL THEN NULL ELSE "
                f"strftime('%Y-%m-%d %H:%M:%S', {column}, '{hours} hours') || substr({column}, 20) END")

    for k in range(1, copies + 1):
        hours = -((k * 7919) % (60 * 24))
        picked = []
        for x in cols:
            if x in ("id", "conversation_id"):
                picked.append(f"{x} || '-g{k}'")
            elif x in ("customer_email", "customer_id"):
                picked.append(f"{x} || '.g{k}'")
            else:
                picked.append(shift(x, hours) if x in SHIFTED else x)
        c.execute(f"INSERT INTO cases ({', '.join(cols)}) SELECT {', '.join(picked)} FROM cases "  # noqa: S608
                  "WHERE id NOT LIKE '%-g%'")
        tpicked = [f"case_id || '-g{k}'" if x == "case_id" else shift("at", hours) if x == "at" else x for x in tcols]
        c.execute(f"INSERT INTO timeline ({', '.join(tcols)}) SELECT {', '.join(tpicked)} FROM timeline "  # noqa: S608
                  "WHERE case_id NOT LIKE '%-g%'")
    c.commit()
    total = int(c.execute("SELECT count(*) FROM cases").fetchone()[0])
    c.close()
    return total


def median_of(fn: Any, n: int = 3) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def live(rt: Any, now: Any) -> float:
    """Median of three 90-day reports, each after a new conversation and a solve (see the docstring)."""
    from sqlalchemy import select

    from bridge.metrics.report import build_report
    from bridge.store.models import CaseRow, TimelineRow

    times = []
    for k in range(3):
        with rt.store.session() as s:
            seen = s.scalars(select(CaseRow).where(CaseRow.created_at < now - timedelta(days=5),
                                                   CaseRow.escalated_at.is_not(None))
                             .order_by(CaseRow.created_at.desc()).limit(1).offset(k)).one()
            s.add(TimelineRow(case_id=seen.id, kind="ticket.solved", at=now, actor="bench", detail={}))
            s.add(CaseRow(id=f"live-{k}", platform=seen.platform, conversation_id=f"live-{k}", status="open",
                          triggers=[], customer_email=seen.customer_email, customer_id=seen.customer_id,
                          event=seen.event, refs={}, created_at=now, updated_at=now))
            s.commit()
        start = time.perf_counter()
        with rt.store.session() as s:
            build_report(s, now - timedelta(days=90), now)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "bench_metrics"
COPIED = ("cases", "timeline", "kb_suggestions", "csat_samples")


def to_postgres(db: Path, bridge: str, env: dict[str, str]) -> str:
    """A fresh PostgreSQL database at the bridge's schema holding the grown SQLite store's report
    tables, vacuumed and analysed as autovacuum would leave a live store; its URL."""
    import sqlite3

    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    url = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
    subprocess.run([bridge, "db", "upgrade"], env={**env, "DATABASE_URL": url}, check=True, capture_output=True)
    source = sqlite3.connect(db)
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")  # SQLite keeps UTC without an offset
        for table in COPIED:
            columns = [r[1] for r in source.execute(f"pragma table_info({table})")]
            listed = ", ".join(columns)
            with conn.cursor().copy(f"COPY {table} ({listed}) FROM STDIN") as copy:  # noqa: S608
                for row in source.execute(f"SELECT {listed} FROM {table}"):  # noqa: S608
                    copy.write_row(row)
            if "id" in columns and table != "cases":
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        for table in COPIED:
            conn.execute(f"VACUUM ANALYZE {table}")
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=480)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "metrics.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "var"
        env = {**os.environ, "BRIDGE_DATA_DIR": str(data), "BRIDGE_ADMIN_TOKEN": "bench-admin-token-0123456789ab"}
        env.pop("DATABASE_URL", None)
        bridge = str(Path(sys.executable).with_name("bridge"))  # the console script beside this interpreter
        subprocess.run([bridge, "seed-demo"], env=env, check=True, capture_output=True)
        cases = grow(data / "bridge.db", args.copies)
        if args.store == "postgres":
            env["DATABASE_URL"] = to_postgres(data / "bridge.db", bridge, env)
        os.environ.update(env)
        from bridge import create_app
        from bridge.config import Settings
        from bridge.metrics.report import build_report
        from bridge.runtime import Runtime

        rt = Runtime.build(Settings.from_env())
        now = rt.clock()
        out: dict[str, Any] = {"cases": cases, "store": args.store}
        for days in (30, 90):
            def run(days: int = days) -> None:
                with rt.store.session() as s:
                    build_report(s, now - timedelta(days=days), now)
            out[f"report_{days}d_cold_s"] = median_of(run, 1)
            out[f"report_{days}d_warm_s"] = median_of(run)
        out["report_90d_live_s"] = live(rt, now)
        client = create_app(rt=rt).test_client()
        client.get("/login")
        with client.session_transaction() as session:
            csrf = session["csrf"]
        client.post("/login", data={"csrf_token": csrf, "name": "", "password": env["BRIDGE_ADMIN_TOKEN"]})

        for days in (30, 90):
            def page(days: int = days) -> None:
                answer = client.get(f"/dashboard?days={days}")
                assert answer.status_code == 200, answer.status_code
            out[f"dashboard_{days}d_warm_s"] = median_of(page)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

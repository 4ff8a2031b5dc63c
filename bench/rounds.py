"""The grown-store round of ``bench/run`` (issue 19, items 3 and 8) and the Slack-click load it shares
with the Slack-actions phase.

Per store (SQLite, then PostgreSQL): two bridge servers side by side, one on an empty store and one
on a store grown to a million inbox rows (``bench/grown.py``), each with the same 50 escalated cases
and the same pre-signed requests (each server has its own store, so the ids repeat between them, not
within one). Rounds alternate empty and grown: 10 KB ingest at the maximum rate, then at half the
empty store's rate, then Slack clicks on those cases while ingest runs at half load. No queue worker
runs (as in the ingest phase). Then ``probe`` times and explains, on both stores, the statements of
the request path (the intake's insert with its dedupe lookup, a redelivery) and of the dispatcher
(its due and stale queries, the purge).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import statistics
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import payloads
from bench.grown import fill_pg, fill_sqlite
from bench.harness import LUA, Pool, Server, median, wrk

SLACK_CASES = 50
PG_DBS = {"empty": "bench_rb_empty", "grown": "bench_rb_grown"}


def slack_pool(path: Path, cases: list[str], secret: str, n: int = 2000) -> Pool:
    """``n`` signed ``take_case`` clicks by three users on these cases, as a fixed-record pool."""
    reqs = []
    ts = str(int(time.time()))
    for i in range(n):
        payload = {"type": "block_actions", "user": {"id": f"U{i % 3}"}, "channel": {"id": "C0BENCH"},
                   "actions": [{"action_id": "take_case", "value": cases[i % len(cases)]}]}
        body = ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()
        sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
        head = (f"POST /slack/actions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded"
                f"\r\nContent-Length: {len(body)}\r\nX-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {sig}"
                "\r\n\r\n").encode()
        reqs.append(head + body)
    record = max(len(r) for r in reqs) + 16
    with path.open("wb") as out:
        for req in reqs:
            out.write(b"%08d" % len(req) + req + b" " * (record - 8 - len(req)))
    return Pool(path, record, len(reqs), 0)


def clicks_under_ingest(srv: Server, clicks: Pool, side: Pool, rate: float, duration: float) -> dict:
    """p99 of Slack clicks on 4 paced connections while a second wrk sends escalations at ``rate``."""
    start, count = side.slice(8000)
    proc = subprocess.Popen(["wrk", "-t1", "-c16", f"-d{int(duration) + 1}s", "-s", str(LUA),
                             f"{srv.url}/webhooks/generic"], stdout=subprocess.DEVNULL, env={
        **os.environ, "POOL": str(side.path), "RECORD": str(side.record), "START": str(start),
        "COUNT": str(count), "DELAY_MS": f"{16_000 / rate:.2f}"})
    side.used(start, count)
    time.sleep(0.5)
    r = wrk(srv.url, clicks, duration, conns=4, delay_ms=40, consume=False, want=clicks.size)
    proc.wait(duration + 30)
    return r


def escalated_cases(n: int = SLACK_CASES) -> list[str]:
    return [f"c-grown-slack-{i:03d}" for i in range(n)]


def seed_cases(execute: Callable[[str, tuple], Any], now: datetime, placeholder: str) -> None:
    """The escalated cases the Slack clicks take (the same ids in both stores), each with a hand-off
    event of its own (a recovery report reads them)."""
    p = placeholder
    template = payloads.event_template(1_000, "seeded")
    for n, case in enumerate(escalated_cases()):
        event = payloads.body_for(template, n, "s").decode()
        execute(f"INSERT INTO cases (id, platform, conversation_id, status, triggers, priority, event, refs, "  # noqa: S608
                f"created_at, updated_at, escalated_at) VALUES ({p}, 'generic', {p}, 'escalated', '[]', 'high', "
                f"{p}, '{{}}', {p}, {p}, {p})", (case, case, event, now, now, now))


def _copy(pool: Pool) -> Pool:
    return Pool(pool.path, pool.record, pool.size, pool.body_bytes)


def grown_round(b: Any, store: str, rows: int, log: Callable[[str], None]) -> dict:
    """One store's empty-vs-grown comparison; ``b`` is the running ``bench.__main__.Bench``."""
    import psycopg

    now = datetime.now(UTC)
    servers: dict[str, Server] = {}
    urls: dict[str, str] = {}
    fill: dict[str, Any] = {}
    for variant in ("empty", "grown"):
        extra: dict[str, str] = {}
        if store == "pg":
            url = f"postgresql://postgres@127.0.0.1:5432/{PG_DBS[variant]}"
            with psycopg.connect(b.pg_admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DBS[variant]} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {PG_DBS[variant]}")
            extra["DATABASE_URL"] = url
        env = b.base_env(f"grown-{store}-{variant}", **extra)
        b.migrate(env)
        if store == "pg":
            urls[variant] = extra["DATABASE_URL"]
            if variant == "grown":
                log(f"grown/{store}: filling {rows:,} inbox rows")
                fill = fill_pg(urls[variant], rows)
            with psycopg.connect(urls[variant], autocommit=True) as conn:
                seed_cases(lambda sql, args, c=conn: c.execute(sql, args), now, "%s")
        else:
            db = Path(env["BRIDGE_DATA_DIR"]) / "bridge.db"
            urls[variant] = f"sqlite:///{db}"
            if variant == "grown":
                log(f"grown/{store}: filling {rows:,} inbox rows")
                fill = fill_sqlite(db, rows)
            import sqlite3

            with sqlite3.connect(db) as conn:
                seed_cases(conn.execute, now.replace(tzinfo=None), "?")
        log(f"grown/{store}: {variant} store ready" + (f" ({fill})" if variant == "grown" else ""))
        servers[variant] = b.server(f"grown-{store}-{variant}", "wsgi:app", env)
    d = b.a.duration
    pools = {v: _copy(b.pool["10k"]) for v in servers}
    sat: dict[str, list[dict]] = {v: [] for v in servers}
    for rnd in range(b.a.rounds):
        for v, srv in servers.items():
            wrk(srv.url, pools[v], 1)
            r = wrk(srv.url, pools[v], d, server=srv)
            sat[v].append(r)
            log(f"grown/{store} round {rnd + 1} {v}: {r['rps']:.0f} rps p99 {r['p99']:.1f} ms cpu {r['cpu_us']:.0f}")
    rate = 0.5 * median([r["rps"] for r in sat["empty"]])
    half: dict[str, list[dict]] = {v: [] for v in servers}
    for rnd in range(b.a.rounds):
        for v, srv in servers.items():
            r = wrk(srv.url, pools[v], d, delay_ms=16_000 / rate, server=srv)
            half[v].append(r)
            log(f"grown/{store} half-load round {rnd + 1} {v}: {r['rps']:.0f} rps p99 {r['p99']:.1f} ms")
    clicks = slack_pool(b.work / f"pool-slack-grown-{store}.bin", escalated_cases(), b.slack_secret)
    side = {v: _copy(b.pool["esc"]) for v in servers}
    slack: dict[str, list[dict]] = {v: [] for v in servers}
    for rnd in range(b.a.rounds):
        for v, srv in servers.items():
            r = clicks_under_ingest(srv, clicks, side[v], rate, d)
            slack[v].append(r)
            log(f"grown/{store} slack round {rnd + 1} {v}: p50 {r['p50']:.1f} p99 {r['p99']:.1f} ms "
                f"non2xx {r['non2xx']}")
    for srv in servers.values():
        srv.stop()
    out = {"fill": fill, "sat": sat, "half": half, "half_rate": rate, "slack": slack,
           "probe": {v: probe(urls[v]) for v in servers}}
    out["ratio"] = {k: [g[key] / e[key] for e, g in zip(out[k]["empty"], out[k]["grown"], strict=True)]
                    for k, key in (("sat", "rps"), ("half", "p99"), ("slack", "p99"))}
    if store == "pg":
        with psycopg.connect(b.pg_admin, autocommit=True) as conn:
            for name in PG_DBS.values():
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return out


def _statements(now: datetime, existing: str) -> list[tuple[str, Callable[[Any], Any]]]:
    from bridge.store import loop_repo, repo

    def new_row(s: Any) -> Any:
        key = "hb-probe" + os.urandom(12).hex()
        return repo.insert_inbox(s, dict(
            key=key, platform="generic", sender_event_id=key, event_type="handoff.requested", case_id="c-probe",
            body=b"{}", headers={}, event={}, received_at=now, state="received", attempts=0, next_attempt_at=now,
            updated_at=now))

    def redelivery(s: Any) -> Any:
        return repo.insert_inbox(s, dict(
            key=existing, platform="generic", sender_event_id="x", event_type="handoff.requested", case_id="c-probe",
            body=b"{}", headers={}, event={}, received_at=now, state="received", attempts=0, next_attempt_at=now,
            updated_at=now))

    stale = now - timedelta(seconds=60)
    return [
        ("intake: insert (dedupe lookup on key)", new_row),
        ("intake: a redelivery (key exists)", redelivery),
        ("dispatcher: take_for_dispatch", lambda s: repo.take_for_dispatch(s, now, 500)),
        ("dispatcher: waiting_rows", lambda s: repo.waiting_rows(s, {"c-grown-slack-000"})),
        ("sweeper: stale_inbox", lambda s: repo.stale_inbox(s, stale, now)),
        ("sweeper: stale_deliveries", lambda s: repo.stale_deliveries(s, stale, now)),
        ("runner: due_inbox", lambda s: repo.due_inbox(s, now)),
        ("runner: due_deliveries", lambda s: repo.due_deliveries(s, now)),
        ("runner: due_vendor_events", lambda s: loop_repo.due_vendor_events(s, now)),
        ("sweeper: stale_vendor_events", lambda s: loop_repo.stale_vendor_events(s, stale, now)),
        ("job: claim_case_inbox", lambda s: repo.claim_case_inbox(s, "hb-none", now, 60)),
        ("purge: delete_old_inbox", lambda s: repo.delete_old_inbox(s, now - timedelta(days=7), 5000)),
        ("slack: deliveries_of", lambda s: repo.deliveries_of(s, "c-grown-slack-000")),
        ("slack: a take that wins (case, route, timeline, 3 steps)", lambda s: _take(s, now, won=True)),
        ("slack: a take that loses (case read, 1 step)", lambda s: _take(s, now, won=False)),
    ]


def _take(s: Any, now: datetime, won: bool) -> Any:
    """A click's unit (``bridge.web.slack_take.take``'s statements) on one of the seeded cases, made
    takeable first when the take is to win (the clicks phase has acknowledged them all)."""
    from sqlalchemy import text

    from bridge.store import click_rows

    case = "c-grown-slack-007"
    if won:
        s.execute(text("UPDATE cases SET status = 'escalated', acknowledged_at = NULL WHERE id = :id"), {"id": case})
    found = click_rows.take_case(s, case, "U-probe", now)
    if found is not None and found.won:
        click_rows.set_route(s, case, {"team": "default", "owner_slack_id": "U-probe", "acknowledged": True})
        click_rows.add_timeline(s, case, "case.acknowledged", "slack:U-probe", now, {"owner": "U-probe", "via": "slack"})
        return [click_rows.step_instance(s, case, step, None, now, status=click_rows.HANDOVER)
                for step in ("slack.update", "zendesk.assign", "bot.callback")]
    return click_rows.step_instance(s, case, "slack.ephemeral", None, now, {"text": "Not taken."},
                                    status=click_rows.HANDOVER)


def probe(url: str, repeat: int = 15) -> dict[str, dict]:
    """Median time of each statement (run in a transaction rolled back) and its plan's access paths."""
    from sqlalchemy import event, text

    from bridge.store.db import Store

    store = Store(url)
    analyzed = False
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            if conn.exec_driver_sql("SHOW autovacuum").scalar() == "off":
                # What autovacuum would have done after 5,000 changed rows (migration 0013); this server
                # runs without it, so the fill's statistics (every row processed) would stay forever.
                conn.exec_driver_sql("ANALYZE inbox")
                conn.commit()
                analyzed = True
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    out: dict[str, dict] = {}
    now = datetime.now(UTC)
    with store.session() as s:
        existing = s.execute(text("SELECT key FROM inbox ORDER BY id DESC LIMIT 1")).scalar() or "hb-none"
    for name, fn in _statements(now, existing):
        times = []
        for _ in range(repeat):
            seen.clear()
            with store.session() as s:
                t = time.perf_counter()
                fn(s)
                times.append((time.perf_counter() - t) * 1000)
                s.rollback()
        statements = [x for x in seen if not x[0].lstrip().upper().startswith(("PRAGMA", "EXPLAIN", "SELECT 1"))]
        out[name] = {"ms": round(statistics.median(times), 2), "plan": plans(store, statements),
                     "analyzed": analyzed}
    event.remove(store.engine, "before_cursor_execute", capture)
    store.engine.dispose()
    return out


def plans(store: Any, statements: list[tuple[str, Any]]) -> list[str]:
    """The access path of each table the statements read (SQLite: EXPLAIN QUERY PLAN; PostgreSQL:
    the scan nodes of EXPLAIN)."""
    lines: list[str] = []
    with store.engine.connect() as conn:
        for sql, params in statements:
            if store.dialect == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                lines += [str(r[3]) for r in rows if str(r[3]).startswith(("SCAN", "SEARCH"))]
            else:
                rows = conn.exec_driver_sql("EXPLAIN " + sql, params).fetchall()
                nodes = [str(r[0]).strip().removeprefix("->  ").split("  (cost")[0] for r in rows]
                lines += [n for n in nodes if " Scan " in f" {n} " and not n.startswith("Subquery Scan")]
            conn.rollback()
    return list(dict.fromkeys(lines))

"""A grown store for the benchmark (issue 19, item 3): an inbox of a million rows, bulk-inserted.

``fill_sqlite`` / ``fill_pg`` write ``rows`` inbox rows straight with SQL into a migrated, empty
store, the way a week of traffic leaves it: keys as ``intake.event_key`` makes them (a hash of
platform and sender event id, so they land all over the unique index), ``received_at`` spread
evenly over the dedupe window and rising with the id, five events per conversation, nine in ten
routine updates (carried by batch jobs of fifty), one in twenty a hand-off, everything processed.
Each conversation has its case (one in ten escalated, with its two delivery steps and a timeline
row) and one processed Zendesk webhook in ``vendor_events``. Bodies are a fixed 1 KB JSON document (the ingest pool's are 10 KB): the table is smaller
than a real week's, the indexes the request path and the dispatcher use are the same.

``python -m bench.grown sqlite PATH [--rows N]`` or ``python -m bench.grown pg URL`` fills a store by
hand (it must be migrated: ``bridge db upgrade``); ``probe`` times and explains the queries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PER_CASE = 5  # inbox rows per conversation
BATCH = 50  # routine rows per process_events job (bridge.worker.handover.BATCH_SIZE)
WINDOW_S = 7 * 86400  # the default dedupe window (bridge.config.sections.DEFAULT_DEDUPE_DAYS)
BODY = json.dumps({"type": "conversation.updated", "conversation": {"messages": [
    {"role": "customer", "text": "My export keeps failing with error E-4012 since this morning. " * 2}] * 6}},
    separators=(",", ":")).encode()[:1000]
HEADERS = json.dumps({"content-type": "application/json", "webhook-id": "msg_grown",
                      "webhook-signature": "v1,grown"})
EVENT = json.dumps({"schema_version": 1, "event_id": "grown", "type": "conversation.updated",  # a valid one:
                    "occurred_at": "2026-11-28T10:00:00Z", "bot": {"platform": "grown"},  # reports read it
                    "conversation": {"id": "grown", "messages": [
                        {"id": "m1", "role": "customer", "text": "My export keeps failing with error E-4012."}]}})
VENDOR_BODY = json.dumps({"type": "zen:event-type:ticket.status_changed", "detail": {"id": "1"},
                          "event": {"previous": "open", "current": "pending"}}).encode()


def _sha(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def fill_sqlite(db: Path, rows: int, now: float | None = None) -> dict[str, Any]:
    """Fill a migrated SQLite store; returns what was written and how long it took."""
    t0 = time.monotonic()
    now = time.time() if now is None else now
    start = now - WINDOW_S
    c = sqlite3.connect(db)
    c.create_function("k", 1, lambda i: "hb-" + _sha(f"generic|evt-grown-{i}", 32), deterministic=True)
    c.create_function("cid", 1, lambda n: "c-" + _sha(f"generic|conv-grown-{n}", 20), deterministic=True)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    c.execute("PRAGMA cache_size=-262144")  # 256 MB while filling only
    step = WINDOW_S / rows

    def ts(expr: str) -> str:
        return f"strftime('%Y-%m-%d %H:%M:%S', {start} + {expr}, 'unixepoch') || '.000000'"

    c.execute("BEGIN")
    c.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {rows - 1})
        INSERT INTO inbox (key, platform, sender_event_id, event_type, case_id, body, headers, event,
                           received_at, state, attempts, last_error, next_attempt_at, claimed_until, updated_at,
                           queued_at, batch)
        SELECT k(i), 'generic', 'evt-grown-' || i,
               CASE WHEN i % 20 = 0 THEN 'handoff.requested' WHEN i % 20 = 1 THEN 'conversation.closed'
                    ELSE 'conversation.updated' END,
               cid(i / {PER_CASE}), ?, ?, ?, {ts(f'i * {step}')}, 'processed', 1, NULL, {ts(f'i * {step}')},
               NULL, {ts(f'i * {step} + 1')}, {ts(f'i * {step} + 0.1')},
               CASE WHEN i % 20 = 0 THEN NULL ELSE k(i - i % {BATCH}) END
        FROM n""", (BODY, HEADERS, EVENT))  # noqa: S608 - numbers only
    cases = (rows + PER_CASE - 1) // PER_CASE
    c.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {cases - 1})
        INSERT INTO cases (id, platform, conversation_id, status, triggers, priority, customer_email, event, refs,
                           created_at, updated_at, escalated_at)
        SELECT cid(i), 'generic', 'conv-grown-' || i, CASE WHEN i % 10 = 0 THEN 'resolved' ELSE 'closed' END,
               '[]', 'normal', 'customer' || (i % 50000) || '@example.com', ?, '{{}}',
               {ts(f'i * {step * PER_CASE}')}, {ts(f'i * {step * PER_CASE} + 60')},
               CASE WHEN i % 10 = 0 THEN {ts(f'i * {step * PER_CASE} + 5')} END
        FROM n""", (EVENT,))  # noqa: S608
    for step_name, after in (("zendesk.ticket", None), ("slack.alert", "zendesk.ticket")):
        c.execute("""
            INSERT INTO deliveries (case_id, step, after, status, attempts, external_id, dry_run, next_attempt_at,
                                    created_at, updated_at)
            SELECT id, ?, ?, 'done', 1, '1', 0, escalated_at, escalated_at, escalated_at FROM cases
            WHERE escalated_at IS NOT NULL""", (step_name, after))
    c.execute("""INSERT INTO timeline (case_id, at, kind, actor, detail)
                 SELECT id, created_at, 'case.opened', 'bridge', '{}' FROM cases""")
    c.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {cases - 1})
        INSERT INTO vendor_events (source, delivery_id, event_type, body, headers, received_at, state, attempts,
                                   next_attempt_at, updated_at)
        SELECT 'zendesk', 'grown-' || i, 'ticket.updated', ?, '{{}}', {ts(f'i * {step * PER_CASE} + 30')},
               'processed', 1, {ts(f'i * {step * PER_CASE} + 30')}, {ts(f'i * {step * PER_CASE} + 31')}
        FROM n""", (VENDOR_BODY,))  # noqa: S608
    c.execute("COMMIT")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    os.sync()  # the fill's gigabytes reach the disk now, not during the measured rounds
    return {"rows": rows, "cases": cases, "vendor_events": cases, "seconds": round(time.monotonic() - t0, 1),
            "mb": round(db.stat().st_size / 1e6)}


def fill_pg(url: str, rows: int, now: float | None = None) -> dict[str, Any]:
    """Fill a migrated PostgreSQL store (``url`` as psycopg takes it), then ANALYZE it as autovacuum
    would after a load of this size."""
    import psycopg

    t0 = time.monotonic()
    now = time.time() if now is None else now
    start = now - WINDOW_S
    step = WINDOW_S / rows
    cases = (rows + PER_CASE - 1) // PER_CASE

    def ts(expr: str) -> str:
        return f"to_timestamp({start} + {expr})"

    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SET synchronous_commit = off")
        c.execute(f"""
            INSERT INTO inbox (key, platform, sender_event_id, event_type, case_id, body, headers, event,
                               received_at, state, attempts, next_attempt_at, updated_at, queued_at, batch)
            SELECT 'hb-' || md5('generic|evt-grown-' || i), 'generic', 'evt-grown-' || i,
                   CASE WHEN i %% 20 = 0 THEN 'handoff.requested' WHEN i %% 20 = 1 THEN 'conversation.closed'
                        ELSE 'conversation.updated' END,
                   'c-' || left(md5('generic|conv-grown-' || (i / {PER_CASE})), 20), %s, %s::json, %s::json,
                   {ts(f'i * {step}')}, 'processed', 1, {ts(f'i * {step}')}, {ts(f'i * {step} + 1')},
                   {ts(f'i * {step} + 0.1')},
                   CASE WHEN i %% 20 = 0 THEN NULL ELSE 'hb-' || md5('generic|evt-grown-' || (i - i %% {BATCH})) END
            FROM generate_series(0, {rows - 1}) AS i""", (BODY, HEADERS, EVENT))  # noqa: S608
        c.execute(f"""
            INSERT INTO cases (id, platform, conversation_id, status, triggers, priority, customer_email, event, refs,
                               created_at, updated_at, escalated_at)
            SELECT 'c-' || left(md5('generic|conv-grown-' || i), 20), 'generic', 'conv-grown-' || i,
                   CASE WHEN i %% 10 = 0 THEN 'resolved' ELSE 'closed' END, '[]', 'normal',
                   'customer' || (i %% 50000) || '@example.com', %s::json, '{{}}',
                   {ts(f'i * {step * PER_CASE}')}, {ts(f'i * {step * PER_CASE} + 60')},
                   CASE WHEN i %% 10 = 0 THEN {ts(f'i * {step * PER_CASE} + 5')} END
            FROM generate_series(0, {cases - 1}) AS i""", (EVENT,))  # noqa: S608
        for step_name, after in (("zendesk.ticket", None), ("slack.alert", "zendesk.ticket")):
            c.execute("""
                INSERT INTO deliveries (case_id, step, after, status, attempts, external_id, dry_run,
                                        next_attempt_at, created_at, updated_at)
                SELECT id, %s, %s, 'done', 1, '1', false, escalated_at, escalated_at, escalated_at FROM cases
                WHERE escalated_at IS NOT NULL""", (step_name, after))
        c.execute("""INSERT INTO timeline (case_id, at, kind, actor, detail)
                     SELECT id, created_at, 'case.opened', 'bridge', '{}'::json FROM cases""")
        c.execute(f"""
            INSERT INTO vendor_events (source, delivery_id, event_type, body, headers, received_at, state, attempts,
                                       next_attempt_at, updated_at)
            SELECT 'zendesk', 'grown-' || i, 'ticket.updated', %s, '{{}}'::json,
                   {ts(f'i * {step * PER_CASE} + 30')}, 'processed', 1, {ts(f'i * {step * PER_CASE} + 30')},
                   {ts(f'i * {step * PER_CASE} + 31')}
            FROM generate_series(0, {cases - 1}) AS i""", (VENDOR_BODY,))  # noqa: S608
        c.execute("VACUUM ANALYZE")
        c.execute("CHECKPOINT")  # the fill's dirty buffers are written now, not during the measured rounds
        size = c.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    os.sync()
    return {"rows": rows, "cases": cases, "vendor_events": cases, "seconds": round(time.monotonic() - t0, 1),
            "mb": round(size / 1e6)}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.grown", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store", choices=("sqlite", "pg"))
    ap.add_argument("target", help="SQLite file or PostgreSQL URL (migrated)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    a = ap.parse_args()
    print(datetime.now(UTC).isoformat(timespec="seconds"), flush=True)
    out = fill_sqlite(Path(a.target), a.rows) if a.store == "sqlite" else fill_pg(a.target, a.rows)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""The polls that run again and again (the runner's due rows, the sweeper's stale ones, of the inbox and of
the vendor events): what they answer, and on PostgreSQL that a grown table does not make them walk the
primary key.

On a big inbox whose few live rows are the newest, ``ORDER BY id LIMIT n`` invited the planner to walk
the primary key from the oldest row, filtering: 0.6-0.8 s a poll at a million processed rows
(bench/run's grown round). The plan is asserted, not a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from bench.rounds import plans
from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store import loop_repo, repo
from bridge.store.migrate import upgrade

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _row(s: Any, key: str, *, state: str = "received", due: datetime = NOW, queued: datetime | None = None,
         claimed: datetime | None = None) -> None:
    repo.insert_inbox(s, dict(key=key, platform="generic", sender_event_id=key, event_type="conversation.updated",
                              case_id=f"c-{key}", body=b"{}", headers={}, event={}, received_at=due, state=state,
                              attempts=0, next_attempt_at=due, updated_at=due))
    s.execute(text("UPDATE inbox SET queued_at = :q, claimed_until = :c WHERE key = :k"),
              {"q": queued, "c": claimed, "k": key})


def test_due_rows_come_longest_due_first_and_stale_pages_in_arrival_order(any_store_settings: Settings) -> None:
    rt = Runtime.build(any_store_settings)
    upgrade(rt.store)
    minute = timedelta(minutes=1)
    with rt.store.session() as s:
        _row(s, "a", due=NOW - 2 * minute)
        _row(s, "b", due=NOW - 5 * minute)  # arrived later, retried sooner: due longer
        _row(s, "c", due=NOW + minute)  # not yet
        _row(s, "d", due=NOW - 5 * minute, claimed=NOW + minute)  # a live worker holds it
        _row(s, "e", due=NOW - 5 * minute)
        _row(s, "f", state="processed", due=NOW - 9 * minute)
        for key in ("g", "h", "i"):
            _row(s, key, due=NOW - 9 * minute, queued=NOW - 9 * minute)
        s.commit()
        assert repo.due_inbox(s, NOW) == ["g", "h", "i", "b", "e", "a"]
        assert repo.due_inbox(s, NOW, limit=4) == ["g", "h", "i", "b"]
        first = repo.stale_inbox(s, NOW - minute, NOW, limit=2)
        assert [k for _, k, _ in first] == ["g", "h"]
        rest = repo.stale_inbox(s, NOW - minute, NOW, limit=2, after_id=first[-1][0])
        assert [k for _, k, _ in rest] == ["i"]


def _plans(rt: Runtime, call: Any) -> str:
    """Run ``call`` in a session, then the access paths of the statement it ran (``bench.rounds.plans``,
    the grown round's own reading: what the bench page shows is what this test checks)."""
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    engine = rt.store.engine
    event.listen(engine, "before_cursor_execute", grab)
    try:
        with rt.store.session() as s:
            call(s)
            s.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    assert len(seen) == 1, seen
    return "\n".join(plans(rt.store, seen))


# Per table: 200,000 processed rows, then 2,000 live ones at the end, handed over and held by workers, so
# nothing is due or stale and a walk of the primary key would read the whole table.
_INBOX_OLD = """
    INSERT INTO inbox (key, platform, sender_event_id, event_type, case_id, body, headers, event, received_at, state,
                       attempts, next_attempt_at, updated_at)
    SELECT 'hb-' || g, 'generic', 'e' || g, 'conversation.updated', 'c-' || (g / 5), '\\x7b7d', '{}', '{}', :old,
           'processed', 1, :old, :old FROM generate_series(1, 200000) g"""
_INBOX_LIVE = """
    INSERT INTO inbox (key, platform, sender_event_id, event_type, case_id, body, headers, event, received_at, state,
                       attempts, next_attempt_at, updated_at, queued_at, claimed_until)
    SELECT 'hb-live-' || g, 'generic', 'l' || g, 'conversation.updated', 'c-l' || g, '\\x7b7d', '{}', '{}', :t,
           'received', 1, :t, :t, :t, :held FROM generate_series(1, 2000) g"""
_VENDOR_OLD = """
    INSERT INTO vendor_events (source, delivery_id, event_type, body, headers, received_at, state, attempts,
                               next_attempt_at, updated_at)
    SELECT 'zendesk', 'd' || g, 'ticket.updated', '\\x7b7d', '{}', :old, 'processed', 1, :old, :old
    FROM generate_series(1, 200000) g"""
_VENDOR_LIVE = """
    INSERT INTO vendor_events (source, delivery_id, event_type, body, headers, received_at, state, attempts,
                               next_attempt_at, claimed_until, updated_at)
    SELECT 'zendesk', 'l' || g, 'ticket.updated', '\\x7b7d', '{}', :t, 'received', 1, :t, :held, :t
    FROM generate_series(1, 2000) g"""
_STALE = NOW - timedelta(minutes=1)
GROWN = {
    "inbox": (_INBOX_OLD, _INBOX_LIVE, {
        "due_inbox": lambda s: repo.due_inbox(s, NOW),
        "stale_inbox": lambda s: repo.stale_inbox(s, _STALE, NOW),
    }),
    "vendor_events": (_VENDOR_OLD, _VENDOR_LIVE, {
        "due_vendor_events": lambda s: loop_repo.due_vendor_events(s, NOW),
        "stale_vendor_events": lambda s: loop_repo.stale_vendor_events(s, _STALE, NOW),
    }),
}


@pytest.mark.parametrize("table", sorted(GROWN))
def test_a_grown_table_is_not_walked_by_its_primary_key(table: str, pg_url: str, settings: Settings) -> None:
    old, live, polls = GROWN[table]
    rt = Runtime.build(settings.with_overrides(database_url=pg_url))
    upgrade(rt.store)
    with rt.store.session() as s:
        s.execute(text(old), {"old": NOW - timedelta(days=2)})
        s.execute(text(live), {"t": NOW - timedelta(minutes=10), "held": NOW + timedelta(hours=1)})
        s.commit()
    with rt.store.engine.connect() as conn:
        conn.execute(text(f"ANALYZE {table}"))
        conn.commit()
    for name, call in polls.items():
        plan = _plans(rt, call)
        assert f"{table}_pkey" not in plan, f"{name} walks the primary key:\n{plan}"
        assert f"Index Scan using ix_{table}_state" in plan or f"Bitmap Index Scan on ix_{table}_state" in plan, plan

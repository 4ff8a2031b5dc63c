"""The store's read functions behind ``/metrics`` (``metrics_repo``), the operator's commands
(``admin_repo``) and ``bridge seed-demo`` (``demo_repo``), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store import admin_repo, demo_repo, metrics_repo
from bridge.store.db import Store
from bridge.store.migrate import upgrade
from bridge.store.models import (
    DEAD,
    DONE,
    DRAFTED,
    NOTE_UPDATE,
    PENDING,
    PROCESSED,
    RECEIVED,
    CaseNoteRow,
    CaseRow,
    DeliveryRow,
    InboxRow,
    VendorEventRow,
)

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _inbox(key: str, case: str, state: str, received: datetime) -> InboxRow:
    return InboxRow(key=key, platform="generic", sender_event_id=key, event_type="conversation.updated", case_id=case,
                    body=b"{}", headers={}, event={}, received_at=received, state=state, attempts=0,
                    next_attempt_at=received, updated_at=received)


def _delivery(case: str, step: str, status: str, attempts: int = 1, at: datetime = NOW,
              after: str | None = None) -> DeliveryRow:
    return DeliveryRow(case_id=case, step=step, status=status, after=after, attempts=attempts, next_attempt_at=at,
                       created_at=NOW, updated_at=NOW, dry_run=True)


def _case(ident: str, created: datetime, status: str = "open", escalated: datetime | None = None,
          updated: datetime | None = None) -> CaseRow:
    return CaseRow(id=ident, platform="generic", conversation_id=ident, status=status, event={}, created_at=created,
                   updated_at=updated or created, escalated_at=escalated)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite aggregates come back naive (UTC)


@pytest.fixture
def rt(any_store_settings: Settings) -> Runtime:
    rt = Runtime.build(any_store_settings)
    upgrade(rt.store)
    return rt


def test_queue_counts_count_every_row_by_state(rt: Runtime) -> None:
    with rt.store.session() as s:
        s.add_all([
            _inbox("k1", "c-1", RECEIVED, NOW - 2 * HOUR), _inbox("k2", "c-1", RECEIVED, NOW - HOUR),
            _inbox("k3", "c-2", PROCESSED, NOW - 3 * HOUR), _inbox("k4", "c-2", DEAD, NOW - 4 * HOUR),
            _delivery("c-1", "zendesk.ticket", DONE), _delivery("c-1", "slack.page#1", PENDING, attempts=3),
            _delivery("c-2", "slack.page#2", DEAD, attempts=5), _delivery("c-2", "jira.bug", DEAD, attempts=2),
            _case("c-1", NOW), _case("c-2", NOW, status="resolved"),
        ])
        s.commit()
        counts = metrics_repo.queue_counts(s)
        oldest = metrics_repo.oldest_unprocessed_event(s)
    assert counts.inbox == {RECEIVED: 2, PROCESSED: 1, DEAD: 1}
    assert counts.deliveries == {("zendesk.ticket", DONE): 1, ("slack.page#1", PENDING): 1,
                                 ("slack.page#2", DEAD): 1, ("jira.bug", DEAD): 1}
    assert counts.cases == {"open": 1, "resolved": 1}
    assert (counts.dead_events, counts.dead_deliveries) == (1, 2)
    assert counts.retries == {"slack.page#1": 2.0, "slack.page#2": 4.0, "jira.bug": 1.0}
    assert counts.dead_by_step == {"slack.page#2": 1, "jira.bug": 1}
    assert oldest is not None and oldest == NOW - 2 * HOUR and oldest.tzinfo is not None
    assert counts.oldest_received == oldest
    with rt.store.engine.connect() as conn:  # what a web worker's scrape uses: a Core connection
        assert metrics_repo.queue_counts(conn) == counts


def test_a_scrape_counts_the_moving_rows_and_reads_the_settled_ones(rt: Runtime) -> None:
    with rt.store.session() as s:
        s.add_all([
            _inbox("k1", "c-1", RECEIVED, NOW - HOUR), _inbox("k2", "c-1", RECEIVED, NOW),
            _inbox("k3", "c-2", DEAD, NOW), _inbox("k4", "c-2", PROCESSED, NOW), _inbox("k5", "c-2", PROCESSED, NOW),
            _delivery("c-1", "zendesk.ticket", DONE, attempts=3), _delivery("c-1", "slack.page#1", PENDING, attempts=2),
            _delivery("c-1", "slack.alert", "handover"), _delivery("c-2", "zendesk.ticket", DEAD, attempts=5),
            _delivery("c-2", "slack.alert", DONE),
            _case("c-1", NOW), _case("c-2", NOW, status="resolved"), _case("c-3", NOW, status="closed"),
            _case("c-4", NOW, status="escalated"),
        ])
        s.commit()
    with rt.store.engine.connect() as conn:
        settled = metrics_repo.settled_counts(conn)
        assert settled == {"inbox": {PROCESSED: 2}, "cases": {"resolved": 1, "closed": 1},
                           "retries": {"zendesk.ticket": 2.0},
                           "deliveries": [["slack.alert", DONE, 1], ["zendesk.ticket", DONE, 1]]}
        # A worker's count added to a scrape's own count of the moving rows is the whole count.
        assert metrics_repo.queue_counts(conn, settled) == metrics_repo.queue_counts(conn)
        # The worker's count of a minute ago: its moving rows are ignored, the scrape counts those now.
        kept = {"inbox": {PROCESSED: 7, "ignored": 3, RECEIVED: 40},
                "cases": {"resolved": 9, "open": 50}, "retries": {"zendesk.ticket": 4.0, "jira.bug": 1.0},
                "deliveries": [["zendesk.ticket", DONE, 6], ["slack.page#1", PENDING, 99]]}
        counts = metrics_repo.queue_counts(conn, kept)
    assert counts.inbox == {RECEIVED: 2, DEAD: 1, PROCESSED: 7, "ignored": 3}
    assert counts.cases == {"open": 1, "escalated": 1, "resolved": 9}
    assert counts.deliveries == {("zendesk.ticket", DONE): 6, ("slack.page#1", PENDING): 1,
                                 ("slack.alert", "handover"): 1, ("zendesk.ticket", DEAD): 1}
    assert counts.retries == {"zendesk.ticket": 8.0, "slack.page#1": 1.0, "jira.bug": 1.0}
    assert (counts.dead_events, counts.dead_deliveries, counts.dead_by_step) == (1, 1, {"zendesk.ticket": 1})
    assert counts.oldest_received == NOW - HOUR


def test_an_empty_store_counts_nothing(rt: Runtime) -> None:
    with rt.store.session() as s:
        counts = metrics_repo.queue_counts(s)
        assert metrics_repo.oldest_unprocessed_event(s) is None
    assert counts == metrics_repo.QueueCounts()


def test_vendor_event_health_counts_the_dead_and_ages_the_oldest_waiting(rt: Runtime) -> None:
    def vendor(delivery: str, state: str, received: datetime) -> VendorEventRow:
        return VendorEventRow(source="zendesk", delivery_id=delivery, event_type="ticket.solved", body=b"{}",
                              headers={}, received_at=received, state=state, attempts=1, next_attempt_at=received,
                              updated_at=received)

    with rt.store.engine.connect() as conn:
        assert metrics_repo.vendor_event_health(conn, NOW) == (0, None)
    with rt.store.session() as s:
        s.add_all([vendor("d-1", DEAD, NOW - 9 * HOUR), vendor("d-2", DEAD, NOW),
                   vendor("d-3", PROCESSED, NOW - 8 * HOUR), vendor("d-4", RECEIVED, NOW - 2 * HOUR),
                   vendor("d-5", RECEIVED, NOW - HOUR)])
        s.commit()
    with rt.store.engine.connect() as conn:
        assert metrics_repo.vendor_event_health(conn, NOW) == (2, 7200.0)


def test_a_snapshot_is_inserted_then_replaced_only_by_a_newer_one(rt: Runtime) -> None:
    with rt.store.engine.connect() as conn:
        assert metrics_repo.read_snapshot(conn, "recovery:30d") is None
        assert metrics_repo.snapshot_time(conn, "recovery:30d") is None
    with rt.store.engine.begin() as conn:
        metrics_repo.write_snapshot(conn, "recovery:30d", NOW, {"totals": {"csat": 0.5}})
        metrics_repo.write_snapshot(conn, "recovery:7d", NOW, {"totals": {}})
    with rt.store.engine.begin() as conn:
        metrics_repo.write_snapshot(conn, "recovery:30d", NOW + HOUR, {"totals": {"csat": 0.75}})
    with rt.store.engine.begin() as conn:  # a slower worker's older figures, written last: kept out
        metrics_repo.write_snapshot(conn, "recovery:30d", NOW + HOUR / 2, {"totals": {"csat": 0.25}})
    with rt.store.engine.connect() as conn:
        assert metrics_repo.read_snapshot(conn, "recovery:30d") == (NOW + HOUR, {"totals": {"csat": 0.75}})
        assert metrics_repo.snapshot_time(conn, "recovery:7d") == NOW


def test_the_core_tables_name_the_models_columns() -> None:
    """Each column a scrape reads is a column of the model, of the same kind of type."""
    from bridge.store.models import MetricsSnapshotRow

    for core, model in ((metrics_repo.INBOX, InboxRow), (metrics_repo.DELIVERIES, DeliveryRow),
                        (metrics_repo.CASES, CaseRow), (metrics_repo.VENDOR_EVENTS, VendorEventRow),
                        (metrics_repo.SNAPSHOTS, MetricsSnapshotRow)):
        table = model.__table__
        assert core.name == table.name
        for col in core.columns:
            assert col.name in table.c, (table.name, col.name)
            assert type(col.type).__name__ == type(table.c[col.name].type).__name__, (table.name, col.name)


def test_dead_letters_of_every_kind(rt: Runtime) -> None:
    with rt.store.session() as s:
        s.add_all([
            _inbox("k1", "c-1", DEAD, NOW), _inbox("k2", "c-1", RECEIVED, NOW),
            _delivery("c-1", "slack.alert", DEAD), _delivery("c-1", "zendesk.ticket", DONE),
            VendorEventRow(source="zendesk", delivery_id="d-1", event_type="ticket.solved", body=b"{}", headers={},
                           received_at=NOW, state=DEAD, attempts=5, next_attempt_at=NOW, updated_at=NOW),
            VendorEventRow(source="jira", delivery_id="d-2", event_type="jira:issue_updated", body=b"{}", headers={},
                           received_at=NOW, state=PROCESSED, attempts=1, next_attempt_at=NOW, updated_at=NOW),
        ])
        s.commit()
        inbox, deliveries, vendor = admin_repo.dead_letters(s)
        assert [r.key for r in inbox] == ["k1"]
        assert [d.step for d in deliveries] == ["slack.alert"]
        assert [v.delivery_id for v in vendor] == ["d-1"]


def test_replay_windows_pick_their_cases_and_detach_them(rt: Runtime) -> None:
    cutoff = NOW - 24 * HOUR
    with rt.store.session() as s:
        s.add_all([
            _case("new", NOW),
            _case("old-escalated-late", NOW - 48 * HOUR, escalated=NOW - HOUR),
            _case("old-updated-late", NOW - 48 * HOUR, updated=NOW - HOUR),
            _case("old", NOW - 48 * HOUR),
        ])
        s.commit()
    routed = admin_repo.cases_escalated_or_created_since(rt.store, cutoff)
    judged = admin_repo.cases_created_or_updated_since(rt.store, cutoff)
    assert sorted(c.id for c in routed) == ["new", "old-escalated-late"]
    assert sorted(c.id for c in judged) == ["new", "old-updated-late"]
    assert routed[0].event == {}  # readable after the session closed


def test_an_unreadable_store_is_a_store_read_error(tmp_path: object) -> None:
    store = Store(f"sqlite:///{tmp_path}/never-created.db")  # no tables: the query fails
    with pytest.raises(admin_repo.StoreReadError) as raised:
        admin_repo.cases_created_or_updated_since(store, NOW)
    assert "cases" in str(raised.value.cause)


def test_the_seeders_reads(rt: Runtime) -> None:
    with rt.store.session() as s:
        s.add_all([
            _inbox("k2", "c-1", RECEIVED, NOW), _inbox("k1", "c-1", RECEIVED, NOW), _inbox("k3", "c-1", PROCESSED, NOW),
            _inbox("k4", "c-2", RECEIVED, NOW),
            _delivery("c-1", "zendesk.ticket", DONE), _delivery("c-1", "slack.alert", PENDING, after="zendesk.ticket"),
            _delivery("c-2", "slack.page#1", PENDING, at=NOW + HOUR), _delivery("c-2", "slack.page#2", PENDING,
                                                                               at=NOW + 2 * HOUR),
            CaseNoteRow(case_id="c-1", kind=NOTE_UPDATE, reason="r1", text="t", status=DRAFTED, created_at=NOW,
                        updated_at=NOW),
            CaseNoteRow(case_id="c-2", kind=NOTE_UPDATE, reason="r2", text="t", status="approved", created_at=NOW,
                        updated_at=NOW),
        ])
        s.commit()
        assert demo_repo.received_event_keys(s, "c-1") == ["k2", "k1"]  # arrival order
        steps = demo_repo.delivery_steps(s, "c-1")
        assert [(r.step, r.after, r.status) for r in steps] == [("zendesk.ticket", None, DONE),
                                                                 ("slack.alert", "zendesk.ticket", PENDING)]
        first = demo_repo.next_due_delivery(s, NOW + 3 * HOUR, set())
        assert first is not None and first.case_id == "c-1"  # due at NOW, before the pages
        second = demo_repo.next_due_delivery(s, NOW + 3 * HOUR, {first.id})
        assert second is not None and second.case_id == "c-2" and second.id != first.id
        assert demo_repo.next_due_delivery(s, NOW - HOUR, set()) is None
        drafted = demo_repo.drafted_updates(s)
    assert [(case, _aware(created)) for _, case, created in drafted] == [("c-1", NOW)]

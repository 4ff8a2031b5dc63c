"""The store's named writes the worker and the pages use instead of SQL of their own: each one
changes what its name says and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store import case_list, logins, repo
from bridge.store.migrate import upgrade
from bridge.store.models import CLOSED, DONE, ESCALATED, OPEN, PROCESSED, RECEIVED

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _rt(settings: Settings) -> Runtime:
    rt = Runtime.build(settings)
    upgrade(rt.store)
    return rt


def _inbox(key: str, case_id: str, at: datetime = NOW) -> dict[str, object]:
    return dict(key=key, platform="generic", sender_event_id=key, event_type="conversation.updated",
                case_id=case_id, body=b"{}", headers={}, event={}, received_at=at, state=RECEIVED, attempts=0,
                next_attempt_at=at, updated_at=at)


def test_a_case_opens_escalates_and_closes_by_name(any_store_settings: Settings) -> None:
    rt = _rt(any_store_settings)
    with rt.store.session() as s:
        case = repo.open_case(s, "c-1", "generic", "conv-1", {"type": "conversation.updated"}, NOW)
        repo.remember_customer(case, "cust-1", None)
        repo.remember_customer(case, None, "ana@example.com")  # keeps the id it had
        s.commit()
    with rt.store.session() as s:
        case = repo.lock_case(s, "c-1")
        assert case is not None and case.status == OPEN and case.customer_id == "cust-1"
        assert case.customer_email == "ana@example.com"
        repo.escalate_case(case, NOW, ["product_bug"], {"escalate": True}, "high", "support", "U01ANA",
                           {"team": "support"})
        s.commit()
    with rt.store.session() as s:
        case = repo.get_case(s, "c-1")
        assert case is not None
        assert (case.status, case.triggers, case.priority, case.team, case.owner) == (
            ESCALATED, ["product_bug"], "high", "support", "U01ANA")
        assert case.escalated_at is not None and case.route == {"team": "support"}
        repo.close_case(case, NOW)
        assert case.status == CLOSED and case.closed_at == NOW


def test_a_summary_is_kept_once_and_dropped_to_sql_null(any_store_settings: Settings) -> None:
    rt = _rt(any_store_settings)
    with rt.store.session() as s:
        repo.open_case(s, "c-1", "generic", "conv-1", {}, NOW)
        s.commit()
        repo.save_summary(s, "c-1", {"issue": "first"})
        repo.save_summary(s, "c-1", {"issue": "second"})  # another job kept one first: unchanged
        s.commit()
    with rt.store.session() as s:
        case = repo.get_case(s, "c-1")
        assert case is not None and case.summary == {"issue": "first"}
        repo.drop_summary(case)
        s.commit()
    with rt.store.session() as s:
        case = repo.get_case(s, "c-1")
        assert case is not None and case.summary is None


def test_a_done_step_records_its_id_refs_and_timeline(any_store_settings: Settings) -> None:
    rt = _rt(any_store_settings)
    with rt.store.session() as s:
        repo.open_case(s, "c-1", "generic", "conv-1", {}, NOW)
        repo.ensure_deliveries(s, "c-1", [("zendesk.ticket", None, 0), ("slack.alert", "zendesk.ticket", 0)], NOW)
        s.commit()
        ticket, alert = repo.deliveries_of(s, "c-1")
        repo.record_delivery_done(s, ticket, "42", False, "https://z.example/42", "zendesk", NOW)
        repo.record_external_id(s, alert, "C1/1.0")
        s.commit()
    with rt.store.session() as s:
        ticket, alert = repo.deliveries_of(s, "c-1")
        assert (ticket.status, ticket.external_id, ticket.dry_run, ticket.last_error) == (DONE, "42", False, None)
        assert alert.status != DONE and alert.external_id == "C1/1.0"
        case = repo.get_case(s, "c-1")
        assert case is not None
        assert case.refs == {"zendesk.ticket": "42", "zendesk.ticket.url": "https://z.example/42",
                             "slack.alert": "C1/1.0"}
        [entry] = repo.timeline_of(s, "c-1")
        assert (entry.kind, entry.actor, entry.detail["step"]) == ("delivery.done", "connector:zendesk",
                                                                   "zendesk.ticket")


def test_inbox_rows_are_inserted_once_and_marked_processed(any_store_settings: Settings) -> None:
    rt = _rt(any_store_settings)
    rows = [_inbox("hb-1", "c-1"), _inbox("hb-2", "c-1"), _inbox("hb-1", "c-1")]
    assert rt.store.group.run(repo.insert_all(rows)) == [True, True, False]
    with rt.store.session() as s:
        stored = repo.inbox_rows(s, ["hb-1", "hb-2"])
        repo.mark_processed(stored, NOW)
        s.commit()
    with rt.store.session() as s:
        assert {row.state for row in repo.inbox_rows(s, ["hb-1", "hb-2"])} == {PROCESSED}


def test_login_throttle_counts_in_a_window_and_clears(any_store_settings: Settings) -> None:
    rt = _rt(any_store_settings)
    window = timedelta(minutes=15)
    with rt.store.session() as s:
        logins.count_failure(s, "user:ana", NOW, window)
        logins.count_failure(s, "user:ana", NOW + timedelta(minutes=1), window)
        [row] = logins.throttle_rows(s, ["user:ana", "addr:1.2.3.4"])
        assert (row.failures, row.window_start.replace(tzinfo=UTC)) == (2, NOW)
        logins.count_failure(s, "user:ana", NOW + window, window)  # a new window
        [row] = logins.throttle_rows(s, ["user:ana"])
        assert row.failures == 1
        logins.clear_throttle(s, "user:ana")
        s.commit()
        assert logins.throttle_rows(s, ["user:ana"]) == []


def test_the_case_list_pages_and_filters(any_store_settings: Settings) -> None:
    rt = _rt(any_store_settings)
    with rt.store.session() as s:
        for i in range(5):
            case = repo.open_case(s, f"c-{i}", "intercom" if i % 2 else "generic", f"conv-{i}", {},
                                  NOW + timedelta(minutes=i))
            if i < 4:
                repo.escalate_case(case, NOW + timedelta(minutes=i), ["product_bug"] if i < 2 else [],
                                   {}, "normal", "support", None, {})
        s.commit()
        total, page, rows = case_list.page_of_cases(s, None, {}, None, 9, 3)
        assert (total, page, [r.id for r in rows]) == (4, 2, ["c-0"])  # past the end: the last page
        total, _, rows = case_list.page_of_cases(s, "all", {"platform": "intercom"}, None, 1, 50)
        assert (total, [r.id for r in rows]) == (2, ["c-3", "c-1"])
        assert [r.id for r in case_list.page_of_cases(s, None, {}, "product_bug", 1, 50)[2]] == ["c-1", "c-0"]
        assert case_list.options(s, "platform") == ["generic", "intercom"]
        assert case_list.created_between(s, NOW, NOW + timedelta(minutes=2)) == 2

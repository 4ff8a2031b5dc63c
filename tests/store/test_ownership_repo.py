"""The loop's store functions: compare-and-set ownership writes and step instances, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store import ownership_repo, repo
from bridge.store.migrate import upgrade
from bridge.store.models import ACKNOWLEDGED, ESCALATED, RESOLVED, CaseRow

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _case(case_id: str, status: str) -> CaseRow:
    return CaseRow(id=case_id, platform="generic", conversation_id=case_id, status=status, event={}, refs={},
                   created_at=NOW, updated_at=NOW, escalated_at=NOW)


def test_owner_writes_are_compare_and_set(any_store_settings: Settings) -> None:
    rt = Runtime.build(any_store_settings)
    upgrade(rt.store)
    later = NOW + timedelta(minutes=3)
    with rt.store.session() as s:
        s.add_all([_case("c-1", ESCALATED), _case("c-2", ESCALATED), _case("c-3", RESOLVED)])
        s.commit()
        assert ownership_repo.take_case(s, "c-1", "U1", later)
        assert not ownership_repo.take_case(s, "c-1", "U2", later)  # the second click loses
        assert not ownership_repo.move_case(s, "c-1", "U2", "U3", later)  # not U2's to give
        assert ownership_repo.move_case(s, "c-1", "U1", "U3", later)
        assert ownership_repo.acknowledge_case(s, "c-2", later)
        assert not ownership_repo.acknowledge_case(s, "c-2", later)
        assert ownership_repo.acknowledge_case(s, "c-3", later)  # solved first: stays resolved
        s.commit()
        rows = {c: ownership_repo.fresh_case(s, c) for c in ("c-1", "c-2", "c-3")}
    assert [(r.status, r.owner, r.acknowledged_at) for r in rows.values() if r is not None] == [
        (ACKNOWLEDGED, "U3", later), (ACKNOWLEDGED, None, later), (RESOLVED, None, later)]


def test_step_instances_are_numbered_by_row_or_named_once(any_store_settings: Settings) -> None:
    rt = Runtime.build(any_store_settings)
    upgrade(rt.store)
    with rt.store.session() as s:
        s.add(_case("c-1", ESCALATED))
        first = ownership_repo.step_instance(s, "c-1", "slack.update", "slack.alert", NOW)
        second = ownership_repo.step_instance(s, "c-1", "slack.update", "slack.alert", NOW, payload={"x": 1})
        page = ownership_repo.step_instance(s, "c-1", "slack.page#2", None, NOW, delay=60)
        again = ownership_repo.step_instance(s, "c-1", "slack.page#2", None, NOW, delay=60)
        s.commit()
        rows = {d.step: d for d in repo.deliveries_of(s, "c-1")}
    assert first != second and first.startswith("slack.update#") and page == again == "slack.page#2"
    assert set(rows) == {first, second, page}
    assert rows[second].payload == {"x": 1} and rows[page].next_attempt_at == NOW + timedelta(seconds=60)

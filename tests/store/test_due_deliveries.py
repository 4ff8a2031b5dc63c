"""repo.due_deliveries: the per-case form (read through the case index, decided in Python) answers
exactly what the store-wide SQL form answers for that case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from bridge.store.models import DEAD, DONE, PENDING, DeliveryRow

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def test_the_per_case_answer_is_the_store_wide_one(any_store_settings: Settings) -> None:
    rt = Runtime.build(any_store_settings)
    upgrade(rt.store)
    later, earlier = NOW + timedelta(minutes=5), NOW - timedelta(minutes=5)
    rows = {  # (case, step): (status, after, next_attempt_at, claimed_until)
        ("c-1", "ticket"): (DONE, None, earlier, None),
        ("c-1", "alert"): (PENDING, "ticket", earlier, None),  # prerequisite done: due
        ("c-1", "bug"): (PENDING, None, later, None),  # not yet
        ("c-1", "link"): (PENDING, "bug", earlier, None),  # prerequisite pending: waits
        ("c-1", "page"): (PENDING, None, earlier, later),  # claimed by a live worker
        ("c-1", "note"): (PENDING, None, earlier, earlier),  # a lease that ran out: due
        ("c-1", "update"): (PENDING, "gone", earlier, None),  # prerequisite never planned
        ("c-2", "ticket"): (DEAD, None, earlier, None),
        ("c-2", "alert"): (PENDING, "ticket", earlier, None),  # a dead prerequisite is settled too
        ("c-2", "bug"): (PENDING, None, earlier, None),
    }
    with rt.store.session() as s:
        for (case, step), (status, after, at, claimed) in rows.items():
            s.add(DeliveryRow(case_id=case, step=step, status=status, after=after, attempts=0, next_attempt_at=at,
                              claimed_until=claimed, created_at=earlier, updated_at=earlier, dry_run=False))
        s.commit()
        everywhere = repo.due_deliveries(s, NOW)
        step_of = {d.id: (d.case_id, d.step) for d in s.query(DeliveryRow)}
        by_case = {case: repo.due_deliveries(s, NOW, case_id=case) for case in ("c-1", "c-2", "c-3")}
    assert sorted(step_of[i] for i in everywhere) == [("c-1", "alert"), ("c-1", "note"), ("c-2", "alert"),
                                                     ("c-2", "bug")]
    for case, ids in by_case.items():
        assert ids == [i for i in everywhere if step_of[i][0] == case]
    with rt.store.session() as s:
        assert repo.due_deliveries(s, NOW, limit=1, case_id="c-2") == by_case["c-2"][:1]

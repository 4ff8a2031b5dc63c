"""The recovery report's per-case cache and its linking: a cached report is the report, any change
to a case, its relevant timeline or its KB suggestion is seen at once, and linking by time window
gives what comparing every pair of a customer's conversations gives."""

from __future__ import annotations

import json
import random
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bridge.config import Settings
from bridge.metrics import cache as recovery_cache
from bridge.metrics.facts import DUPLICATE_WINDOW, WINDOW, CaseFacts, _link, same_issue
from bridge.metrics.report import build_report
from bridge.runtime import Runtime, install
from bridge.store.migrate import upgrade
from bridge.store.models import CaseFactsRow, CaseRow, KbSuggestionRow
from tests.metrics.test_report import SINCE, T0, UNTIL, seed, tl


@pytest.fixture
def seeded(any_store_settings: Settings) -> Runtime:
    """The report's seed, on SQLite and on PostgreSQL: the stamps are built by the database."""
    runtime = install(Runtime.build(any_store_settings))
    upgrade(runtime.store)
    return seed(runtime)


def _report(rt: Runtime) -> str:
    with rt.store.session() as s:
        return build_report(s, SINCE, UNTIL, settings=rt.settings).model_dump_json()


def _cached(rt: Runtime) -> int:
    with rt.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(CaseFactsRow)) or 0)


def test_a_cached_report_is_the_same_report(seeded: Runtime) -> None:
    cold = _report(seeded)
    assert _cached(seeded) == 9  # every case from the window's lower bound on, J included
    assert _report(seeded) == cold


def _figures(rt: Runtime) -> tuple[dict[str, float | None], dict[str, int]]:
    with rt.store.session() as s:
        report = build_report(s, SINCE, UNTIL, settings=rt.settings)
    return {v.metric: v.value for v in report.totals}, dict(report.cohorts)


def test_changes_to_a_case_its_timeline_or_its_kb_suggestion_are_seen(seeded: Runtime) -> None:
    totals, cohorts = _figures(seeded)
    assert (cohorts["human_fixed_it"], cohorts["open"], totals["kb_conversions"], totals["escalations"]) == (1, 1, 1, 4)
    with seeded.store.session() as s:
        s.add(tl("C", "ticket.solved", T0 + timedelta(days=2)))  # the timeline grows, the case row does not
        s.commit()
    totals, cohorts = _figures(seeded)
    assert (cohorts["human_fixed_it"], cohorts["open"]) == (2, 0)
    with seeded.store.session() as s:
        kb = s.scalars(select(KbSuggestionRow).where(KbSuggestionRow.case_id == "C")).one()
        kb.status = "done"
        s.commit()
    assert _figures(seeded)[0]["kb_conversions"] == 2
    with seeded.store.session() as s:
        row = s.get(CaseRow, "D")
        assert row is not None
        row.escalated_at, row.triggers, row.team = T0 + timedelta(hours=4), ["product_bug"], "engineering"
        row.updated_at = T0 + timedelta(hours=4)
        s.commit()
    assert _figures(seeded)[0]["escalations"] == 5


def test_a_judgment_is_stored_as_an_array_and_read_back_whole(seeded: Runtime) -> None:
    with seeded.store.session() as s:
        cold = build_report(s, SINCE, UNTIL, settings=seeded.settings)
        rows = s.execute(select(CaseFactsRow.facts)).scalars().all()
    assert rows and all(isinstance(row, list) and len(row) == len(fields(CaseFacts)) for row in rows)
    full = CaseFacts(
        id="x", platform="intercom", created_at=T0, customer=("a@x", "intercom:1"), proactive=True,
        duplicate=True, escalated=True, triggers=("product_bug", "negative_sentiment"), team="eng", owner="ana",
        band="high", time_to_ack=1.5, time_to_useful=30.0, solves=(T0, T0 + timedelta(days=1)), reopened=True,
        csat="bad", repeat=True, reasked=True, kb_suggested=True, kb_done=True, topics=frozenset({"sso", "login"}),
        fingerprint="abc", words=frozenset({"crash", "export"}))
    stored = recovery_cache.to_json(full)
    assert stored == json.loads(json.dumps(stored))  # JSON as it is
    assert recovery_cache.from_json(json.loads(json.dumps(stored)), CaseFacts) == full
    with seeded.store.session() as s:  # read back from the cache: the same report
        assert build_report(s, SINCE, UNTIL, settings=seeded.settings) == cold


def test_a_new_version_of_the_judgment_redoes_every_case(seeded: Runtime, monkeypatch: object) -> None:
    _report(seeded)
    calls: list[str] = []
    from bridge.metrics import facts as recovery

    real = recovery.judge

    def counting(c, timeline, kb):  # type: ignore[no-untyped-def]
        calls.append(c.id)
        return real(c, timeline, kb)

    monkeypatch.setattr(recovery, "judge", counting)  # type: ignore[attr-defined]
    _report(seeded)
    assert calls == []  # nothing changed: nothing judged again
    monkeypatch.setattr(recovery_cache, "VERSION", "test-next")  # type: ignore[attr-defined]
    _report(seeded)
    assert sorted(calls) == list("ABCDEFHIJ")


def _brute_force(facts: list[CaseFacts]) -> list[CaseFacts]:
    """The definition, comparing every pair (what ``_link`` computed before it used time windows)."""
    def rank(c: CaseFacts) -> tuple[bool, datetime, str]:
        return (not c.escalated, c.created_at, c.id)

    out = []
    for i, f in enumerate(facts):
        others = [g for j, g in enumerate(facts) if j != i and set(k for k in f.customer if k) & set(g.customer)]
        duplicate = any(abs(f.created_at - g.created_at) <= DUPLICATE_WINDOW and rank(g) < rank(f) for g in others)
        repeat = any(s < g.created_at <= s + WINDOW and same_issue(f, g) for s in f.solves for g in others)
        out.append(replace(f, duplicate=duplicate, repeat=repeat))
    return out


def test_linking_by_time_window_is_linking_every_pair() -> None:
    rng = random.Random(7)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for _ in range(30):
        facts = []
        for n in range(60):
            jitter = rng.choice([0, 5, 29, 30, 31, 600, 60 * 24 * 3, 60 * 24 * 7]) * rng.random()
            created = start + timedelta(minutes=jitter + rng.randrange(0, 60 * 24 * 10))
            solves = tuple(created + timedelta(hours=rng.choice([1, 20, 24 * 6])) for _ in range(rng.randrange(0, 3)))
            facts.append(CaseFacts(
                id=f"c{n}", platform="generic", created_at=created,
                customer=(rng.choice(["a@x", "b@x", None]), rng.choice(["generic:1", "generic:2", None])),
                escalated=rng.random() < 0.5, solves=solves,
                topics=frozenset(rng.sample(["sso", "refund"], rng.randrange(0, 2))),
                words=frozenset(rng.sample(["export", "crash", "invoice", "login"], rng.randrange(0, 3)))))
        facts.sort(key=lambda f: (f.created_at, f.id))
        assert _link(facts) == _brute_force(facts)

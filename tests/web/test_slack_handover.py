"""With RQ, a Slack click writes its delivery steps and the dispatcher hands them to RQ (issue 19):
each step runs exactly once through a real dispatcher and worker, on both stores, and a Redis
outage at click time costs the click nothing and loses no step."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bridge.config import Settings
from bridge.queue import DELIVER, RQQueue, job_id
from bridge.runtime import Runtime
from bridge.store import click_rows, db, repo
from bridge.worker import handover
from bridge.worker.dispatcher import Dispatcher
from tests.helpers import run_dispatcher_until
from tests.test_rq import PrivateRedis, empty, work
from tests.web.test_slack_actions import _runtime, action_body, click, escalate

pytestmark = pytest.mark.redis


def _click_steps(rt: Runtime, case_id: str) -> dict[str, tuple[int, str]]:
    """The steps the clicks created (``slack.update#41`` …): name → (id, status)."""
    with rt.store.session() as s:
        return {
            d.step: (d.id, d.status)
            for d in repo.deliveries_of(s, case_id)
            if "#" in d.step and not d.step.startswith("slack.page")
        }


def _runs(rt: Runtime, case_id: str) -> dict[str, int]:
    """How many times each step was delivered (a ``delivery.done`` timeline row per run)."""
    with rt.store.session() as s:
        done = [t.detail["step"] for t in repo.timeline_of(s, case_id) if t.kind == "delivery.done"]
    return {step: done.count(step) for step in set(done)}


def _win_and_lose(rt: Runtime, case_id: str) -> None:
    from bridge import create_app

    client = create_app(rt=rt).test_client()
    for user in ("U0BEN", "U0ANA"):  # Ben takes it; Ana's click loses and she is told privately
        assert click(client, action_body(case_id, user)).status_code == 200


@pytest.fixture
def rq_any_store(any_store_settings: Settings, redis_url: str) -> Settings:
    return any_store_settings.with_overrides(redis_url=redis_url, queue_name=f"test-{uuid.uuid4().hex[:10]}")


def test_a_clicks_steps_run_once_through_the_dispatcher_and_a_worker(
    rq_any_store: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher's loop (the one `bridge worker` runs) picks a click's steps up while it runs and
    enqueues each once; a real RQ worker delivers each once; further passes and a sweep add nothing."""
    monkeypatch.setattr(db, "_synchronous", db._synchronous)  # the dispatcher relaxes these for its process
    monkeypatch.setattr(db, "_cache_kib", db._cache_kib)
    rt, client = _runtime(rq_any_store, tmp_path)
    assert isinstance(rt.queue, RQQueue)
    case_id = escalate(rt, client)
    dispatcher = Dispatcher(rt.settings)
    seen: list[list[str]] = []

    def watch() -> None:
        _win_and_lose(rt, case_id)
        ids = {job_id(rt.queue.name, DELIVER, i) for i, _ in _click_steps(rt, case_id).values()}
        end = time.monotonic() + 15  # a bound for a stuck test, not a measurement
        while time.monotonic() < end and not ids <= set(rt.queue.urgent.job_ids):
            time.sleep(0.01)
        seen.append(rt.queue.urgent.job_ids)

    try:
        run_dispatcher_until(dispatcher, watch)
        steps = _click_steps(rt, case_id)
        assert sorted(name.split("#")[0] for name in steps) == [
            "bot.callback",
            "slack.ephemeral",
            "slack.update",
            "zendesk.assign",
        ]
        for name, (delivery_id, _) in steps.items():
            assert seen[0].count(job_id(rt.queue.name, DELIVER, delivery_id)) == 1, (name, seen)
        work(rt)
        assert {name: status for name, (_, status) in _click_steps(rt, case_id).items()} == dict.fromkeys(steps, "done")
        assert {name: _runs(rt, case_id).get(name) for name in steps} == dict.fromkeys(steps, 1)
        assert handover.dispatch(rt) == 0
        handover.sweep(rt)
        work(rt)
        assert {name: _runs(rt, case_id).get(name) for name in steps} == dict.fromkeys(steps, 1)
    finally:
        empty(rt)


def test_a_redis_outage_at_click_time_loses_nothing(any_store_settings: Settings, tmp_path: Path) -> None:
    """Redis is down: the clicks are answered 200 all the same (the web never talks to Redis), the
    dispatcher's hand-over fails after its commit, and once Redis is back (empty) the sweeper
    enqueues the steps and each runs once."""
    redis = PrivateRedis()
    redis.start()
    rt, client = _runtime(any_store_settings.with_overrides(redis_url=redis.url, queue_name="click-outage"), tmp_path)
    try:
        case_id = escalate(rt, client)
        redis.stop()
        _win_and_lose(rt, case_id)
        steps = _click_steps(rt, case_id)
        assert len(steps) == 4 and {status for _, status in steps.values()} == {click_rows.HANDOVER}
        with pytest.raises(RedisConnectionError):
            handover.dispatch(rt)
        assert {status for _, status in _click_steps(rt, case_id).values()} == {"pending"}  # handed over, not queued
        redis.start()  # empty: nothing of before the outage survives in it
        assert handover.dispatch(rt) == 0  # taken once: only the sweeper brings them back
        assert handover.sweep(rt) >= 4
        work(rt)
        assert {name: status for name, (_, status) in _click_steps(rt, case_id).items()} == dict.fromkeys(steps, "done")
        assert {name: _runs(rt, case_id).get(name) for name in steps} == dict.fromkeys(steps, 1)
    finally:
        redis.stop()


def test_steps_a_web_process_left_are_handed_over_by_a_later_dispatcher(rq_any_store: Settings, tmp_path: Path) -> None:
    """A web process that dies right after a click's commit leaves nothing to do but the dispatcher's
    pass: another process (a fresh runtime) hands the steps over, once, and they run once."""
    rt, client = _runtime(rq_any_store, tmp_path)
    try:
        case_id = escalate(rt, client)
        _win_and_lose(rt, case_id)
        rt.store.engine.dispose()
        later = Runtime.build(rt.settings)
        assert handover.dispatch(later) == 4
        work(later)
        steps = _click_steps(later, case_id)
        assert {name: status for name, (_, status) in steps.items()} == dict.fromkeys(steps, "done")
        assert {name: _runs(later, case_id).get(name) for name in steps} == dict.fromkeys(steps, 1)
    finally:
        empty(rt)


def test_steps_left_for_a_dispatcher_run_once_when_the_bridge_drops_rq(rq_any_store: Settings, tmp_path: Path) -> None:
    """Clicks under RQ write their steps for the dispatcher. A deployment that then drops Redis runs
    the in-process runner, which has no dispatcher: it finds those steps due, and each runs once."""
    from bridge.worker.runner import run_due

    rt, client = _runtime(rq_any_store, tmp_path)
    try:
        case_id = escalate(rt, client)
        _win_and_lose(rt, case_id)
        steps = _click_steps(rt, case_id)
        assert {status for _, status in steps.values()} == {click_rows.HANDOVER}
    finally:
        empty(rt)
    rt.store.engine.dispose()
    in_process = Runtime.build(rt.settings.with_overrides(redis_url=""))
    assert not isinstance(in_process.queue, RQQueue)
    run_due(in_process)
    assert {name: status for name, (_, status) in _click_steps(in_process, case_id).items()} == dict.fromkeys(
        steps, "done")
    assert {name: _runs(in_process, case_id).get(name) for name in steps} == dict.fromkeys(steps, 1)
    assert handover.release_handed_over(in_process) == 0

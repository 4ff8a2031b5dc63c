"""The in-process runner (no REDIS_URL): one slow job holds one thread, never every case (issue 20)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.runtime import Runtime
from bridge.store.models import DeliveryRow
from bridge.worker import jobs
from bridge.worker.runner import Runner
from tests.helpers import dumps, generic_event, signed_headers


def post(client: FlaskClient, conversation: str) -> str:
    body = dumps(generic_event(conversation_id=conversation))
    response = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert response.status_code == 202
    return str(response.get_json()["case"])


def wait_for(check: Any, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_stuck_delivery_does_not_stall_the_other_cases(client: FlaskClient, rt: Runtime,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    slow_case = post(client, "conv-slow")  # first in, so its steps are first in line
    fast_case = post(client, "conv-fast")
    gate, stuck = threading.Event(), threading.Event()
    real = jobs.deliver

    def deliver(delivery_id: int, runtime: Runtime | None = None) -> str:
        with rt.store.session() as s:
            row = s.get(DeliveryRow, delivery_id)
            case_id = row.case_id if row else None
        if case_id == slow_case:
            stuck.set()
            gate.wait(20)  # an evidence host or a vendor that takes its time
        return real(delivery_id, runtime)

    monkeypatch.setattr(jobs, "deliver", deliver)
    runner = Runner(rt, poll_seconds=0.05, threads=2)
    runner.start()
    try:
        assert wait_for(stuck.is_set, 10), "the slow case's first step never started"
        ticket = rt.settings.outbox_dir / fast_case / "zendesk.ticket.json"
        assert wait_for(ticket.exists, 10), "the other case waited behind the stuck step"
        assert not (rt.settings.outbox_dir / slow_case / "zendesk.ticket.json").exists()
        gate.set()
        assert wait_for((rt.settings.outbox_dir / slow_case / "zendesk.ticket.json").exists, 10)
    finally:
        gate.set()
        runner.stop()


def test_a_job_is_never_handed_out_twice_while_it_runs(client: FlaskClient, rt: Runtime,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    post(client, "conv-once")
    gate = threading.Event()
    started: list[str] = []
    real = jobs.process_event

    def process_event(key: str, runtime: Runtime | None = None) -> str:
        started.append(key)
        gate.wait(5)
        return real(key, runtime)

    monkeypatch.setattr(jobs, "process_event", process_event)
    runner = Runner(rt, poll_seconds=0.05, threads=3)
    try:
        assert runner.dispatch() == 1
        assert wait_for(lambda: started, 5)
        assert runner.dispatch() == 0 and runner.running() == 1  # still due (unclaimed), but running
    finally:
        gate.set()
        runner.stop()
    assert len(started) == 1


def test_a_slow_purge_does_not_hold_up_the_cases(client: FlaskClient, rt: Runtime,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The hourly retention purge scans every old case; on a big store it takes a while. It used to
    # run on the dispatch thread, right after the first pass: the event picked up by that pass was
    # processed, and the deliveries it planned waited until the purge was over.
    from bridge.worker import privacy

    gate, purging = threading.Event(), threading.Event()

    def slow_purge(runtime: Runtime, days: int) -> privacy.Report:
        purging.set()
        gate.wait(20)
        return privacy.Report()

    monkeypatch.setattr(privacy, "purge", slow_purge)
    case = post(client, "conv-during-purge")
    runner = Runner(rt, poll_seconds=0.05, threads=2)
    runner.start()
    try:
        assert wait_for(purging.is_set, 10), "the purge never started"
        ticket = rt.settings.outbox_dir / case / "zendesk.ticket.json"
        assert wait_for(ticket.exists, 10), "the case's deliveries waited for the purge"
        assert not gate.is_set() and not runner.stalled()
    finally:
        gate.set()
        runner.stop()


def test_the_purge_runs_once_an_hour_and_never_twice_at_once(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.worker import privacy

    gate, calls = threading.Event(), []

    def purge(runtime: Runtime, days: int) -> privacy.Report:
        calls.append(days)
        gate.wait(10)
        return privacy.Report()

    monkeypatch.setattr(privacy, "purge", purge)
    runner = Runner(rt, poll_seconds=0.05, threads=2)
    try:
        assert runner.purge_if_due(now=10_000.0)
        assert not runner.purge_if_due(now=10_001.0)  # within the hour
        assert not runner.purge_if_due(now=20_000.0)  # an hour on, but the first is still running
        gate.set()
        assert wait_for(lambda: runner.running() == 0, 5)
        assert runner.purge_if_due(now=20_000.0)
        assert wait_for(lambda: len(calls) == 2, 5)
    finally:
        gate.set()
        runner.stop()


def test_a_job_the_pool_refuses_is_offered_again(client: FlaskClient, rt: Runtime) -> None:
    from concurrent.futures import ThreadPoolExecutor

    post(client, "conv-refused")
    runner = Runner(rt, poll_seconds=0.05, threads=2)
    runner._pool.shutdown()  # "cannot schedule new futures after shutdown"
    assert runner.dispatch() == 0
    assert runner.running() == 0  # not believed to be running, so not lost
    runner._pool = ThreadPoolExecutor(2)
    try:
        assert runner.dispatch() == 1
    finally:
        runner.stop()


def test_readiness_tells_a_stalled_runner_from_a_stopped_one(app: Any, rt: Runtime) -> None:
    runner = Runner(rt, poll_seconds=0.05)
    assert not runner.stalled()
    assert runner.stalled(now=time.monotonic() + 31)
    app.extensions["bridge.runner"] = runner
    client = app.test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.get_json()["checks"]["scheduler"] == "in-process worker stopped"
    runner.start()
    try:
        assert wait_for(lambda: client.get("/readyz").status_code == 200, 5)
        runner._last_pass -= 60  # as if the dispatch thread had been stuck for a minute
        runner.poll_seconds = 30  # ... and stays so for this check
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.get_json()["checks"]["scheduler"].startswith("in-process worker stalled")
    finally:
        runner.stop()


def test_stop_lets_a_running_job_finish_and_gives_up_at_its_deadline(client: FlaskClient, rt: Runtime,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`bridge serve` on SIGTERM: the step being delivered finishes and is recorded (instead of
    holding its claim until the lease runs out); one that outlasts the grace is left to its lease."""
    case = post(client, "conv-stop")
    started, gate = threading.Event(), threading.Event()
    real = jobs.deliver

    def deliver(delivery_id: int, runtime: Runtime | None = None) -> str:
        started.set()
        gate.wait(20)
        return real(delivery_id, runtime)

    monkeypatch.setattr(jobs, "deliver", deliver)
    runner = Runner(rt, poll_seconds=0.05, threads=1)
    runner.start()
    assert wait_for(started.is_set, 10)
    threading.Timer(0.5, gate.set).start()
    assert runner.stop(timeout=10) is True  # waited for the step
    with rt.store.session() as s:
        rows = [(row.status, row.claimed_until) for row in s.query(DeliveryRow).filter_by(case_id=case)]
    assert any(status == "done" for status, _ in rows)
    assert all(claimed is None for _, claimed in rows), rows  # no claim left to expire

    other = post(client, "conv-stop-2")
    started.clear()
    gate.clear()
    runner = Runner(rt, poll_seconds=0.05, threads=1)
    runner.start()
    assert wait_for(started.is_set, 10)
    began = time.monotonic()
    assert runner.stop(timeout=0.5) is False  # the grace ran out with the step still running
    assert time.monotonic() - began < 5
    gate.set()
    assert other


def test_the_runner_keeps_the_recovery_figures_metrics_shows(client: FlaskClient, rt: Runtime,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process worker (``bridge serve``) refreshes ``/metrics``' recovery figures once a
    minute on its pool; the scrape reads them, and shows their age."""
    from bridge.metrics import snapshot
    from bridge.store import metrics_repo

    refreshes: list[float] = []
    real = snapshot.refresh

    def counted(runtime: Runtime, *args: Any, **kwargs: Any) -> bool:
        refreshes.append(time.monotonic())
        return real(runtime, *args, **kwargs)

    monkeypatch.setattr(snapshot, "refresh", counted)
    assert "bridge_recovery{" not in client.get("/metrics").get_data(as_text=True)
    post(client, "conv-figures")
    runner = Runner(rt, poll_seconds=0.05, threads=2)
    runner.start()
    try:
        def kept() -> bool:
            with rt.store.engine.connect() as conn:
                return metrics_repo.read_snapshot(conn, snapshot.name(snapshot.WINDOW)) is not None

        assert wait_for(kept, 10), "the runner never kept the figures"
        time.sleep(0.3)  # several dispatch passes
        assert len(refreshes) == 1  # once a minute, not once a pass
        assert not runner.snapshot_if_due(now=refreshes[0] + 30)
        assert runner.snapshot_if_due(now=time.monotonic() + snapshot.EVERY)
        assert wait_for(lambda: len(refreshes) == 2 and runner.running() == 0, 5)
    finally:
        runner.stop()
    text = client.get("/metrics").get_data(as_text=True)
    assert 'bridge_recovery{metric="conversations",window="30d"}' in text
    assert 'bridge_recovery_snapshot_age_seconds{window="30d"}' in text

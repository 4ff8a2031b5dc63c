"""The in-process runner (no REDIS_URL): one slow job holds one thread, never every case (issue 20)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge import jobs
from bridge.runner import Runner
from bridge.runtime import Runtime
from bridge.store.models import DeliveryRow
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

"""The dispatcher process's loop: dispatching never waits for the hourly purge."""

from __future__ import annotations

import threading
import time

import pytest

from bridge.config import Settings
from bridge.queue import RQQueue, job_id
from bridge.runtime import Runtime
from bridge.store import db
from bridge.store.migrate import upgrade
from bridge.worker import privacy
from bridge.worker.dispatcher import Dispatcher
from tests.helpers import generic_event, run_dispatcher_until
from tests.test_rq import empty, post


def test_a_slow_purge_does_not_hold_up_dispatching(rq_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "_synchronous", db._synchronous)  # the dispatcher relaxes it for its process
    monkeypatch.setattr(db, "_cache_kib", db._cache_kib)
    gate, purging = threading.Event(), threading.Event()

    def slow_purge(runtime: Runtime, days: int) -> privacy.Report:
        purging.set()
        gate.wait(20)  # an hour's old cases scrubbed on a big store
        return privacy.Report()

    monkeypatch.setattr(privacy, "purge", slow_purge)
    rt = Runtime.build(rq_settings)
    upgrade(rt.store)
    assert isinstance(rt.queue, RQQueue)
    dispatcher = Dispatcher(rq_settings)
    expected = []

    def watch() -> None:
        end = time.monotonic() + 15
        while time.monotonic() < end and not purging.is_set():
            time.sleep(0.02)
        expected.append(post(rt, generic_event())["event"])  # accepted while the purge runs
        while time.monotonic() < end and not rt.queue.urgent.job_ids:
            time.sleep(0.02)

    try:
        run_dispatcher_until(dispatcher, watch, timeout=5)
        assert purging.is_set() and not gate.is_set()
        assert dispatcher.purging is not None and dispatcher.purging.is_alive()
        assert rt.queue.urgent.job_ids == [job_id(rt.queue.name, "process_event", expected[0])]
        assert not dispatcher.purge_in_background()  # never two purges at once
    finally:
        gate.set()
        empty(rt)
    assert dispatcher.purging is not None
    dispatcher.purging.join(5)
    assert dispatcher.purge_in_background()  # the next hour's purge may start once the last one ended
    dispatcher.purging.join(5)

"""Infrastructure faults (issue 22, item 7): slow-loris senders, a full disk, wall-clock jumps,
PostgreSQL cut off in the middle of a batch, SIGTERM during a batch. Same deployment as the rest of
the suite (gunicorn as the Procfile runs it, ``bridge worker``, a private Redis, PostgreSQL), and
the same balance at the end: every accepted event delivered once or a visible dead letter.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.faults.conftest import case
from tests.faults.harness import Bridge, event
from tests.faults.infra import SlowClient, TcpProxy
from tests.faults.stubs import Act
from tests.faults.test_faults import finish
from tests.helpers import generic_event

pytestmark = pytest.mark.faults


# --- slow-loris ---------------------------------------------------------------------------------

@pytest.mark.parametrize("part", ["headers", "body"])
@case("SL1", "slow-loris: 6 connections (3× the web processes) trickle a webhook one byte every 0.5 s",
      "other senders' webhooks and /healthz are answered meanwhile (2xx within their 10 s timeout) and "
      "delivered once; the server drops each slow connection after its read deadline")
def test_slow_loris_does_not_hold_the_web_process(make_bridge: Any, observed: list[str], part: str) -> None:
    bridge = make_bridge(workers=1, BRIDGE_REQUEST_READ_TIMEOUT="3")
    observed.append(f"fault: slow-loris on the request {part}: 6 connections (3× the web processes) send one "
                    f"byte every 0.5 s")
    slow = [SlowClient(bridge.port, body=part == "body").start() for _ in range(6)]
    try:
        time.sleep(1.0)  # every slow connection is accepted and trickling
        sent = [bridge.post(event(), timeout=10) for _ in range(3)]
        try:
            health = requests.get(f"http://127.0.0.1:{bridge.port}/healthz", timeout=10).status_code
        except requests.RequestException as exc:
            health = type(exc).__name__
        observed.append(f"while trickled: webhooks {[s.status for s in sent]}, /healthz {health}")
        deadline = time.monotonic() + 30
        while any(c.closed_after is None for c in slow) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for c in slow:
            c.close()
    dropped = sorted(round(c.closed_after, 1) for c in slow if c.closed_after is not None)
    observed.append(f"slow connections dropped by the server: {len(dropped)} of 6 (after {dropped} s)")
    assert [s.status for s in sent] == [202, 202, 202] and health == 200
    assert len(dropped) == 6
    assert all(c.sent < 100 for c in slow)  # none got its request through
    finish(bridge, observed, timeout=30)


# --- PostgreSQL cut off, SIGTERM: in the middle of a batch ---------------------------------------

@pytest.fixture
def proxied_pg() -> Any:
    """A fresh schema of the test PostgreSQL and a TCP proxy in front of it that the test can cut:
    (direct URL for the test's own reads, URL through the proxy for the deployment, the proxy)."""
    from tests.conftest import POSTGRES_TEST_URL, require_service
    from tests.faults.conftest import _drop_schemas, _pg_schema

    require_service("PostgreSQL", POSTGRES_TEST_URL, 5432)
    direct = _pg_schema()
    proxy = TcpProxy(("127.0.0.1", 5432))
    assert "@127.0.0.1:5432/" in direct
    yield direct, direct.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"), proxy
    proxy.stop()
    _drop_schemas([direct])


def routine(n: int) -> list[dict[str, Any]]:
    """Conversation updates nobody needs to see (judged in batches on the routine queue)."""
    return [generic_event(type_="conversation.updated", conversation_id=f"conv-{uuid.uuid4().hex[:10]}",
                          messages=[{"id": "m1", "role": "customer", "text": "Hello, how do I export?"}])
            for _ in range(n)]


def inbox(bridge: Bridge, keys: set[str]) -> dict[str, tuple[str, int]]:
    from sqlalchemy import select

    from bridge.store.models import InboxRow

    with bridge.store.session() as s:
        return {k: (st, int(a)) for k, st, a in s.execute(select(InboxRow.key, InboxRow.state, InboxRow.attempts))
                if k in keys}


def opened(bridge: Bridge, cases: set[str]) -> dict[str, int]:
    """``case.opened`` timeline entries per case (a row folded twice would open or fold it twice)."""
    from sqlalchemy import func, select

    from bridge.store.models import TimelineRow

    with bridge.store.session() as s:
        rows = s.execute(select(TimelineRow.case_id, func.count()).where(TimelineRow.kind == "case.opened")
                         .group_by(TimelineRow.case_id))
        return {c: int(n) for c, n in rows if c in cases}


def wait_mid_batch(bridge: Bridge, keys: set[str], timeout: float = 60) -> int:
    """Until some of ``keys`` are processed but not all; returns how many were."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(1 for st, _ in inbox(bridge, keys).values() if st == "processed")
        if 0 < done < len(keys):
            return done
        assert done < len(keys), "the batch finished before the fault could be injected"
        time.sleep(0.01)
    raise AssertionError("the batch never started")


def wait_all_processed(bridge: Bridge, keys: set[str], timeout: float = 60) -> dict[str, tuple[str, int]]:
    deadline = time.monotonic() + timeout
    rows = inbox(bridge, keys)
    while time.monotonic() < deadline and any(st != "processed" for st, _ in rows.values()):
        time.sleep(0.3)
        rows = inbox(bridge, keys)
    return rows


def queue_batch(bridge: Bridge, n: int = 60) -> tuple[set[str], set[str]]:
    """``n`` routine updates accepted while no worker runs, so one worker's dispatcher hands them
    to a single ``process_events`` batch; returns (inbox keys, cases)."""
    sent = bridge.post_many(routine(n), threads=6)
    assert all(s.status == 202 for s in sent), [s.status for s in sent]
    return {s.key for s in sent if s.key}, {s.case for s in sent if s.case}


def check_once(bridge: Bridge, observed: list[str], keys: set[str], cases: set[str]) -> None:
    rows = wait_all_processed(bridge, keys)
    states = sorted({st for st, _ in rows.values()})
    attempts = sorted(a for _, a in rows.values())
    counts = opened(bridge, cases)
    observed.append(f"batch rows: {len(rows)} {states}, attempts max {attempts[-1]}, "
                    f"{sum(a > 1 for a in attempts)} retried; cases opened once: "
                    f"{sum(n == 1 for n in counts.values())} of {len(cases)}")
    assert states == ["processed"] and len(rows) == len(keys)
    assert counts == dict.fromkeys(cases, 1)


@case("PG-cut-batch", "PostgreSQL cut off (a TCP proxy in front of it resets every connection and refuses new "
      "ones) for 3 s while a worker folds a batch of 60 routine updates; 3 webhooks arrive during the cut",
      "intake answers 503 while cut (never 2xx without a row); the batch's rows are retried after their lease "
      "and each is folded exactly once (one case.opened per conversation); the handoffs resent afterwards are "
      "delivered once")
def test_postgres_cut_mid_batch(proxied_pg: Any, make_bridge: Any, observed: list[str]) -> None:
    direct, through, proxy = proxied_pg
    bridge = make_bridge(database_url=through, workers=0)
    bridge.database_url = direct  # the test reads the store past the proxy
    keys, cases = queue_batch(bridge)
    bridge.wait_worker_ready(bridge.start_worker())
    at_cut = wait_mid_batch(bridge, keys)
    cut = proxy.cut()
    late = [event() for _ in range(3)]
    during = [bridge.post(e, timeout=15) for e in late]
    time.sleep(3)
    proxy.restore()
    observed.append(f"cut with {at_cut} of {len(keys)} folded ({cut} connections reset); answers while cut: "
                    f"{[s.status for s in during]}")
    assert all(s.status == 503 for s in during)
    resent = [bridge.post(e) for e in late]
    assert all(s.status == 202 for s in resent)
    check_once(bridge, observed, keys, cases)
    bridge.scope = {s.case for s in resent if s.case}
    finish(bridge, observed, timeout=60)


@case("PG-cut-commit", "PostgreSQL cut off for 3 s right after Zendesk created the ticket (from the stub's create "
      "handler), before the job records it",
      "the job's record fails with the store; after the lease the retry finds the ticket by external_id: one "
      "ticket, one alert")
def test_postgres_cut_between_effect_and_record(proxied_pg: Any, make_bridge: Any, observed: list[str]) -> None:
    direct, through, proxy = proxied_pg
    bridge = make_bridge(database_url=through, workers=1)
    bridge.database_url = direct

    def cut(handler: Any) -> None:
        proxy.cut()
        threading.Timer(3, proxy.restore).start()

    bridge.zendesk.program("tickets.create", Act(on_commit=cut))
    sent = bridge.post(event())
    assert sent.status == 202
    finish(bridge, observed, timeout=60)
    creates = bridge.zendesk.count("tickets.create")
    observed.append(f"ticket creates sent: {creates}; proxy cuts: {proxy.cuts}")
    assert proxy.cuts == 1 and creates == 1


@pytest.mark.parametrize("signals", [1, 2])
@case("TERM-batch", "SIGTERM to `bridge worker` while its job process folds a batch of 60 routine updates (once: "
      "warm; twice: cold, the job process is killed); a second worker is started afterwards",
      "warm: the batch finishes (or hands its rest to a new batch job) and the worker exits; cold: the rows "
      "left behind are swept to the other worker after their lease; every row folded exactly once")
def test_sigterm_during_a_batch(make_bridge: Any, observed: list[str], signals: int) -> None:
    bridge = make_bridge(workers=0)
    keys, cases = queue_batch(bridge)
    first = bridge.start_worker()
    bridge.wait_worker_ready(first)
    at_signal = wait_mid_batch(bridge, keys)
    for _ in range(signals):
        os.kill(first.pid, signal.SIGTERM)
        time.sleep(0.3)
    first.wait(30)
    observed.append(f"SIGTERM×{signals} with {at_signal} of {len(keys)} folded; worker exit code {first.returncode}")
    bridge.wait_worker_ready(bridge.start_worker())
    check_once(bridge, observed, keys, cases)
    assert first.returncode == 0


@case("TERM-web", "SIGTERM to gunicorn (the Procfile's web process, as a platform does on deploy) while 30 "
      "webhooks arrive from 10 threads; the web process is started again and the sender resends what got no 2xx",
      "requests in flight are answered, later ones are refused at connect (never a 2xx for an event not "
      "stored); every 2xx'd event is stored; after the resend every event is delivered once")
def test_sigterm_to_the_web_process(make_bridge: Any, observed: list[str]) -> None:
    bridge = make_bridge(workers=1)
    events = [event() for _ in range(30)]
    results: list[Any] = [None] * len(events)

    def send(i: int) -> None:
        if i == 8:
            assert bridge.web is not None
            os.kill(bridge.web.pid, signal.SIGTERM)
        results[i] = bridge.post(events[i], timeout=15)

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(send, range(len(events))))
    assert bridge.web is not None and bridge.web.wait(40) == 0
    acked = [r for r in results if 200 <= r.status < 300]
    stored = bridge.states({r.case for r in acked})
    errors = sorted({r.error for r in results if r.error})
    observed.append(f"answers around the SIGTERM: {len(acked)}×2xx, "
                    f"{sum(1 for r in results if r.status == 0)}× no answer {errors}, "
                    f"{sum(1 for r in results if r.status >= 300)}× other; 2xx'd events stored: "
                    f"{sum(1 for st in stored.values() if st)} of {len(acked)}")
    assert all(r.status == 0 or 200 <= r.status < 300 for r in results)
    assert all(stored[r.case] for r in acked)
    bridge.web, bridge.port = bridge.spawn_web("web-2")
    bridge.wait_web()
    resent = [bridge.post(e) for e, r in zip(events, results, strict=True) if not 200 <= r.status < 300]
    assert all(s.status == 202 for s in resent)
    finish(bridge, observed, timeout=60)

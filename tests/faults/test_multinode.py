"""The multi-node run (issue 22, item 5): two web instances (the Procfile's gunicorn, each on its own
port) behind a loopback round-robin balancer, three ``bridge worker`` processes, one PostgreSQL and
one Redis, Zendesk, Slack and Jira stubs answering a random fault every second or so; in the middle
of the run one web instance and one worker (supervisor and job process, right after Zendesk made a
ticket for it) are killed with SIGKILL and not replaced. On its way down the web instance's last
three answers are lost (the balancer resets the senders' connections once the instance has stored
their events: their retries must be duplicates), then it stops answering for 1.5 s (SIGSTOP:
requests pile up on it unread) and is killed with them.

Senders behave like platforms: every event is delivered with one webhook id, retried with backoff
after a connection error or a 5xx. The run must end with every acknowledged event stored and
**accepted = delivered once + dead-lettered**: no ticket, alert or Jira bug made twice, none lost.

Size: ``FAULTS_MULTINODE_EVENTS`` (default 200, part of ``pytest -m faults``; the full run is 2,000),
sent at ``FAULTS_MULTINODE_RATE`` events per second (default 8); ``FAULTS_SEED`` repeats a run.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.faults.conftest import case
from tests.faults.harness import Bridge, Sent, alive, event
from tests.faults.infra import TcpProxy
from tests.faults.stubs import Act
from tests.faults.test_faults import _kill_caller, finish
from tests.faults.test_jira_faults import bug_report, new_bug

pytestmark = pytest.mark.faults

EVENTS = int(os.environ.get("FAULTS_MULTINODE_EVENTS", "200"))
RATE = float(os.environ.get("FAULTS_MULTINODE_RATE", "8"))
BUG_SHARE = 0.2  # of the events, bug reports (ticket, alert and a Jira bug); the rest ticket and alert
KILL_AT = 0.4  # the kills come once this share of the events is acknowledged
LOST_ANSWERS = 3  # the doomed web instance's last answers, lost on the way back: stored, never acknowledged
FREEZE = 1.5  # seconds the doomed web instance hangs (SIGSTOP) before its SIGKILL: requests pile up on it

# name → (stub, operation, one-shot answers): the programmable stubs' faults, one drawn at a time.
VENDOR_FAULTS: dict[str, tuple[str, str, list[Act]]] = {
    "zendesk 429": ("zendesk", "tickets.create", [Act(status=429, headers={"Retry-After": "1"})]),
    "zendesk 503, 502": ("zendesk", "tickets.create", [Act(status=503), Act(status=502)]),
    "zendesk hang": ("zendesk", "tickets.create", [Act(hang=8)]),
    "zendesk garbage 200": ("zendesk", "tickets.create", [Act(garbage=True)]),
    "zendesk commit-then-reset": ("zendesk", "tickets.create", [Act(drop_after_commit=True)]),
    "slack 429": ("slack", "chat.postMessage", [Act(status=429, headers={"Retry-After": "1.5"})]),
    "slack 500": ("slack", "chat.postMessage", [Act(status=500)]),
    "slack hang": ("slack", "chat.postMessage", [Act(hang=8)]),
    "slack garbage 200": ("slack", "chat.postMessage", [Act(garbage=True)]),
    "jira 429": ("jira", "issue.create", [Act(status=429, headers={"Retry-After": "1"})]),
    "jira 503": ("jira", "issue.create", [Act(status=503)]),
    "jira hang": ("jira", "issue.create", [Act(hang=8)]),
    "jira garbage 200": ("jira", "issue.create", [Act(garbage=True)]),
}


def inject(bridge: Bridge, name: str) -> None:
    stub, op, acts = VENDOR_FAULTS[name]
    getattr(bridge, stub).program(op, *acts)


def stored_keys(bridge: Bridge, keys: set[str]) -> set[str]:
    """Which of ``keys`` the store holds an inbox row for."""
    from sqlalchemy import select

    from bridge.store.models import InboxRow

    with bridge.store.session() as s:
        return {k for k in s.scalars(select(InboxRow.key)) if k in keys}


def answers(sent: list[Sent]) -> str:
    """The answers the senders saw, by kind (200 is a duplicate: the event was already stored)."""
    kinds = {"202": 0, "200 duplicate": 0, "5xx": 0, "no answer": 0, "other": 0}
    for s in sent:
        kind = {202: "202", 200: "200 duplicate", 0: "no answer"}.get(s.status, "5xx" if s.status >= 500 else "other")
        kinds[kind] += 1
    return ", ".join(f"{n}× {kind}" for kind, n in kinds.items() if n)


@case("MULTI", "two web instances (Procfile gunicorn) behind a round-robin balancer, three `bridge worker`s, one "
      "PostgreSQL and Redis; 200 events (FAULTS_MULTINODE_EVENTS; 2,000 in the full run), a fifth of them bug "
      "reports; a random vendor fault about every second (Zendesk, Slack, Jira: 429, 5xx, hang, garbage 200, "
      "commit-then-reset); at 40 % one web instance and one worker die and are not replaced: the web instance's last 3 "
      "answers are lost on the way back, it hangs 1.5 s (SIGSTOP) with requests piling up, then SIGKILL; the worker "
      "(supervisor and job process) gets SIGKILL right after Zendesk made a ticket for it",
      "senders retry connection errors and 5xx with the same webhook id; every event they got a 2xx for is "
      "stored; accepted = delivered once + dead-lettered: no ticket, alert or Jira bug made twice, none lost")
def test_two_nodes_lose_a_web_and_a_worker_and_balance(make_bridge: Any, observed: list[str]) -> None:
    seed = int(os.environ.get("FAULTS_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    bridge = make_bridge(workers=3, jira=True)
    web_b, port_b = bridge.spawn_web("web-b")
    bridge.wait_web(web_b, port_b)
    web_a = bridge.web
    assert web_a is not None
    balancer = TcpProxy(("127.0.0.1", bridge.port), ("127.0.0.1", port_b))
    bridge.port = balancer.port  # every sender goes through the balancer
    events = [bug_report(new_bug()) if rng.random() < BUG_SHARE else event() for _ in range(EVENTS)]
    acked = 0
    lock = threading.Lock()
    sending = threading.Event()
    injected: list[str] = []
    kills: list[str] = []

    def chaos() -> None:
        killed = False
        while not sending.wait(rng.uniform(0.5, 1.5)):
            name = rng.choice(sorted(VENDOR_FAULTS))
            injected.append(name)
            inject(bridge, name)
            if not killed and acked >= KILL_AT * EVENTS:
                killed = True
                bridge.zendesk.program("tickets.create", Act(on_commit=_kill_caller(bridge, "both", kills)))
                at = acked
                balancer.lose_answers(0, LOST_ANSWERS)
                deadline = time.monotonic() + 10
                while balancer.lost < LOST_ANSWERS and time.monotonic() < deadline:
                    time.sleep(0.01)
                os.killpg(web_a.pid, signal.SIGSTOP)
                time.sleep(FREEZE)
                os.killpg(web_a.pid, signal.SIGKILL)
                kills.append(f"killed web instance {web_a.pid} with {at} of {EVENTS} events acknowledged "
                             f"({balancer.lost} answers lost on the way, then {FREEZE} s stopped)")

    def send(i: int) -> Sent:
        nonlocal acked
        pause = started + i / RATE - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        last = bridge.deliver(events[i])
        if 200 <= last.status < 300:
            with lock:
                acked += 1
        return last

    chaos_thread = threading.Thread(target=chaos, daemon=True)
    started = time.monotonic()
    chaos_thread.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            last = list(pool.map(send, range(EVENTS)))
    finally:
        sending.set()
        chaos_thread.join(10)
        balancer.stop()
    took = time.monotonic() - started
    gave_up = [s for s in last if not 200 <= s.status < 300]
    acked_keys = {s.key for s in bridge.sent if 200 <= s.status < 300 and s.key}
    stored = stored_keys(bridge, acked_keys)
    counts = {name: injected.count(name) for name in sorted(set(injected))}
    observed += [
        f"seed {seed}; {EVENTS} events ({sum('evidence' in e for e in events)} bug reports) in {took:.0f} s; "
        f"{len(bridge.sent)} requests: {answers(bridge.sent)}; balancer forwarded {balancer.forwarded}",
        f"events acknowledged {EVENTS - len(gave_up)} of {EVENTS}; 2xx'd events stored: {len(stored)} of "
        f"{len(acked_keys)}",
        f"faults injected: {counts}", *kills,
    ]
    print(f"\nMULTI seed {seed}: " + "; ".join(observed))
    assert any(k.startswith("killed both") for k in kills), kills  # the worker was killed mid-create
    assert not alive(web_a.pid)
    assert stored == acked_keys, sorted(acked_keys - stored)[:5]
    assert balancer.lost == LOST_ANSWERS and sum(s.status == 200 for s in last) >= 1  # retried: duplicates
    assert not gave_up, answers(gave_up)  # one web instance stayed up: every sender got through
    settling = time.monotonic()
    tally = bridge.wait_settled(timeout=float(os.environ.get("FAULTS_SETTLE_SECONDS", "240")))
    settled = f"{time.monotonic() - settling:.0f} s after the last event"
    letters = [d for d in bridge.dead_letters() if d["case"] in bridge.accepted_cases()] if tally.dead else []
    dead = [d["kind"] for d in letters]
    kinds = {k: dead.count(k) for k in sorted(set(dead))}
    print(f"MULTI settled {settled}; dead letters {kinds}")
    for d in letters:
        print(f"  dead {d['kind']} attempts={d['attempts']} {d['last_error'][:300]!r}")
    finish(bridge, observed, timeout=5, settled=settled, dead_letters=kinds)

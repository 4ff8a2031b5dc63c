"""Infrastructure faults (issue 22, item 7): slow-loris senders, a full disk, wall-clock jumps,
PostgreSQL cut off in the middle of a batch, SIGTERM during a batch. Same deployment as the rest of
the suite (gunicorn as the Procfile runs it, ``bridge worker``, a private Redis, PostgreSQL), and
the same balance at the end: every accepted event delivered once or a visible dead letter.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.faults.conftest import case
from tests.faults.harness import event
from tests.faults.infra import SlowClient
from tests.faults.test_faults import finish

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

"""Time from POST to dry-run outbox files on a real `bridge serve` (embedded defaults).

Usage: .venv/bin/python bench/handoff_latency.py [N]   (loopback only, bounded: N events, 30 s cap)
Prints ack latency (POST → 202) and handoff latency (POST → zendesk.ticket + slack.alert files).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bridge.signing import sign_standard_webhook  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(n: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "GENERIC_WEBHOOK_SECRET")}
    env["BRIDGE_DATA_DIR"] = str(work / "var")
    bridge = Path(sys.executable).with_name("bridge")
    proc = subprocess.Popen([str(bridge), "serve", "--port", str(port)], env=env, cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    acks: list[float] = []
    handoffs: list[float] = []
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                requests.get(f"{base}/readyz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        secret = (work / "var" / "generic-webhook-secret").read_text().strip()
        session = requests.Session()
        for i in range(n):
            if time.monotonic() > deadline:
                break
            event = {"event_id": f"bench-{i}", "type": "handoff.requested", "conversation": {
                "id": f"bench-conv-{i}", "messages": [{"role": "customer", "text": "I need a person, please"}]}}
            body = json.dumps(event).encode()
            mid, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
            headers = {"Content-Type": "application/json", "webhook-id": mid, "webhook-timestamp": str(ts),
                       "webhook-signature": sign_standard_webhook(body, mid, ts, secret)}
            start = time.perf_counter()
            answer = session.post(f"{base}/webhooks/generic", data=body, headers=headers, timeout=5)
            acks.append(time.perf_counter() - start)
            folder = work / "var" / "outbox" / answer.json()["case"]
            while not (folder / "slack.alert.json").exists() or not (folder / "zendesk.ticket.json").exists():
                if time.monotonic() > deadline:
                    raise SystemExit("handoff did not complete within the time cap")
                time.sleep(0.002)
            handoffs.append(time.perf_counter() - start)
    finally:
        proc.terminate()
        proc.wait(10)
    ms = lambda v: f"{v * 1000:.1f} ms"  # noqa: E731
    print(f"events: {len(acks)}")
    print(f"ack (POST → 202):            p50 {ms(statistics.median(acks))}  p95 {ms(pct(acks, 0.95))}  "
          f"max {ms(max(acks))}")
    print(f"handoff (POST → outbox files): p50 {ms(statistics.median(handoffs))}  p95 {ms(pct(handoffs, 0.95))}  "
          f"max {ms(max(handoffs))}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)

"""A hand-off whose customer pasted a log: CPU of the webhook and of the worker's job, by log size.

``python -m bench.pasted [--sizes 1000 10000 50000] [--requests 100] [--jobs 10] [--tree DIR] [--out PATH]``

bench/run's hand-offs (``bench.payloads``) are many short messages, so nothing there reads a long
customer message; a customer who pastes a stack trace sends one. Each size runs in a fresh process
on the embedded defaults (SQLite in a temporary folder; no runner thread: the jobs run here): the
webhook's CPU per request (Flask's test client, signed generic hand-offs, one at a time, after 5
unmeasured), then the CPU of one hand-off job (``jobs.process_event``: judge, package, summary,
routing, dry-run deliveries queued), each on its own conversation, after 2 unmeasured, and the judge
alone (``triggers.decide``) on as many more. The first customer message is a sentence and the log, a
different log in every hand-off; CPU is the process's own (``time.process_time``).
``--tree`` measures another checkout's ``bridge`` (an older commit exported with ``git archive``): it goes
first on the child's ``PYTHONPATH``. Figures go to bench/results/pasted.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "pasted.json"
LINE = 'File "/srv/app/export.py", line {line}, in run_export: ValueError: invoice {n} total mismatch (E-4012)\n'
OPENING = "I want to talk to a human, the export fails every time, see the log:\n"


def message(size: int, seed: int = 0) -> str:
    """The opening sentence and log lines up to ``size`` characters; every line differs (its line and
    invoice numbers), and so does every ``seed``'s log: a pasted log is new text to every cache the
    worker keeps by text or by sentence (the same line over and over measured those caches)."""
    lines, total, k = [OPENING], len(OPENING), 0
    while True:
        line = LINE.format(line=200 + (seed * 7 + k) % 800, n=f"{seed}-{k:05d}")
        if total + len(line) > size and k:
            return "".join(lines)
        lines.append(line)
        total += len(line)
        k += 1


def event(size: int, i: int) -> dict[str, Any]:
    """A hand-off whose first customer turn is ``message(size, i)``."""
    return {"schema_version": 1, "event_id": f"evt-pasted-{size}-{i}", "type": "handoff.requested",
            "occurred_at": "2026-11-28T10:00:00Z", "bot": {"platform": "bench-bot", "name": "Benchmark bot"},
            "conversation": {"id": f"conv-pasted-{size}-{i}", "channel": "web_chat", "language": "en",
                             "messages": [
                                 {"id": "m1", "role": "customer", "text": message(size, i)},
                                 {"id": "m2", "role": "bot", "text": "Sorry about that. Could you try exporting again?"},
                                 {"id": "m3", "role": "customer", "text": "Tried twice. Please get me a person."}]},
            "customer": {"id": "cust-1", "email": "ana.bench@example.com", "name": "Ana Bench", "plan": "business"},
            "handoff": {"requested_by": "customer", "reason": "Customer asked for a person"}}


def measure(size: int, requests: int, jobs: int) -> dict[str, Any]:  # pragma: no cover - runs in a child
    import time

    from bench import payloads  # its webhook secret and signature (bench/run's)
    from bridge import create_app
    from bridge.config import Settings
    from bridge.runtime import Runtime, install
    from bridge.store.migrate import upgrade
    from bridge.worker import jobs as job_functions

    rt = install(Runtime.build(Settings.from_env().with_overrides(webhook_secrets={"generic": (payloads.SECRET,)})))
    upgrade(rt.store)
    client = create_app(rt=rt).test_client()

    def post(i: int) -> str:
        body = json.dumps(event(size, i)).encode()
        answer = client.post("/webhooks/generic", data=body, headers=payloads.signed_headers(body, i, f"p{size}-"))
        assert answer.status_code == 202, answer.get_data(as_text=True)
        return str(answer.get_json()["event"])

    keys = [post(i) for i in range(5)]
    started = time.process_time()
    keys += [post(i) for i in range(5, 5 + requests)]
    webhook_ms = (time.process_time() - started) / requests * 1000
    for key in keys[:2]:
        job_functions.process_event(key, rt)
    measured = keys[2:2 + jobs]
    started = time.process_time()
    for key in measured:
        job_functions.process_event(key, rt)
    job_ms = (time.process_time() - started) / len(measured) * 1000
    # The judge alone (``triggers.decide``, its part of a job) on as many more hand-offs, fresh logs each.
    from bridge.events import Event
    from bridge.pipeline import triggers

    events = [Event.from_json(event(size, 1_000 + i)) for i in range(2 + jobs)]
    for judged in events[:2]:
        triggers.decide(judged)
    started = time.process_time()
    for judged in events[2:]:
        triggers.decide(judged)
    judge_ms = (time.process_time() - started) / jobs * 1000
    return {"size": size, "message_chars": len(message(size)), "webhook_cpu_ms": round(webhook_ms, 2),
            "job_cpu_ms": round(job_ms, 1), "judge_cpu_ms": round(judge_ms, 1), "requests": requests,
            "jobs": len(measured)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=10)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose bridge is measured")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(measure(a.child, a.requests, a.jobs)), flush=True)
        return
    rows = []
    for size in a.sizes:
        with tempfile.TemporaryDirectory(prefix="rb-pasted-") as data:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DATABASE_URL", "REDIS_URL"))}
            env.update(BRIDGE_DATA_DIR=data, PYTHONPATH=os.pathsep.join(dict.fromkeys([str(a.tree), str(ROOT)])))
            done = subprocess.run([sys.executable, __file__, "--child", str(size), "--requests",
                                   str(a.requests), "--jobs", str(a.jobs)], env=env, cwd=ROOT, capture_output=True,
                                  text=True, timeout=900, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    out = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
           "commit": head.strip() if a.tree == ROOT else str(a.tree),
           "load": Path("/proc/loadavg").read_text().split()[0], "rows": rows}
    a.out.parent.mkdir(exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""How long a Slack click's delivery steps take to reach RQ, before and after the dispatcher took over
their enqueue (issue 19, item 5).

``python -m bench.slack_handover [--before REV] [--rounds 2] [--clicks 60] [--gap 0.15]``

At idle, per tree (``--before`` exported with ``git archive``, and the checkout), taking turns: a
fresh process on an empty SQLite store with 50 escalated cases, RQ configured (Redis db 10, a queue
of its own), and the tree's dispatcher in a process of its own (``bridge.worker.dispatcher.run``,
as ``bridge worker`` starts it; no job process, so the jobs stay queued and can be read back). It
imports ``wsgi`` and sends ``--clicks`` signed ``take_case`` clicks through Flask's test client, one
every ``--gap`` seconds plus a jitter (so clicks do not fall in step with the dispatcher's 100 ms
pass); the first click of the process is left out (it pays the view's imports). Per click: the
answer's wall time, and the latency from the click's start to the moment RQ recorded the last of
its steps' jobs as enqueued (``enqueued_at`` in the job's hash, set by whichever process enqueued:
the web before, the dispatcher after); and the steps that never reached RQ (must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import payloads
from bench.harness import ROOT, export, pct, probe, span
from bench.rounds import escalated_cases, seed_cases, slack_pool

RESULTS = Path(__file__).resolve().parent / "results" / "slack-handover.json"
REDIS_URL = os.environ.get("BENCH_HANDOVER_REDIS_URL", "redis://127.0.0.1:6379/10")
SECRET = "bench-slack-signing-secret"
DISPATCHER = "from bridge.config import Settings; from bridge.worker.dispatcher import run; run(Settings.from_env())"


def _requests(path: Path, n: int) -> list[tuple[bytes, dict[str, str]]]:
    pool = slack_pool(path, escalated_cases(), SECRET, n=n)
    raw, out = pool.path.read_bytes(), []
    for i in range(pool.size):
        rec = raw[i * pool.record:(i + 1) * pool.record]
        head, _, data = rec[8:8 + int(rec[:8])].partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        out.append((data, {k: v for k, v in headers.items() if k not in ("Host", "Content-Length")}))
    return out


def _child(src: str, clicks: int, gap: float) -> None:
    """Runs in a fresh process whose ``sys.path`` starts with the tree ``src``."""
    tmp = tempfile.mkdtemp(prefix="rb-sh-")
    queue = f"bench-sh-{uuid.uuid4().hex[:8]}"
    for k in [k for k in os.environ if k.startswith(("DATABASE_URL", "ZENDESK_", "JIRA_", "OPENAI_", "SLACK_BOT"))]:
        del os.environ[k]
    os.environ.update(BRIDGE_DATA_DIR=tmp, GENERIC_WEBHOOK_SECRET=payloads.SECRET, BRIDGE_TIMESTAMP_TOLERANCE="3600",
                      REDIS_URL=REDIS_URL, BRIDGE_QUEUE=queue, SLACK_SIGNING_SECRET=SECRET,
                      PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", "from bridge.cli import main; main()", "db", "upgrade"], check=True,
                   capture_output=True, cwd=src)
    store = Path(tmp) / "bridge.db"
    with sqlite3.connect(store) as db:
        seed_cases(db.execute, datetime.now(UTC).replace(tzinfo=None), "?")
    dispatcher = subprocess.Popen([sys.executable, "-c", DISPATCHER], cwd=src, stdout=subprocess.DEVNULL,
                                  stderr=open(Path(tmp) / "dispatcher.log", "wb"))  # noqa: SIM115
    from redis import Redis
    from rq.utils import utcparse

    from bridge.queue import DELIVER, job_id

    redis = Redis.from_url(REDIS_URL)
    try:
        time.sleep(2.0)  # the dispatcher up and passing
        import wsgi

        client = wsgi.app.test_client()
        reqs = _requests(Path(tmp) / "clicks.bin", clicks + 1)
        seen, last = [], 0
        rng = random.Random(7)
        for i, (data, headers) in enumerate(reqs):
            t0 = time.time()
            assert client.post("/slack/actions", data=data, headers=headers).status_code == 200
            t1 = time.time()
            with sqlite3.connect(store) as db:
                ids = [r[0] for r in db.execute("SELECT id FROM deliveries WHERE id > ? ORDER BY id", (last,))]
            last = max([last, *ids])
            if i:  # the first click of the process pays the view's imports
                seen.append((t0, t1, ids))
            time.sleep(gap + rng.uniform(0, 0.1))
        time.sleep(1.5)
        latency, answer, missing = [], [], 0
        for t0, t1, ids in seen:
            answer.append((t1 - t0) * 1000)
            stamps = [redis.hget(f"rq:job:{job_id(queue, DELIVER, i)}", "enqueued_at") for i in ids]
            missing += sum(1 for s in stamps if s is None)
            got = [utcparse(s.decode()).replace(tzinfo=UTC).timestamp() for s in stamps if s is not None]
            if got and len(got) == len(ids):
                latency.append((max(got) - t0) * 1000)
        print(json.dumps({"clicks": len(seen), "steps": sum(len(ids) for _, _, ids in seen), "missing": missing,
                          "answer_p50": pct(answer, 0.5), "answer_p99": pct(answer, 0.99),
                          "latency_p50": pct(latency, 0.5), "latency_p90": pct(latency, 0.9),
                          "latency_max": max(latency) if latency else float("nan")}))
    finally:
        dispatcher.terminate()
        dispatcher.wait(10)
        keys = list(redis.scan_iter(f"rq:*{queue}*", count=1000))
        if keys:
            redis.delete(*keys)


def _run(src: Path, clicks: int, gap: float) -> dict[str, Any]:
    return probe(__file__, src, f"_child({str(src)!r}, {clicks}, {gap})", timeout=900)


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.slack_handover", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--before", default="main")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clicks", type=int, default=60)
    ap.add_argument("--gap", type=float, default=0.15)
    ap.add_argument("--results", default=str(RESULTS))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rb-sh-src-"))
    rev, old = export(a.before, work)
    out: dict[str, Any] = {"before": rev, "started": datetime.now(UTC).isoformat(), "load_start": _load(),
                           "args": vars(a), "runs": {"before": [], "after": []}}
    for _ in range(a.rounds):
        for variant, src in (("before", old), ("after", ROOT)):
            out["runs"][variant].append(_run(src, a.clicks, a.gap))
            print(variant, json.dumps(out["runs"][variant][-1]), flush=True)
    out["load_end"] = _load()
    results = Path(a.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(out, indent=1) + "\n")
    for variant, runs in out["runs"].items():
        print(f"{variant}: answer p50 {span([r['answer_p50'] for r in runs], '{:.1f}')} ms, click → enqueued p50 "
              f"{span([r['latency_p50'] for r in runs], '{:.1f}')} p90 {span([r['latency_p90'] for r in runs], '{:.1f}')}"
              f" max {span([r['latency_max'] for r in runs], '{:.1f}')} ms, missing "
              f"{sum(r['missing'] for r in runs)} of {sum(r['steps'] for r in runs)}")


if __name__ == "__main__":
    main()

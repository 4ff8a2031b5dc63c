"""The queue worker on a backlog, and where one handoff's time goes (issue 19, item 6).

  python -m bench.drain [--backlog 10000] [--processes 1 2] [--store sqlite|postgres]
  python -m bench.drain --stages [--handoffs 60]

Drain: ``backlog`` signed ``handoff.requested`` events are accepted first (through the app's own
request path, in a helper process, with no worker running); then ``bridge worker --processes K``
(the Procfile's ``worker`` line: supervisor, dispatcher, K job processes) starts and the clock runs
until every event is processed and every step it planned is done against the bench's instant
stub vendors (``bench/stubs.py``; Zendesk through zenpy, Slack through slack-sdk). Measured,
not extrapolated; CPU and peak RSS per process are read from /proc.

Stages: the same handoff run in one process, one job after another as a queue would run them (the
event's job, then every job it or a later job enqueued that is due now, first in first out, each id
once), with a timer around each stage of the chain (the request, each job, and the calls inside
them), reported as ms per handoff; and, counted around the jobs (not the request), jobs, SQL
statements and commits per handoff (SQLAlchemy's engine events).
Results go to ``bench/results/drain.json``; ``python -m bench.report --drain`` renders them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import payloads
from bench.harness import BRIDGE, PY, ROOT, Proc, children, free_port, proc_cpu, rss_mb, wait_http

# The bench's own db (bench/run flushes only it); another db when two benches share the Redis.
REDIS_URL = os.environ.get("BENCH_DRAIN_REDIS_URL", "redis://127.0.0.1:6379/14")
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STEPS = ("zendesk.ticket", "slack.alert")


def vendor_env(stub: str) -> dict[str, str]:
    return {"ZENDESK_URL": stub, "ZENDESK_SUBDOMAIN": "bench", "ZENDESK_EMAIL": "bench@example.com",
            "ZENDESK_API_TOKEN": "bench-token", "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_API_URL": f"{stub}/api/",
            "SLACK_SIGNING_SECRET": "bench-slack-signing", "GENERIC_WEBHOOK_SECRET": payloads.SECRET,
            "BRIDGE_TIMESTAMP_TOLERANCE": "3600"}


def clean_env(**extra: str) -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "ZENDESK_", "SLACK_", "JIRA_", "OPENAI_", "BRIDGE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and not k.endswith("_WEBHOOK_SECRET")}
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------- fill
def fill(n: int, prefix: str) -> None:
    """Accept ``n`` handoffs through the app (run in a helper process with the drain's env)."""
    from bridge import create_app

    client = create_app().test_client()
    template, ts = payloads.event_template(1_500, prefix), int(time.time())
    for i in range(n):
        body = payloads.body_for(template, i, prefix)
        answer = client.post("/webhooks/generic", data=body, headers=payloads.signed_headers(body, i, prefix, ts))
        if answer.status_code != 202:
            raise SystemExit(f"event {i} refused: {answer.status_code} {answer.get_data(as_text=True)[:200]}")


# ---------------------------------------------------------------------------------------- drain
class Store:
    """Counts finished steps in the drain's store (SQLite file, or a PostgreSQL schema)."""

    def __init__(self, kind: str, work: Path) -> None:
        self.kind, self.schema = kind, f"drain_{uuid.uuid4().hex[:10]}"
        self.url = "" if kind == "sqlite" else f"{PG_ADMIN}?options=-csearch_path%3D{self.schema}"
        self.db = work / "bridge.db"
        if kind == "postgres":
            self._admin(f'CREATE SCHEMA "{self.schema}"')

    def _admin(self, sql: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_ADMIN)
        with engine.begin() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def progress(self) -> tuple[int, int, int]:
        """(events processed, steps done, steps planned)."""
        sql = ("SELECT (SELECT count(*) FROM inbox WHERE state = 'processed'), "
               "(SELECT count(*) FROM deliveries WHERE status = 'done'), (SELECT count(*) FROM deliveries)")
        if self.kind == "sqlite":
            import sqlite3

            with sqlite3.connect(self.db, timeout=30) as db:
                row = db.execute(sql).fetchone()
        else:
            import psycopg

            with psycopg.connect("host=127.0.0.1 user=postgres dbname=test",
                                 options=f"-csearch_path={self.schema}") as db:
                row = db.execute(sql).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])

    def drop(self) -> None:
        if self.kind == "postgres":
            self._admin(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def redis_loads_otel(env: dict[str, str]) -> bool:
    """Whether ``import redis`` loads the OpenTelemetry SDK in the workers' environment: redis-py 8
    does when it is installed (this repo's test extra brings it; a production ``pip install .``
    does not), and every worker process then carries it."""
    import subprocess

    probe = "import sys, redis; print(int('opentelemetry.sdk' in sys.modules))"
    answer = subprocess.run([str(PY), "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    return answer.stdout.strip() == "1"


def process_name(pid: int) -> str:
    """A ``bridge worker`` child by the name its supervisor gave it (``dispatch``, ``jobs-1``…)."""
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return str(pid)
    return name.removeprefix("bridge-")


def drain(stub: str, backlog: int, processes: int, kind: str, cap: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"rb-drain-{processes}-"))
    store = Store(kind, work)
    env = clean_env(BRIDGE_DATA_DIR=str(work), REDIS_URL=REDIS_URL, BRIDGE_QUEUE=f"drain_{uuid.uuid4().hex[:8]}",
                    **vendor_env(stub), **({"DATABASE_URL": store.url} if store.url else {}))
    try:
        import subprocess

        subprocess.run([str(BRIDGE), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
        t = time.monotonic()
        subprocess.run([str(PY), "-m", "bench.drain", "--fill", str(backlog), "--prefix", f"d{processes}"],
                       env=env, cwd=ROOT, check=True, timeout=3600)
        fill_s = time.monotonic() - t
        import requests

        requests.post(f"{stub}/_bench/reset", timeout=10)  # the vendor calls of this drain alone
        worker = Proc("worker", [str(BRIDGE), "worker", "--processes", str(processes)], env,
                      work / "worker.log").start()
        t0, series, finished = time.monotonic(), [], False
        processed = done = planned = 0
        peak: dict[int, float] = {}
        cpu: dict[int, float] = {}
        names: dict[int, str] = {}
        while time.monotonic() - t0 < cap:
            processed, done, planned = store.progress()
            series.append((round(time.monotonic() - t0, 2), processed, done))
            for pid in [worker.pid, *children(worker.pid)]:
                peak[pid] = max(peak.get(pid, 0.0), rss_mb(pid))
                names.setdefault(pid, "supervisor" if pid == worker.pid else process_name(pid))
                cpu[pid] = max(cpu.get(pid, 0.0), proc_cpu(pid))
            finished = processed >= backlog and done >= planned > 0
            if finished:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        worker.stop(30)
        stats = requests.get(f"{stub}/_bench/stats", timeout=10).json()
        tail = (work / "worker.log").read_text(errors="replace").splitlines()[-5:]
        # A handoff counts once its event is processed and every step it planned is done.
        handoffs = backlog if finished else 0
        return {"processes": processes, "store": kind, "backlog": backlog, "handoffs": handoffs,
                "events_processed": processed, "steps_done": done, "steps_planned": planned,
                "steps_per_handoff": round(planned / max(processed, 1), 2),
                "complete": finished, "seconds": round(elapsed, 2), "rate": round(handoffs / elapsed, 2),
                "jobs_per_s": round((processed + done) / elapsed, 1),
                "fill_seconds": round(fill_s, 1), "cpu_s": round(sum(cpu.values()), 1),
                "peak_rss_mb": sorted(round(v, 1) for v in peak.values()),
                "peak_rss_by_process": {(names[pid] if list(names.values()).count(names[pid]) == 1
                                         else f"{names[pid]}-{pid}"): round(v, 1) for pid, v in sorted(peak.items())},
                "redis_loads_otel": redis_loads_otel(env),
                "vendor_calls_per_handoff": {k: round(n / backlog, 2) for k, n in sorted(stats["calls"].items())},
                "duplicate_creates": stats["duplicate_creates"],
                "series": series[:: max(1, len(series) // 40)], "log_tail": [] if finished else tail}
    finally:
        store.drop()
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------- stages
class Timers:
    """Wall time per stage, wrapped around module attributes (callers look them up at call time)."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {}

    def wrap(self, owner: Any, attr: str, stage: str) -> None:
        real: Callable[..., Any] = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.ms.setdefault(stage, []).append((time.perf_counter() - t) * 1000)

        setattr(owner, attr, timed)

    def add(self, stage: str, ms: float) -> None:
        self.ms.setdefault(stage, []).append(ms)


def stages(stub: str, handoffs: int, kind: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="rb-stages-"))
    store = Store(kind, work)
    try:
        return _stages(stub, handoffs, kind, work, store.url)
    finally:
        from bridge.store.db import dispose_all

        dispose_all()
        store.drop()
        shutil.rmtree(work, ignore_errors=True)


def _stages(stub: str, handoffs: int, kind: str, work: Path, url: str) -> dict[str, Any]:
    for name in [k for k in os.environ if k in ("DATABASE_URL", "REDIS_URL")]:
        del os.environ[name]
    os.environ.update(clean_env(BRIDGE_DATA_DIR=str(work), **vendor_env(stub), **({"DATABASE_URL": url} if url else {})))
    import connectors
    from bridge import create_app, signing
    from bridge.config import Settings
    from bridge.pipeline import triggers
    from bridge.runtime import Runtime, install
    from bridge.store import repo
    from bridge.store.migrate import upgrade
    from bridge.worker import escalate, intake, jobs

    rt = install(Runtime.build(Settings.from_env()))
    upgrade(rt.store)
    try:  # each store starts cold: the same case ids and transcripts must not hit the last run's packages
        from bridge.worker import packages

        packages.clear()
    except ImportError:
        pass
    client = create_app(rt=rt).test_client()
    timers = Timers()
    for owner, attr, stage in [
        (signing, "verify_standard_webhook", "request: signature check"),
        (intake, "store_events", "request: store (durable commit)"),
        (escalate, "fold_into_case", "process_event: fold + judge + plan"),
        (triggers, "decide", "process_event: judge (inside fold)"),
        (escalate, "_escalate", "process_event: route + plan steps (inside fold)"),
        (escalate, "build_package", "process_event: handoff package (inside route + plan)"),
        (escalate, "base_package", "process_event: handoff package (inside route + plan)"),
        (jobs, "_summary_for", "deliver: summary"),
        (jobs, "build_package", "deliver: handoff package"),
        (jobs, "package_for", "deliver: handoff package"),
        (repo, "claim_delivery", "deliver: claim (compare-and-set)"),
        (repo, "claim_delivery_case", "deliver: claim (compare-and-set)"),
        (jobs, "_release_dependents", "deliver: release the next step"),
        (jobs, "_enqueue_ready", "deliver: enqueue the steps it made due"),
    ]:
        # A stage whose function has moved or gone is left out (the table then lacks its row).
        if hasattr(owner, attr):
            timers.wrap(owner, attr, stage)
    for vendor in ("zendesk", "slack"):
        conn = connectors.connector_for(vendor, rt.settings)
        timers.wrap(type(conn), "send", f"deliver: {vendor} API call(s)")
    # The jobs run as a queue would run them: whatever a job enqueues (due now) runs after it, in
    # order, once per id (RQ collapses an id already waiting); steps scheduled later are left out.
    queued: list[tuple[str, Any]] = []
    real_enqueue = rt.queue.enqueue

    def enqueue(job: str, arg: Any, at: Any = None, attempt: int = 0, urgent: bool = True) -> None:
        if (at is None or at <= rt.clock()) and (job, arg) not in queued:
            queued.append((job, arg))
        real_enqueue(job, arg, at=at, attempt=attempt, urgent=urgent)

    rt.queue.enqueue = enqueue  # type: ignore[method-assign]
    counting = {"on": False, "stmts": 0, "commits": 0, "jobs": 0}
    from sqlalchemy import event as sa_event

    def statement(*_: Any) -> None:
        counting["stmts"] += counting["on"]

    def commit(*_: Any) -> None:
        counting["commits"] += counting["on"]

    sa_event.listen(rt.store.engine, "before_cursor_execute", statement)
    sa_event.listen(rt.store.engine, "commit", commit)
    template, ts = payloads.event_template(1_500, "st"), int(time.time())
    for i in range(handoffs + 5):  # the first five warm the process up and are not counted
        body = payloads.body_for(template, i, "st")
        t = time.perf_counter()
        answer = client.post("/webhooks/generic", data=body, headers=payloads.signed_headers(body, i, "st", ts))
        request_ms = (time.perf_counter() - t) * 1000
        assert answer.status_code == 202, answer.get_data(as_text=True)
        key, case_id = answer.get_json()["event"], answer.get_json()["case"]
        with rt.store.session() as s:
            names = {d.id: d.step for d in repo.deliveries_of(s, case_id)}
        queued.clear()
        counting.update(on=i >= 5, jobs=counting["jobs"] + (i >= 5))
        t = time.perf_counter()
        jobs.process_event(key, rt)
        process_ms = (time.perf_counter() - t) * 1000
        job_ms: list[tuple[str, float]] = []
        while queued:
            job, arg = queued.pop(0)
            assert job == "deliver", job
            with rt.store.session() as s:
                names = names | {d.id: d.step for d in repo.deliveries_of(s, case_id)}
            counting["jobs"] += i >= 5
            t = time.perf_counter()
            jobs.deliver(arg, rt)
            job_ms.append((names.get(arg, "?"), (time.perf_counter() - t) * 1000))
        counting["on"] = False
        with rt.store.session() as s:
            states = {d.step: d.status for d in repo.deliveries_of(s, case_id) if d.next_attempt_at <= rt.clock()}
        assert set(STEPS) <= set(states) and set(states.values()) == {"done"}, states
        if i < 5:
            timers.ms.clear()
            continue
        timers.add("request (POST /webhooks/generic, whole)", request_ms)
        timers.add("process_event job (whole)", process_ms)
        for step, ms in job_ms:
            timers.add(f"deliver job from {step} (whole)", ms)
        timers.add("handoff, all jobs", process_ms + sum(ms for _, ms in job_ms))
    rows = []
    for stage, values in timers.ms.items():
        per = len(values) / handoffs
        rows.append({"stage": stage, "calls_per_handoff": round(per, 2),
                     "p50_ms": round(statistics.median(values), 2),
                     "p95_ms": round(sorted(values)[int(0.95 * (len(values) - 1))], 2),
                     "ms_per_handoff": round(sum(values) / handoffs, 2)})
    per = {name: round(counting[name] / handoffs, 2) for name in ("jobs", "stmts", "commits")}
    return {"handoffs": handoffs, "store": kind, "stages": rows, "per_handoff": per}


# ---------------------------------------------------------------------------------------- report
DRAIN = "## Backlog drain and one handoff's stages"
RESULTS = ROOT / "bench" / "results" / "drain.json"


def section(path: Path = RESULTS) -> str:
    """The drain and stage figures as a section of docs/performance.md."""
    if not path.exists():
        return ""
    r = json.loads(path.read_text())
    lines = ["", DRAIN, ""]
    if "drain" in r:
        runs = r["drain"]["runs"]
        one = {(run["store"], run["backlog"]): run["rate"] for run in runs if run["processes"] == 1}
        lines += [f"`python -m bench.drain` ({r['drain']['at']}, {r['drain']['cores']} cores; method in its "
                  "docstring): a backlog of accepted hand-offs, then `bridge worker --processes K`, until every "
                  "event is processed and every step it planned is done at instant stub vendors (one job per "
                  "event and one per step). Targets (issue 19): ≥ 25 handoffs/s per job process; 2 processes "
                  "≥ 1.8× one.", "",
                  "| store | job processes | handoffs | steps per handoff | seconds | handoffs/s | jobs/s "
                  "| × one process | CPU ms per handoff (all processes) | peak RSS per process (MB) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for run in runs:
            base = one.get((run["store"], run["backlog"]))
            ratio = f"{run['rate'] / base:.2f}" if base else "–"
            lines.append(f"| {run['store']} | {run['processes']} | {run['handoffs']:,}/{run['backlog']:,}"
                         f"{'' if run['complete'] else ' (cut)'} | {run['steps_per_handoff']} | {run['seconds']} "
                         f"| **{run['rate']}** | {run['jobs_per_s']} | {ratio} "
                         f"| {1000 * run['cpu_s'] / max(run['events_processed'], 1):.0f} "
                         f"| {', '.join(str(x) for x in run['peak_rss_mb'])} |")
        otel = {run.get("redis_loads_otel") for run in runs} - {None}
        if otel:
            lines += ["", "Workers' environment: `import redis` " + (
                "loads the OpenTelemetry SDK (installed here by the test extra; a production `pip install .` "
                "lacks it), so every process's RSS includes it." if otel == {True} else
                "does not load the OpenTelemetry SDK (as in a production install)." if otel == {False} else
                "loads the OpenTelemetry SDK in some runs and not in others (see each run's results).")]
        lines += ["", *([r["drain"]["note"], ""] if r["drain"].get("note") else [])]
    for block in r.get("stages", []):
        lines += [f"One handoff, stage by stage ({block['store']}, {block['handoffs']} handoffs in one process, "
                  f"one job after another, {block['at']}; `python -m bench.drain --stages`). Nested stages are "
                  "included in the stage around them.", "",
                  "| stage | calls per handoff | p50 ms | p95 ms | ms per handoff |", "|---|---|---|---|---|"]
        lines += [f"| {s['stage']} | {s['calls_per_handoff']} | {s['p50_ms']} | {s['p95_ms']} | {s['ms_per_handoff']} |"
                  for s in block["stages"]]
        if block.get("per_handoff"):
            per = block["per_handoff"]
            lines += ["", f"Per handoff, counted: {per['jobs']} jobs, {per['stmts']} SQL statements, "
                      f"{per['commits']} commits (the jobs only, not the request)."]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.drain", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backlog", type=int, default=10_000)
    ap.add_argument("--processes", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--store", choices=("sqlite", "postgres"), nargs="*", default=["postgres"])
    ap.add_argument("--cap", type=float, default=1800, help="seconds a drain may take before it is cut")
    ap.add_argument("--stages", action="store_true", help="the per-stage breakdown instead of the drain")
    ap.add_argument("--handoffs", type=int, default=60)
    ap.add_argument("--note", default="", help="a sentence on the run's conditions, printed under the table")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "drain.json"))
    ap.add_argument("--fill", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--prefix", default="d", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.fill:
        fill(a.fill, a.prefix)
        return
    port = free_port()
    stub = f"http://127.0.0.1:{port}"
    stubs = Proc("stubs", [str(PY), "-m", "bench.stubs", str(port)], dict(os.environ),
                 Path(tempfile.mkdtemp(prefix="rb-stubs-")) / "stubs.log").start()
    out = Path(a.out)
    result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    try:
        wait_http(f"{stub}/_bench/stats", 20, stubs.proc)
        if a.stages:
            result["stages"] = [{**stages(stub, a.handoffs, kind), "at": datetime.now(UTC).isoformat(timespec="seconds")}
                                for kind in a.store]
        else:
            from redis import Redis

            Redis.from_url(REDIS_URL).flushdb()
            runs = [drain(stub, a.backlog, k, kind, a.cap) for kind in a.store for k in a.processes]
            for run in runs:
                print(f"drain {run['store']} x{run['processes']}: {run['handoffs']}/{run['backlog']} in "
                      f"{run['seconds']} s = {run['rate']}/s", file=sys.stderr)
            result["drain"] = {"runs": runs, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                               "cores": os.cpu_count(), "note": a.note}
    finally:
        stubs.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

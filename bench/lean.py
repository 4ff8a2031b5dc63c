"""The lean webhook path, before and after, in one sitting (issue 19, item 2).

``python -m bench.lean [--before REV] [--rounds 3] [--duration 5] [--sizes 1k 10k 50k 500k]``
``python -m bench.lean --profile 50k [--before REV]``

``BENCH_LEAN_REDIS_URL`` (default ``redis://127.0.0.1:6379/14``, the bench's own db) names the Redis db
the servers enqueue to and the bench flushes: give it a db nobody else uses on a shared machine.

Bench: three servers on the Procfile's gunicorn line (2 processes × 4 threads, loopback, SQLite
``synchronous=FULL``, RQ configured on Redis db 14, no queue worker): the bare Flask app, the bridge
at ``--before`` (exported with ``git archive``, default ``main``) and the bridge as checked out.
For each body size, in every round, the servers take turns (bare, before, after) at the maximum
rate, 16 connections, fresh signed generic webhooks each run; the web workers' CPU per request is
their utime + stime over the run ÷ requests. Then each web worker's RSS (warmed up by every size).
Figures go to bench/results/lean.json.

Profile: one process, Flask's test client, ``cProfile`` over 400 signed webhooks of one size
(after 50 unmeasured), for the before tree and the checked-out one; prints the CPU per request
without the profiler (``plain_us``), and the profiler's self time (wall clock, so the commit's share
includes waiting for the fsync; the profiler's own cost inflates code made of many small calls)
grouped by where it is spent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import payloads
from bench.harness import PY, ROOT, Pool, export, median, migrate_tree, rss_mb, tree_env, tree_server, wrk

RESULTS = Path(__file__).resolve().parent / "results" / "lean.json"
SIZES = {"1k": 1_000, "10k": 10_000, "50k": 50_000, "500k": 500_000}
COUNTS = {"1k": 45_000, "10k": 45_000, "50k": 12_000, "500k": 1_200}
WRK_MEMORY = 400_000_000


def _redis_url() -> str:
    """The Redis db of this bench's servers (flushed between runs): ``BENCH_LEAN_REDIS_URL`` or the bench's."""
    import bench.__main__ as bench_main

    url = os.environ.get("BENCH_LEAN_REDIS_URL") or bench_main.REDIS_URL
    bench_main.REDIS_URL = url  # read by Bench.base_env and Bench.redis
    return url


# ---------------------------------------------------------------------- over HTTP
def bench(a: argparse.Namespace) -> dict[str, Any]:
    from bench.__main__ import Bench, machine, versions

    _redis_url()
    b = Bench(argparse.Namespace(keep=False))
    r: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "machine": machine(), "versions": versions(),
                         "args": vars(a), "sizes": {}, "load_start": Path("/proc/loadavg").read_text().split()[0]}
    try:
        r["before"], old = export(a.before, b.work)
        r["after"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                                    capture_output=True, text=True).stdout.strip()
        pools: dict[str, dict[str, Pool]] = {}
        for size in a.sizes:
            path = b.work / f"pool-{size}.bin"
            record, body = payloads.write_pool(path, SIZES[size], COUNTS[size], size[0])
            pools[size] = {v: Pool(path, record, COUNTS[size], body) for v in ("bare", "before", "after")}
        b.redis().flushdb()
        servers = {"bare": b.server("lean-bare", "bench.bare_app:app", b.base_env("lean-bare"), ready="/")}
        for variant, src in (("before", old), ("after", ROOT)):
            env = tree_env(b.base_env(f"lean-{variant}"), src)
            migrate_tree(src, env)
            servers[variant] = b.track(tree_server(f"lean-{variant}", src, env, b.work / f"lean-{variant}.log"))
        for size in a.sizes:
            want = min(30_000, int(WRK_MEMORY / pools[size]["after"].body_bytes))
            runs: dict[str, list[dict]] = {v: [] for v in servers}
            for rnd in range(a.rounds):
                for v, srv in servers.items():
                    wrk(srv.url, pools[size][v], 1, consume=v != "bare", want=want)  # warm-up
                    res = wrk(srv.url, pools[size][v], a.duration, server=srv, consume=v != "bare", want=want)
                    runs[v].append(res)
                    print(f"{size} round {rnd + 1} {v}: {res['rps']:.0f} rps, {res['cpu_us']:.0f} µs CPU/req, "
                          f"p99 {res['p99']:.1f} ms", flush=True)
            r["sizes"][size] = {"body_bytes": pools[size]["after"].body_bytes, "runs": runs}
        r["rss"] = {v: [rss_mb(p) for p in srv.workers()] for v, srv in servers.items()}
        print("RSS per web worker (MB):", r["rss"], flush=True)
    finally:
        b.cleanup()
    r["load_end"] = Path("/proc/loadavg").read_text().split()[0]
    return r


def _span(xs: list[float], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(median(xs))} [{fmt.format(min(xs))}–{fmt.format(max(xs))}]"


def table(r: dict[str, Any]) -> str:
    """The before/after table as Markdown (median [min–max] over the rounds)."""
    span = _span

    lines = ["| body | bare µs/req | before µs/req | after µs/req | after ÷ before CPU | before ÷ bare rps "
             "| after ÷ bare rps |", "|---|---|---|---|---|---|---|"]
    for size, d in r["sizes"].items():
        runs = d["runs"]
        cpu = {v: [x["cpu_us"] for x in runs[v]] for v in runs}
        rps = {v: [x["rps"] for x in runs[v]] for v in runs}
        per = [a / b for a, b in zip(cpu["after"], cpu["before"], strict=True)]
        ratio = {v: [x / y for x, y in zip(rps[v], rps["bare"], strict=True)] for v in ("before", "after")}
        lines.append(f"| {size} ({d['body_bytes']} B) | {span(cpu['bare'])} | {span(cpu['before'])} | "
                     f"{span(cpu['after'])} | {span(per, '{:.2f}')} | {span(ratio['before'], '{:.2f}')} | "
                     f"{span(ratio['after'], '{:.2f}')} |")
    rss = r.get("rss", {})
    lines.append("")
    lines.append("RSS per web worker after the runs (MB): " + "; ".join(
        f"{v} {', '.join(f'{x:.1f}' for x in xs)}" for v, xs in rss.items()))
    return "\n".join(lines)


# ---------------------------------------------------------------------- in process
GROUPS = (("sqlite3 (execute, commit)", ("sqlite3",)),
          ("pydantic (validate, dump)", ("pydantic",)), ("json (std lib)", ("json/",)), ("jiter", ("jiter",)),
          ("jsonsafe (strict JSON checks)", ("jsonsafe",)), ("unknown fields", ("adapters/generic",)),
          ("events.py validators", ("bridge/events",)), ("sqlalchemy", ("sqlalchemy",)),
          ("flask + werkzeug", ("flask/", "werkzeug/")), ("signing (HMAC)", ("signing", "hmac")),
          ("needs_more (triggers, completeness)", ("pipeline/",)), ("intake + group commit", ("intake", "group_commit")),
          ("webhooks view", ("web/webhooks",)), ("prometheus", ("prometheus",)))


def _rss() -> dict[str, float]:
    status = Path("/proc/self/status").read_text().splitlines()
    return {k: int(line.split()[1]) / 1024 for line in status for k in ("VmRSS", "VmHWM") if line.startswith(k + ":")}


def _profile_child(size: str, n: int, profiled: bool = True) -> None:
    import cProfile
    import pstats

    tmp = tempfile.mkdtemp(prefix="rb-lean-")
    os.environ.update(BRIDGE_DATA_DIR=tmp, GENERIC_WEBHOOK_SECRET=payloads.SECRET, BRIDGE_TIMESTAMP_TOLERANCE="3600",
                      REDIS_URL=os.environ.get("BENCH_LEAN_REDIS_URL") or "redis://127.0.0.1:6379/14",
                      BRIDGE_QUEUE="bench-lean-profile")
    for k in [k for k in os.environ if k.startswith(("DATABASE_URL", "ZENDESK_", "SLACK_", "JIRA_", "OPENAI_"))]:
        del os.environ[k]
    subprocess.run([sys.executable, "-c", "from bridge.cli import main; main()", "db", "upgrade"], check=True,
                   capture_output=True)
    import wsgi

    tpl = payloads.event_template(SIZES[size], "p")
    reqs = [(body, payloads.signed_headers(body, i, "p")) for i in range(2 * n + 50)
            for body in [payloads.body_for(tpl, i, "p")]]
    client = wsgi.app.test_client()
    for body, headers in reqs[:50]:
        assert client.post("/webhooks/generic", data=body, headers=headers).status_code == 202
    t0 = time.process_time()
    for body, headers in reqs[50:50 + n]:
        client.post("/webhooks/generic", data=body, headers=headers)
    plain = (time.process_time() - t0) / n * 1e6
    if not profiled:
        print(json.dumps({"plain_us": plain, "body": len(tpl), **_rss()}))
        return
    prof = cProfile.Profile()  # wall time: the commit's share includes its wait for the fsync
    prof.enable()
    for body, headers in reqs[50 + n:]:
        assert client.post("/webhooks/generic", data=body, headers=headers).status_code == 202
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in stats.values())
    groups: dict[str, float] = {}
    for (file, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.items():
        where = f"{file}:{func}"
        name = next((g for g, keys in GROUPS if any(k in where for k in keys)), "other")
        groups[name] = groups.get(name, 0.0) + tt
    mods = sorted(m for m in ("sqlalchemy.orm", "rq", "redis", "connectors", "bridge.pipeline.judge",
                              "bridge.store.models") if m in sys.modules)
    print(json.dumps({"plain_us": plain, "profiled_us": total / n * 1e6, "body": len(tpl), "loaded": mods,
                      "groups": {g: v / n * 1e6 for g, v in sorted(groups.items(), key=lambda kv: -kv[1])}}))


def _child(src: Path, size: str, n: int, profiled: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    # The bridge and wsgi of ``src``; this file's probe loaded by path (the old tree has none).
    code = (f"import sys, importlib.util; sys.path[:0] = [{str(src)!r}]; "
            f"spec = importlib.util.spec_from_file_location('lean_probe', {__file__!r}); "
            f"m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            f"m._profile_child({size!r}, {n}, {profiled})")
    done = subprocess.run([str(PY), "-c", code], env=env, cwd=src, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def profile(a: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="rb-lean-src-"))
    rev, old = export(a.before, work)
    out: dict[str, Any] = {"before": rev, "size": a.profile}
    for variant, src in (("before", old), ("after", ROOT)):
        out[variant] = _child(src, a.profile, a.requests, True)
        print(variant, json.dumps(out[variant], indent=1), flush=True)
    return out


def inproc(a: argparse.Namespace) -> dict[str, Any]:
    """CPU µs per request and the process's RSS, in process (no HTTP, one thread: no batching), before
    and after taking turns per size and round: steadier than the HTTP figures on a crowded machine."""
    work = Path(tempfile.mkdtemp(prefix="rb-lean-src-"))
    rev, old = export(a.before, work)
    out: dict[str, Any] = {"before": rev, "started": datetime.now(UTC).isoformat(), "rounds": a.rounds,
                           "load_start": Path("/proc/loadavg").read_text().split()[0], "sizes": {}}
    for size in a.sizes:
        n = {"1k": 1000, "10k": 1000, "50k": 400, "500k": 60}[size]
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for rnd in range(a.rounds):
            for variant, src in (("before", old), ("after", ROOT)):
                runs[variant].append(_child(src, size, n, False))
                x = runs[variant][-1]
                print(f"{size} round {rnd + 1} {variant}: {x['plain_us']:.0f} µs CPU/req, RSS {x['VmRSS']:.1f} MB "
                      f"(peak {x['VmHWM']:.1f})", flush=True)
        out["sizes"][size] = {"requests": n, "runs": runs}
    out["load_end"] = Path("/proc/loadavg").read_text().split()[0]
    return out


def rss(a: argparse.Namespace) -> dict[str, Any]:
    """RSS of each gunicorn web worker (the Procfile's line) after ``--requests`` signed 10 KB webhooks,
    then again after ``--clicks`` signed Slack ``take_case`` clicks on 50 escalated cases, before and
    after, no other load: what a worker holds once warm, without the large bodies' heap."""
    import sqlite3

    import requests

    from bench.__main__ import Bench
    from bench.rounds import escalated_cases, seed_cases, slack_pool

    _redis_url()
    b = Bench(argparse.Namespace(keep=False))
    out: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "requests": a.requests, "clicks": a.clicks,
                           "load_start": Path("/proc/loadavg").read_text().split()[0]}
    try:
        out["before"], old = export(a.before, b.work)
        tpl = payloads.event_template(10_000, "r")
        for variant, src in (("before", old), ("after", ROOT)):
            env = tree_env(b.base_env(f"rss-{variant}"), src)
            migrate_tree(src, env)
            with sqlite3.connect(Path(env["BRIDGE_DATA_DIR"]) / "bridge.db") as db:
                seed_cases(db.execute, datetime.now(UTC).replace(tzinfo=None), "?")
            srv = tree_server(f"rss-{variant}", src, env, b.work / f"rss-{variant}.log")
            b.track(srv)
            for i in range(a.requests):  # a connection each: both workers take requests
                body = payloads.body_for(tpl, i, "r")
                answer = requests.post(f"{srv.url}/webhooks/generic", data=body,
                                       headers=payloads.signed_headers(body, i, "r"), timeout=30)
                assert answer.status_code == 202, answer.text
            out[variant + "_webhooks_rss"] = [rss_mb(p) for p in srv.workers()]
            pool = slack_pool(b.work / f"rss-clicks-{variant}.bin", escalated_cases(), b.slack_secret, a.clicks)
            raw = pool.path.read_bytes()
            for i in range(pool.size):
                record = raw[i * pool.record:(i + 1) * pool.record]
                head, _, data = record[8:8 + int(record[:8])].partition(b"\r\n\r\n")
                headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
                answer = requests.post(f"{srv.url}/slack/actions", data=data, timeout=30, headers={
                    k: v for k, v in headers.items() if k not in ("Host", "Content-Length")})
                assert answer.status_code == 200, answer.text
            out[variant + "_rss"] = [rss_mb(p) for p in srv.workers()]
            print(variant, out[variant + "_webhooks_rss"], "after the clicks", out[variant + "_rss"], flush=True)
            srv.stop()
    finally:
        b.cleanup()
    out["load_end"] = Path("/proc/loadavg").read_text().split()[0]
    return out


HEADER = "## Lean webhook path: before and after"
# Measured once (2026-12-06 23:41 UTC, one process, RSS after each import in turn; the test and bench
# extras installed, as on the machine the figures above come from).
MEMORY = [
    "Where a warm web worker's memory goes (2026-12-06, one process, RSS after each import in turn): Python "
    "10.7 MB; Flask 30.3 (a bare Flask worker is 29.4 under gunicorn); pydantic 33.9; SQLAlchemy Core 47.5 (121 "
    "modules: the web path writes in Core); PyYAML 48.3; bridge.config 49.2; bridge.events 53.2 (its pydantic "
    "models); the routing models 54.8; the runtime 55.3; the webhook, Slack, vendor-event and API views 57.3; "
    "the pages (package builder, case view, charts) 58.8. Cut here: SQLAlchemy's PostgreSQL dialect (20 modules) "
    "is imported only on PostgreSQL, and a Slack click no longer loads the ORM, the connectors, requests or "
    "slack-sdk (90–93 → 72 MB after the clicks). What a click still adds is the RQ client its enqueue needs: "
    "rq and redis, about 9 MB, a part of it OpenTelemetry, which redis loads when it is installed (here it is, "
    "pulled in by rasa-sdk, a conformance-test extra; a production install has none). Below 60 MB would take "
    "keeping the RQ client out of the web process (the dispatcher handing the click's steps over, as it does "
    "for webhooks) and loading the pages' modules lazily (1.5 MB).", ""]


CHANGED = (
    "the event is serialized once, by pydantic-core, and stored as that text (no dict built and dumped again by "
    "the JSON column); the unknown-fields walk tests each object's keys as one set; strict JSON builds objects in "
    "C and only re-reads one that lost a key to a repeat; the inbox insert runs in SQLAlchemy Core on the group "
    "commit's connection (no ORM session per batch); the data dir's secret key is read once per process; the web "
    "process imports no ORM, connectors, job code, judge, redis or rq until a view that needs them runs.")
# The second round (issue 19, the ingest path's CPU): its figures in a file of their own, its section after
# the first's (``python -m bench.lean --section``).
CPU_RESULTS = RESULTS.with_name("lean-cpu.json")
CPU_HEADER = "## Ingest CPU per request, second round: before and after"
CPU_CHANGED = (
    "the generic body is parsed by jiter (Rust; duplicate keys, NaN/Infinity, bad UTF-8 and lone surrogates "
    "refused there), validated by the adapter's handler, and walked in Python only where no schema looks "
    "(unknown fields and customer.attributes: depth and infinity; a transcript's messages are skipped by one "
    "set union of their keys), so the strict checks, the depth walk and the unknown-fields walk no longer visit "
    "every message; whatever that path refuses goes to the exact path, which answers with its 400 reason or 422 "
    "field as before; the inbox insert and the batch's BEGIN IMMEDIATE go to the driver's connection (compiled "
    "once per dialect); the RFC 3339 validator slices instead of two replaces; Standard Webhooks keys are "
    "decoded once per secret.")


def section(path: Path = RESULTS, header: str = HEADER, changed: str = CHANGED) -> str:
    """The section of docs/performance.md (``python -m bench.report --sustained`` re-renders it)."""
    if not path.exists():
        return ""
    saved = json.loads(path.read_text())
    doc = ["", header, ""]
    r = saved.get("bench")
    if r:
        m = r["machine"]
        doc += [f"`python -m bench.lean` ({r['started'][:16].replace('T', ' ')} UTC, {r['args']['rounds']} rounds of "
                f"{r['args']['duration']:.0f} s; method in its docstring): the bare app, the bridge at {r['before']} "
                f"(before) and at {r['after']} (after) on the Procfile's gunicorn line, taking turns in each round, "
                f"SQLite `synchronous=FULL`, RQ configured, no queue worker; 16 connections at the maximum rate. "
                f"CPU µs/req is the web workers' utime + stime ÷ requests. {m['cores']} vCPUs shared with other "
                f"sessions (load average {r['load_start']} at the start, {r['load_end']} at the end): read the "
                "per-round ratios. Median [min–max] over the rounds.", "", table(r), ""]
    rs = saved.get("rss")
    if rs:
        if rs.get("clicks"):
            mb = {k: ", ".join(f"{x:.1f}" for x in rs[k]) for k in rs if k.endswith("_rss")}
            doc += [f"Web worker RSS once warm (`python -m bench.lean --rss`, {rs['started'][:16].replace('T', ' ')} "
                    f"UTC, load average {rs['load_start']} → {rs['load_end']}): the Procfile's gunicorn line, "
                    f"{rs['requests']} signed 10 KB webhooks one after another, then {rs['clicks']} signed Slack "
                    "`take_case` clicks on 50 escalated cases; each worker's RSS after the webhooks: before at "
                    f"{rs['before']} {mb['before_webhooks_rss']} MB, after {mb['after_webhooks_rss']} MB; after the "
                    f"clicks too: before {mb['before_rss']} MB, **after {mb['after_rss']} MB** (target ≤ 60 MB).", "",
                    *MEMORY]
        else:
            doc += [f"Web worker RSS once warm (`python -m bench.lean --rss`, {rs['started'][:16].replace('T', ' ')} "
                    f"UTC): the Procfile's gunicorn line, {rs['requests']} signed 10 KB webhooks one after another, "
                    f"then each worker's RSS: before {', '.join(f'{x:.1f}' for x in rs['before_rss'])} MB; after "
                    f"{', '.join(f'{x:.1f}' for x in rs['after_rss'])} MB (target ≤ 60 MB).", ""]
    ip = saved.get("inproc")
    if ip:
        doc += [f"In process, no HTTP (`python -m bench.lean --inproc`, {ip['started'][:16].replace('T', ' ')} UTC, "
                f"{ip['rounds']} rounds, load average {ip['load_start']} → {ip['load_end']}): a fresh process per "
                "run imports `wsgi` (RQ configured) and serves signed generic webhooks with Flask's test client, "
                "one at a time (so every request is a batch of its own: no commit is shared), before and after "
                "taking turns; CPU is the process's own per request, RSS is read after the run (the run's "
                "pre-signed requests are held in memory too: compare the two columns, not with the target).", "",
                "| body | requests per run | before CPU µs/req | after CPU µs/req | after ÷ before per round "
                "| RSS before MB | RSS after MB |", "|---|---|---|---|---|---|---|"]
        for size, d in ip["sizes"].items():
            b, a_ = d["runs"]["before"], d["runs"]["after"]
            per = [y["plain_us"] / x["plain_us"] for x, y in zip(b, a_, strict=True)]
            doc.append(f"| {size} ({b[0]['body']} B) | {d['requests']} | {_span([x['plain_us'] for x in b])} | "
                       f"{_span([x['plain_us'] for x in a_])} | {_span(per, '{:.2f}')} | "
                       f"{_span([x['VmRSS'] for x in b], '{:.1f}')} | {_span([x['VmRSS'] for x in a_], '{:.1f}')} |")
        doc.append("")
    prof = saved.get("profile", {})
    if prof:
        doc += ["In process (`python -m bench.lean --profile <size>`: Flask's test client, one thread, 400 "
                "requests): CPU µs per request without the profiler, then cProfile's self time per request by "
                "where it is spent (wall clock: the SQLite row includes waiting for the fsync, and the profiler "
                "inflates code made of many small calls, so read the rows against each other).", "",
                "| | " + " | ".join(f"{z} before | {z} after" for z in prof) + " |",
                "|---|" + "---|---|" * len(prof),
                "| **CPU µs/req, no profiler** | " + " | ".join(
                    f"{p['before']['plain_us']:.0f} | {p['after']['plain_us']:.0f}" for p in prof.values()) + " |"]
        names = list(next(iter(prof.values()))["before"]["groups"])
        for name in names:
            doc.append(f"| {name} | " + " | ".join(
                f"{p['before']['groups'].get(name, 0):.0f} | {p['after']['groups'].get(name, 0):.0f}"
                for p in prof.values()) + " |")
        first = next(iter(prof.values()))
        doc += ["", f"Loaded by the in-process server after the requests: before {', '.join(first['before']['loaded'])}; "
                f"after {', '.join(first['after']['loaded']) or 'none of them'}.", ""]
        big = prof[max(prof, key=lambda z: SIZES[z])]
        top = sorted(big["before"]["groups"].items(), key=lambda kv: -kv[1])[:6]
        doc += [f"Where a {big['size']} request's time went before, largest first (µs, before → after): "
                + "; ".join(f"{name} {v:.0f} → {big['after']['groups'].get(name, 0):.0f}" for name, v in top)
                + ". What changed: " + changed, ""]
    return "\n".join(doc)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.lean", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--before", default="main")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--profile", choices=list(SIZES), help="profile one size in process instead")
    ap.add_argument("--inproc", action="store_true", help="CPU per request and RSS in process, before and after")
    ap.add_argument("--rss", action="store_true", help="web workers' RSS after --requests 10 KB webhooks")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--clicks", type=int, default=40, help="Slack clicks after the webhooks (--rss)")
    ap.add_argument("--results", default=str(RESULTS))
    ap.add_argument("--section", action="store_true", help="print the second round's section of docs/performance.md")
    a = ap.parse_args()
    if a.section:
        print(section(CPU_RESULTS, CPU_HEADER, CPU_CHANGED))
        return
    results = Path(a.results)
    saved = json.loads(results.read_text()) if results.exists() else {}
    if a.profile:
        saved.setdefault("profile", {})[a.profile] = profile(a)
    elif a.inproc:
        saved["inproc"] = inproc(a)
    elif a.rss:
        saved["rss"] = rss(a)
    else:
        saved["bench"] = bench(a)
        print(table(saved["bench"]))
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()

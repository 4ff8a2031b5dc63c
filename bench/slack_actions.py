"""Slack clicks under half-load ingest, before and after, in one sitting (issue 19, item 5).

``python -m bench.slack_actions [--before REV] [--rounds 3] [--duration 5] [--stores sqlite pg] [--no-worker]``
``python -m bench.slack_actions --profile [--before REV] [--clicks 300]``

Over HTTP: per store (SQLite ``synchronous=FULL``, then PostgreSQL with ``synchronous_commit=on``),
two bridges on the Procfile's gunicorn line, each started from its own tree (``--before``, default
``main``, exported with ``git archive``; and the checkout), each on its own empty store with the
same 50 escalated cases, RQ configured (Redis db 10, or ``BENCH_SA_REDIS_URL``; it is flushed), the stub
vendors up. First each bridge's
maximum rate for 10 KB webhooks (16 connections, one run each); half load is half the *before*
bridge's rate, the same offered load for both. Then, in every round, the bridges take turns: one
``bridge worker`` of that tree starts, and Slack ``take_case`` clicks (3 users on the 50 cases, so
after the first round every click loses the compare-and-set) go on 4 paced connections while a
second wrk sends 1.5 KB escalations at the half-load rate, as section 2 of docs/performance.md
does; the worker stops after the run. No warm-up click: a web worker's first click is in round 1.

Profile (in process, Flask's test client, one thread, SQLite, RQ configured): a fresh process per
tree imports ``wsgi``, serves one webhook, then clicks; it reports the first click's wall time (what
a web worker's first click pays), then per click over ``--clicks`` more (the first third win a case,
the rest lose): CPU and wall µs, SQL statements, commits and transactions, and the modules loaded.
Figures go to bench/results/slack-actions.json; ``paragraph()`` renders them for section 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import payloads
from bench.harness import (
    PY,
    ROOT,
    Pool,
    Proc,
    export,
    migrate_tree,
    probe,
    rss_mb,
    span,
    tree_env,
    tree_server,
    wait_http,
    wrk,
)
from bench.rounds import clicks_under_ingest, escalated_cases, seed_cases, slack_pool

RESULTS = Path(__file__).resolve().parent / "results" / "slack-actions.json"
# A Redis db of this bench's own: it flushes it between stores, and other benches use db 14.
REDIS_URL = os.environ.get("BENCH_SA_REDIS_URL", "redis://127.0.0.1:6379/10")
PG_DBS = {"before": "bench_sa_before", "after": "bench_sa_after"}
HEAVY = ("sqlalchemy.orm", "bridge.store.models", "bridge.loop.ownership", "connectors", "slack_sdk", "requests",
         "rq", "redis", "zenpy", "jira")


def _copy(pool: Pool) -> Pool:
    return Pool(pool.path, pool.record, pool.size, pool.body_bytes)


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


# ---------------------------------------------------------------------- over HTTP
class Run:
    def __init__(self, a: argparse.Namespace) -> None:
        import bench.__main__
        from bench.__main__ import Bench

        bench.__main__.REDIS_URL = REDIS_URL  # read by Bench.base_env and Bench.redis
        self.a = a
        self.bench = Bench(argparse.Namespace(keep=False))
        self.work = self.bench.work

    def store_env(self, variant: str, store: str, src: Path) -> dict[str, str]:
        extra: dict[str, str] = {}
        if store == "pg":
            import psycopg

            db = PG_DBS[variant]
            with psycopg.connect(self.bench.pg_admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {db}")
                conn.execute(f"ALTER DATABASE {db} SET synchronous_commit = on")
            extra["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{db}"
        env = tree_env(self.bench.base_env(f"sa-{store}-{variant}", BRIDGE_QUEUE=f"bench_sa_{store}_{variant}",
                                           **extra), src)
        migrate_tree(src, env)
        now = datetime.now(UTC)
        if store == "pg":
            import psycopg

            with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
                seed_cases(lambda sql, args, c=conn: c.execute(sql, args), now, "%s")
        else:
            with sqlite3.connect(Path(env["BRIDGE_DATA_DIR"]) / "bridge.db") as db:
                seed_cases(db.execute, now.replace(tzinfo=None), "?")
        return env

    def store_round(self, store: str, trees: dict[str, Path], pools: dict[str, Pool]) -> dict[str, Any]:
        envs = {v: self.store_env(v, store, src) for v, src in trees.items()}
        servers = {v: self.bench.track(tree_server(f"sa-{store}-{v}", trees[v], envs[v],
                                                   self.work / f"sa-{store}-{v}.log")) for v in trees}
        d = self.a.duration
        ten = {v: _copy(pools["10k"]) for v in servers}
        sat: dict[str, dict] = {}
        for v, srv in servers.items():
            wrk(srv.url, ten[v], 1)
            sat[v] = wrk(srv.url, ten[v], d, server=srv)
            print(f"{store} max {v}: {sat[v]['rps']:.0f} rps", flush=True)
        rate = 0.5 * sat["before"]["rps"]
        side = {v: _copy(pools["esc"]) for v in servers}
        slack: dict[str, list[dict]] = {v: [] for v in servers}
        for rnd in range(self.a.rounds):
            # Signed afresh each round: Slack's signatures are good for five minutes.
            clicks = slack_pool(self.work / f"pool-slack-{store}-{rnd}.bin", escalated_cases(),
                                self.bench.slack_secret)
            for v, srv in servers.items():
                worker = None
                if self.a.worker:
                    cmd = [str(PY), "-c", "from bridge.cli import main; main()", "worker"]
                    worker = Proc(f"sa-worker-{v}", cmd, envs[v], self.work / f"sa-worker-{store}-{v}.log",
                                  cwd=trees[v])
                    self.bench.track(worker.start())
                    time.sleep(3.0)  # its dispatcher and job processes up
                r = clicks_under_ingest(srv, clicks, side[v], rate, d)
                r["load"] = _load()
                if worker is not None:
                    worker.stop()
                slack[v].append(r)
                print(f"{store} round {rnd + 1} {v}: clicks p50 {r['p50']:.1f} p99 {r['p99']:.1f} max {r['max']:.1f} ms "
                      f"{r['rps']:.0f}/s non2xx {r['non2xx']} (load {r['load']})", flush=True)
        rss = {v: [rss_mb(p) for p in srv.workers()] for v, srv in servers.items()}
        for srv in servers.values():
            srv.stop()
        return {"sat": sat, "rate": rate, "slack": slack, "rss": rss,
                "after_over_before": [b["p99"] / a["p99"] for a, b in zip(slack["before"], slack["after"],
                                                                          strict=True)]}

    def run(self) -> dict[str, Any]:
        from bench.__main__ import machine, versions

        r: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "machine": machine(), "versions": versions(),
                             "args": vars(self.a), "stores": {}, "load_start": _load()}
        r["before"], old = export(self.a.before, self.work)
        r["after"] = r["versions"].get("git", "?")
        trees = {"before": old, "after": ROOT}
        pools: dict[str, Pool] = {}
        for name, (size, count, prefix) in {"10k": (10_000, 20_000, "s"), "esc": (1_500, 30_000, "e")}.items():
            path = self.work / f"pool-{name}.bin"
            record, body = payloads.write_pool(path, size, count, prefix)
            pools[name] = Pool(path, record, count, body)
        self.bench.redis().flushdb()
        stub = self.bench.track(Proc("stubs", [str(PY), "-m", "bench.stubs", str(self.bench.stub_port)],
                                     dict(os.environ), self.work / "stubs.log").start())
        wait_http(f"{self.bench.stub}/_bench/stats", 20, stub.proc)
        for store in self.a.stores:
            r["stores"][store] = self.store_round(store, trees, pools)
            self.bench.redis().flushdb()
        if "pg" in self.a.stores:
            import psycopg

            with psycopg.connect(self.bench.pg_admin, autocommit=True) as conn:
                for db in PG_DBS.values():
                    conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        r["load_end"] = _load()
        return r


# ---------------------------------------------------------------------- in process
def _profile_child(clicks: int, cprofile: bool = False) -> None:
    before = set(sys.modules)  # the probe's own imports (bench.harness loads requests) are not the bridge's
    tmp = tempfile.mkdtemp(prefix="rb-sa-")
    os.environ.update(BRIDGE_DATA_DIR=tmp, GENERIC_WEBHOOK_SECRET=payloads.SECRET, BRIDGE_TIMESTAMP_TOLERANCE="3600",
                      REDIS_URL=REDIS_URL, BRIDGE_QUEUE="bench-sa-profile",
                      SLACK_SIGNING_SECRET="bench-slack-signing-secret")
    for k in [k for k in os.environ if k.startswith(("DATABASE_URL", "ZENDESK_", "JIRA_", "OPENAI_", "SLACK_BOT"))]:
        del os.environ[k]
    subprocess.run([sys.executable, "-c", "from bridge.cli import main; main()", "db", "upgrade"], check=True,
                   capture_output=True)
    with sqlite3.connect(Path(tmp) / "bridge.db") as db:
        seed_cases(db.execute, datetime.now(UTC).replace(tzinfo=None), "?")
    import wsgi

    client = wsgi.app.test_client()
    body = payloads.body_for(payloads.event_template(10_000, "q"), 0, "q")
    assert client.post("/webhooks/generic", data=body, headers=payloads.signed_headers(body, 0, "q")).status_code == 202
    pool = slack_pool(Path(tmp) / "clicks.bin", escalated_cases(), "bench-slack-signing-secret", n=clicks + 1)
    raw = pool.path.read_bytes()
    reqs = []
    for i in range(pool.size):
        rec = raw[i * pool.record:(i + 1) * pool.record]
        req = rec[8:8 + int(rec[:8])]
        head, _, data = req.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        headers.pop("Host"), headers.pop("Content-Length")
        reqs.append((data, headers))
    # The first click of the process: whatever the view imports on first use is paid here.
    t = time.perf_counter()
    assert client.post("/slack/actions", data=reqs[0][0], headers=reqs[0][1]).status_code == 200
    first_ms = (time.perf_counter() - t) * 1000
    from sqlalchemy import event

    engine = wsgi.app.extensions["bridge.runtime"].store.engine
    seen = {"statements": 0, "commits": 0, "begins": 0}
    event.listen(engine, "before_cursor_execute", lambda *_a: seen.__setitem__("statements", seen["statements"] + 1))
    event.listen(engine, "commit", lambda *_a: seen.__setitem__("commits", seen["commits"] + 1))
    event.listen(engine, "begin", lambda *_a: seen.__setitem__("begins", seen["begins"] + 1))
    prof = None
    if cprofile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    c0, w0 = time.process_time(), time.perf_counter()
    for data, headers in reqs[1:]:
        assert client.post("/slack/actions", data=data, headers=headers).status_code == 200
    n = len(reqs) - 1
    if prof is not None:
        import pstats

        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    cpu, wall = (time.process_time() - c0) / n * 1e6, (time.perf_counter() - w0) / n * 1e6
    status = Path("/proc/self/status").read_text()
    rss = next(int(x.split()[1]) / 1024 for x in status.splitlines() if x.startswith("VmRSS:"))
    print(json.dumps({"first_click_ms": first_ms, "clicks": n, "cpu_us": cpu, "wall_us": wall,
                      "statements": seen["statements"] / n, "commits": seen["commits"] / n,
                      "transactions": seen["begins"] / n, "rss_mb": rss,
                      "loaded": [m for m in HEAVY if m in sys.modules and m not in before]}))


def _child(src: Path, clicks: int) -> dict[str, Any]:
    return probe(__file__, src, f"_profile_child({clicks})")


def profile(a: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="rb-sa-src-"))
    rev, old = export(a.before, work)
    out: dict[str, Any] = {"before": rev, "started": datetime.now(UTC).isoformat(), "load_start": _load(),
                           "runs": {"before": [], "after": []}}
    for _ in range(a.rounds):
        for variant, src in (("before", old), ("after", ROOT)):
            out["runs"][variant].append(_child(src, a.clicks))
            print(variant, json.dumps(out["runs"][variant][-1]), flush=True)
    out["load_end"] = _load()
    return out


# ---------------------------------------------------------------------- the page
def paragraph(path: Path = RESULTS) -> list[str]:
    """Section 2's dated before/after paragraphs (``bench.report`` adds them after the generated figure)."""
    if not path.exists():
        return []
    saved = json.loads(path.read_text())
    doc: list[str] = []
    r = saved.get("bench")
    if r:
        names = {"sqlite": "SQLite (`synchronous=FULL`)", "pg": "PostgreSQL (`synchronous_commit=on`)"}
        worker = "one `bridge worker` of the same tree running" if r["args"].get("worker", True) else "no queue worker"
        doc += [f"Before and after (`python -m bench.slack_actions`, {r['started'][:16].replace('T', ' ')} UTC, "
                f"{r['args']['rounds']} rounds of {r['args']['duration']:.0f} s; method in its docstring): the bridge "
                f"at {r['before']} and at {r['after']}, each from its own tree on its own store, taking turns, "
                f"{worker}, clicks on 4 paced connections while escalations arrive at half the before bridge's "
                f"maximum 10 KB rate. {r['machine']['cores']} vCPUs shared with other sessions (load average "
                f"{r['load_start']} at the start, {r['load_end']} at the end). Median [min–max] over the rounds.", "",
                "| store | half-load rate | clicks/s before | after | p50 ms before | after | p99 ms before | after "
                "| after ÷ before p99 per round |", "|---|---|---|---|---|---|---|---|---|"]
        for store, x in r["stores"].items():
            b, a_ = x["slack"]["before"], x["slack"]["after"]
            doc.append(f"| {names.get(store, store)} | {x['rate']:.0f} req/s | {span([y['rps'] for y in b])} | "
                       f"{span([y['rps'] for y in a_])} | {span([y['p50'] for y in b], '{:.1f}')} | "
                       f"{span([y['p50'] for y in a_], '{:.1f}')} | {span([y['p99'] for y in b], '{:.1f}')} | "
                       f"**{span([y['p99'] for y in a_], '{:.1f}')}** | {span(x['after_over_before'], '{:.2f}')} |")
        doc.append("")
    p = saved.get("profile")
    if p:
        b, a_ = p["runs"]["before"], p["runs"]["after"]

        def cell(runs: list[dict], key: str, fmt: str = "{:.0f}") -> str:
            return span([x[key] for x in runs], fmt)

        doc += [f"One click in process (`python -m bench.slack_actions --profile`, {p['started'][:16].replace('T', ' ')} "
                f"UTC, load average {p['load_start']} → {p['load_end']}; {len(b)} runs per tree, {b[0]['clicks']} "
                "clicks each after a first one, SQLite, RQ configured): before at "
                f"{p['before']}, after as checked out.", "",
                "| per click | before | after |", "|---|---|---|",
                f"| a web worker's first click, ms (imports on first use) | {cell(b, 'first_click_ms')} | "
                f"{cell(a_, 'first_click_ms')} |",
                f"| CPU µs | {cell(b, 'cpu_us')} | {cell(a_, 'cpu_us')} |",
                f"| wall µs (one thread: no shared commit) | {cell(b, 'wall_us')} | {cell(a_, 'wall_us')} |",
                f"| SQL statements | {cell(b, 'statements', '{:.1f}')} | {cell(a_, 'statements', '{:.1f}')} |",
                f"| transactions | {cell(b, 'transactions', '{:.2f}')} | {cell(a_, 'transactions', '{:.2f}')} |",
                f"| commits | {cell(b, 'commits', '{:.2f}')} | {cell(a_, 'commits', '{:.2f}')} |",
                f"| process RSS after, MB | {cell(b, 'rss_mb', '{:.1f}')} | {cell(a_, 'rss_mb', '{:.1f}')} |",
                f"| loaded after the clicks | {', '.join(b[0]['loaded']) or 'none'} | "
                f"{', '.join(a_[0]['loaded']) or 'none'} |", ""]
    if doc:
        doc += ["What a click does, before and after: it was already on the webhooks' group-commit path (its "
                "compare-and-set, timeline row and queued steps share the next commit of the process, and it is "
                "answered once that commit is durable; the vendor work runs in the queue workers). Before, that "
                "unit ran in the ORM, loaded the whole case row (the merged conversation included) to read three "
                "columns, and after the commit opened a second transaction to read all the case's deliveries "
                "back before enqueueing; the view imported `connectors` (every connector, `requests`, slack-sdk's "
                "Web API client) for the signature check and the ORM and loop modules for the change, so each web "
                "worker's first click paid those imports and kept their memory. After, *Take case* runs in "
                "SQLAlchemy Core on the commit's connection (`bridge/web/slack_take.py`, "
                "`bridge/store/click_rows.py`): one conditional UPDATE … RETURNING (a loser reads three columns "
                "more), the steps inserted with their ids returned and handed to RQ in one pipelined round trip "
                "(`enqueue_batch`, as the dispatcher does, instead of three round trips per job), and the v0 "
                "signature checked with `bridge.signing`'s constant-time HMAC (held to slack-sdk's answers by "
                "tests/web/test_slack_clicks.py). Reassign, *Not mine*, approvals and refused clicks keep the "
                "ORM path. On SQLite every batch (clicks and webhooks alike) now takes the write lock at BEGIN "
                "and polls for it every 0.5 ms while a queue worker holds it, instead of sleeping in SQLite's "
                "busy handler (1, 2, 5 … 100 ms, and not fair against a worker committing job after job); that "
                "BEGIN IMMEDIATE and the two busy-timeout pragmas around it are three statements per batch, which "
                "is why the count above went up while the click's own statements went down by one (the "
                "deliveries read back).", "",
                "Reading: the per-round p99 follows the machine more than the code here: at a load average near "
                "10 on 2 vCPUs (other sessions' suites and benchmarks) a click's slowest percent waited for a "
                "core, not for the store, and the same code gave 79–487 ms on PostgreSQL from one round to the "
                "next. The p50, the clicks served per second and the in-process figures (CPU, transactions, "
                "first click, memory) are the steadier comparison; the 50 ms target needs a re-run on a quiet "
                "machine.", ""]
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.slack_actions", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--before", default="main")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--stores", nargs="+", default=["sqlite", "pg"], choices=["sqlite", "pg"])
    ap.add_argument("--no-worker", dest="worker", action="store_false", help="no `bridge worker` during the clicks")
    ap.add_argument("--profile", action="store_true", help="one click in process, before and after")
    ap.add_argument("--clicks", type=int, default=300)
    ap.add_argument("--results", default=str(RESULTS))
    a = ap.parse_args()
    results = Path(a.results)
    saved = json.loads(results.read_text()) if results.exists() else {}
    if a.profile:
        saved["profile"] = profile(a)
    else:
        run = Run(a)
        try:
            saved["bench"] = run.run()
        finally:
            run.bench.cleanup()
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(saved, indent=1, default=str) + "\n")
    print("\n".join(paragraph(results)))


if __name__ == "__main__":
    main()

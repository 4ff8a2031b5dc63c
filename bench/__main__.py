"""`bench/run`: the whole suite, side by side, bounded, loopback only; writes docs/performance.md.

Phases (each variant pair alternates A B A B; ratios are per round):
  ingest   bridge vs bare Flask (same gunicorn config), 10 KB and 50 KB: max rps, then p50/p99 at half
  (ingest also sweeps body sizes: 1 KB, 10 KB, 50 KB, 500 KB; half load only where a target is set)
  pg       bare vs the bridge on SQLite vs on PostgreSQL with synchronous_commit=on (10 KB)
  grown    empty store vs a million inbox rows, SQLite then PostgreSQL: ingest, half load, Slack clicks,
           and the request path's and dispatcher's statements timed and explained (bench/rounds.py)
  e2e      escalation -> Zendesk ticket (stub) + Slack alert, calls per handoff, Slack actions ack
  scale    backlog drain (bench.drain): `bridge worker --processes 1`, then 2, SQLite, measured to the last step
  glue     the naive inline glue (bench/glue_app.py) vs the bridge, 300 ms vendors, then Zendesk failing
  footprint  RSS per web/queue worker, `bridge --help` cold start, import profile
Options: --quick (1 round, short runs: a smoke test), --rounds N, --duration S, --backlog N, --out PATH,
--results PATH (the figures as JSON, default bench/results/run.json), --grown-rows N (default 1,000,000).
The whole suite takes about 20 minutes (the grown round alone about 5, most of it filling the stores).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench import payloads
from bench.harness import (
    BRIDGE,
    PY,
    ROOT,
    Pool,
    Proc,
    Server,
    children,
    free_port,
    median,
    rss_mb,
    wait_http,
    wrk,
)
from bench.rounds import PG_DBS, clicks_under_ingest, grown_round, slack_pool

REDIS_URL = "redis://127.0.0.1:6379/14"  # a dedicated db: only it is ever flushed
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_DB = "bench_recovery_bridge"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
SLACK_SIGNING = "bench-slack-signing-secret"
SIZES = ("1k", "10k", "50k", "500k")  # the body-size sweep (issue 19, items 2 and 8)
HALF_LOAD = ("10k", "50k")  # sizes with a p99 target at half load
WRK_MEMORY = 400_000_000  # bytes of pre-signed requests one wrk run loads
T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.a = args
        self.work = Path(tempfile.mkdtemp(prefix="rb-bench-"))
        self.procs: list[Proc] = []
        self.r: dict = {"notes": [], "commands": {}}
        self.stub_port = free_port()
        self.stub = f"http://127.0.0.1:{self.stub_port}"
        self.pg_admin, self.slack_secret = PG_ADMIN, SLACK_SIGNING

    # ---------------------------------------------------------------- environment
    def base_env(self, name: str, **extra: str) -> dict[str, str]:
        drop = ("DATABASE_URL", "REDIS_URL", "ZENDESK_", "SLACK_", "JIRA_", "OPENAI_", "BRIDGE_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and not k.endswith("_WEBHOOK_SECRET")}
        data = self.work / name
        data.mkdir(exist_ok=True)
        env.update(
            BRIDGE_DATA_DIR=str(data), REDIS_URL=REDIS_URL, BRIDGE_QUEUE=f"bench_{name}",
            GENERIC_WEBHOOK_SECRET=payloads.SECRET,
            # Pools are signed once at start-up; signature checks still run on every request.
            BRIDGE_TIMESTAMP_TOLERANCE="3600",
            ZENDESK_URL=self.stub, ZENDESK_SUBDOMAIN="bench", ZENDESK_EMAIL="bench@example.com",
            ZENDESK_API_TOKEN="bench-token",
            SLACK_BOT_TOKEN="xoxb-bench", SLACK_API_URL=f"{self.stub}/api/", SLACK_SIGNING_SECRET=SLACK_SIGNING,
            JIRA_URL=self.stub, JIRA_EMAIL="bench@example.com", JIRA_API_TOKEN="bench-token",
            GLUE_VENDOR_URL=self.stub,
        )
        env.update(extra)
        return env

    def track(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    def server(self, name: str, app: str, env: dict[str, str], ready: str = "/healthz") -> Server:
        port = free_port()
        srv = Server(name, Server.command(app, port), env, self.work / f"{name}.log", port=port, ready_path=ready)
        self.r["commands"].setdefault("web", " ".join(Server.command("wsgi:app", 8000)).replace("8000", "<port>"))
        return self.track(srv.start())  # type: ignore[return-value]

    def migrate(self, env: dict[str, str]) -> None:
        subprocess.run([str(BRIDGE), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True,
                       timeout=120)

    def bridge_server(self, name: str, **extra: str) -> tuple[Server, dict[str, str]]:
        env = self.base_env(name, **extra)
        self.migrate(env)
        return self.server(name, "wsgi:app", env), env

    def workers(self, env: dict[str, str], n: int) -> list[Proc]:
        return [self.track(Proc(f"worker{i}", [str(BRIDGE), "worker"], env, self.work / "workers.log").start())
                for i in range(n)]

    def redis(self):  # type: ignore[no-untyped-def]
        from redis import Redis

        return Redis.from_url(REDIS_URL)

    def stub_call(self, path: str, doc: dict | None = None) -> dict:
        if doc is None:
            return requests.get(f"{self.stub}{path}", timeout=30).json()
        return requests.post(f"{self.stub}{path}", json=doc, timeout=30).json()

    def cleanup(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        with contextlib.suppress(Exception):
            self.redis().flushdb()
        self.drop_pg()
        if not self.a.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    # ---------------------------------------------------------------- pools
    def pools(self) -> None:
        log(f"writing request pools in {self.work}")
        # Each bridge run consumes what it sends (unique ids): at ~1,500 req/s, three rounds of a 1 s
        # warm-up and a 5 s run plus the half-load rounds take ~40,000 10 KB requests.
        sizes = {"1k": (1_000, 12_000 if self.a.quick else 70_000),
                 "10k": (10_000, 12_000 if self.a.quick else 70_000),
                 "50k": (50_000, 3_000 if self.a.quick else 12_000),
                 "500k": (500_000, 300 if self.a.quick else 2_000),
                 "esc": (1_500, 30_000)}
        self.pool: dict[str, Pool] = {}
        for name, (target, count) in sizes.items():
            path = self.work / f"pool-{name}.bin"
            record, body = payloads.write_pool(path, target, count, name[0])
            self.pool[name] = Pool(path, record, count, body)
        self.r["body_bytes"] = {k: p.body_bytes for k, p in self.pool.items()}

    # ---------------------------------------------------------------- 1. ingest
    def ingest(self) -> None:
        d, rounds = self.a.duration, self.a.rounds
        bare = self.server("bare", "bench.bare_app:app", self.base_env("bare"), ready="/")
        bridge, _ = self.bridge_server("ingest")
        self.r["commands"]["wrk"] = ("wrk -t1 -c16 -d{d}s --timeout 5s -s bench/req.lua <url>/webhooks/generic "
                                     "(POOL/START/COUNT select unused pre-signed requests; DELAY_MS paces)")
        res: dict = {}
        for size in SIZES:
            pool = self.pool[size]
            want = min(30_000, int(WRK_MEMORY / pool.body_bytes))  # wrk holds its slice in memory
            sat: dict[str, list[dict]] = {"bare": [], "bridge": []}
            for rnd in range(rounds):
                for name, srv in (("bare", bare), ("bridge", bridge)):
                    consume = name == "bridge"
                    wrk(srv.url, pool, 1, consume=consume, want=want)  # warm-up
                    r = wrk(srv.url, pool, d, consume=consume, server=srv, want=want)
                    sat[name].append(r)
                    log(f"ingest {size} round {rnd + 1} {name}: {r['rps']:.0f} rps p99 {r['p99']:.1f} ms "
                        f"cpu {r['cpu_us']:.0f} µs/req steal {r['steal']:.1f}%")
            ratio = [b["rps"] / a["rps"] for a, b in zip(sat["bare"], sat["bridge"], strict=True)]
            if size not in HALF_LOAD:
                res[size] = {"sat": sat, "ratio": ratio}
                continue
            half_rate = 0.5 * median([r["rps"] for r in sat["bridge"]])
            half: dict[str, list[dict]] = {"bare": [], "bridge": []}
            delay = 16_000 / half_rate
            for rnd in range(rounds):
                for name, srv in (("bare", bare), ("bridge", bridge)):
                    r = wrk(srv.url, pool, d, delay_ms=delay, consume=name == "bridge", server=srv)
                    half[name].append(r)
                    log(f"half-load {size} round {rnd + 1} {name}: {r['rps']:.0f} rps p50 {r['p50']:.1f} "
                        f"p99 {r['p99']:.1f} ms")
            res[size] = {"sat": sat, "ratio": ratio, "half_rate": half_rate, "half": half,
                         "p99_ratio": [b["p99"] / a["p99"] for a, b in zip(half["bare"], half["bridge"], strict=True)]}
        self.r["ingest"] = res
        self.r["rss_web"] = {"bridge": [rss_mb(p) for p in bridge.workers()],
                             "bare": [rss_mb(p) for p in bare.workers()]}
        self.r["web_modules"] = self.web_modules(bridge)
        self.ingest_bridge = bridge
        bare.stop()

    def web_modules(self, bridge: Server) -> dict:
        """Which heavy packages a web worker has loaded (read from /proc/<pid>/maps: native parts only)."""
        env = {**bridge.env}
        code = ("import sys, wsgi; mods = {m.split('.')[0] for m in sys.modules}; "
                "print(' '.join(sorted(m for m in mods if m in {'openai','zenpy','jira','slack_sdk','rq','redis',"
                "'sqlalchemy','pydantic','requests','cryptography','jwt','yaml','prometheus_client','vaderSentiment',"
                "'alembic','psycopg','click','waitress'})))")
        out = subprocess.run([str(PY), "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        return {"loaded": out.stdout.split()}

    # ---------------------------------------------------------------- 7b. PostgreSQL vs SQLite
    def drop_pg(self) -> None:
        try:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
                for name in (PG_DB, *PG_DBS.values()):
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except Exception as exc:  # pragma: no cover - reported, never fatal
            self.r["notes"].append(f"could not drop the PostgreSQL database {PG_DB}: {exc}")

    def pg(self) -> None:
        """The bare app, the bridge on SQLite and on PostgreSQL with ``synchronous_commit=on`` set on its
        database (whatever the server's default), 10 KB, alternating in each round."""
        import psycopg

        self.drop_pg()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {PG_DB}")
            conn.execute(f"ALTER DATABASE {PG_DB} SET synchronous_commit = on")
            self.r["pg_version"] = conn.execute("SHOW server_version").fetchone()[0]
        with psycopg.connect(PG_URL) as conn:  # what a new session of the bridge's database gets
            self.r["pg_settings"] = {k: conn.execute(f"SHOW {k}").fetchone()[0]
                                     for k in ("synchronous_commit", "fsync", "wal_sync_method", "full_page_writes",
                                               "autovacuum", "shared_buffers")}
        self.r["pg_sync"] = self.r["pg_settings"]["synchronous_commit"]
        pgsrv, _ = self.bridge_server("pg", DATABASE_URL=PG_URL)
        bare = self.server("bare-pg", "bench.bare_app:app", self.base_env("bare-pg"), ready="/")
        sqlite_srv = self.ingest_bridge
        pool = self.pool["10k"]
        pg_pool = Pool(pool.path, pool.record, pool.size, pool.body_bytes)  # its own store and queue: reuse ids
        out: dict[str, list[dict]] = {"bare": [], "sqlite": [], "pg": []}
        for rnd in range(self.a.rounds):
            for name, srv, p in (("bare", bare, pool), ("sqlite", sqlite_srv, pool), ("pg", pgsrv, pg_pool)):
                consume = name != "bare"
                wrk(srv.url, p, 1, consume=consume)
                r = wrk(srv.url, p, self.a.duration, server=srv, consume=consume)
                out[name].append(r)
                log(f"store {name} round {rnd + 1}: {r['rps']:.0f} rps p99 {r['p99']:.1f} ms")
        self.r["pg"] = {**out, "ratio": [b["rps"] / a["rps"] for a, b in zip(out["sqlite"], out["pg"], strict=True)],
                        "bare_ratio": [b["rps"] / a["rps"] for a, b in zip(out["bare"], out["pg"], strict=True)]}
        bare.stop()
        pgsrv.stop()
        sqlite_srv.stop()
        self.drop_pg()
        self.redis().flushdb()

    # ---------------------------------------------------------------- item 3. the grown store
    def grown(self) -> None:
        """Empty vs a million inbox rows, SQLite then PostgreSQL (bench/rounds.py)."""
        self.r["grown"] = {"rows": self.a.grown_rows, "stores": {}}
        for store in ("sqlite", "pg"):
            self.r["grown"]["stores"][store] = grown_round(self, store, self.a.grown_rows, log)
            self.redis().flushdb()

    # ---------------------------------------------------------------- 3/4. end to end
    def post_events(self, url: str, n: int, prefix: str, workers: int = 8) -> list[dict]:
        template = payloads.event_template(1_500, prefix)
        ts = int(time.time())

        def one(i: int) -> dict:
            body = payloads.body_for(template, i, prefix)
            t = time.time()
            resp = session.post(f"{url}/webhooks/generic", data=body, timeout=10,
                                headers=payloads.signed_headers(body, i, prefix, ts))
            return {**(resp.json() if resp.status_code < 300 else {}), "t": t, "code": resp.status_code}

        session = requests.Session()
        with cf.ThreadPoolExecutor(workers) as ex:
            return list(ex.map(one, range(n)))

    def done_count(self, data_dir: Path) -> int:
        with sqlite3.connect(data_dir / "bridge.db", timeout=10) as db:
            return db.execute("SELECT count(*) FROM deliveries WHERE status='done' AND step IN "
                              "('zendesk.ticket','slack.alert')").fetchone()[0]

    def live_vendors(self) -> dict[str, bool]:
        code = "import connectors, json; print(json.dumps(sorted(connectors.LIVE)))"
        out = subprocess.run([str(PY), "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
        live = json.loads(out.stdout or "[]")
        return {v: v in live for v in ("zendesk", "slack", "jira")}

    def e2e(self) -> None:
        self.stub_call("/_bench/reset", {})
        live = self.r["live"] = self.live_vendors()
        srv, env = self.bridge_server("e2e")
        worker = self.workers(env, 1)[0]
        time.sleep(2)
        data = Path(env["BRIDGE_DATA_DIR"])
        lat, acks, session = [], [], requests.Session()
        n = self.a.e2e_n
        template = payloads.event_template(1_500, "l")
        deadline = time.monotonic() + 90
        for i in range(n):
            if time.monotonic() > deadline:
                self.r["notes"].append(f"e2e latency: stopped after {i} handoffs (90 s cap)")
                break
            body = payloads.body_for(template, i, "l")
            t = time.time()
            resp = session.post(f"{srv.url}/webhooks/generic", data=body, timeout=10,
                                headers=payloads.signed_headers(body, i, "l"))
            acks.append(time.time() - t)
            case = resp.json()["case"]
            q = {"ticket": case, "timeout": "20"} | ({"slack": case} if live["slack"] else {})
            got = requests.get(f"{self.stub}/_bench/wait?" + urllib.parse.urlencode(q), timeout=30).json()
            ends = [got["ticket_at"]] + ([got["slack_at"]] if live["slack"] else [])
            if not live["slack"]:
                path = data / "outbox" / case / "slack.alert.json"
                while not path.exists() and time.monotonic() < deadline:
                    time.sleep(0.002)
                ends.append(path.stat().st_mtime if path.exists() else float("nan"))
            lat.append(max(ends) - t)
        stats = self.stub_call("/_bench/stats")
        handoffs = max(len(lat), 1)
        self.r["e2e"] = {"lat": lat, "acks": acks, "calls": stats["calls"], "handoffs": len(lat),
                         "per_vendor": {v: sum(c for k, c in stats["calls"].items() if k.startswith(v)) / handoffs
                                        for v in ("zendesk", "slack", "jira")},
                         "duplicates": stats["duplicate_creates"]}
        log(f"e2e: p50 {median(lat) * 1000:.0f} ms over {len(lat)} handoffs; calls {stats['calls']}")
        self.slack_actions(srv)
        # Every process of `bridge worker`: the supervisor and its children (dispatcher, job process; the
        # job process is the one holding the judge's model). The target is per process.
        kids = children(worker.pid)
        self.r["rss_queue"] = {"supervisor": rss_mb(worker.pid),
                               **{f"child {i + 1}": rss_mb(pid) for i, pid in enumerate(kids)}}
        worker.stop()
        srv.stop()

    def slack_actions(self, srv: Server) -> None:
        """p99 ack of POST /slack/actions (signed take_case clicks) while ingest runs at about half load."""
        probe = requests.post(f"{srv.url}/slack/actions", data=b"payload=%7B%7D", timeout=5,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        if probe.status_code == 404:
            self.r["slack_actions"] = {"missing": True}
            return
        cases = [p.name for p in (Path(srv.env["BRIDGE_DATA_DIR"]) / "outbox").iterdir()][:50] or ["c-none"]
        clicks = slack_pool(self.work / "pool-slack.bin", cases, SLACK_SIGNING)
        ingest_rate = self.r.get("ingest", {}).get("10k", {}).get("half_rate", 200)
        # Ingest at half load on the side (esc pool), Slack clicks on 4 paced connections meanwhile.
        r = clicks_under_ingest(srv, clicks, self.pool["esc"], ingest_rate, self.a.duration)
        self.r["slack_actions"] = r
        log(f"slack actions: p99 {r['p99']:.1f} ms non2xx {r['non2xx']}")

    # ---------------------------------------------------------------- 7a. scale shape
    def scale(self) -> None:
        """The backlog drain of ``bench.drain`` (accept a backlog, then time ``bridge worker --processes K``
        until every event is processed and every step it planned is done), 1 then 2 job processes, SQLite."""
        from bench import drain

        runs = []
        for k in (1, 2):
            self.redis().flushdb()
            run = drain.drain(self.stub, self.a.backlog, k, "sqlite", self.a.drain_cap)
            log(f"drain x{k}: {run['handoffs']}/{run['backlog']} handoffs in {run['seconds']} s = {run['rate']}/s")
            runs.append(run)
        self.r["scale"] = runs

    # ---------------------------------------------------------------- 6. against the glue
    def glue(self) -> None:
        self.redis().flushdb()
        self.stub_call("/_bench/reset", {})
        srv, env = self.bridge_server("glue-bridge", BRIDGE_RETRY_INTERVALS="1,1,1,2,2,2,2,2,2,2,2,2")
        workers = self.workers(env, 1)
        glue = self.server("glue", "bench.glue_app:app", self.base_env("glue"), ready="/")
        pool, d = self.pool["esc"], self.a.glue_duration
        out: dict = {}
        for scenario, cfg in (("slow", {"delay": 0.3, "fail": []}), ("failing", {"delay": 0.3, "fail": ["zendesk"]})):
            self.stub_call("/_bench/config", cfg)
            before = self.stub_call("/_bench/stats")
            runs = {}
            for name, s in (("glue", glue), ("bridge", srv)):
                runs[name] = wrk(s.url, pool, d, conns=4, delay_ms=250, timeout="10s", server=s,
                                 expect_2xx=scenario == "slow" or name == "bridge")
                log(f"glue/{scenario} {name}: {runs[name]['rps']:.1f} rps p99 {runs[name]['p99']:.0f} ms "
                    f"non2xx {runs[name]['non2xx']}")
            self.stub_call("/_bench/config", {"delay": 0.3, "fail": []})  # the vendor recovers
            data = Path(env["BRIDGE_DATA_DIR"])
            acked = runs["bridge"]["requests"] - runs["bridge"]["non2xx"]
            total = self.bridge_total_acked(out) + acked
            deadline = time.monotonic() + self.a.recover_cap
            while time.monotonic() < deadline and self.done_count(data) // 2 < total:
                time.sleep(0.5)
            with sqlite3.connect(data / "bridge.db", timeout=10) as db:
                stored = db.execute("SELECT count(*) FROM inbox").fetchone()[0]
                dead = db.execute("SELECT count(*) FROM deliveries WHERE status='dead'").fetchone()[0]
            glue_tickets = self.tickets_with_prefix("c0")
            runs["bridge"]["acked"] = acked
            # Lost = acknowledged but neither stored nor deliverable: missing from the inbox, or dead.
            runs["bridge"]["lost"] = max(0, total - stored) + dead
            runs["bridge"]["completed"] = self.done_count(data) // 2
            runs["bridge"]["total_acked"] = total
            runs["glue"]["acked"] = runs["glue"]["requests"] - runs["glue"]["non2xx"]
            runs["glue"]["lost"] = max(0, runs["glue"]["requests"] - (glue_tickets - self.glue_tickets_before))
            self.glue_tickets_before = glue_tickets
            after = self.stub_call("/_bench/stats")
            runs["duplicates"] = after["duplicate_creates"] - before["duplicate_creates"]
            out[scenario] = runs
        self.r["glue"] = out
        for p in workers:
            p.stop()
        glue.stop()
        srv.stop()

    glue_tickets_before = 0

    def bridge_total_acked(self, out: dict) -> int:
        return sum(v["bridge"]["acked"] for v in out.values())

    def tickets_with_prefix(self, prefix: str) -> int:
        """Glue tickets carry the conversation id (``c0…``); the bridge's carry the case id (``c-…``)."""
        doc = self.stub_call("/_bench/stats")
        return doc.get("tickets_by_prefix", {}).get(prefix, 0)

    # ---------------------------------------------------------------- 5. footprint
    def footprint(self) -> None:
        env = self.base_env("cold")
        env.pop("REDIS_URL")
        hf = self.work / "hyperfine.json"
        cmd = ["hyperfine", "-N", "-w", "2", "-r", str(self.a.cold_runs), "--export-json", str(hf),
               f"{BRIDGE} --help", f"{PY} -c 'import wsgi'", f"{PY} -c 'import flask'", f"{PY} -c pass"]
        subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=300, check=True)
        self.r["commands"]["cold"] = (f"hyperfine -N -w 2 -r {self.a.cold_runs} '.venv/bin/bridge --help' "
                                      "\".venv/bin/python -c 'import wsgi'\" ...")
        res = json.loads(hf.read_text())["results"]
        self.r["cold"] = {r["command"].replace(str(ROOT) + "/", ""): (r["median"], min(r["times"]), max(r["times"]))
                          for r in res}
        # Import profile of the web process and of `bridge --help` (python -X importtime, cumulative ms).
        self.r["importtime"], self.r["importtime_kind"] = {}, "self"
        for label, argv in (("wsgi", [str(PY), "-X", "importtime", "-c", "import wsgi"]),
                            ("bridge --help", [str(PY), "-X", "importtime", "-m", "bridge.cli", "--help"])):
            err = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60).stderr
            self.r["importtime"][label] = top_imports(err)

    # ---------------------------------------------------------------- run
    def run(self) -> None:
        self.r["started"] = datetime.now(UTC)
        self.redis().flushdb()
        stub = self.track(Proc("stubs", [str(PY), "-m", "bench.stubs", str(self.stub_port)], dict(os.environ),
                               self.work / "stubs.log").start())
        wait_http(f"{self.stub}/_bench/stats", 20, stub.proc)
        self.pools()
        for phase in ("ingest", "pg", "grown", "e2e", "scale", "glue", "footprint"):
            if phase in self.a.skip:
                continue
            log(f"--- {phase}")
            t = time.monotonic()
            getattr(self, phase)()
            self.r.setdefault("phase_s", {})[phase] = time.monotonic() - t
        self.r["total_s"] = time.monotonic() - T0
        for p in self.pool.values():
            if p.exhausted:
                self.r["notes"].append(f"request pool {p.path.name} ran out {p.exhausted}× (later runs reused ids: "
                                       "duplicates answer 200 without storing)")


def top_imports(importtime_stderr: str, n: int = 14) -> list[tuple[str, float]]:
    """Import self time summed by top-level package, wherever it was imported (ms, one run)."""
    totals: dict[str, float] = {}
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        try:
            ms = int(own) / 1000
        except ValueError:
            continue
        top = name.strip().split(".")[0]
        totals[top] = totals.get(top, 0.0) + ms
    return sorted(totals.items(), key=lambda kv: -kv[1])[:n]


def machine() -> dict[str, str]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")
    mem = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")))
    return {"cpu": cpu, "cores": str(os.cpu_count()), "mem": f"{mem / 1024 / 1024:.0f} GiB",
            "kernel": platform.release(), "python": platform.python_version(),
            "load": open("/proc/loadavg").read().split()[0]}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("gunicorn", "flask", "werkzeug", "sqlalchemy", "rq", "redis", "psycopg", "zenpy", "requests",
                "pydantic", "openai"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "-"
    for name, cmd in (("redis-server", ["redis-server", "--version"]), ("wrk", ["wrk", "-v"]),
                      ("hyperfine", ["hyperfine", "--version"])):
        try:
            text = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            words = (text.stdout + text.stderr).split()
            out[name] = next((w.removeprefix("v=") for w in words if w[:1].isdigit() or w.startswith("v=")), "?")
        except OSError:
            out[name] = "-"
    try:
        out["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                    text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "bridge", "connectors", "wsgi.py"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        out["git"] += " (+ uncommitted changes in bridge/ or connectors/)" if dirty else ""
    except OSError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round, short runs (smoke test; figures are not reportable)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per measured wrk run")
    ap.add_argument("--backlog", type=int, default=2_000,
                    help="accepted handoffs per drain run (issue 19 measures 10,000: --backlog 10000, ~25 min)")
    ap.add_argument("--grown-rows", type=int, default=1_000_000, help="inbox rows of the grown store")
    ap.add_argument("--skip", nargs="*", default=[], help="phases to skip")
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    ap.add_argument("--results", help="where the figures go (JSON; default bench/results/run.json, "
                    "run-quick.json for --quick); `python -m bench.report` renders the page from it")
    ap.add_argument("--keep", action="store_true", help="keep the temporary work directory (logs, databases)")
    a = ap.parse_args()
    a.e2e_n, a.drain_cap, a.glue_duration, a.recover_cap, a.cold_runs = 25, 1800.0, 6.0, 25.0, 8
    if a.quick:
        a.rounds, a.duration, a.backlog, a.e2e_n, a.drain_cap, a.glue_duration, a.cold_runs = 1, 2.0, 60, 10, 120, 3, 3
        a.grown_rows = min(a.grown_rows, 100_000)
    bench = Bench(a)
    try:
        bench.run()
    finally:
        bench.cleanup()
    bench.r["machine"], bench.r["versions"], bench.r["args"] = machine(), versions(), vars(a)
    from bench.report import save, write

    save(bench.r, Path(a.results or ROOT / "bench" / "results" / ("run-quick.json" if a.quick else "run.json")))
    write(bench.r, Path(a.out), quick=a.quick)


if __name__ == "__main__":
    sys.exit(main())

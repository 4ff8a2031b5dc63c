"""A web worker's RSS after bench/run's ingest mix, variant against variant, in one sitting (issue 19).

``python -m bench.web_rss --variant before=main --variant after=. [--variant off=.,BRIDGE_MALLOC_TUNING=0]
[--rounds 2] [--duration 3] [--clicks 5]``

A variant is ``NAME=TREE[,ENV=VALUE...]``: ``TREE`` is ``.`` (the checkout) or a git revision (exported
with ``git archive``), the pairs are added to the servers' environment (an allocator or cache setting
tried without a code change). In every round the variants take turns; each turn starts a fresh bridge
on the Procfile's gunicorn line (2 processes × 4 threads, SQLite ``synchronous=FULL``, RQ configured on
``BENCH_WEB_RSS_REDIS_URL``, default Redis db 13, flushed; no queue worker, as in bench/run's ingest
phase) on its own store with 50 escalated cases, then sends what bench/run's ingest phase sends, shorter:
signed generic webhooks of 1 KB, 10 KB, 50 KB and 500 KB, each size a warm-up second and ``--duration``
seconds at the maximum rate on 16 connections, then 10 KB and 50 KB at half that rate; then reads each
worker's VmRSS (as bench/run's ``rss_web`` does); then Slack ``take_case`` clicks on 4 paced connections
for ``--clicks`` seconds and reads it again; then ``--scrapes`` ``GET /metrics``, each on a connection of
its own (as Prometheus scrapes, one worker or the other), and reads it once more. Where the tree has a
queue worker's snapshot of the recovery figures (``bridge.metrics.snapshot``), one is kept before the
server starts, as a running ``bridge worker`` would have. Figures go to bench/results/web-rss.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import payloads
from bench.harness import PY, ROOT, Pool, export, median, migrate_tree, rss_mb, tree_env, tree_server, wrk

RESULTS = Path(__file__).resolve().parent / "results" / "web-rss.json"
SIZES = {"1k": (1_000, 8_000), "10k": (10_000, 8_000), "50k": (50_000, 3_000), "500k": (500_000, 300)}
HALF = ("10k", "50k")
WRK_MEMORY = 400_000_000


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _copy(pool: Pool) -> Pool:
    return Pool(pool.path, pool.record, pool.size, pool.body_bytes)


def parse_variant(text: str) -> tuple[str, str, dict[str, str]]:
    name, _, rest = text.partition("=")
    tree, *pairs = rest.split(",")
    return name, tree or ".", dict(p.split("=", 1) for p in pairs)


def ingest_mix(srv: Any, pools: dict[str, Pool], duration: float) -> dict[str, dict[str, float]]:
    """bench/run's ingest phase for one server, shorter: max rate per size, then half load for 10k/50k.
    Returns each size's maximum rate and the web workers' CPU µs per request at it."""
    out: dict[str, dict[str, float]] = {}
    for size, pool in pools.items():
        want = min(30_000, int(WRK_MEMORY / pool.body_bytes))
        wrk(srv.url, pool, 1, want=want)
        r = wrk(srv.url, pool, duration, want=want, server=srv)
        out[size] = {"rps": r["rps"], "cpu_us": r["cpu_us"]}
    for size in HALF:
        wrk(srv.url, pools[size], duration, delay_ms=16_000 / (0.5 * out[size]["rps"]))
    return out


KEEP_FIGURES = ("from bridge.config import Settings; from bridge.runtime import Runtime; "
                "from bridge.metrics import snapshot; snapshot.refresh(Runtime.build(Settings.from_env()))")


def scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as answer:  # a new connection each time
        assert answer.status == 200
        return str(answer.read().decode())


def turn(b: Any, name: str, src: Path, extra: dict[str, str], pools: dict[str, Pool], clicks: Pool,
         a: argparse.Namespace, rnd: int) -> dict[str, Any]:
    from bench.rounds import seed_cases

    env = tree_env(b.base_env(f"rss-{name}-{rnd}", **extra), src)
    migrate_tree(src, env)
    with sqlite3.connect(Path(env["BRIDGE_DATA_DIR"]) / "bridge.db") as db:
        seed_cases(db.execute, datetime.now(UTC).replace(tzinfo=None), "?")
    if (src / "bridge" / "metrics" / "snapshot.py").exists():
        subprocess.run([str(PY), "-c", KEEP_FIGURES], env=env, cwd=src, check=True, capture_output=True, timeout=120)
    srv = b.track(tree_server(f"rss-{name}-{rnd}", src, env, b.work / f"rss-{name}-{rnd}.log"))
    try:
        warm = [rss_mb(p) for p in srv.workers()]
        rates = ingest_mix(srv, {k: _copy(p) for k, p in pools.items()}, a.duration)
        ingest = [rss_mb(p) for p in srv.workers()]
        if a.clicks:
            wrk(srv.url, clicks, a.clicks, conns=4, delay_ms=40, consume=False, want=clicks.size)
        after = [rss_mb(p) for p in srv.workers()]
        figures = sum("bridge_recovery{" in scrape(srv.url) for _ in range(a.scrapes))
        scraped = [rss_mb(p) for p in srv.workers()]
    finally:
        srv.stop()
    out = {"variant": name, "round": rnd + 1, "idle_rss": warm, "ingest_rss": ingest, "clicks_rss": after,
           "scrape_rss": scraped, "scrapes_with_figures": figures, "ingest": rates, "load": _load()}
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", action="append", required=True, help="NAME=TREE[,ENV=VALUE...]")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--clicks", type=float, default=5, help="seconds of Slack clicks after the ingest (0: none)")
    ap.add_argument("--scrapes", type=int, default=0, help="GET /metrics this many times after the clicks")
    ap.add_argument("--results", type=Path, default=RESULTS)
    a = ap.parse_args()

    import bench.__main__ as bench_main
    from bench.rounds import escalated_cases, slack_pool

    bench_main.REDIS_URL = os.environ.get("BENCH_WEB_RSS_REDIS_URL", "redis://127.0.0.1:6379/13")
    b = bench_main.Bench(argparse.Namespace(keep=False))
    variants = [parse_variant(v) for v in a.variant]
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()
    r: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "load_start": _load(), "args": vars(a) | {
        "results": str(a.results)}, "trees": {}, "turns": []}
    try:
        trees: dict[str, Path] = {}
        for name, tree, _ in variants:
            if tree == ".":
                trees[name], r["trees"][name] = ROOT, f"{head} (checkout)"
            else:
                r["trees"][name], trees[name] = export(tree, b.work, f"tree-{name}")
        pools = {}
        for size, (target, count) in SIZES.items():
            record, body = payloads.write_pool(b.work / f"pool-{size}.bin", target, count, size[0])
            pools[size] = Pool(b.work / f"pool-{size}.bin", record, count, body)
        clicks = slack_pool(b.work / "pool-clicks.bin", escalated_cases(), b.slack_secret, 2000)
        for rnd in range(a.rounds):
            order = variants if rnd % 2 == 0 else variants[::-1]
            for name, _, extra in order:
                b.redis().flushdb()
                r["turns"].append(turn(b, name, trees[name], extra, pools, clicks, a, rnd))
                time.sleep(1)
    finally:
        b.cleanup()
    r["load_end"] = _load()
    r["summary"] = {name: {k: median([max(t[k]) for t in r["turns"] if t["variant"] == name])
                           for k in ("idle_rss", "ingest_rss", "clicks_rss", "scrape_rss")}
                    | {f"cpu_us_{size}": median([t["ingest"][size]["cpu_us"] for t in r["turns"] if t["variant"] == name])
                       for size in SIZES} for name, _, _ in variants}
    a.results.parent.mkdir(exist_ok=True)
    a.results.write_text(json.dumps(r, indent=1) + "\n")
    print("load average", r["load_start"], "->", r["load_end"])
    for name, s in r["summary"].items():
        print(f"{name:>12}: largest worker, median over rounds: idle {s['idle_rss']:.1f} MB, after ingest "
              f"{s['ingest_rss']:.1f} MB, after clicks {s['clicks_rss']:.1f} MB, after scrapes {s['scrape_rss']:.1f} MB; web CPU µs/request at max rate "
              + ", ".join(f"{size} {s['cpu_us_' + size]:.0f}" for size in SIZES))


if __name__ == "__main__":
    main()

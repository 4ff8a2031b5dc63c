"""Where a job process's memory and Redis round trips go during a drain (issue 19, item 6).

  python -m bench.drain_memory [--handoffs 300] [--store sqlite|postgres] [--tracemalloc] [--trim N]
                               [--freeze] [--packages N] [--no-otel]

As ``bench.drain_profile``: a backlog of accepted hand-offs, handed to RQ by the dispatcher's own
``handover.dispatch``, drained by one job process (``jobs_process.run``, burst mode) in this process
against the bench's stub vendors, after a 20-handoff warm-up round. Reported: RSS (anonymous and
file-backed) after the warm-up and every 100 jobs, the peak (VmHWM, reset after the warm-up), the
job process's CPU per handoff, Redis round trips per job (one per command sent alone, one per
pipeline) and the commands sent per handoff; with ``--tracemalloc``, the Python allocations that
grew most between the end of the warm-up and the end of the drain (tracemalloc slows the drain and
inflates RSS: read its run for *where*, the other runs for *how much*).

Experiments (not product settings): ``--trim N`` calls glibc's ``malloc_trim(0)`` every N jobs,
``--freeze`` calls ``gc.freeze()`` after the warm-up, ``--packages N`` sets the handoff-package
cache's size, ``--sqlite-cache KB`` caps SQLite's page cache per connection, ``--no-otel`` makes
``opentelemetry`` unimportable (as in a production install, where only the test extra brings it;
redis-py loads its SDK when it is there). The absolute RSS is this process's (it holds the bench's
imports too), not a forked ``bridge worker`` child's: compare runs.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import gc
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.drain import REDIS_URL, Store, clean_env, vendor_env
from bench.harness import BRIDGE, PY, ROOT, Proc, free_port, teardown_rig, wait_http


class _NoOtel:
    """A meta-path finder that refuses ``opentelemetry`` (what a production install lacks)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(f"{name} left out by bench.drain_memory --no-otel")


def status() -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM of this process, MB."""
    keys = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in keys:
            out[name] = round(int(value.split()[0]) / 1024, 1)
    return out


class RedisCounter:
    """Round trips (one per ``send_packed_command``: a command alone, or a whole pipeline; a blocking pop
    counts as one) and the
    commands they carried, counted while ``on``."""

    def __init__(self) -> None:
        from redis.connection import AbstractConnection

        self.on = False
        self.trips = 0
        self.commands: collections.Counter[str] = collections.Counter()
        send, one, packs = (AbstractConnection.send_packed_command, AbstractConnection.send_command,
                            AbstractConnection.pack_commands)
        counter = self

        def send_packed_command(conn: Any, command: Any, check_health: bool = True) -> Any:
            counter.trips += counter.on
            return send(conn, command, check_health)

        def send_command(conn: Any, *args: Any, **kwargs: Any) -> Any:
            if counter.on:
                counter.commands[str(args[0]).split()[0].upper()] += 1
            return one(conn, *args, **kwargs)

        def pack_commands(conn: Any, commands: Any) -> Any:
            if counter.on:
                for args in commands:
                    counter.commands[str(args[0]).split()[0].upper()] += 1
            return packs(conn, commands)

        AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
        AbstractConnection.send_command = send_command  # type: ignore[method-assign]
        AbstractConnection.pack_commands = pack_commands  # type: ignore[method-assign]


class GcTimer:
    """Collections per generation and the wall time they took, while ``on`` (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.on = False
        self.count = [0, 0, 0]
        self.ms = [0.0, 0.0, 0.0]
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.ms[info["generation"]] += (time.perf_counter() - self._start) * 1000


def _fill(env: dict[str, str], n: int, prefix: str) -> None:
    subprocess.run([str(PY), "-m", "bench.drain", "--fill", str(n), "--prefix", prefix], env=env, cwd=ROOT,
                   check=True, timeout=1800)


def _drain(every: int, trim: int, samples: list[tuple[int, dict[str, float]]], jobs: list[int]) -> float:
    """Hand the backlog to RQ and drain it with one in-process job process; CPU seconds it took."""
    from bridge.config import Settings
    from bridge.runtime import Runtime, install
    from bridge.store.db import relax_durability
    from bridge.worker import handover, jobs_process

    relax_durability()
    settings = Settings.from_env()
    handover.dispatch(install(Runtime.build(settings)))
    libc = ctypes.CDLL("libc.so.6") if trim else None
    real = jobs_process.BridgeWorker.execute_job

    def execute_job(worker: Any, job: Any, queue: Any) -> None:
        real(worker, job, queue)
        jobs[0] += 1
        if libc is not None and jobs[0] % trim == 0:
            libc.malloc_trim(0)
        if jobs[0] % every == 0:
            samples.append((jobs[0], status()))

    jobs_process.BridgeWorker.execute_job = execute_job  # type: ignore[method-assign]
    try:
        t = time.process_time()
        jobs_process.run(settings, None, burst=True)
        return time.process_time() - t
    finally:
        jobs_process.BridgeWorker.execute_job = real  # type: ignore[method-assign]


def run(a: argparse.Namespace) -> dict[str, Any]:
    if a.no_otel:
        sys.meta_path.insert(0, _NoOtel())
    port = free_port()
    stub = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="rb-dmem-"))
    stubs = Proc("stubs", [str(PY), "-m", "bench.stubs", str(port)], dict(os.environ), work / "stubs.log").start()
    store = Store(a.store, work)
    try:
        wait_http(f"{stub}/_bench/stats", 20, stubs.proc)
        env = clean_env(BRIDGE_DATA_DIR=str(work), REDIS_URL=REDIS_URL, BRIDGE_QUEUE=f"dmem_{uuid.uuid4().hex[:8]}",
                        **vendor_env(stub), **({"DATABASE_URL": store.url} if store.url else {}))
        subprocess.run([str(BRIDGE), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
        for name in [k for k in os.environ if k in ("DATABASE_URL", "REDIS_URL")]:
            del os.environ[name]
        os.environ.update(env)
        if a.sqlite_cache is not None:
            from sqlalchemy import event

            from bridge.store import db

            def pragma(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute(f"PRAGMA cache_size=-{a.sqlite_cache}")

            real_get = db.get_engine

            def get_engine(url: str) -> Any:
                engine = real_get(url)
                if not event.contains(engine, "connect", pragma):
                    event.listen(engine, "connect", pragma)
                return engine

            db.get_engine = get_engine  # type: ignore[assignment]
        if a.packages is not None:
            from bridge.worker import packages

            packages.SIZE = a.packages
        _fill(env, 20, "ma")
        samples: list[tuple[int, dict[str, float]]] = []
        jobs = [0]
        if a.preimport:  # what a job process has before its first job: its imports and warm-up
            import bridge.worker.jobs  # noqa: F401
            from bridge.config import Settings
            from bridge.runtime import Runtime
            from bridge.worker import jobs_process

            jobs_process.warm_up(Runtime.build(Settings.from_env()))
            gc.collect()
        cold = status()
        if a.trace_warmup:
            import tracemalloc

            tracemalloc.start()
            before = tracemalloc.take_snapshot()
        _drain(10**9, a.trim, samples, jobs)  # the warm-up round (a job process's first jobs)
        first_use: list[tuple[str, int, int]] = []
        if a.trace_warmup:
            stats = tracemalloc.take_snapshot().compare_to(before, "filename")
            first_use = [(str(s.traceback), round(s.size_diff / 1024), s.count_diff) for s in stats[: a.top]]
            tracemalloc.stop()
        if a.freeze:
            gc.freeze()
        _fill(env, a.handoffs, "mb")
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here on
        warm = status()
        counter, collections_ = RedisCounter(), GcTimer()
        snapshot = None
        if a.tracemalloc:
            import tracemalloc

            tracemalloc.start(a.frames)
            snapshot = tracemalloc.take_snapshot()
        counter.on, collections_.on, jobs[0] = True, True, 0
        started = time.monotonic()
        cpu = _drain(100, a.trim, samples, jobs)
        wall = time.monotonic() - started
        counter.on = collections_.on = False
        end = status()
        from bridge.store import db

        pools = [engine.pool.status() for engine in db._engines.values()]
        processed, done, planned = store.progress()
        assert processed == 20 + a.handoffs and done == planned, (processed, done, planned)
        result: dict[str, Any] = {
            "store": a.store, "handoffs": a.handoffs, "jobs": jobs[0], "otel": "opentelemetry" in sys.modules,
            "trim_every": a.trim, "freeze": a.freeze, "packages": a.packages,
            "pools": pools, "rss_cold": cold, "rss_warm": warm, "first_use": first_use, "rss_end": end, "samples": samples,
            "cpu_ms_per_handoff": round(1000 * cpu / a.handoffs, 1),
            "wall_ms_per_handoff": round(1000 * wall / a.handoffs, 1),
            "redis_trips_per_job": round(counter.trips / jobs[0], 2),
            "gc_collections": collections_.count, "gc_ms": [round(x) for x in collections_.ms],
            "redis_commands_per_handoff": {k: round(v / a.handoffs, 2) for k, v in counter.commands.most_common()},
        }
        if snapshot is not None:
            import tracemalloc

            after = tracemalloc.take_snapshot()
            stats = after.compare_to(snapshot, "traceback" if a.frames > 1 else "lineno")
            result["grown"] = [(str(s.traceback), round(s.size_diff / 1024), s.count_diff) for s in stats[: a.top]]
            tracemalloc.stop()
        return result
    finally:
        teardown_rig(stubs, store, work)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.drain_memory", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--handoffs", type=int, default=300)
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--preimport", action="store_true", help="the job's modules imported and warmed up first")
    ap.add_argument("--trace-warmup", action="store_true", help="tracemalloc over the first 20 handoffs, by file")
    ap.add_argument("--frames", type=int, default=1, help="tracemalloc frames per allocation")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--trim", type=int, default=0, help="malloc_trim(0) every N jobs (0: never)")
    ap.add_argument("--freeze", action="store_true", help="gc.freeze() after the warm-up")
    ap.add_argument("--packages", type=int, help="the handoff-package cache's size")
    ap.add_argument("--sqlite-cache", type=int, help="PRAGMA cache_size=-N (KB) on each SQLite connection")
    ap.add_argument("--no-otel", action="store_true", help="opentelemetry made unimportable")
    a = ap.parse_args()
    r = run(a)
    print(f"{r['store']} {r['handoffs']} handoffs, {r['jobs']} jobs; otel loaded: {r['otel']}; trim every "
          f"{r['trim_every']}; freeze {r['freeze']}; packages {r['packages']}")
    print(f"RSS before the warm-up (the first 20 handoffs) {r['rss_cold']}")
    for where, kb, count in r["first_use"]:
        print(f"  first use {kb:>8} KB {count:>8} blocks  {where}")
    print(f"RSS after warm-up {r['rss_warm']}, at the end {r['rss_end']}")
    print("RSS every 100 jobs: " + ", ".join(f"{n}: {s['VmRSS']}" for n, s in r["samples"]))
    print(f"CPU {r['cpu_ms_per_handoff']} ms per handoff, wall {r['wall_ms_per_handoff']} ms; Redis round trips "
          f"per job {r['redis_trips_per_job']}; commands per handoff {r['redis_commands_per_handoff']}")
    print(f"connection pools at the end: {r['pools']}")
    print(f"garbage collections per generation {r['gc_collections']}, ms {r['gc_ms']}")
    for where, kb, count in r.get("grown", []):
        print(f"{kb:>8} KB {count:>8} blocks  {where}")


if __name__ == "__main__":
    main()

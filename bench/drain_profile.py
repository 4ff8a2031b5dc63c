"""Where a job process's CPU goes, per handoff (issue 19, item 6).

  python -m bench.drain_profile [--handoffs 200] [--store sqlite|postgres] [--top 40] [--out prof.out]

A backlog of ``handoffs`` accepted hand-offs (as ``bench.drain`` fills it), handed to RQ by the
dispatcher's own ``handover.dispatch``; then one job process (``jobs_process.run``, burst mode: it
ends when both queues are empty) drains it in this process, under cProfile, against the bench's
stub vendors. Prints the job process's CPU ms per handoff (no profiler: a first, unprofiled pass
over its own backlog) and cProfile's largest functions by own and inclusive time. The queue is the
one ``BENCH_DRAIN_REDIS_URL`` names, under a fresh queue name (nothing else in that db is touched).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.drain import REDIS_URL, Store, clean_env, vendor_env
from bench.harness import BRIDGE, PY, ROOT, Proc, free_port, teardown_rig, wait_http


def _fill(env: dict[str, str], n: int, prefix: str) -> None:
    subprocess.run(
        [str(PY), "-m", "bench.drain", "--fill", str(n), "--prefix", prefix],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=1800,
    )


def _drain(profile: cProfile.Profile | None) -> float:
    """Hand the backlog to RQ and drain it with one in-process job process; CPU seconds it took."""
    from bridge.config import Settings
    from bridge.runtime import Runtime, install
    from bridge.store.db import relax_durability
    from bridge.worker import handover, jobs_process

    relax_durability()  # as the dispatcher and the job process do before they open the store
    settings = Settings.from_env()
    handover.dispatch(install(Runtime.build(settings)))
    t = time.process_time()
    if profile is not None:
        profile.enable()
    jobs_process.run(settings, None, burst=True)
    if profile is not None:
        profile.disable()
    return time.process_time() - t


def run(handoffs: int, kind: str, top: int, out: Path | None) -> dict[str, Any]:
    port = free_port()
    stub = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="rb-dprof-"))
    stubs = Proc("stubs", [str(PY), "-m", "bench.stubs", str(port)], dict(os.environ), work / "stubs.log").start()
    store = Store(kind, work)
    try:
        wait_http(f"{stub}/_bench/stats", 20, stubs.proc)
        env = clean_env(
            BRIDGE_DATA_DIR=str(work),
            REDIS_URL=REDIS_URL,
            BRIDGE_QUEUE=f"dprof_{uuid.uuid4().hex[:8]}",
            **vendor_env(stub),
            **({"DATABASE_URL": store.url} if store.url else {}),
        )
        subprocess.run([str(BRIDGE), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
        for name in [k for k in os.environ if k in ("DATABASE_URL", "REDIS_URL")]:
            del os.environ[name]
        os.environ.update(env)
        # Conversation ids drop the prefix's first letter (bench.payloads): the second letter tells
        # the rounds apart. A first round warms the process (imports, the judge, compiled statements).
        _fill(env, 20, "xa")
        _drain(None)
        _fill(env, handoffs, "xb")
        started = time.monotonic()
        plain = _drain(None)
        wall = time.monotonic() - started
        _fill(env, handoffs, "xc")
        profile = cProfile.Profile()
        profiled = _drain(profile)
        processed, done, planned = store.progress()
        assert processed == 20 + 2 * handoffs and done == planned, (processed, done, planned)
        stats = pstats.Stats(profile)
        if out:
            stats.dump_stats(str(out))
        print(
            f"{kind}: {handoffs} handoffs; job process CPU {1000 * plain / handoffs:.1f} ms per handoff, "
            f"wall {1000 * wall / handoffs:.1f} ms per handoff (profiled: CPU {1000 * profiled / handoffs:.1f})"
        )
        for key in ("tottime", "cumulative"):
            stats.sort_stats(key).print_stats(top)
        return {
            "store": kind,
            "handoffs": handoffs,
            "cpu_ms_per_handoff": round(1000 * plain / handoffs, 2),
            "wall_ms_per_handoff": round(1000 * wall / handoffs, 2),
        }
    finally:
        teardown_rig(stubs, store, work)


def main() -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.drain_profile", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--handoffs", type=int, default=200)
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    run(a.handoffs, a.store, a.top, a.out)


if __name__ == "__main__":
    main()

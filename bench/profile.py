"""Where the time goes: py-spy over a saturated web worker, or over queue workers draining a backlog.

  .venv/bin/python -m bench.profile ingest [10k|50k]   # 1 gunicorn worker, wrk at saturation, 8 s sample
  .venv/bin/python -m bench.profile worker             # `bridge worker` (+ its forked work horses) draining 40 handoffs
Prints the functions with the largest inclusive share of samples. Loopback only, bounded (< 1 min).
Needs py-spy (the `bench` extra) and root (ptrace).
"""

from __future__ import annotations

import collections
import subprocess
import sys
import time
from pathlib import Path

from bench import payloads
from bench.__main__ import Bench, main as _unused  # noqa: F401
from bench.harness import PY, Pool, Proc, Server, free_port, wrk

PYSPY = Path(sys.executable).with_name("py-spy")


def summarize(raw: Path, top: int = 90) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/site-packages/")[-1].split(
            "/work/main/")[-1] + ")" if " (" in f else f for f in stack.split(";")]
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    print(f"{total} samples\n--- inclusive")
    for f, n in inclusive.most_common(top):
        print(f"{100 * n / total:5.1f}%  {f}")
    print("--- self")
    for f, n in own.most_common(15):
        print(f"{100 * n / total:5.1f}%  {f}")


def ingest(size: str) -> None:
    import argparse

    a = argparse.Namespace(quick=True, keep=False, rounds=1, duration=8, skip=[])
    b = Bench(a)
    try:
        b.pools()
        env = b.base_env("prof")
        b.migrate(env)
        port = free_port()
        srv = Server("prof", Server.command("wsgi:app", port, workers=1), env, b.work / "prof.log", port=port)
        b.track(srv)
        srv.start = Server.start.__get__(srv)  # type: ignore[method-assign]
        Proc.start(srv)
        time.sleep(3)
        pid = srv.workers()[0]
        pool: Pool = b.pool[size]
        out = b.work / "ingest.raw"
        spy = subprocess.Popen([str(PYSPY), "record", "-p", str(pid), "-d", "8", "-r", "250", "-f", "raw",
                                "-o", str(out), "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = wrk(srv.url, pool, 9, server=srv)
        spy.wait(30)
        print(f"{r['rps']:.0f} req/s with 1 worker, {r['cpu_us']:.0f} µs CPU/req")
        summarize(out)
    finally:
        b.cleanup()


def worker() -> None:
    import argparse

    a = argparse.Namespace(quick=True, keep=False, rounds=1, duration=3, skip=[])
    b = Bench(a)
    try:
        stub = b.track(Proc("stubs", [str(PY), "-m", "bench.stubs", str(b.stub_port)], {}, b.work / "s.log").start())
        time.sleep(1)
        srv, env = b.bridge_server("profw")
        b.post_events(srv.url, 40, "p")
        srv.stop()
        w = b.workers(env, 1)[0]
        out = b.work / "worker.raw"
        subprocess.run([str(PYSPY), "record", "-p", str(w.pid), "--subprocesses", "-d", "15", "-r", "200", "-f",
                        "raw", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        summarize(out)
        stub.stop()
    finally:
        b.cleanup()


if __name__ == "__main__":
    _ = payloads
    if sys.argv[1] == "ingest":
        ingest(sys.argv[2] if len(sys.argv) > 2 else "10k")
    else:
        worker()

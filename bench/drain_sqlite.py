"""Where a SQLite drain's job processes wait (issue 19, item 6: two job processes do not double it).

  python -m bench.drain_sqlite [--backlog 300] [--processes 1 2]

Runs ``bench.drain`` on SQLite with a ``sitecustomize`` on the workers' path that times, in every
process it loads into, each SQL statement (reads and writes apart) and each commit, and counts
``database is locked`` errors. SQLite takes its write lock at a transaction's first write and
waits for it in its busy handler (``busy_timeout``), so a lock wait shows as the time of that
write, and the commits' own cost (WAL, ``synchronous=NORMAL`` in job processes: no fsync) as the
time of the commit. Per process: statements, seconds in reads, in writes, in commits, against the
process's CPU seconds. Results go to ``bench/results/drain-sqlite.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import ROOT

SITE = '''
import os
if os.environ.get("BENCH_SQL_TIMING"):
    import atexit, json, time
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    _s = {"reads": 0, "read_s": 0.0, "writes": 0, "write_s": 0.0, "write_max_s": 0.0, "commits": 0,
          "commit_s": 0.0, "locked": 0}

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t"] = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - conn.info.pop("bench_t", time.perf_counter())
        kind = "read" if statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA") else "write"
        _s[kind + "s"] += 1
        _s[kind + "_s"] += took
        if kind == "write":
            _s["write_max_s"] = max(_s["write_max_s"], took)
        if time.monotonic() - _s.setdefault("dumped", 0.0) > 1.0:
            _s["dumped"] = time.monotonic()
            _dump()  # every second: a forked job process ends by os._exit, past any atexit

    @event.listens_for(Engine, "handle_error")
    def _error(context):
        if "locked" in str(context.original_exception):
            _s["locked"] += 1

    _commit = SQLiteDialect_pysqlite.do_commit

    def _do_commit(self, dbapi_connection):
        t = time.perf_counter()
        try:
            return _commit(self, dbapi_connection)
        finally:
            _s["commits"] += 1
            _s["commit_s"] += time.perf_counter() - t

    SQLiteDialect_pysqlite.do_commit = _do_commit

    def _dump():
        if not _s["reads"] + _s["writes"]:
            return
        cpu = os.times()
        with open("/proc/self/comm") as comm:
            name = comm.read().strip()
        path = os.path.join(os.environ["BENCH_SQL_TIMING"], f"{os.getpid()}.json")
        with open(path + ".tmp", "w") as out:
            json.dump({**_s, "cpu_s": cpu.user + cpu.system, "argv": name + " " + " ".join(__import__("sys").argv)[-60:]},
                      out)
        os.replace(path + ".tmp", path)

    atexit.register(_dump)
'''


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.drain_sqlite", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backlog", type=int, default=300)
    ap.add_argument("--processes", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "drain-sqlite.json"))
    a = ap.parse_args()
    import subprocess

    site = Path(tempfile.mkdtemp(prefix="rb-sqlsite-"))
    (site / "sitecustomize.py").write_text(SITE)
    runs: list[dict[str, Any]] = []
    for k in a.processes:
        timing = Path(tempfile.mkdtemp(prefix=f"rb-sqltiming-{k}-"))
        drained = timing / "drain.json"
        env = {**os.environ, "PYTHONPATH": str(site), "BENCH_SQL_TIMING": str(timing)}
        subprocess.run([sys.executable, "-m", "bench.drain", "--backlog", str(a.backlog), "--processes", str(k),
                        "--store", "sqlite", "--cap", "600", "--out", str(drained)], env=env, cwd=ROOT, check=True)
        run = json.loads(drained.read_text())["drain"]["runs"][0]
        procs = [json.loads(p.read_text()) for p in sorted(timing.glob("[0-9]*.json"))]
        workers = [p for p in procs if "fill" not in p["argv"]]
        runs.append({"processes": k, "rate": run["rate"], "seconds": run["seconds"], "complete": run["complete"],
                     "processes_timed": workers})
        print(f"sqlite x{k}: {run['rate']}/s", file=sys.stderr)
        for p in workers:
            print(f"  {p['argv'][-40:]:>40}: cpu {p['cpu_s']:.1f} s, reads {p['reads']} {p['read_s']:.1f} s, "
                  f"writes {p['writes']} {p['write_s']:.1f} s (max {p['write_max_s'] * 1000:.0f} ms), "
                  f"commits {p['commits']} {p['commit_s']:.1f} s, locked {p['locked']}", file=sys.stderr)
    Path(a.out).write_text(json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"),
                                       "backlog": a.backlog, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()

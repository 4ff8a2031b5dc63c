"""Process, load-generator and /proc helpers shared by the benchmark phases. Loopback only."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"
PY, GUNICORN, BRIDGE = VENV / "python", VENV / "gunicorn", VENV / "bridge"
LUA = Path(__file__).with_name("req.lua")
CLK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def span(values: list[float], fmt: str = "{:.0f}") -> str:
    """median [min–max] as text."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(median(values))} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def cpu_times() -> tuple[int, int]:
    """(total jiffies, steal jiffies) from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[7] if len(fields) > 7 else 0


def proc_cpu(pid: int) -> float:
    """utime+stime seconds of a process (0 if it is gone)."""
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / CLK


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout} s")


@dataclass
class Proc:
    """A child process started by the bench, always stopped by its own pid."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    cwd: Path = ROOT  # an exported tree's process runs there: Python puts its directory first on sys.path

    def start(self) -> Proc:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=handle, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session, started above
            self.proc.wait(5)


@dataclass
class Server(Proc):
    """gunicorn exactly as the Procfile's ``web`` line, bound to loopback."""

    port: int = 0
    ready_path: str = "/healthz"

    @staticmethod
    def command(app: str, port: int, workers: int = 2, config: bool = True) -> list[str]:
        settings = ["--config", "python:bridge.web.gunicorn_conf"] if config else []  # older trees have none
        return [str(GUNICORN), *settings, "--workers", str(workers), "--worker-class", "bridge.web.server.BufferedWorker",
                "--threads", "4", "--bind", f"127.0.0.1:{port}", "--timeout", "30", "--graceful-timeout", "25", app]

    def start(self) -> Server:
        super().start()
        wait_http(f"http://127.0.0.1:{self.port}{self.ready_path}", 60, self.proc)
        deadline = time.monotonic() + 20
        while len(self.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def workers(self) -> list[int]:
        return children(self.pid)

    def cpu(self) -> float:
        return sum(proc_cpu(p) for p in self.workers())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class TreeServer(Server):
    """``Server`` started from its own tree (``--chdir`` and the working directory): gunicorn puts its
    working directory ahead of PYTHONPATH, so a server started from the checkout runs the checkout's
    bridge whatever ``--chdir`` and PYTHONPATH say (a before server then measured the after code)."""

    src: Path = ROOT

    def start(self) -> TreeServer:
        with self.log.open("ab") as handle:
            self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.src, stdout=handle,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_http(f"http://127.0.0.1:{self.port}{self.ready_path}", 60, self.proc)
        deadline = time.monotonic() + 20
        while len(self.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        return self


def tree_server(name: str, src: Path, env: dict[str, str], log: Path) -> TreeServer:
    """The bridge of ``src`` on the Procfile's gunicorn line (``env`` should put ``src`` on PYTHONPATH
    when it is not the checkout: see ``tree_env``)."""
    port = free_port()
    cmd = Server.command("wsgi:app", port, config=(src / "bridge" / "web" / "gunicorn_conf.py").exists())
    cmd[1:1] = ["--chdir", str(src)]
    return TreeServer(name, cmd, env, log, port=port, src=src).start()


def tree_env(env: dict[str, str], src: Path) -> dict[str, str]:
    """``env`` for a process running the bridge of ``src``: an exported tree goes ahead of the
    editable install of the checkout."""
    return env if src == ROOT else {**env, "PYTHONPATH": str(src)}


def probe(file: str, src: Path, call: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``call`` (Python, e.g. ``"_child(3)"``) of the bench module ``file`` in a child process on the
    bridge of ``src``, and return the last JSON line it prints. The module is loaded by its path, with
    the checkout's bench helpers first (an older tree's bench lacks them); then ``src`` goes ahead of
    everything, so what ``call`` imports (the bridge, wsgi) is the tree's."""
    code = (f"import sys, importlib.util; sys.path[:0] = [{str(ROOT)!r}]; "
            f"spec = importlib.util.spec_from_file_location('bench_probe', {file!r}); "
            f"m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            f"sys.path[:0] = [{str(src)!r}]; m.{call}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    done = subprocess.run([str(PY), "-c", code], env=env, cwd=src, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def export(rev: str, work: Path, name: str = "before") -> tuple[str, Path]:
    """``rev`` exported with ``git archive`` into ``work/<name>-src``: (its short hash, the tree)."""
    short = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True,
                           text=True).stdout.strip()
    tar, dest = work / f"{name}.tar", work / f"{name}-src"
    subprocess.run(["git", "archive", "-o", str(tar), short], cwd=ROOT, check=True)
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="data")
    return short, dest


def migrate_tree(src: Path, env: dict[str, str]) -> None:
    """``bridge db upgrade`` with the migrations of ``src``."""
    subprocess.run([str(PY), "-c", "from bridge.cli import main; main()", "db", "upgrade"], env=tree_env(env, src),
                   cwd=src, check=True, capture_output=True, timeout=120)


@dataclass
class Pool:
    """A file of pre-signed unique requests; each run takes a fresh slice."""

    path: Path
    record: int
    size: int
    body_bytes: int
    next: int = 0
    exhausted: int = field(default=0)

    def slice(self, want: int) -> tuple[int, int]:
        start = self.next if self.next < self.size else 0
        count = max(1, min(want, self.size - start))
        return start, count

    def used(self, start: int, n: int) -> None:
        self.next = start + n + 64  # requests in flight when wrk stopped were sent too
        if self.next >= self.size:
            self.exhausted += 1


def wrk(url: str, pool: Pool, duration: float, conns: int = 16, delay_ms: float = 0, want: int = 30000,
        timeout: str = "5s", consume: bool = True, server: Server | None = None,
        expect_2xx: bool = True) -> dict:
    """One bounded wrk run; returns its figures (rps, latencies in ms, errors, server CPU µs/req, steal %)."""
    start, count = pool.slice(want) if consume else (0, min(want, pool.size))
    env = {**os.environ, "POOL": str(pool.path), "RECORD": str(pool.record), "START": str(start),
           "COUNT": str(count), "DELAY_MS": f"{delay_ms:.3f}"}
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{int(round(duration))}s", "--timeout", timeout, "-s", str(LUA),
           f"{url}/webhooks/generic"]
    cpu0 = server.cpu() if server else 0.0
    tot0, steal0 = cpu_times()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    tot1, steal1 = cpu_times()
    cpu1 = server.cpu() if server else 0.0
    line = next((x for x in out.stdout.splitlines() if x.startswith("JSONRESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    r = json.loads(line.split(" ", 1)[1])
    if consume:
        pool.used(start, r["requests"])
    n = max(r["requests"], 1)
    if r["err_status"] > 0.01 * n and expect_2xx:
        raise RuntimeError(f"{url}: {r['err_status']} of {n} answers were not 2xx; the figures would be meaningless")
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "requests": r["requests"],
        "p50": r["p50_us"] / 1000, "p90": r["p90_us"] / 1000, "p99": r["p99_us"] / 1000, "max": r["max_us"] / 1000,
        "non2xx": r["err_status"],
        "errors": r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"],
        "wraps": r["wraps"] if consume else 0,
        "cpu_us": (cpu1 - cpu0) / n * 1e6 if server else float("nan"),
        "steal": 100.0 * (steal1 - steal0) / max(tot1 - tot0, 1),
        "cmd": " ".join(cmd),
    }


def teardown_rig(stubs: Proc, store: Any, work: Path) -> None:
    """Undo an in-process drain rig (bench.drain_memory, bench.drain_profile): the process's engines, the
    vendor stubs, the store (``bench.drain.Store``) and its folder."""
    from bridge.store.db import dispose_all

    dispose_all()
    stubs.stop()
    store.drop()
    shutil.rmtree(work, ignore_errors=True)

"""``bridge worker`` as deployed: a supervisor, its dispatcher and job processes, on real Redis.

What these prove: a job stuck beyond RQ's reach is killed at its deadline from outside and its
process replaced; job processes forked again and again while the dispatcher is busy never hang;
``kill -9`` of the supervisor leaves no process behind; SIGTERM is a warm shutdown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge import create_app
from bridge.config import Settings
from bridge.queue import PROCESS, PROCESS_BATCH, RQQueue, job_id
from bridge.runtime import Runtime
from bridge.store import repo
from bridge.store.migrate import upgrade
from tests.helpers import dumps, generic_event, signed_headers

pytestmark = pytest.mark.redis
REPO = Path(__file__).resolve().parents[2]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(check: Callable[[], Any], timeout: float, what: str, explain: Callable[[], str] | None = None) -> Any:
    """``check()`` once it is truthy; on a timeout fails with ``what`` and ``explain()``, called then
    (not when the wait starts: a log read before the wait says nothing about the wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f"\n{explain()}" if explain else ""))


class Worker:
    def __init__(self, rt: Runtime, tmp: Path, **env: str) -> None:
        self.rt = rt
        self.env = {k: v for k, v in os.environ.items() if not k.endswith("_WEBHOOK_SECRET")}
        self.env.update(REDIS_URL=rt.settings.redis_url or "", DATABASE_URL=rt.settings.store_url,
                        BRIDGE_QUEUE=rt.settings.queue_name, BRIDGE_DATA_DIR=str(rt.settings.data_dir),
                        PYTHONPATH=str(REPO), BRIDGE_LOG_FORMAT="text", **env)
        self.log = tmp / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> Worker:
        bridge = Path(sys.executable).with_name("bridge")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([str(bridge), "worker", *args], env=self.env, stdout=out, stderr=out,
                                         start_new_session=True)
        expect = 1 + (int(args[args.index("--processes") + 1]) if "--processes" in args else 1)
        wait_for(lambda: len(kids := self.children()) == expect and all(comm(p).startswith("bridge-") for p in kids),
                 30, "the supervisor's children")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def children(self) -> list[int]:
        """The long-lived children: the dispatcher and the job processes (not the child that refreshes
        ``/metrics``' figures for a second once a minute)."""
        return [p for p in children(self.pid) if alive(p) and comm(p) != "bridge-metrics"]

    def tail(self, size: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-size:]

    def stacks(self) -> str:
        """Every thread's stack of the supervisor and its children (``bridge worker`` dumps them on
        SIGUSR1), then the log's tail: what a stalled worker was doing when the test gave up."""
        for pid in [self.pid, *self.children()]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
        time.sleep(1.0)
        return f"children now: {[(p, comm(p)) for p in self.children()]}\n{self.tail(20000)}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def worker_rt(rq_settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.build(rq_settings.with_overrides(job_timeout=2, lease_seconds=30, sweep_age=5))
    upgrade(rt.store)
    yield rt
    assert isinstance(rt.queue, RQQueue)
    for queue in rt.queue.queues:
        queue.empty()
        queue.delete(delete_jobs=True)


@pytest.fixture
def start_worker(worker_rt: Runtime, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(*args: str, **env: str) -> Worker:
        worker = Worker(worker_rt, tmp_path, **{"BRIDGE_JOB_TIMEOUT": "2", "BRIDGE_LEASE_SECONDS": "30",
                                                "BRIDGE_SWEEP_AGE": "5", **env})
        started.append(worker)
        return worker.start(*args)

    yield start
    for worker in started:
        worker.stop()


def post(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    body = dumps(event)
    answer = create_app(rt=rt).test_client().post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert answer.status_code == 202
    return answer.get_json()  # type: ignore[no-any-return]


def unprocessed(rt: Runtime, keys: list[str]) -> str:
    """The rows not processed yet, each with its store columns and what Redis says of its jobs."""
    assert isinstance(rt.queue, RQQueue)
    with rt.store.session() as s:
        rows = [(k, r.state, r.attempts, r.queued_at, r.claimed_until, r.batch)
                for k in keys if (r := repo.get_inbox(s, k)) is not None and r.state != "processed"]
    lines = [f"{len(keys) - len(rows)}/{len(keys)} processed; the first waiting rows (key, state, attempts, "
             "queued_at, claimed_until, batch, their jobs' state in Redis):"]
    for key, state, attempts, queued, claimed, batch in rows[:12]:
        ids = {"own": job_id(rt.queue.name, PROCESS, key, attempts)}
        if batch:
            ids["batch"] = job_id(rt.queue.name, PROCESS_BATCH, batch)
        states = rt.queue.states(ids.values())
        jobs = {name: states[jid][0] for name, jid in ids.items()}
        lines.append(f"  {key} {state} {attempts} {queued} {claimed} {batch} {jobs}")
    return "\n".join(lines)


def processed(rt: Runtime, keys: list[str]) -> int:
    with rt.store.session() as s:
        return sum(1 for k in keys if (row := repo.get_inbox(s, k)) is not None and row.state == "processed")


def test_a_job_stuck_beyond_sigalrm_is_killed_at_its_deadline_and_its_process_replaced(
    worker_rt: Runtime, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    worker = start_worker()
    assert isinstance(worker_rt.queue, RQQueue)
    marker = tmp_path / "stuck.pid"
    worker_rt.queue.enqueue("tests.worker.hang.stuck", str(marker))
    stuck_pid = int(wait_for(lambda: marker.exists() and marker.read_text(), 20, "the stuck job to start"))
    started = time.monotonic()
    wait_for(lambda: not alive(stuck_pid), 20, "the supervisor to kill the stuck job process")
    waited = time.monotonic() - started
    # The deadline is the job's timeout (2 s) plus a 5 s grace for SIGALRM, measured from the start.
    assert waited < 2 + 5 + 3, worker.tail()
    after = tmp_path / "after.pid"
    worker_rt.queue.enqueue("tests.worker.hang.note", str(after))
    replacement = int(wait_for(lambda: after.exists() and after.read_text(), 20, "a replacement job process"))
    assert replacement != stuck_pid and replacement in worker.children()
    assert "bridge.worker.job_killed" in worker.tail()


def test_job_processes_forked_again_and_again_while_the_dispatcher_is_busy_never_hang(
    worker_rt: Runtime, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker("--processes", "2", BRIDGE_JOB_TIMEOUT="20")  # a loaded machine is no hung job
    [dispatcher] = [p for p in worker.children() if comm(p) == "bridge-dispatch"]
    keys: list[str] = []
    replaced: list[int] = []
    for round_ in range(10):
        keys += [post(worker_rt, generic_event(type_="conversation.updated", conversation_id=f"r{round_}-{i}",
                                               messages=[{"role": "customer", "text": "How do I export?"}]))["event"]
                 for i in range(15)]
        fresh = wait_for(lambda: [p for p in worker.children() if p != dispatcher and p not in replaced], 20,
                         "a job process not killed yet")
        os.kill(fresh[0], signal.SIGKILL)  # the supervisor forks a new one while the dispatcher works
        replaced.append(fresh[0])
        time.sleep(0.3)
    # Generous: on a loaded 2-core machine each replacement spends seconds loading before its first
    # job, and rows a killed process had claimed wait out their lease. "Never hangs" is the claim.
    wait_for(lambda: processed(worker_rt, keys) == len(keys), 240, "every event processed",
             lambda: f"{unprocessed(worker_rt, keys)}\n{worker.stacks()}")
    assert len(set(replaced)) == 10
    assert dispatcher in worker.children()
    wait_for(lambda: len(worker.children()) == 3, 20, "the dispatcher and two job processes, none hung or doubled")


def test_kill_9_of_the_supervisor_leaves_no_process_behind(start_worker: Callable[..., Worker]) -> None:
    worker = start_worker("--processes", "2")
    kids = worker.children()
    assert sorted(comm(p) for p in kids) == ["bridge-dispatch", "bridge-jobs-1", "bridge-jobs-2"]
    # SIGUSR1 makes each of them print its stack (what a stalled test shows) and harms none.
    stacks = worker.stacks()
    assert stacks.count("Current thread") >= 4 and "in _child_main" in stacks and "in run" in stacks, stacks
    assert sorted(worker.children()) == sorted(kids) and worker.proc is not None and worker.proc.poll() is None
    sockets = [f for f in Path(f"/proc/{worker.pid}/fd").iterdir() if os.readlink(f).startswith("socket:")]
    assert sockets == [], "the supervisor keeps no connection (Redis, database) its children would inherit"
    os.kill(worker.pid, signal.SIGKILL)
    wait_for(lambda: not any(alive(p) for p in kids), 10, f"children {kids} to die with the supervisor")


def test_sigterm_is_a_warm_shutdown(worker_rt: Runtime, start_worker: Callable[..., Worker]) -> None:
    worker = start_worker()
    kids = worker.children()
    answer = post(worker_rt, generic_event(conversation_id=f"warm-{uuid.uuid4().hex[:6]}"))
    wait_for(lambda: processed(worker_rt, [answer["event"]]) == 1, 30, "the handoff to be processed")
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(30) == 0
    assert not any(alive(p) for p in kids)


def test_a_supervisor_whose_children_are_gone_ignores_a_late_signal_while_it_exits() -> None:
    """A platform may send SIGTERM twice. When the first already ended every child, the supervisor
    returns while Python, shutting down, puts SIGTERM back to its default: the second would turn a
    clean exit into "killed by SIGTERM" (the fault suite's TERM-batch saw -15). It ignores both."""
    code = (
        "import os, signal, threading\n"
        "from bridge.config import Settings\n"
        "from bridge.worker.supervisor import Supervisor\n"
        "s = Supervisor(Settings.from_env({}), processes=0, dispatcher=False)\n"
        "threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()\n"
        "code = s.run()\n"
        "ign = [signal.getsignal(s) is signal.SIG_IGN for s in (signal.SIGTERM, signal.SIGINT)]\n"
        "print(code, *ign)\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"  # the late signal: must not end the process
        "raise SystemExit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["0", "True", "True"], done.stderr[-2000:]
    assert done.returncode == 0


def test_the_worker_keeps_the_recovery_figures_from_a_child_that_exits(
    worker_rt: Runtime, start_worker: Callable[..., Worker]
) -> None:
    """``bridge worker`` refreshes ``/metrics``' recovery figures in a short-lived child: the figures are
    kept in the store, and no long-lived process holds the report's memory."""
    from bridge.metrics import snapshot
    from bridge.store import metrics_repo

    worker = start_worker()

    def kept() -> Any:
        with worker_rt.store.engine.connect() as conn:
            return metrics_repo.read_snapshot(conn, snapshot.name(snapshot.WINDOW))

    at, body = wait_for(kept, 30, "the figures to be kept", worker.tail)
    assert body["window"] == "30d" and body["totals"]["conversations"] == 0
    assert wait_for(lambda: "bridge-metrics" not in [comm(p) for p in children(worker.pid)], 30,
                    "the refreshing child to exit")
    assert "periodic_failed" not in worker.tail(20000) and "Traceback" not in worker.tail(20000)


_PERIODIC = """
import os, signal, sys, threading, time
from bridge.config import Settings
from bridge.worker.supervisor import Periodic, Supervisor

out = sys.argv[1]
def target(settings, deadline):
    with open(out, "a") as f:
        f.write(f"start {os.getpid()} {time.monotonic()}\\n")
    count = sum(1 for line in open(out) if line.startswith("start"))
    if count == 2:
        raise RuntimeError("a failed refresh")
    if count == 3:
        time.sleep(30)  # hung: killed at its timeout
    with open(out, "a") as f:
        f.write(f"end {os.getpid()} {time.monotonic()}\\n")

s = Supervisor(Settings.from_env({}), processes=0, dispatcher=False,
               periodic=[Periodic("tick", target, every=0.3, timeout=1.5)])
threading.Timer(4.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
code = s.run()
job = s.periodic[0]
print(code, job.runs, job.failures)
"""


def test_a_periodic_child_runs_one_at_a_time_and_a_failed_or_hung_one_does_not_stop_the_next(tmp_path: Path) -> None:
    out = tmp_path / "runs.txt"
    done = subprocess.run([sys.executable, "-c", _PERIODIC, str(out)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "BRIDGE_LOG_FORMAT": "text", "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    code, runs, failures = map(int, done.stdout.split())
    assert code == 0 and failures == 2  # the exception (exit code 1) and the kill (-9)
    lines = [line.split() for line in out.read_text().splitlines()]
    starts = [(int(pid), float(t)) for kind, pid, t in lines if kind == "start"]
    ends = {int(pid): float(t) for kind, pid, t in lines if kind == "end"}
    assert runs == len(starts) >= 5, done.stderr[-3000:]
    assert len({pid for pid, _ in starts}) == len(starts)  # a process of its own each time
    hung_pid, hung_at = starts[2]
    assert hung_pid not in ends and not alive(hung_pid)
    assert 1.5 <= starts[3][1] - hung_at < 4  # the next run waited for the hung one, killed at its timeout
    for (pid, began), (_, following) in zip(starts, starts[1:], strict=False):
        assert following >= ends.get(pid, began)  # never two at once
        assert following - began >= 0.3 - 0.05
    assert "bridge.worker.periodic_killed" in done.stderr and "bridge.worker.periodic_failed" in done.stderr
    assert "a failed refresh" in done.stderr


def test_the_supervisor_refreshes_the_figures_as_often_as_they_age() -> None:
    from bridge.metrics import snapshot
    from bridge.worker import supervisor

    assert supervisor.METRICS_EVERY == snapshot.EVERY  # a refresh sooner would find the figures fresh and do nothing
    assert [p.name for p in supervisor.Supervisor(Settings.from_env({}), processes=0).periodic] == ["metrics"]
    assert supervisor.Supervisor(Settings.from_env({}), processes=1, dispatcher=False).periodic == []

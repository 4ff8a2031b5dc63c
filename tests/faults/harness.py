"""Real processes on loopback: a private redis-server, a private PostgreSQL cluster, gunicorn serving
``wsgi:app`` as the Procfile says, and ``bridge worker`` processes, all with an environment built here.

Every process started here carries ``FAULTS_RUN_ID=<id>`` in its environment, so teardown can find
and kill any that escaped their process group (none should: the children of ``bridge worker`` die
with their supervisor). Nothing here touches the machine's shared
Redis or PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.faults.stubs import SlackStub, ZendeskStub
from tests.helpers import SECRET, dumps, generic_event, signed_headers

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MARK = "FAULTS_RUN_ID"
CHANNEL = "C0SUPPORT1"  # a channel id, as Slack's history lookup needs

# Short clocks: the suite shrinks time, not coverage. The lease outlives the job timeout, so a
# job still running (or hung) is never claimed twice.
CLOCKS = {
    "BRIDGE_RETRY_INTERVALS": "1,1,1",
    "BRIDGE_SWEEP_INTERVAL": "1",
    "BRIDGE_SWEEP_AGE": "2",
    "BRIDGE_LEASE_SECONDS": "8",
    "BRIDGE_JOB_TIMEOUT": "5",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# --- processes ---------------------------------------------------------------------------------

def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def marked_pids(run_id: str) -> list[int]:
    """Processes started by this run (and their descendants), found by the marker in their env."""
    needle = f"{MARK}={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and needle in _environ(int(entry.name)).split(b"\0"):
            found.append(int(entry.name))
    return found


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def rss_kb(pid: int) -> int:
    """Resident memory of a process in kB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid: int) -> str:
    """The kernel's name of a process (``bridge-jobs-1``, ``gunicorn``; 15 characters at most)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def pid_of_client(port: int, run_id: str) -> int | None:
    """The process of this run that owns the loopback client socket whose local port is ``port``."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[9] != "0":
                inode = cols[9]
                break
        if inode:
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in marked_pids(run_id):
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


class RedisServer:
    """A private redis-server: stop, restart empty, pause (SIGSTOP) and resume it freely."""

    def __init__(self, env: dict[str, str]) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = free_port()
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env, start_new_session=True,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc:
            self.resume()
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def pause(self) -> None:
        assert self.proc
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc:
            os.kill(self.proc.pid, signal.SIGCONT)


class PostgresCluster:
    """A private PostgreSQL cluster (initdb in a temp dir, run as the postgres user when root)."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = found[-1].parent
        self.dir = base / "pgdata"
        self.sock = base / "pgsock"
        self.port = free_port()
        self.env = env
        self.user_prefix: list[str] = []
        if os.geteuid() == 0:
            self.user_prefix = ["runuser", "-u", "postgres", "--"]
            base.chmod(0o755)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/bridge"

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run([*self.user_prefix, *args], env=self.env, capture_output=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.decode()[-1000:]}")

    def init(self) -> None:
        for path in (self.dir, self.sock):
            path.mkdir(mode=0o700)
            if self.user_prefix:
                shutil.chown(path, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.dir), "--no-sync")
        self.start()
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE bridge")

    def start(self) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sock} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.dir / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "-t", "30", "stop")


# --- the bridge --------------------------------------------------------------------------------

@dataclass
class Sent:
    key: str | None
    case: str | None
    status: int
    seconds: float
    error: str | None = None


@dataclass
class Tally:
    accepted_cases: int = 0
    delivered: int = 0
    dead: int = 0
    unsettled: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    missing_effect: list[str] = field(default_factory=list)
    stray_effects: list[str] = field(default_factory=list)
    tickets: int = 0
    alerts: int = 0
    bugs: int | None = None  # Jira issues filed for the cases (None: Jira is off)

    @property
    def balanced(self) -> bool:
        return (self.accepted_cases == self.delivered + self.dead and not self.unsettled and not self.duplicated
                and not self.missing_effect and not self.stray_effects)

    def line(self) -> str:
        text = (f"accepted {self.accepted_cases} = delivered once {self.delivered} + dead-lettered {self.dead}"
                f" (tickets {self.tickets}, alerts {self.alerts}"
                + ("" if self.bugs is None else f", bugs {self.bugs}") + ")")
        problems = {"unsettled": self.unsettled, "duplicated": self.duplicated,
                    "missing effect": self.missing_effect, "stray effects": self.stray_effects}
        bad = "; ".join(f"{k}: {len(v)} {v[:3]}" for k, v in problems.items() if v)
        return text + ("; " + bad if bad else "") + ("" if self.balanced else " — UNBALANCED")


class Bridge:
    """One deployment: gunicorn + ``bridge worker`` processes + stubs, on a store and a Redis."""

    def __init__(self, tmp: Path, database_url: str, redis: RedisServer, zendesk: ZendeskStub, slack: SlackStub,
                 run_id: str, jira: Any = None, **env: str) -> None:
        self.tmp = tmp
        self.jira = jira  # a JiraStub: the deployment files bugs there (JIRA_* set), else Jira is off
        self.run_id = run_id
        self.redis = redis
        self.zendesk = zendesk
        self.slack = slack
        self.database_url = database_url
        self.web: subprocess.Popen[bytes] | None = None  # the web instance ``post`` talks to (``port``)
        self.webs: list[subprocess.Popen[bytes]] = []  # every web instance started
        self.workers: list[subprocess.Popen[bytes]] = []
        self.port = 0
        self.sent: list[Sent] = []
        self.scope: set[str] | None = None  # cases of the current test on a shared deployment
        self.lock = threading.Lock()
        self._store: Any = None
        base = {k: v for k, v in os.environ.items()
                if not k.endswith(("_WEBHOOK_SECRET", "_API_URL")) and not k.startswith(("BRIDGE_", "ZENDESK_",
                                                                                          "SLACK_", "JIRA_",
                                                                                          "OPENAI_"))}
        base.pop("DATABASE_URL", None)
        base.pop("REDIS_URL", None)
        # A home and a runtime folder of the deployment's own: gunicorn (25.1+) puts its control socket
        # in $XDG_RUNTIME_DIR or ~/.gunicorn/, and a process a fault test kills never removes it.
        private = {"HOME": tmp / "home", "XDG_RUNTIME_DIR": tmp / "run"}
        for folder in private.values():
            folder.mkdir(mode=0o700, exist_ok=True)
        self.env = {
            **base,
            **{name: str(folder) for name, folder in private.items()},
            MARK: run_id,
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            "BRIDGE_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
            "BRIDGE_DATA_DIR": str(tmp / "var"),
            "GENERIC_WEBHOOK_SECRET": SECRET,
            "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "zd-test-token",
            "ZENDESK_URL": zendesk.url,
            "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": slack.url, "SLACK_CHANNEL": CHANNEL,
            "WEB_CONCURRENCY": "2",
            **({"JIRA_URL": jira.url, "JIRA_EMAIL": "bot@example.com", "JIRA_API_TOKEN": "jira-test-token",
                "JIRA_PROJECT": "SUP", "JIRA_SEARCH_LAG": "1"} if jira is not None else {}),
            **CLOCKS,
            **env,
        }
        (tmp / "logs").mkdir(exist_ok=True)

    def recover(self, scope: bool = True) -> Bridge:
        """Every stub answering normally again and, with ``scope``, a fresh tally scope (a shared
        deployment between two cases)."""
        for stub in (self.zendesk, self.slack, self.jira):
            if stub is not None:
                stub.recover()
        if scope:
            self.scope = set()
        return self

    # --- processes -------------------------------------------------------------------------
    def start(self, workers: int = 1, web: bool = True) -> None:
        """Release phase, web and workers; gunicorn boots while the migrations run."""
        if web:
            self.web, self.port = self.spawn_web()
        self.upgrade()
        procs = [self.start_worker() for _ in range(workers)]
        if web:
            self.wait_web()
        for proc in procs:
            self.wait_worker_ready(proc)

    def _spawn(self, name: str, argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
        log = open(self.tmp / "logs" / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the process)
        return subprocess.Popen(argv, env=self.env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def spawn_web(self, name: str = "web") -> tuple[subprocess.Popen[bytes], int]:
        """One more web instance, the Procfile's ``web:`` line on a port of its own (not waited for)."""
        port = free_port()
        proc = self._spawn(name, procfile_web(self.env | {"BRIDGE_HOST": "127.0.0.1", "PORT": str(port)}), REPO)
        self.webs.append(proc)
        return proc, port

    def upgrade(self) -> None:
        """The Procfile's release phase: ``bridge db upgrade``."""
        done = subprocess.run([str(BIN / "bridge"), "db", "upgrade"], env=self.env, cwd=self.tmp,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()[-2000:]

    def wait_web(self, proc: subprocess.Popen[bytes] | None = None, port: int | None = None) -> None:
        """Until gunicorn (the Procfile's ``web:`` line) answers /healthz: ``proc`` on ``port``, by
        default the instance ``post`` talks to."""
        proc, port = proc or self.web, port or self.port
        assert proc is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert proc.poll() is None, self.log_tail("web")
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer /healthz\n" + self.log_tail("web"))

    def start_worker(self) -> subprocess.Popen[bytes]:
        """The Procfile's ``worker:`` line."""
        proc = self._spawn(f"worker-{len(self.workers)}", [str(BIN / "bridge"), "worker"], self.tmp)
        self.workers.append(proc)
        return proc

    def wait_worker_ready(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
        """Until a job process of this ``bridge worker`` registered in Redis (migrations applied,
        supervisor and children started)."""
        import redis as redis_lib

        client = redis_lib.Redis.from_url(self.redis.url, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                assert proc.poll() is None, self.log_tail(f"worker-{self.workers.index(proc)}")
                mine = {str(pid).encode() for pid in children(proc.pid)}
                for key in client.smembers(f"rq:workers:{self.env['BRIDGE_QUEUE']}-urgent"):
                    if client.hget(key, "pid") in mine:
                        return
                time.sleep(0.1)
        finally:
            client.close()
        raise RuntimeError("worker did not register\n" + self.log_tail(f"worker-{self.workers.index(proc)}"))

    def horses(self, proc: subprocess.Popen[bytes]) -> list[int]:
        """Children of a ``bridge worker`` supervisor (its job processes and its dispatcher)."""
        return [pid for pid in children(proc.pid) if alive(pid)]

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.tmp / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        for proc in [*self.workers, *self.webs]:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        kill_marked(self.run_id)
        if self._store is not None:
            self._store.engine.dispose()

    # --- driving ---------------------------------------------------------------------------
    def post(self, event: dict[str, Any], timeout: float = 10, msg_id: str | None = None) -> Sent:
        body = dumps(event)
        started = time.monotonic()
        try:
            response = requests.post(f"http://127.0.0.1:{self.port}/webhooks/generic", data=body,
                                     headers=signed_headers(body, msg_id=msg_id), timeout=timeout)
        except requests.RequestException as exc:
            sent = Sent(None, None, 0, time.monotonic() - started, type(exc).__name__)
        else:
            answer = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
            sent = Sent(answer.get("event"), answer.get("case"), response.status_code, time.monotonic() - started)
        with self.lock:
            self.sent.append(sent)
            if self.scope is not None and sent.case and 200 <= sent.status < 300:
                self.scope.add(sent.case)
        return sent

    def deliver(self, event: dict[str, Any], attempts: int = 8, timeout: float = 10) -> Sent:
        """A platform's delivery of one event: the same webhook id on every attempt, retried with
        backoff (0.5 s doubling, at most 4 s) after a connection error or a 5xx; the last answer."""
        msg_id = f"msg_{uuid.uuid4().hex[:16]}"
        for n in range(attempts):
            sent = self.post(event, timeout=timeout, msg_id=msg_id)
            if 0 < sent.status < 500:
                break
            time.sleep(min(0.5 * 2**n, 4.0))
        return sent

    def post_many(self, events: Iterable[dict[str, Any]], threads: int = 8) -> list[Sent]:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(self.post, list(events)))

    # --- the store -------------------------------------------------------------------------
    @property
    def store(self) -> Any:
        if self._store is None:
            from bridge.store.db import Store

            self._store = Store(self.database_url)
        return self._store

    def accepted_cases(self) -> set[str]:
        return {s.case for s in self.sent if 200 <= s.status < 300 and s.case}

    def states(self, cases: set[str]) -> dict[str, dict[str, str]]:
        """Per case: ``inbox:<key>`` → state and ``<step>`` → status."""
        from sqlalchemy import select

        from bridge.store.models import DeliveryRow, InboxRow

        out: dict[str, dict[str, str]] = {c: {} for c in cases}
        with self.store.session() as s:
            for row in s.execute(select(InboxRow.case_id, InboxRow.key, InboxRow.state)):
                if row.case_id in out:
                    out[row.case_id][f"inbox:{row.key}"] = row.state
            for row in s.execute(select(DeliveryRow.case_id, DeliveryRow.step, DeliveryRow.status)):
                if row.case_id in out:
                    out[row.case_id][row.step] = row.status
        return out

    def describe(self, cases: list[str]) -> str:
        """The store's rows of some cases, for a failure message."""
        from sqlalchemy import select

        from bridge.store.models import DeliveryRow, InboxRow

        lines = []
        with self.store.session() as s:
            for case in cases[:5]:
                for r in s.scalars(select(InboxRow).where(InboxRow.case_id == case)):
                    lines.append(f"{case} inbox {r.key} {r.state} attempts={r.attempts} next={r.next_attempt_at} "
                                 f"claimed={r.claimed_until} err={(r.last_error or '')[:200]!r}")
                for d in s.scalars(select(DeliveryRow).where(DeliveryRow.case_id == case)):
                    lines.append(f"{case} dl-{d.id} {d.step} {d.status} attempts={d.attempts} next={d.next_attempt_at} "
                                 f"claimed={d.claimed_until} err={(d.last_error or '')[:200]!r}")
        return "\n".join(lines)

    def settled(self, cases: set[str]) -> bool:
        """Every event processed or dead, every planned step done or dead, and something planned."""
        for st in self.states(cases).values():
            inbox = [v for k, v in st.items() if k.startswith("inbox:")]
            steps = [v for k, v in st.items() if not k.startswith("inbox:")]
            if not inbox or any(v not in ("processed", "dead") for v in inbox):
                return False
            if any(v not in ("done", "dead") for v in steps):
                return False
            if not steps and "dead" not in inbox:
                return False
        return True

    def wait_settled(self, cases: set[str] | None = None, timeout: float = 60) -> Tally:
        cases = self.test_cases() if cases is None else cases
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.settled(cases):
                    break
            except Exception:  # the store may be restarting in a test
                pass
            time.sleep(0.5)
        return self.tally(cases)

    def test_cases(self) -> set[str]:
        return set(self.scope) if self.scope is not None else self.accepted_cases()

    def tally(self, cases: set[str] | None = None) -> Tally:
        cases = self.test_cases() if cases is None else cases
        states = self.states(cases)
        t = Tally(accepted_cases=len(cases))
        bugs = self.bug_refs(cases) if self.jira is not None else {}
        t.bugs = 0 if self.jira is not None else None
        for case in sorted(cases):
            st = states[case]
            tickets = len(self.zendesk.tickets_for(case))
            alerts = len(self.slack.posts_with_key(f"{case}-slack.alert"))
            filed = len(self.jira.issues_labelled(f"rb-{case}")) if self.jira is not None else 0
            t.tickets += tickets
            t.alerts += alerts
            if t.bugs is not None:
                t.bugs += filed
            dead = any(v == "dead" for v in st.values())
            done = st.get("zendesk.ticket") == "done" and st.get("slack.alert") == "done" and \
                st.get("jira.bug", "done") == "done"
            if tickets > 1 or alerts > 1 or filed > 1:
                t.duplicated.append(case)
            if not dead and not done:
                t.unsettled.append(case)
            elif done and not dead:
                # A bug step is done with the issue it filed, or the open issue of the same bug it joined.
                if tickets == 1 and alerts == 1 and (case not in bugs or bugs[case] in self.jira.issues):
                    t.delivered += 1
                else:
                    t.missing_effect.append(case)
            else:
                t.dead += 1
        everything = self.accepted_cases()  # on a shared deployment: every test's accepted cases
        t.stray_effects = [e for e in self.zendesk.external_ids() if e not in everything]
        t.stray_effects += [k for k in self.slack.all_keys() if k.rsplit("-slack.", 1)[0] not in everything]
        if self.jira is not None:
            with self.jira.lock:
                labels = {label for issue in self.jira.issues.values() for label in issue["fields"].get("labels") or []}
            t.stray_effects += [label for label in labels if label.startswith("rb-c-") and label[3:] not in everything]
        return t

    def bug_refs(self, cases: set[str]) -> dict[str, str | None]:
        """The Jira issue key each case's done ``jira.bug`` step recorded."""
        from sqlalchemy import select

        from bridge.store.models import DeliveryRow

        with self.store.session() as s:
            rows = s.execute(select(DeliveryRow.case_id, DeliveryRow.external_id)
                             .where(DeliveryRow.step == "jira.bug", DeliveryRow.status == "done"))
            return {case: key for case, key in rows if case in cases}

    def dead_letters(self) -> list[dict[str, Any]]:
        """``bridge dlq list --json``: a JSON array, one object per dead letter."""
        done = self.cli("dlq", "list", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "bridge"), *args], env=self.env, cwd=self.tmp, capture_output=True,
                              text=True, timeout=timeout)


def procfile_web(env: dict[str, str]) -> list[str]:
    """The Procfile's ``web:`` command with its ``${NAME:-default}`` references expanded from ``env``
    (the suite runs exactly what a platform runs; gunicorn from this virtualenv)."""
    import re
    import shlex

    line = next(x for x in (REPO / "Procfile").read_text().splitlines() if x.startswith("web:"))
    expanded = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), line[4:])
    argv = shlex.split(expanded)
    assert argv[0] == "gunicorn", argv
    return [str(BIN / "gunicorn"), *argv[1:]]


def kill_marked(run_id: str) -> None:
    """Kill -9 every process this run started that is still alive (orphaned horses included)."""
    for _ in range(3):
        pids = marked_pids(run_id)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def event(conversation: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    """A signed-able generic handoff event: the customer asks for a person (ticket + alert)."""
    return generic_event(event_id=event_id, conversation_id=conversation or f"conv-{uuid.uuid4().hex[:10]}")

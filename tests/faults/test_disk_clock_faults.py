"""A full disk and wall-clock jumps (issue 22, item 7).

A full disk is modelled with ``RLIMIT_FSIZE`` (``prlimit --fsize``): no file of the process may grow
past the limit, which is what SQLite and the outbox meet on a full file system (a writer gets
EFBIG where it would get ENOSPC; Python ignores SIGXFSZ). It runs on the embedded default that
keeps its files on the local disk: ``bridge serve`` with SQLite, the in-process runner and the
dry-run outbox. Clock jumps move ``rt.clock`` (every lease, retry and due time reads it) of
workers sharing one store.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.faults.conftest import case
from tests.faults.harness import BIN, CLOCKS, MARK, REPO, event, free_port, kill_marked
from tests.faults.stubs import Act
from tests.helpers import SECRET, dumps, signed_headers

pytestmark = pytest.mark.faults


class Serve:
    """``bridge serve`` (the embedded default) on a data folder, optionally under a file-size limit."""

    def __init__(self, tmp: Path, **extra: str) -> None:
        self.run_id = uuid.uuid4().hex
        self.data = tmp / "var"
        self.log = tmp / "serve.log"
        base = {k: v for k, v in os.environ.items()
                if not k.endswith(("_WEBHOOK_SECRET", "_API_URL", "_URL"))
                and not k.startswith(("BRIDGE_", "ZENDESK_", "SLACK_", "JIRA_", "OPENAI_"))}
        self.env = {**base, **CLOCKS, MARK: self.run_id, "PYTHONPATH": str(REPO), "HOME": str(tmp),
                    "BRIDGE_DATA_DIR": str(self.data), "GENERIC_WEBHOOK_SECRET": SECRET, **extra}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, fsize: int | None = None) -> None:
        self.port = free_port()
        argv = [str(BIN / "bridge"), "serve", "--port", str(self.port)]
        if fsize is not None:
            argv = ["prlimit", f"--fsize={fsize}", "--", *argv]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, env=self.env, cwd=self.data.parent, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("bridge serve did not answer\n" + self.log.read_text()[-2000:])

    def post(self, one: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = dumps(one)
        try:
            answer = requests.post(f"http://127.0.0.1:{self.port}/webhooks/generic", data=body,
                                   headers=signed_headers(body, msg_id=f"msg_{one['event_id']}"), timeout=10)
        except requests.RequestException:
            return 0, {}
        return answer.status_code, answer.json() if answer.content else {}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        kill_marked(self.run_id)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data / "bridge.db", timeout=10)


def _settled(serve: Serve, cases: set[str]) -> dict[str, dict[str, str]]:
    with contextlib.closing(serve.db()) as db:
        rows = db.execute("SELECT case_id, step, status FROM deliveries").fetchall()
    out: dict[str, dict[str, str]] = {c: {} for c in cases}
    for case_id, step, status in rows:
        if case_id in out:
            out[case_id][step] = status
    return out


@case("DISK", "disk full under the embedded default (`bridge serve`: SQLite, in-process runner, dry-run outbox): "
      "no file may grow past its size (RLIMIT_FSIZE) while webhooks keep arriving; then space returns and the "
      "process is started again",
      "while full every webhook is answered, 202 only for a stored event and 503 (with Retry-After) otherwise, "
      "never a hang or a crash; afterwards the database passes integrity_check, every 202 is there, the sender's "
      "retried 503s are accepted and each case gets its ticket and alert once, every outbox file whole JSON")
def test_full_disk_answers_503_and_loses_nothing(tmp_path: Path, observed: list[str]) -> None:
    serve = Serve(tmp_path)
    try:
        serve.start()
        serve.stop()
        biggest = max(p.stat().st_size for p in serve.data.iterdir() if p.name.startswith("bridge.db"))
        serve.start(fsize=biggest + 384 * 1024)
        events, answers = [], []
        for _ in range(150):
            one = event()
            one["conversation"]["messages"][0]["text"] += " " + "x" * 3000  # bodies fill the disk faster
            status, body = serve.post(one)
            events.append(one)
            answers.append((status, body))
            if sum(1 for s, _ in answers if s == 503) >= 3:
                break
        statuses = [s for s, _ in answers]
        observed.append(f"while full: {statuses.count(202)}×202, {statuses.count(503)}×503, "
                        f"{len(statuses) - statuses.count(202) - statuses.count(503)}× other "
                        f"(limit {biggest + 384 * 1024} bytes)")
        assert set(statuses) <= {202, 503} and statuses.count(503) >= 3, statuses
        serve.stop()
        serve.start()
        with contextlib.closing(serve.db()) as db:
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            stored = {k for (k,) in db.execute("SELECT key FROM inbox")}
        acked = {b["event"] for s, b in answers if s == 202}
        observed.append(f"after restart: integrity_check {check}; acknowledged events stored: "
                        f"{len(acked & stored)} of {len(acked)}")
        assert check == "ok" and acked <= stored
        retried = [serve.post(e) for e, (s, _) in zip(events, answers, strict=True) if s != 202]
        assert all(s in (200, 202) for s, _ in retried), retried
        cases = {b["case"] for _, b in [*answers, *retried] if b.get("case")}
        deadline = time.monotonic() + 60
        states = _settled(serve, cases)
        while time.monotonic() < deadline and not all(
                st.get("zendesk.ticket") == "done" and st.get("slack.alert") == "done" for st in states.values()):
            time.sleep(0.5)
            states = _settled(serve, cases)
        with contextlib.closing(serve.db()) as db:
            done = db.execute("SELECT case_id, json_extract(detail, '$.step'), count(*) FROM timeline "
                              "WHERE kind = 'delivery.done' GROUP BY 1, 2").fetchall()
        twice = [(c, s, n) for c, s, n in done if n > 1]
        files = list((serve.data / "outbox").rglob("*.json"))
        broken = []
        for path in files:
            try:
                json.loads(path.read_text())
            except ValueError:
                broken.append(path.name)
        delivered = sum(1 for st in states.values() if st.get("zendesk.ticket") == st.get("slack.alert") == "done")
        observed.append(f"cases {len(cases)}: ticket and alert done {delivered}; steps done twice {len(twice)}; "
                        f"outbox files {len(files)}, broken {len(broken)}")
        assert delivered == len(cases) and not twice and not broken
    finally:
        serve.stop()


# --- wall-clock jumps ----------------------------------------------------------------------------

class JumpClock:
    """A worker's wall clock: real time plus an offset a test moves (an NTP step, a VM resumed)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        return (self.frozen or datetime.now(UTC)) + self.offset


@pytest.fixture
def clock_world(tmp_path: Path) -> Any:
    """Two workers (runtimes with their own clocks, in-process queue) on one PostgreSQL schema, with
    recording Zendesk and Slack stubs; the intake is the Flask app of the first."""
    from bridge import create_app
    from bridge.config import Settings
    from bridge.runtime import Runtime
    from bridge.store.migrate import upgrade
    from tests.conftest import POSTGRES_TEST_URL, require_service
    from tests.faults.conftest import _drop_schemas, _pg_schema
    from tests.faults.stubs import SlackStub, ZendeskStub

    require_service("PostgreSQL", POSTGRES_TEST_URL, 5432)
    url = _pg_schema()
    zendesk, slack = ZendeskStub().start(), SlackStub().start()
    env = {**CLOCKS, "DATABASE_URL": url, "BRIDGE_DATA_DIR": str(tmp_path / "var"),
           "GENERIC_WEBHOOK_SECRET": SECRET, "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com",
           "ZENDESK_API_TOKEN": "zd-test-token", "ZENDESK_URL": zendesk.url, "SLACK_BOT_TOKEN": "xoxb-test-token",
           "SLACK_API_URL": slack.url, "SLACK_CHANNEL": "C0SUPPORT1"}
    settings = Settings.from_env(env)
    workers = []
    for _ in range(2):
        rt = Runtime.build(settings)
        rt.clock = JumpClock()
        workers.append(rt)
    upgrade(workers[0].store)
    client = create_app(rt=workers[0]).test_client()

    def post(one: dict[str, Any]) -> Any:
        body = dumps(one)
        return client.post("/webhooks/generic", data=body, headers=signed_headers(body, msg_id=f"m_{one['event_id']}"))

    try:
        yield workers, post, zendesk, slack
    finally:
        zendesk.stop()
        slack.stop()
        _drop_schemas([url])


def steps_of(rt: Any, case_id: str) -> dict[str, tuple[str, int]]:
    from bridge.store import repo

    with rt.store.session() as s:
        return {d.step: (d.status, d.attempts) for d in repo.deliveries_of(s, case_id)}


def effects(zendesk: Any, slack: Any, case_id: str) -> tuple[int, int]:
    return len(zendesk.tickets_for(case_id)), len(slack.posts_with_key(f"{case_id}-slack.alert"))


@case("CLOCK-fwd-lease", "one of two workers' wall clock jumps 1 h forward while the other is inside Zendesk's "
      "create (the stub commits, then answers 1.5 s later): to the jumped worker the running job's lease is over",
      "the jumped worker takes the step over (attempt 2) and finds the ticket by external_id instead of making "
      "another: one ticket, one alert, the step done")
def test_clock_jump_forward_voids_a_lease_but_not_exactly_once(clock_world: Any, observed: list[str]) -> None:
    from bridge.store import repo
    from bridge.worker import jobs, runner

    (a, b), post, zendesk, slack = clock_world
    zendesk.program("tickets.create", Act(delay=1.5))
    answer = post(event())
    assert answer.status_code == 202
    case_id = answer.get_json()["case"]
    jobs.process_event(answer.get_json()["event"], a)
    with a.store.session() as s:
        ticket = [d.id for d in repo.deliveries_of(s, case_id) if d.step == "zendesk.ticket"][0]
    inside = threading.Thread(target=jobs.deliver, args=(ticket, a))
    inside.start()
    while zendesk.count("tickets.create") == 0:
        time.sleep(0.02)
    b.clock.offset = timedelta(hours=1)  # type: ignore[attr-defined]
    ran = runner.run_due(b)
    inside.join(20)
    runner.run_due(a)
    steps = steps_of(a, case_id)
    tickets, alerts = effects(zendesk, slack, case_id)
    observed.append(f"jumped worker ran {ran} job(s); steps {steps}; tickets {tickets}, alerts {alerts}; "
                    f"creates sent {zendesk.count('tickets.create')}")
    assert steps["zendesk.ticket"] == ("done", 2)  # taken over, not redone
    assert (tickets, alerts) == (1, 1) and zendesk.count("tickets.create") == 1
    assert all(status == "done" for status, _ in steps.values())


@case("CLOCK-fwd-retry", "the wall clock jumps 2 h forward while a ticket waits out Zendesk's Retry-After: 3600; the "
      "sender then repeats the event",
      "the retry becomes due and runs once (attempt 2, nothing marked dead by the jump); the repeat is still a "
      "duplicate (dedupe is by event id, not time): one ticket, one alert")
def test_clock_jump_forward_runs_waiting_retries_once(clock_world: Any, observed: list[str]) -> None:
    from bridge.worker import runner

    (a, _), post, zendesk, slack = clock_world
    zendesk.program("tickets.create", Act(status=429, headers={"Retry-After": "3600"}))
    one = event()
    answer = post(one)
    case_id = answer.get_json()["case"]
    runner.run_due(a)
    assert steps_of(a, case_id)["zendesk.ticket"] == ("pending", 1)
    a.clock.offset = timedelta(hours=2)  # type: ignore[attr-defined]
    runner.run_due(a)
    again = post(one)
    runner.run_due(a)
    steps = steps_of(a, case_id)
    observed.append(f"after the jump: steps {steps}; repeat answered {again.status_code}; "
                    f"tickets/alerts {effects(zendesk, slack, case_id)}")
    assert steps["zendesk.ticket"] == ("done", 2) and again.status_code == 200
    assert effects(zendesk, slack, case_id) == (1, 1)


@case("CLOCK-back", "the wall clock jumps 1 h backward right after a Zendesk 503 scheduled the retry 1 s out, "
      "and while a crashed job's lease (8 s) is held; then the clock catches up",
      "nothing runs early or twice and nothing is lost: the retry and the leased step wait until the clock "
      "passes the times set before the jump (a backward step delays them by its size), then each runs once: "
      "one ticket, one alert")
def test_clock_jump_backward_delays_but_never_doubles(clock_world: Any, observed: list[str]) -> None:
    from bridge.store import repo
    from bridge.worker import jobs, runner

    (a, _), post, zendesk, slack = clock_world
    a.clock.frozen = datetime.now(UTC)  # type: ignore[attr-defined]
    zendesk.down("tickets.create", Act(status=503))
    first, second = post(event()), post(event())
    crashed = second.get_json()["case"]
    jobs.process_event(second.get_json()["event"], a)
    with a.store.session() as s:  # a worker claimed this case's alert, then died
        alert = next(d.id for d in repo.deliveries_of(s, crashed) if d.step == "slack.alert")
        assert repo.claim_delivery(s, alert, a.clock(), a.settings.lease_seconds)
        s.commit()
    runner.run_due(a)
    case_id = first.get_json()["case"]
    assert steps_of(a, case_id)["zendesk.ticket"] == ("pending", 1)
    zendesk.recover()
    a.clock.offset = timedelta(hours=-1)  # type: ignore[attr-defined]
    ran_back = runner.run_due(a)
    waiting = (steps_of(a, case_id)["zendesk.ticket"], steps_of(a, crashed)["slack.alert"])
    a.clock.offset = timedelta(seconds=9)  # type: ignore[attr-defined]
    runner.run_due(a)
    observed.append(f"during the backward jump: {ran_back} job(s) ran, retried ticket {waiting[0]}, leased "
                    f"alert {waiting[1]}; after the clock caught up: {steps_of(a, case_id)}, "
                    f"{steps_of(a, crashed)}")
    assert ran_back == 0 and waiting == (("pending", 1), ("pending", 1))
    for c in (case_id, crashed):
        assert effects(zendesk, slack, c) == (1, 1)
        assert all(status == "done" for status, _ in steps_of(a, c).values())


@case("TERM-runner", "SIGTERM to `bridge serve` (the embedded default: in-process runner) while its runner "
      "waits 3 s for Zendesk's answer to a create it already committed; the process is started again",
      "the process stops taking work, lets the running job finish and record the ticket, and exits 0 "
      "(BRIDGE_SHUTDOWN_GRACE); after the restart nothing runs again: one ticket, one alert, one attempt")
def test_sigterm_to_the_in_process_runner(tmp_path: Path, observed: list[str]) -> None:
    from tests.faults.stubs import SlackStub, ZendeskStub

    zendesk, slack = ZendeskStub().start(), SlackStub().start()
    serve = Serve(tmp_path, ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="bot@example.com",
                  ZENDESK_API_TOKEN="zd-test-token", ZENDESK_URL=zendesk.url, SLACK_BOT_TOKEN="xoxb-test-token",
                  SLACK_API_URL=slack.url, SLACK_CHANNEL="C0SUPPORT1")
    try:
        serve.start()
        assert serve.proc is not None
        victim = serve.proc
        zendesk.program("tickets.create", Act(on_commit=lambda _: os.kill(victim.pid, signal.SIGTERM), delay=3))
        status, answer = serve.post(event())
        assert status == 202
        code = victim.wait(30)
        serve.start()
        case_id = answer["case"]
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and set(_settled(serve, {case_id})[case_id].values()) != {"done"}:
            time.sleep(0.5)
        with contextlib.closing(serve.db()) as db:
            attempts = dict(db.execute("SELECT step, attempts FROM deliveries WHERE case_id = ?", (case_id,)))
        tickets, alerts = len(zendesk.tickets_for(case_id)), len(slack.posts_with_key(f"{case_id}-slack.alert"))
        observed.append(f"exit code after SIGTERM {code}; steps {_settled(serve, {case_id})[case_id]}, attempts "
                        f"{attempts}; tickets {tickets}, alerts {alerts}, "
                        f"creates sent {zendesk.count('tickets.create')}")
        assert code == 0
        assert set(_settled(serve, {case_id})[case_id].values()) == {"done"}
        assert (tickets, alerts) == (1, 1) and zendesk.count("tickets.create") == 1
        assert attempts["zendesk.ticket"] == 1
    finally:
        serve.stop()
        zendesk.stop()
        slack.stop()

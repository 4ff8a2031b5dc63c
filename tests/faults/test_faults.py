"""The fault suite: real gunicorn, ``bridge worker`` processes, Redis and PostgreSQL on loopback,
recording vendor stubs; each test injects a fault and checks that every accepted event ended as
exactly one ticket and one Slack alert, or as a visible dead letter — nothing else.

Run it alone with ``pytest -m faults``; ``python -m tests.faults.report`` renders the table of
docs/reliability.md from the last run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import case
from tests.faults.harness import BIN, Bridge, PostgresCluster, alive, event, pid_of_client
from tests.faults.stubs import Act

pytestmark = pytest.mark.faults


def finish(bridge: Bridge, observed: list[str], timeout: float = 60, **extra: Any) -> None:
    """Wait until every accepted event settled, print and record the tally, demand it balances."""
    tally = bridge.wait_settled(timeout=timeout)
    line = tally.line()
    print(f"\nTALLY {line}")
    observed.append(line)
    for name, value in extra.items():
        observed.append(f"{name}: {value}")
    if not tally.balanced:
        print(bridge.describe(tally.unsettled + tally.duplicated + tally.missing_effect))
        for name in ("web", *[f"worker-{i}" for i in range(len(bridge.workers))]):
            print(f"--- {name} log ---\n{bridge.log_tail(name)}")
    assert tally.balanced, line


def accepted(sent: list[Any]) -> int:
    return sum(1 for s in sent if 200 <= s.status < 300)


# --- 1. duplicates ------------------------------------------------------------------------------

@case("C14", "20 concurrent copies of one event (20 threads, same event id)",
      "all answered 2xx (one 202, the rest 200 duplicate); one inbox row; one ticket, one alert")
def test_duplicate_storm_makes_one_ticket_and_one_alert(make_bridge: Any, observed: list[str]) -> None:
    bridge = make_bridge(workers=2)
    one = event()
    sent = bridge.post_many([one] * 20, threads=20)
    statuses = sorted(s.status for s in sent)
    assert statuses == [200] * 19 + [202], statuses
    assert len({s.key for s in sent}) == 1
    finish(bridge, observed, answers=f"{statuses.count(202)}×202, {statuses.count(200)}×200")


@case("E1", "the sender's 202 is lost: it gives up after 1 ms and resends 3×, then once more normally",
      "one ticket, one alert; the last answer is 2xx with the same ids")
def test_sender_retrying_a_lost_202_makes_one_effect(make_bridge: Any, observed: list[str]) -> None:
    bridge = make_bridge()
    one = event()
    lost = [bridge.post(one, timeout=0.001) for _ in range(3)]
    assert all(s.status == 0 for s in lost)  # the client never saw an answer
    last = bridge.post(one)
    assert last.status in (200, 202)
    finish(bridge, observed, last_answer=last.status)


# --- 2. vendor faults ---------------------------------------------------------------------------

EFFECT = {"zendesk": "tickets.create", "slack": "chat.postMessage"}
VENDOR_FAULTS: dict[str, tuple[str, list[Act], str]] = {
    "429-retry-after-2": ("429 with Retry-After: 2 on the create/post",
                          [Act(status=429, headers={"Retry-After": "2"})],
                          "rescheduled, not before the vendor allows; one effect"),
    "429-retry-after-1.5": ("429 with a decimal Retry-After: 1.5",
                            [Act(status=429, headers={"Retry-After": "1.5"})],
                            "no crash on the decimal; rescheduled; one effect"),
    "5xx-burst": ("a burst of 503, 502, 500 (three attempts fail)",
                  [Act(status=503), Act(status=502), Act(status=500)],
                  "retried with backoff; the fourth and last attempt makes the one effect"),
    "commit-then-reset": ("the vendor commits the effect, then resets the connection without answering",
                          [Act(drop_after_commit=True)],
                          "the retry finds the effect (Zendesk external_id, Slack metadata key); one effect"),
    "hang": ("the vendor accepts the request and never answers (20 s)", [Act(hang=20)],
             "the job timeout (5 s) ends the attempt; retried; one effect"),
    "garbage-200": ("the vendor commits, then answers 200 with an HTML page", [Act(garbage=True)],
                    "treated as an ambiguous failure; the retry finds the effect; one effect"),
}


@pytest.mark.parametrize("vendor", ["zendesk", "slack"])
@pytest.mark.parametrize("fault", list(VENDOR_FAULTS))
@case("D1-D4,D9-D11,D15", "a vendor fault on the ticket create / alert post",
      "one ticket and one alert per accepted event")
def test_vendor_fault_ends_in_exactly_one_effect(vendor_bridge: Bridge, observed: list[str], vendor: str,
                                                 fault: str) -> None:
    description, acts, expected = VENDOR_FAULTS[fault]
    observed += [f"fault: {vendor.capitalize()}: {description}", f"expected: {expected}"]
    stub = vendor_bridge.zendesk if vendor == "zendesk" else vendor_bridge.slack
    stub.program(EFFECT[vendor], *acts)
    sent = vendor_bridge.post(event())
    assert sent.status == 202
    finish(vendor_bridge, observed, timeout=60)
    calls = [c for c in stub.calls if c.op == EFFECT[vendor]][-len(acts) - 1:]
    observed.append("create/post calls answered: " + ", ".join(c.answered for c in calls))
    if all(a.commits is False for a in acts):
        assert calls[-1].answered == "ok"
    if fault.startswith("429"):
        waited = calls[-1].at - calls[0].at
        observed.append(f"next call {waited:.1f} s after the 429")
        # RQ's scheduler keeps whole seconds, so a retry may start up to 1 s early: see
        # test_retry_is_never_scheduled_before_retry_after (xfail) for the precise bug.
        assert waited >= float(acts[0].headers["Retry-After"]) - 1.05


@pytest.mark.parametrize("vendor", ["zendesk", "slack"])
@case("D1-long", "429 with Retry-After: 3600 on one event while 3 others arrive",
      "the throttled step is rescheduled an hour out (pending, visible), the worker is not blocked: "
      "the other 3 are delivered once each")
def test_long_retry_after_reschedules_without_blocking(vendor_bridge: Bridge, observed: list[str],
                                                       vendor: str) -> None:
    from bridge.store import repo

    stub = vendor_bridge.zendesk if vendor == "zendesk" else vendor_bridge.slack
    stub.program(EFFECT[vendor], Act(status=429, headers={"Retry-After": "3600"}))
    throttled = vendor_bridge.post(event())
    step = "zendesk.ticket" if vendor == "zendesk" else "slack.alert"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the 429 was answered to this event's step
        with vendor_bridge.store.session() as s:
            row = next((d for d in repo.deliveries_of(s, throttled.case or "") if d.step == step), None)
            if row is not None and row.last_error:
                break
        time.sleep(0.2)
    others = vendor_bridge.post_many([event() for _ in range(3)])
    assert throttled.case and all(s.status == 202 for s in [throttled, *others])
    tally = vendor_bridge.wait_settled({s.case for s in others if s.case}, timeout=60)
    print(f"\nTALLY {tally.line()}")
    if tally.unsettled:
        print(vendor_bridge.describe(tally.unsettled))
    observed.append(f"others: {tally.line()}")
    assert tally.balanced and tally.delivered == 3
    with vendor_bridge.store.session() as s:
        row = next(d for d in repo.deliveries_of(s, throttled.case) if d.step == step)
        wait = (row.next_attempt_at - vendor_bridge_now()).total_seconds()
        state = (row.status, row.attempts, row.last_error)
    observed.append(f"throttled {step}: status {state[0]}, attempts {state[1]}, next attempt in {wait / 60:.0f} min, "
                    f"last error {state[2]!r}")
    assert state[0] == "pending" and state[1] == 1 and wait > 3000
    vendor_bridge.scope = set()  # the throttled case is deliberately left pending on the shared deployment


def vendor_bridge_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@case("D12", "Slack answers ok:false channel_not_found to the alert",
      "no retry loop: the alert is dead at once, visible in `bridge dlq list` naming the channel; "
      "the ticket exists once")
def test_slack_permanent_error_is_a_visible_dead_letter(vendor_bridge: Bridge, observed: list[str]) -> None:
    vendor_bridge.slack.program("chat.postMessage", Act(answer={"ok": False, "error": "channel_not_found"}))
    sent = vendor_bridge.post(event())
    finish(vendor_bridge, observed)
    dead = [d for d in vendor_bridge.dead_letters() if d["case"] == sent.case]
    observed.append(f"dlq: {[(d['kind'], d['attempts'], d['last_error']) for d in dead]}")
    assert [(d["kind"], d["attempts"]) for d in dead] == [("slack.alert", 1)]
    assert "channel_not_found" in dead[0]["last_error"] and "C0SUPPORT1" in dead[0]["last_error"]
    assert len(vendor_bridge.zendesk.tickets_for(sent.case or "")) == 1


# --- 3. dead letters and replay -------------------------------------------------------------------

@case("C7,E2", "Zendesk answers 500 to every create until all 4 attempts are spent; then it recovers",
      "dead letter with the last error in `bridge dlq list`; `bridge replay` → exactly one ticket; replaying "
      "again, or from two processes at once, changes nothing")
def test_dead_letter_then_replay_once(vendor_bridge: Bridge, observed: list[str]) -> None:
    zd = vendor_bridge.zendesk
    zd.down("tickets.create", Act(status=500))
    a, b = vendor_bridge.post(event()), vendor_bridge.post(event())
    tally = vendor_bridge.wait_settled(timeout=60)
    observed.append(f"while Zendesk is down: {tally.line()}")
    assert tally.balanced and tally.dead == 2
    dead = {d["case"]: d for d in vendor_bridge.dead_letters() if d["kind"] == "zendesk.ticket"}
    assert set(dead) >= {a.case, b.case}
    assert dead[a.case]["attempts"] == 4 and "500" in dead[a.case]["last_error"]
    observed.append(f"dlq row: attempts {dead[a.case]['attempts']}, last error {dead[a.case]['last_error']!r}")
    zd.recover("tickets.create")
    first = vendor_bridge.cli("replay", dead[a.case]["id"])
    assert first.returncode == 0 and "replayed" in first.stdout
    tally = vendor_bridge.wait_settled({a.case}, timeout=30)
    assert tally.delivered == 1 and tally.balanced, tally.line()
    again = vendor_bridge.cli("replay", dead[a.case]["id"])
    observed.append(f"second replay of the same id: exit {again.returncode}, {again.stderr.strip()!r}")
    assert again.returncode != 0
    procs = [subprocess.Popen([str(BIN / "bridge"), "replay", dead[b.case]["id"]],
                              env=vendor_bridge.env, cwd=vendor_bridge.tmp, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    winners = sum("replayed" in out for out, _ in outs)
    observed.append(f"two concurrent replays of one dead letter: {winners} replayed, {2 - winners} refused")
    assert winners == 1
    time.sleep(2)  # give a wrongly double-enqueued replay the time to make a second ticket
    finish(vendor_bridge, observed, timeout=30)
    assert len(zd.tickets_for(a.case or "")) == 1 and len(zd.tickets_for(b.case or "")) == 1


@case("D16", "the ticket is made, Slack is down until the alert is dead; then Slack recovers",
      "`bridge replay --all-dead` posts only the alert; still one ticket")
def test_partial_success_then_replay_all_dead(vendor_bridge: Bridge, observed: list[str]) -> None:
    vendor_bridge.slack.down("chat.postMessage", Act(status=503))
    sent = vendor_bridge.post(event())
    tally = vendor_bridge.wait_settled(timeout=60)
    assert tally.dead == 1 and len(vendor_bridge.zendesk.tickets_for(sent.case or "")) == 1, tally.line()
    vendor_bridge.slack.recover()
    mine = [d["id"] for d in vendor_bridge.dead_letters() if d["case"] == sent.case]
    assert len(mine) == 1
    before = len(vendor_bridge.zendesk.calls)
    done = vendor_bridge.cli("replay", "--all-dead")  # on the shared deployment: other tests' dead letters too
    assert done.returncode == 0, done.stderr
    assert f"replayed {mine[0]}" in done.stdout
    finish(vendor_bridge, observed, timeout=30)
    creates = [c for c in vendor_bridge.zendesk.calls[before:] if c.op == "tickets.create"
               and (c.args.get("ticket") or {}).get("external_id") == sent.case]
    observed.append(f"ticket creates for this case after the replay: {len(creates)}")
    assert not creates  # the replay did only the missing alert


@case("D1-schedule", "429 with Retry-After: 30: where RQ's scheduler puts the retry",
      "the scheduled job is due no earlier than the row's next attempt (Retry-After honoured to the second)")
def test_retry_is_never_scheduled_before_retry_after(vendor_bridge: Bridge, observed: list[str]) -> None:
    import redis as redis_lib
    from rq.registry import ScheduledJobRegistry  # noqa: F401 (documents the key read below)

    from bridge.store import repo

    vendor_bridge.zendesk.program("tickets.create", Act(status=429, headers={"Retry-After": "30"}))
    sent = vendor_bridge.post(event())
    deadline = time.monotonic() + 30
    row = None
    while time.monotonic() < deadline:
        with vendor_bridge.store.session() as s:
            row = next((d for d in repo.deliveries_of(s, sent.case or "") if d.step == "zendesk.ticket"), None)
            if row is not None and row.attempts == 1 and row.last_error:
                break
        time.sleep(0.2)
    assert row is not None and row.last_error
    client = redis_lib.Redis.from_url(vendor_bridge.redis.url)
    queue = vendor_bridge.env["BRIDGE_QUEUE"]
    score = client.zscore(f"rq:scheduled:{queue}-urgent", f"{queue}-deliver-{row.id}-r1")  # deliveries are urgent
    client.close()
    due = row.next_attempt_at.timestamp()
    observed.append(f"row next attempt {due:.3f}, RQ scheduled score {score}: early by {due - (score or 0):.3f} s")
    vendor_bridge.scope = set()  # left throttled (pending) on the shared deployment
    assert score is not None and score >= due


# --- 4. Redis outages -----------------------------------------------------------------------------

@pytest.mark.parametrize("supervised", [pytest.param(True, id="supervisor-restarts-workers")])
@case("C1,C9", "Redis stopped while 10 webhooks arrive; then restarted empty (no persistence); a supervisor "
      "restarts workers that exited (as the Procfile's platform does)",
      "all 10 answered 202 (stored durably); after the restart the sweeper enqueues them: 10 tickets, 10 alerts")
def test_redis_down_then_restarted_empty_loses_nothing(make_bridge: Any, observed: list[str],
                                                       supervised: bool) -> None:
    bridge = make_bridge(workers=1)
    bridge.redis.stop()
    sent = bridge.post_many([event() for _ in range(10)], threads=4)
    observed.append(f"answers while Redis is down: {sorted(s.status for s in sent)}; "
                    f"slowest {max(s.seconds for s in sent):.2f} s")
    assert all(s.status == 202 for s in sent)
    states = bridge.states(bridge.accepted_cases())
    assert all(v == "received" for st in states.values() for k, v in st.items() if k.startswith("inbox:"))
    time.sleep(2)
    bridge.redis.start()
    exited = [p for p in bridge.workers if p.poll() is not None]
    observed.append(f"workers exited during the outage: {len(exited)} of {len(bridge.workers)}")
    if supervised:
        for _ in exited:
            bridge.wait_worker_ready(bridge.start_worker())
    finish(bridge, observed, timeout=45)


@case("C11", "Redis paused with SIGSTOP while 6 webhooks arrive (3 s more after the last answer)",
      "each answered within the sender's 5 s ack window, 2xx (durable) or 503, never hanging; "
      "after SIGCONT every accepted event is delivered once")
def test_redis_paused_intake_answers_within_its_budget(make_bridge: Any, observed: list[str]) -> None:
    bridge = make_bridge(workers=1)
    bridge.redis.pause()
    try:
        sent = bridge.post_many([event() for _ in range(6)], threads=3)
    finally:
        time.sleep(3)
        bridge.redis.resume()
    slowest = max(s.seconds for s in sent)
    observed.append(f"answers while paused: {sorted(s.status for s in sent)}; slowest {slowest:.2f} s "
                    f"(budget 5 s)")
    assert all(s.status in (202, 503) for s in sent)
    assert slowest < 5.0  # behaviour: inside the sender's ack window, not a speed target
    finish(bridge, observed, timeout=90)
    observed.append(f"workers exited: {sum(p.poll() is not None for p in bridge.workers)} of {len(bridge.workers)}")


@case("C11-job", "Redis paused (SIGSTOP) for 6 s while a job is inside Zendesk's create (the stub commits, "
      "then answers 2 s later); no supervisor",
      "the job's effect is recorded once; the worker survives the pause or, if RQ gives up on it, the "
      "step is still delivered once by the other worker's sweeper")
def test_redis_paused_mid_job(make_bridge: Any, observed: list[str]) -> None:
    bridge = make_bridge(workers=2)

    def pause(handler: Any) -> None:
        bridge.redis.pause()
        threading.Timer(6, bridge.redis.resume).start()

    bridge.zendesk.program("tickets.create", Act(on_commit=pause, delay=2))
    sent = bridge.post(event())
    assert sent.status == 202
    finish(bridge, observed, timeout=60)
    observed.append(f"workers exited: {sum(p.poll() is not None for p in bridge.workers)} of {len(bridge.workers)}")


# --- 5. kill -9 -----------------------------------------------------------------------------------

def _kill_caller(bridge: Bridge, what: str, log: list[str]) -> Any:
    """An on_commit hook: kill -9 the job process that made this request, its ``bridge worker``
    supervisor, or both. (Names from the forking-worker days: "horse" = the job process,
    "main" = the supervisor.)"""

    def hook(handler: Any) -> None:
        try:
            horse = pid_of_client(int(handler.client_address[1]), bridge.run_id)
            assert horse is not None, "no process of this run owns the client socket"
            stat = Path(f"/proc/{horse}/stat").read_text()
            main = int(stat.rsplit(")", 1)[1].split()[1])
            assert main in [p.pid for p in bridge.workers], f"parent {main} of {horse} is not a supervisor"
            if what in ("main", "both"):
                os.kill(main, signal.SIGKILL)
            if what in ("horse", "both"):
                os.kill(horse, signal.SIGKILL)
            log.append(f"killed {what}: job process {horse}, supervisor {main}")
        except Exception as exc:  # recorded: the test then fails on the empty kill list
            log.append(f"hook failed: {exc!r}")
            raise

    return hook


@pytest.mark.parametrize("what", ["horse", "main", pytest.param(
    "both")])
@case("C3-C5", "kill -9 right after Zendesk created the ticket (from the stub's create handler, before it "
      "answers): the job process; its supervisor (the job process dies with it, the answer comes 3 s later to "
      "nobody); both",
      "exactly one ticket and one alert: the retry after the lease finds the ticket by external_id; no "
      "process is left behind")
def test_kill_9_mid_create_makes_one_ticket(make_bridge: Any, observed: list[str], what: str) -> None:
    bridge = make_bridge(workers=2)
    killed: list[str] = []
    delay = 3.0 if what == "main" else 0.0
    bridge.zendesk.program("tickets.create", Act(on_commit=_kill_caller(bridge, what, killed), delay=delay))
    sent = bridge.post(event())
    assert sent.status == 202
    try:
        finish(bridge, observed, timeout=20)
    finally:
        observed.extend(killed)
    assert killed and killed[0].startswith("killed") and bridge.zendesk.count("tickets.create") == 1
    job_process = int(killed[0].split("job process ")[1].split(",")[0])
    assert not alive(job_process)  # killed, or died with its supervisor: never an orphan


# --- 6. SIGTERM -----------------------------------------------------------------------------------

@pytest.mark.parametrize("signals", [1, 2])
@case("C12", "SIGTERM to the supervisor while its job process waits 3 s for Zendesk's answer (once: warm "
      "shutdown; twice: cold shutdown kills the job process)",
      "warm: the job finishes, then the worker exits; cold: the job is retried by the other worker after "
      "the lease; either way one ticket, one alert, nothing lost")
def test_sigterm_during_a_job_never_loses_it(make_bridge: Any, observed: list[str], signals: int) -> None:
    bridge = make_bridge(workers=2)
    sent_signals: list[int] = []

    def term(handler: Any) -> None:
        horse = pid_of_client(int(handler.client_address[1]), bridge.run_id)
        assert horse is not None
        main = int(Path(f"/proc/{horse}/stat").read_text().rsplit(")", 1)[1].split()[1])
        for _ in range(signals):
            os.kill(main, signal.SIGTERM)
            sent_signals.append(main)
            time.sleep(0.3)

    bridge.zendesk.program("tickets.create", Act(on_commit=term, delay=3))
    sent = bridge.post(event())
    assert sent.status == 202
    finish(bridge, observed, timeout=90)
    deadline = time.monotonic() + 20
    while not any(p.poll() is not None for p in bridge.workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    stopped = [p for p in bridge.workers if p.poll() is not None]
    observed.append(f"{len(stopped)} worker(s) exited after SIGTERM×{signals}")
    assert len(stopped) == 1


# --- 7. PostgreSQL restarted ----------------------------------------------------------------------

@pytest.fixture
def private_postgres() -> Any:
    import shutil
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="faults-pg-", dir="/tmp"))
    cluster = PostgresCluster(base, dict(os.environ))
    try:
        cluster.init()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot run a private PostgreSQL cluster: {exc}")
    yield cluster
    try:
        cluster.stop("immediate")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@case("PG-restart", "the private PostgreSQL is stopped (fast) while 5 events are in flight, 3 more arrive "
      "during the outage, then it starts again; the sender retries what was not acknowledged",
      "during the outage intake answers 503 with Retry-After (never 2xx without a stored row, never hangs); "
      "afterwards every acknowledged event is delivered once")
def test_postgres_restarted_mid_run(make_bridge: Any, observed: list[str], private_postgres: Any) -> None:
    bridge = make_bridge(database_url=private_postgres.url, workers=1)
    bridge.zendesk.program("tickets.create", *[Act(delay=1.0) for _ in range(5)])
    first = bridge.post_many([event() for _ in range(5)], threads=5)
    assert all(s.status == 202 for s in first)
    deadline = time.monotonic() + 20
    while bridge.zendesk.count("tickets.create") == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    private_postgres.stop("fast")
    bridge.store.engine.dispose()
    late = [event() for _ in range(3)]
    during = [bridge.post(e) for e in late]
    observed.append(f"answers while PostgreSQL is down: {[s.status for s in during]}; "
                    f"slowest {max(s.seconds for s in during):.2f} s")
    assert all(s.status == 503 for s in during)
    time.sleep(2)
    private_postgres.start()
    retried = [bridge.post(e) for e, s in zip(late, during, strict=True) if not 200 <= s.status < 300]
    assert all(s.status == 202 for s in retried)
    finish(bridge, observed, timeout=60)


# --- 8. the mixed run -----------------------------------------------------------------------------

@case("mixed", "150 events over about a minute (FAULTS_MIXED_EVENTS, FAULTS_MIXED_SECONDS) with a random "
      "fault every few seconds: vendor 429/5xx/commit-then-reset/garbage/hang on Zendesk or Slack, kill -9 of "
      "a job process or of a supervisor (a platform supervisor restarts exited workers), Redis paused 2 s",
      "the sender retries non-2xx answers; final tally: accepted = delivered once + dead-lettered, nothing else")
def test_mixed_run_balances(make_bridge: Any, observed: list[str]) -> None:
    import random

    total = int(os.environ.get("FAULTS_MIXED_EVENTS", "150"))
    seconds = float(os.environ.get("FAULTS_MIXED_SECONDS", "60"))
    seed = int(os.environ.get("FAULTS_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    bridge = make_bridge(workers=2)
    stop = threading.Event()
    injected: list[str] = []
    kills: list[str] = []

    zd, sl = bridge.zendesk.program, bridge.slack.program
    menu: dict[str, Any] = {
        "zendesk 429 Retry-After 1": lambda: zd("tickets.create", Act(status=429, headers={"Retry-After": "1"})),
        "zendesk 503×2": lambda: zd("tickets.create", Act(status=503), Act(status=503)),
        "zendesk commit-then-reset": lambda: zd("tickets.create", Act(drop_after_commit=True)),
        "zendesk garbage 200": lambda: zd("tickets.create", Act(garbage=True)),
        "zendesk lookup 500": lambda: zd("tickets.list", Act(status=500)),
        "zendesk hang": lambda: zd("tickets.create", Act(hang=8)),
        "slack 429 Retry-After 1.5": lambda: sl("chat.postMessage", Act(status=429, headers={"Retry-After": "1.5"})),
        "slack commit-then-reset": lambda: sl("chat.postMessage", Act(drop_after_commit=True)),
        "slack garbage 200": lambda: sl("chat.postMessage", Act(garbage=True)),
        "slack 500": lambda: sl("chat.postMessage", Act(status=500)),
        "kill -9 job process after create": lambda: zd("tickets.create",
                                                       Act(on_commit=_kill_caller(bridge, "horse", kills))),
        "kill -9 supervisor mid-create": lambda: zd("tickets.create",
                                                     Act(on_commit=_kill_caller(bridge, "main", kills), delay=2)),
        "redis paused 2 s": lambda: (bridge.redis.pause(), stop.wait(2), bridge.redis.resume()),
    }

    def chaos() -> None:
        restarts = 0
        next_fault = time.monotonic() + rng.uniform(2, 4)
        while not stop.wait(0.5):
            for proc in list(bridge.workers):  # the supervisor: an exited worker is started again
                if proc.poll() is not None and restarts < 20 and proc not in restarted:
                    restarted.add(proc)
                    restarts += 1
                    bridge.start_worker()
            if time.monotonic() >= next_fault:
                name = rng.choice(sorted(menu))
                injected.append(name)
                menu[name]()
                next_fault = time.monotonic() + rng.uniform(2, 5)

    restarted: set[Any] = set()
    chaos_thread = threading.Thread(target=chaos, daemon=True)
    chaos_thread.start()
    gap = seconds / total
    started = time.monotonic()

    def send(i: int) -> None:
        delay = started + i * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        one = event()
        for _ in range(4):  # a sender retries what was not acknowledged
            if 200 <= bridge.post(one, timeout=10).status < 300:
                return
            time.sleep(1)

    from concurrent.futures import ThreadPoolExecutor

    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(send, range(total)))
        sending = time.monotonic() - started
        tally = bridge.wait_settled(timeout=float(os.environ.get("FAULTS_SETTLE_SECONDS", "240")))
    finally:
        stop.set()
        chaos_thread.join(10)
        bridge.redis.resume()
    counts = {name: injected.count(name) for name in sorted(set(injected))}
    line = tally.line()
    print(f"\nTALLY (mixed, seed {seed}) {line}\nfaults injected: {counts}\nkills: {kills}")
    not_acked = sum(1 for s in bridge.sent if not 200 <= s.status < 300)
    observed += [line, f"seed {seed}; {len(bridge.sent)} requests in {sending:.0f} s, {not_acked} not acknowledged "
                 f"(retried by the sender)", f"faults injected: {counts}"]
    if not tally.balanced:
        print(bridge.describe(tally.unsettled + tally.duplicated + tally.missing_effect))
    assert tally.balanced, line


# --- found along the way --------------------------------------------------------------------------

@case("D11-name", "SLACK_CHANNEL is a #name (the README's default is `#support`); Slack posts the alert, then "
      "the connection is reset before the answer",
      "the retry finds the posted alert by its metadata key: one alert")
def test_slack_alert_to_a_channel_name_is_not_posted_twice(make_bridge: Any, observed: list[str]) -> None:
    bridge = make_bridge(SLACK_CHANNEL="#support")
    bridge.slack.program("chat.postMessage", Act(drop_after_commit=True))
    sent = bridge.post(event())
    assert sent.status == 202
    bridge.wait_settled(timeout=30)
    observed.append(f"alerts posted: {len(bridge.slack.posts_with_key(f'{sent.case}-slack.alert'))}")
    finish(bridge, observed, timeout=5)


@case("C1-worker", "Redis stopped for 8 s under an idle `bridge worker` (past its start-up), then started again",
      "the worker process stays up (reconnects) and then delivers an event sent afterwards")
def test_worker_survives_a_redis_outage(make_bridge: Any, observed: list[str]) -> None:
    bridge = make_bridge(workers=1)
    time.sleep(2)  # past RQ's first maintenance pass: an outage inside it kills the worker (see report)
    bridge.redis.stop()
    time.sleep(8)
    bridge.redis.start()
    time.sleep(3)
    exited = [p.returncode for p in bridge.workers if p.poll() is not None]
    observed.append(f"workers exited: {len(exited)} of {len(bridge.workers)}")
    assert not exited, bridge.log_tail("worker-0", 1500)
    bridge.post(event())
    finish(bridge, observed, timeout=30)

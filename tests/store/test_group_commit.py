"""Group commit: concurrent webhooks share one durable commit, each answered only once its rows are
committed; duplicates stay exact inside a batch and across batches; a bad request in a batch fails
alone; a lone request commits at once, in its own thread. On SQLite and PostgreSQL; then the SQLite
writer lock that lets the batches of two web processes follow each other without SQLite's backoff, and
the write lock a batch polls for while a queue worker holds it."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from bridge import create_app
from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.store import group_commit, intake_rows, repo
from bridge.store.migrate import upgrade
from tests.helpers import HeldCommit, dumps, generic_event, signed_headers


@pytest.fixture
def rt(any_store_settings: Settings) -> Runtime:
    runtime = Runtime.build(any_store_settings)
    upgrade(runtime.store)
    return runtime


@pytest.fixture
def app(rt: Runtime) -> Flask:
    return create_app(rt=rt)


@pytest.fixture
def commits(rt: Runtime) -> Iterator[list[int]]:
    """The thread of every commit on the store's engine, in order."""
    seen: list[int] = []

    def on_commit(_conn: Any) -> None:
        seen.append(threading.get_ident())

    event.listen(rt.store.engine, "commit", on_commit)
    yield seen
    event.remove(rt.store.engine, "commit", on_commit)


@pytest.fixture
def stored(rt: Runtime) -> Iterator[Any]:
    """Whether an inbox key is committed, asked on a connection of another engine (what a crash
    right now would leave)."""
    other = create_engine(rt.store.url)

    def check(key: str) -> bool:
        with other.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM inbox WHERE key = :k"), {"k": key}).scalar())

    yield check
    other.dispose()


def _post(app: Flask, body: bytes) -> tuple[int, dict[str, Any]]:
    response = app.test_client().post("/webhooks/generic", data=body, headers=signed_headers(body))
    return response.status_code, response.get_json()


def _concurrently(rt: Runtime, app: Flask, bodies: list[bytes], after: Any = None) -> list[tuple[int, dict]]:
    """Post ``bodies`` from one thread each while a commit is held in flight: all of them queue, then
    share the next commit. ``after(answer)`` runs in the request's thread as soon as it is answered."""
    results: list[tuple[int, dict[str, Any]]] = [(0, {})] * len(bodies)

    def send(i: int) -> None:
        results[i] = _post(app, bodies[i])
        if after is not None:
            after(results[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    with HeldCommit(rt.store.group) as held:
        for t in threads:
            t.start()
        held.queued(len(bodies))
    for t in threads:
        t.join(30)
    return results


def test_concurrent_requests_share_one_commit_and_each_is_durable_when_answered(
    rt: Runtime, app: Flask, commits: list[int], stored: Any
) -> None:
    bodies = [dumps(generic_event(conversation_id=f"conv-{i}")) for i in range(8)]
    durable_on_answer: list[bool] = []
    results = _concurrently(rt, app, bodies, after=lambda r: durable_on_answer.append(stored(r[1]["event"])))
    assert [code for code, _ in results] == [202] * 8
    assert durable_on_answer == [True] * 8
    assert len(commits) == 2  # the held one, then all eight requests together


def test_a_lone_request_commits_at_once_in_its_own_thread(rt: Runtime, app: Flask, commits: list[int],
                                                           stored: Any) -> None:
    result: dict[str, Any] = {}

    def send() -> None:
        result["answer"] = _post(app, dumps(generic_event()))
        result["thread"] = threading.get_ident()
        result["durable"] = stored(result["answer"][1]["event"])

    thread = threading.Thread(target=send)
    thread.start()
    thread.join(30)
    assert result["answer"][0] == 202 and result["durable"]
    assert commits == [result["thread"]]  # no committer thread, no second commit: nothing waited
    assert rt.store.group.waiting == 0


def test_duplicates_inside_one_batch_and_across_batches(rt: Runtime, app: Flask, commits: list[int]) -> None:
    same = dumps(generic_event(event_id="evt-twice"))
    other = dumps(generic_event(event_id="evt-other"))
    results = _concurrently(rt, app, [same, other, same])
    assert len(commits) == 2
    codes = sorted(code for code, answer in results if answer["event"] != results[1][1]["event"])
    assert codes == [200, 202]  # one stored, the other a duplicate of a row not yet committed
    twice = [answer for _, answer in (results[0], results[2])]
    assert {(a["event"], a["case"], a["status"]) for a in twice} == {(twice[0]["event"], twice[0]["case"],
                                                                     twice[0]["status"])}
    assert [a.get("duplicate", False) for a in twice].count(True) == 1
    again = _post(app, same)
    assert again[0] == 200 and again[1]["duplicate"] is True and again[1]["event"] == twice[0]["event"]
    assert _inbox_count(rt) == 2


def test_a_failing_request_in_a_batch_fails_alone(rt: Runtime, app: Flask, monkeypatch: pytest.MonkeyPatch,
                                                  stored: Any) -> None:
    bodies = [dumps(generic_event(event_id=f"evt-{i}")) for i in range(4)]
    real = intake_rows.insert_inbox  # where the intake's unit looks it up

    def failing(session: Any, values: dict[str, Any]) -> bool:
        if values["sender_event_id"] == "evt-2":
            raise OperationalError("INSERT INTO inbox", {}, Exception("disk I/O error"))
        return real(session, values)

    monkeypatch.setattr(intake_rows, "insert_inbox", failing)
    results = _concurrently(rt, app, bodies)
    codes = [code for code, _ in results]
    assert codes == [202, 202, 503, 202]
    assert results[2][1]["error"]["code"] == "store_unavailable"
    assert all(stored(answer["event"]) for code, answer in results if code == 202)
    assert _inbox_count(rt) == 3


def test_a_row_violating_a_constraint_fails_only_its_own_request(rt: Runtime, commits: list[int]) -> None:
    """Without the web layer: units inserting inbox rows, one of them missing a NOT NULL column."""
    outcomes: dict[str, Any] = {}

    def run(key: str, platform: str | None) -> None:
        try:
            outcomes[key] = rt.store.group.run(_insert_unit(key, platform))
        except Exception as exc:
            outcomes[key] = exc

    with HeldCommit(rt.store.group) as held:
        threads = [threading.Thread(target=run, args=(k, None if k == "bad" else "generic"))
                   for k in ("a", "bad", "b")]
        for t in threads:
            t.start()
        held.queued(3)
    for t in threads:
        t.join(30)
    assert outcomes["a"] is True and outcomes["b"] is True
    assert isinstance(outcomes["bad"], IntegrityError)
    assert _inbox_count(rt) == 2
    assert len(commits) == 3  # the held one; the batch rolled back; then "a" and "b" each on their own


def test_a_unit_may_neither_commit_nor_roll_back(rt: Runtime) -> None:
    with pytest.raises(RuntimeError, match="must not commit"):
        rt.store.group.run(lambda s: s.commit())
    with pytest.raises(RuntimeError, match="must not roll back"):
        rt.store.group.run(lambda s: s.rollback())
    assert rt.store.group.run(lambda s: s.execute(text("SELECT 1")).scalar()) == 1  # still usable


def test_a_unit_may_not_start_another(rt: Runtime) -> None:
    """It would queue behind the batch running it and wait forever: refused instead (in a thread of
    its own, so that a hang fails this test rather than the run)."""
    outcome: list[BaseException] = []

    def nest() -> None:
        try:
            rt.store.group.run(lambda s: rt.store.group.run(lambda s2: None))
        except RuntimeError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=nest, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the nested unit hung"
    assert "must not start another" in str(outcome[0])
    assert rt.store.group.run(lambda s: 1) == 1


def _inbox_count(rt: Runtime) -> int:
    with rt.store.session() as s:
        return int(s.execute(text("SELECT count(*) FROM inbox")).scalar() or 0)


@pytest.fixture
def sqlite_rt(settings: Settings) -> Runtime:
    runtime = Runtime.build(settings)
    upgrade(runtime.store)
    return runtime


def _writer_path(rt: Runtime) -> str:
    return f"{rt.store.engine.url.database}-writer"


def test_sqlite_batches_of_two_processes_wait_for_each_other_on_the_writer_lock(
    sqlite_rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's batch holds the writer lock (an open file description of its own, as a
    second web process has): this batch retries until it is released, then commits."""

    polls: list[bool] = []
    with open(_writer_path(sqlite_rt), "a+b") as other:
        sqlite_rt.store.group.run(lambda s: None)  # creates the lock file's handle of this process
        fcntl.flock(other, fcntl.LOCK_EX)

        def poll(_seconds: float) -> None:
            committed = _inbox_count(sqlite_rt)
            polls.append(committed == 0)
            fcntl.flock(other, fcntl.LOCK_UN)  # the other process's commit is done

        monkeypatch.setattr(group_commit.time, "sleep", poll)
        assert sqlite_rt.store.group.run(_insert_unit("k-1")) is True
    assert polls == [True]  # waited once, before writing anything
    assert _inbox_count(sqlite_rt) == 1


def test_sqlite_writer_lock_held_too_long_is_a_503(sqlite_rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setattr(group_commit, "WRITER_TIMEOUT", 0.0)
    client = create_app(rt=sqlite_rt).test_client()
    sqlite_rt.store.group.run(lambda s: None)
    with open(_writer_path(sqlite_rt), "a+b") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        body = dumps(generic_event())
        response = client.post("/webhooks/generic", data=body, headers=signed_headers(body))
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "store_unavailable"
    assert _inbox_count(sqlite_rt) == 0
    assert client.post("/webhooks/generic", data=body, headers=signed_headers(body)).status_code == 202


def test_sqlite_without_a_writer_lock_file_still_commits(sqlite_rt: Runtime) -> None:
    """The lock only shortens waits; SQLite's own lock keeps writers apart without it."""
    os.mkdir(_writer_path(sqlite_rt))  # a folder where the lock file would be: it cannot be opened
    assert sqlite_rt.store.group.run(_insert_unit("k-1")) is True
    assert sqlite_rt.store.group.run(_insert_unit("k-2")) is True
    assert _inbox_count(sqlite_rt) == 2


def _worker_holding_the_write_lock(rt: Runtime) -> sqlite3.Connection:
    """A queue worker's write in progress: a connection of its own, which takes no writer lock file."""
    worker = sqlite3.connect(str(rt.store.engine.url.database), isolation_level=None, timeout=0)
    worker.execute("BEGIN IMMEDIATE")
    worker.execute("INSERT INTO timeline (case_id, at, kind, actor, detail) VALUES "
                   "('c-worker', '2026-12-06 10:00:00', 'worker.wrote', 'worker', '{}')")
    return worker


def test_sqlite_batch_polls_for_a_queue_workers_write_lock_then_commits(
    sqlite_rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker holds SQLite's write lock: the batch waits for it by polling (not in SQLite's busy
    handler, whose sleeps grow to 100 ms), writes nothing meanwhile, and commits once it is free."""
    sqlite_rt.store.group.run(lambda s: None)
    worker = _worker_holding_the_write_lock(sqlite_rt)
    polls: list[bool] = []

    def poll(_seconds: float) -> None:
        polls.append(_inbox_count(sqlite_rt) == 0)
        worker.execute("COMMIT")  # the worker's job is done

    monkeypatch.setattr(group_commit.time, "sleep", poll)
    assert sqlite_rt.store.group.run_core(lambda conn: intake_rows.insert_inbox(conn, _row("k-1"))) is True
    worker.close()
    assert polls == [True]
    assert _inbox_count(sqlite_rt) == 1
    with sqlite_rt.store.session() as s:
        assert s.execute(text("SELECT count(*) FROM timeline WHERE case_id = 'c-worker'")).scalar() == 1
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == group_commit.BUSY_TIMEOUT_MS


def test_sqlite_write_lock_held_by_a_worker_too_long_fails_the_request(
    sqlite_rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_commit, "WRITER_TIMEOUT", 0.0)
    sqlite_rt.store.group.run(lambda s: None)
    worker = _worker_holding_the_write_lock(sqlite_rt)
    with pytest.raises(OperationalError):
        sqlite_rt.store.group.run_core(lambda conn: intake_rows.insert_inbox(conn, _row("k-1")))
    worker.execute("COMMIT")
    worker.close()
    assert _inbox_count(sqlite_rt) == 0
    assert sqlite_rt.store.group.run_core(lambda conn: intake_rows.insert_inbox(conn, _row("k-1"))) is True


def _row(key: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return dict(key=key, platform="generic", sender_event_id=key, event_type="handoff.requested", case_id="c-1",
                body=b"{}", headers={}, event={}, received_at=now, state="received", attempts=0,
                next_attempt_at=now, updated_at=now)


def _insert_unit(key: str, platform: str | None = "generic") -> Any:
    now = datetime.now(UTC)
    row = dict(key=key, platform=platform, sender_event_id=key, event_type="handoff.requested", case_id="c-1",
               body=b"{}", headers={}, event={}, received_at=now, state="received", attempts=0,
               next_attempt_at=now, updated_at=now)
    return lambda s: repo.insert_inbox(s, row)

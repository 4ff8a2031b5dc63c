"""Group commit: the writes of concurrent requests in one process share one durable commit.

A commit is the expensive part of a request that must be durable before it answers: an fsync of
SQLite's WAL, a WAL flush on PostgreSQL. Databases amortize it the same way (leader/follower, no
timer): a request that finds no commit in flight leads at once and commits only its own write, so a
lone request waits for nothing; requests arriving while a commit is in flight queue, and when it
completes the oldest of them leads the next batch, which takes every request queued by then. One
transaction runs each queued *unit* (a function of the session) in arrival order, then commits once;
a request returns only after the commit holding its writes, so "2xx only when durable" holds and a
crash before the commit loses only requests that were never answered.

Units run one after another in one transaction, so each sees the writes of those before it: a
duplicate key inserted twice in one batch is found as exactly as across batches. If anything in a
batch fails, the batch is rolled back and each of its requests runs its unit again in its own
transaction, in its own thread: only the request whose write is bad gets the error, and an outage
costs each request one attempt of its own, not a queue of them.

On SQLite, the leaders of the web processes sharing one file also take turns on a lock file beside
it (``_WriterLock``), so a batch starts as soon as the other process's batch is committed instead
of after SQLite's growing sleeps; and a batch takes SQLite's write lock at BEGIN, polling for it
while a queue worker holds it (``_write_lock``), for the same reason.

A batch is one Core connection and transaction. ``run_core`` units get that connection (the
webhook's inbox insert: the web process never loads the ORM for it); ``run`` units get an ORM
session joined to the same transaction, made only when the batch holds such a unit.

A unit may run twice (the batch, then alone), so it must do nothing but use the session it is given,
and must neither commit nor roll back: that would end the others' writes too (the session refuses).
Effects that must follow durability (enqueueing, waking a runner) belong to the caller, after
``run`` returns.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from functools import cache
from typing import Any, Generic, TypeVar

log = logging.getLogger("bridge.store.group_commit")

T = TypeVar("T")
Unit = Callable[[Any], T]  # given an ORM Session (``run``) or a Core Connection (``run_core``)


@cache
def _shared_session_class() -> type:
    """The session an ORM unit gets (commit and rollback belong to the committer), defined on first
    use so that a process whose units are all Core never imports the ORM."""
    from sqlalchemy.orm import Session

    class SharedSession(Session):
        def commit(self) -> None:
            raise RuntimeError("a group-commit unit must not commit: its batch commits once, after every unit")

        def rollback(self) -> None:
            raise RuntimeError("a group-commit unit must not roll back: that would undo the other units' writes")

    return SharedSession


def _session_on(conn: Any) -> Any:
    """An ORM session inside ``conn``'s transaction: it flushes there and never ends it."""
    return _shared_session_class()(bind=conn, expire_on_commit=False, join_transaction_mode="rollback_only")


def _run_unit(waiter: _Waiter[Any], conn: Any, sessions: list[Any]) -> Any:
    if waiter.core:
        return waiter.unit(conn)
    if not sessions:
        sessions.append(_session_on(conn))
    result = waiter.unit(sessions[0])
    sessions[0].flush()  # the next unit, Core or not, sees these writes
    return result


class _Waiter(Generic[T]):
    __slots__ = ("unit", "core", "done", "result", "error", "lead", "alone")

    def __init__(self, unit: Unit[T], core: bool = False) -> None:
        self.unit = unit
        self.core = core
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.lead = False  # woken to lead the next batch
        self.alone = False  # its batch failed: run the unit again in a transaction of its own


class GroupCommit:
    """One per store and process (see ``Store.group``)."""

    def __init__(self, bind: Callable[[], Any]) -> None:
        self._bind = bind  # the engine, looked up per call: a forked child gets its own
        self._reset()
        _instances.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._in_unit = threading.local()
        self._queue: list[_Waiter[Any]] = []
        self._leading = False
        old = getattr(self, "_writers", None)
        if isinstance(old, _WriterLock):
            old.close()  # a forked child's copy: the parent's lock stays the parent's
        self._writers: _WriterLock | None = None
        self._refused = False  # the file system refused the writer lock: SQLite's own lock alone

    def run(self, unit: Unit[T]) -> T:
        """Run ``unit(session)`` in a shared transaction and return its result once that is committed."""
        return self._run(unit, core=False)

    def run_core(self, unit: Unit[T]) -> T:
        """``run`` for a unit written in SQLAlchemy Core: it gets the batch's connection."""
        return self._run(unit, core=True)

    def _run(self, unit: Unit[T], core: bool) -> T:
        if getattr(self._in_unit, "active", False):
            raise RuntimeError("a group-commit unit must not start another: it would wait for its own batch")
        me: _Waiter[T] = _Waiter(unit, core)
        with self._lock:
            self._queue.append(me)
            me.lead = not self._leading
            self._leading = True
        if not me.lead:
            me.done.wait()
        if me.lead:  # first in, or handed the lead: commit everything queued so far, then pass it on
            self._lead()
        if me.alone:
            return self._alone(me)
        if me.error is not None:
            raise me.error
        return me.result  # type: ignore[return-value]

    @property
    def waiting(self) -> int:
        """Requests queued behind the commit in flight (for tests and diagnostics)."""
        with self._lock:
            return len(self._queue)

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._commit(batch)
        except BaseException:  # the leader's thread is ending: its followers try on their own
            for waiter in batch:
                waiter.alone = True
            raise
        finally:
            with self._lock:
                if self._queue:
                    nxt = self._queue[0]
                    nxt.lead = True
                    nxt.done.set()
                else:
                    self._leading = False
            for waiter in batch:
                waiter.done.set()

    def _commit(self, batch: list[_Waiter[Any]]) -> None:
        engine = self._bind()
        writers = self._writer_lock(engine)
        if writers is not None:
            try:
                writers.acquire(WRITER_TIMEOUT)
            except TimeoutError as exc:  # what SQLite's own lock would answer after as long
                for waiter in batch:
                    waiter.error = exc
                return
            except OSError:
                writers = self._no_writer_lock()
        try:
            self._commit_in(engine, batch)
        finally:
            if writers is not None:
                writers.release()

    def _writer_lock(self, engine: Any) -> _WriterLock | None:
        path = engine.url.database
        if engine.dialect.name != "sqlite" or path in (None, "", ":memory:") or self._refused:
            return None
        if self._writers is None or self._writers.path != f"{path}-writer":
            try:
                self._writers = _WriterLock(f"{path}-writer")
            except OSError:
                return self._no_writer_lock()
        return self._writers

    def _no_writer_lock(self) -> None:
        """The lock only shortens waits (SQLite's own lock keeps writers apart): without it, go on."""
        log.warning("bridge.store.group_commit.no_writer_lock", exc_info=True)
        self._refused = True
        return None

    def _commit_in(self, engine: Any, batch: list[_Waiter[Any]]) -> None:
        try:
            conn = engine.connect()  # an unreachable store fails every request alike: no retries alone
        except Exception as exc:
            for waiter in batch:
                waiter.error = exc
            return
        sessions: list[Any] = []  # the batch's ORM session, made for its first ORM unit
        with conn:
            trans = conn.begin()
            try:
                _write_lock(conn)
                self._in_unit.active = True
                try:
                    results = [_run_unit(waiter, conn, sessions) for waiter in batch]
                finally:
                    self._in_unit.active = False
                trans.commit()
            except Exception as exc:
                trans.rollback()
                if len(batch) == 1:
                    batch[0].error = exc
                    return
                log.warning("bridge.store.group_commit.batch_failed",
                            extra={"requests": len(batch), "error": type(exc).__name__})
                for waiter in batch:
                    waiter.alone = True
                return
            finally:
                for session in sessions:
                    session.close()
        for waiter, result in zip(batch, results, strict=True):
            waiter.result = result

    def _alone(self, waiter: _Waiter[T]) -> T:
        sessions: list[Any] = []
        with self._bind().connect() as conn:
            trans = conn.begin()
            try:
                _write_lock(conn)
                result = _run_unit(waiter, conn, sessions)
                trans.commit()
            except BaseException:
                trans.rollback()
                raise
            finally:
                for session in sessions:
                    session.close()
            return result  # type: ignore[no-any-return]


WRITER_TIMEOUT = 10.0  # as long as a statement waits for SQLite's own lock (busy_timeout)
WRITER_POLL = 0.0005
SQLITE_BUSY = 5
BUSY_TIMEOUT_MS = 10_000  # what bridge.store.db sets on every SQLite connection


def _write_lock(conn: Any) -> None:
    """On SQLite, start the batch's transaction holding the database's write lock (BEGIN IMMEDIATE),
    waited for by polling every half millisecond.

    The queue workers write the same file and take no ``_WriterLock``. A batch that met one of their
    transactions waited in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25 … 100 ms
    between tries and is not fair: a worker committing job after job took the lock back while the
    batch slept, and the slowest clicks and webhooks under ingest with a worker running were answered
    100–200 ms late. Polling reaches the lock within half a millisecond of its release. Taking it
    at BEGIN also means no unit that reads before it writes can meet SQLITE_BUSY_SNAPSHOT (another
    writer committed after its read), which the busy handler does not retry at all.

    The three statements go to the driver's connection itself (inside ``conn``'s transaction, as
    SQLAlchemy would send them): every batch runs them, and SQLAlchemy's per-statement work was a
    tenth of a millisecond of each. A failure is SQLAlchemy's error all the same.
    """
    if conn.dialect.name != "sqlite":
        return
    driver = conn.connection.driver_connection
    dbapi = conn.dialect.loaded_dbapi
    deadline = time.monotonic() + WRITER_TIMEOUT
    try:
        driver.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    driver.execute("BEGIN IMMEDIATE")
                    return
                except dbapi.OperationalError as exc:
                    if getattr(exc, "sqlite_errorcode", None) != SQLITE_BUSY or time.monotonic() >= deadline:
                        raise
                time.sleep(WRITER_POLL)
        finally:
            driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except dbapi.Error as exc:
        from sqlalchemy.exc import DBAPIError

        raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, dbapi.Error, dialect=conn.dialect) from exc


class _WriterLock:
    """One batch at a time across the processes writing one SQLite file (the web workers).

    SQLite lets one writer in; another that finds its lock taken sleeps and retries with a growing
    backoff (1, 2, 5, 10 … 100 ms), and with group commit a whole batch of requests waits behind that
    sleep: two web processes on one store answered the slowest percent of requests tens of ms late.
    The leader takes this lock first instead, retried every half millisecond, so it reaches SQLite's
    lock as soon as the other process's batch is committed. A timed wait, not a blocking ``flock``,
    so a stuck holder costs a 503 after as long as SQLite itself would wait, not a hung request.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "a+b")  # noqa: SIM115 - held for the life of the process

    def acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"another process held {self.path} for {timeout:.0f} s") from None
                time.sleep(WRITER_POLL)

    def release(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        self._file.close()


_instances: weakref.WeakSet[GroupCommit] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child starts with an empty queue and a fresh lock: a batch another thread of the
    parent was leading at fork time is the parent's, and its lock is not inherited held."""
    for committer in list(_instances):
        committer._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)

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

A unit may run twice (the batch, then alone), so it must do nothing but use the session it is given,
and must neither commit nor roll back: that would end the others' writes too (the session refuses).
Effects that must follow durability (enqueueing, waking a runner) belong to the caller, after
``run`` returns.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

log = logging.getLogger("bridge.store.group_commit")

T = TypeVar("T")
Unit = Callable[[Session], T]


class SharedSession(Session):
    """The session a unit gets: commit and rollback belong to the committer."""

    def commit(self) -> None:
        raise RuntimeError("a group-commit unit must not commit: its batch commits once, after every unit")

    def rollback(self) -> None:
        raise RuntimeError("a group-commit unit must not roll back: that would undo the other units' writes")


class _Waiter(Generic[T]):
    __slots__ = ("unit", "done", "result", "error", "lead", "alone")

    def __init__(self, unit: Unit[T]) -> None:
        self.unit = unit
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
        self._queue: list[_Waiter[Any]] = []
        self._leading = False

    def run(self, unit: Unit[T]) -> T:
        """Run ``unit`` in a shared transaction and return its result once that is committed."""
        me: _Waiter[T] = _Waiter(unit)
        with self._lock:
            self._queue.append(me)
            me.lead = not self._leading
            self._leading = True
        if not me.lead:
            me.done.wait()
        if me.lead:  # first in, or handed the lead: commit everything queued so far, then pass it on
            self._lead()
        if me.alone:
            return self._alone(unit)
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
        with SharedSession(self._bind(), expire_on_commit=False) as s:
            try:
                s.connection()  # an unreachable store fails every request alike: no retries alone
            except Exception as exc:
                for waiter in batch:
                    waiter.error = exc
                return
            try:
                results = [waiter.unit(s) for waiter in batch]
                Session.commit(s)
            except Exception as exc:
                Session.rollback(s)
                if len(batch) == 1:
                    batch[0].error = exc
                    return
                log.warning("bridge.store.group_commit.batch_failed",
                            extra={"requests": len(batch), "error": type(exc).__name__})
                for waiter in batch:
                    waiter.alone = True
                return
        for waiter, result in zip(batch, results, strict=True):
            waiter.result = result

    def _alone(self, unit: Unit[T]) -> T:
        with Session(self._bind(), expire_on_commit=False) as s:
            try:
                result = unit(s)
                s.commit()
            except BaseException:
                s.rollback()
                raise
            return result


_instances: weakref.WeakSet[GroupCommit] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child starts with an empty queue and a fresh lock: a batch another thread of the
    parent was leading at fork time is the parent's, and its lock is not inherited held."""
    for committer in list(_instances):
        committer._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)

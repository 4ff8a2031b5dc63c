"""Engines and sessions. SQLite (WAL, full sync) by default; PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:  # the ORM is imported by the first session: the webhook path writes in Core
    from sqlalchemy.orm import Session, sessionmaker


def __getattr__(name: str) -> Any:
    """``Session`` for the modules that import it from here (the loop, the workers), loaded when
    they ask: importing this module alone loads no ORM."""
    if name == "Session":
        from sqlalchemy.orm import Session

        return Session
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

StoreError = SQLAlchemyError  # what a failed read or write raises, for callers outside the store

_lock = threading.Lock()
_engines: dict[tuple[str, int], Engine] = {}


_synchronous = "FULL"
_cache_kib = 0  # SQLite's page cache per connection, KiB; 0: SQLite's default (2 MB)
WORKER_CACHE_KIB = 256


def relax_durability() -> None:
    """For queue workers' processes: SQLite commits without an fsync each (WAL, synchronous=NORMAL).

    A power cut may then undo a worker's last commits — never a 2xx's (the web process keeps FULL)
    — and every job is idempotent, so an undone "done" only runs its step again and the vendor's
    exactly-once lookup finds the earlier effect. A crashed process loses nothing in WAL mode.

    Their connections also keep a smaller page cache (``WORKER_CACHE_KIB``): a job reads a few rows
    by index, and a page it reads again comes from the OS's cache; SQLite's default 2 MB per
    connection was ~1.8 MB of a job process's RSS after a few hundred hand-offs and no CPU less
    per hand-off than 256 KiB (bench.drain_memory --sqlite-cache)."""
    global _synchronous
    _synchronous = "NORMAL"
    limit_page_cache(WORKER_CACHE_KIB)


def limit_page_cache(kib: int) -> None:
    """Each SQLite connection made afterwards keeps at most ``kib`` KiB of pages (0: SQLite's 2 MB).

    A pooled connection's page cache stays allocated at its high-water mark for the life of the
    process, and in WAL mode it is emptied anyway whenever another connection (the other web
    process, a queue worker) has committed since its last transaction, which under ingest is before
    nearly every batch. So a web or worker process gains little from it beyond one transaction,
    which touches a few index pages (the rest are read from the OS's file cache), and pays its size
    in RSS."""
    global _cache_kib
    _cache_kib = max(0, kib)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the web process write while workers read; FULL makes a commit survive power loss,
    # which is what a 2xx promises the sender.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA synchronous={_synchronous}")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    if _cache_kib:
        cur.execute(f"PRAGMA cache_size=-{int(_cache_kib)}")  # negative: KiB, not pages
    cur.close()


class JSONText(str):
    """A JSON value serialized already (``Event.to_json_text``): a JSON column stores it as it is
    instead of dumping it again."""


def _json_dumps(value: Any) -> str:
    return value if isinstance(value, JSONText) else json.dumps(value)


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the driver we install)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def get_engine(url: str) -> Engine:
    """One engine per URL per process: a forked RQ work horse must not reuse its parent's sockets."""
    url = normalize_url(url)
    key = (url, os.getpid())
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _create(url)
            _engines[key] = engine
        return engine


def _create(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 10, "check_same_thread": False},
                               json_serializer=_json_dumps)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=5,
        json_serializer=_json_dumps,
        # Fail fast when the server is down: the request path must answer 503 within seconds.
        connect_args={"connect_timeout": 3} if parsed.get_backend_name() == "postgresql" else {},
    )


def _after_fork_in_child() -> None:
    """A forked child starts with no engine and a fresh lock: the parent's pooled connections
    (SQLite handles, PostgreSQL sockets) are left to the parent, and a lock another thread of the
    parent held at fork time is not inherited held. (SQLAlchemy: ``dispose(close=False)``.)"""
    global _lock
    _lock = threading.Lock()
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


class Store:
    """The engine plus a session factory; passed around instead of globals."""

    def __init__(self, url: str) -> None:
        from bridge.store.group_commit import GroupCommit

        self.url = normalize_url(url)
        self._factory: sessionmaker[Session] | None = None
        self._pid = 0
        # Writes a request must make durable before it answers go through here: concurrent
        # requests of this process share one commit (bridge/store/group_commit.py).
        self.group = GroupCommit(lambda: self.engine)

    @property
    def engine(self) -> Engine:
        return get_engine(self.url)

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self._factory is None or self._pid != os.getpid():
            from sqlalchemy.orm import sessionmaker

            self._factory = sessionmaker(self.engine, expire_on_commit=False)
            self._pid = os.getpid()
        with self._factory() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

"""What a process needs to do work: settings, store, queue and clock, built once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bridge.config import Settings
from bridge.queue import InProcessQueue, JobQueue, RQQueue
from bridge.store.db import Store


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    queue: JobQueue
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        queue: JobQueue
        if settings.redis_url:
            queue = RQQueue(settings.redis_url, settings.queue_name, settings.job_timeout)
        else:
            queue = InProcessQueue()
        return cls(settings=settings, store=Store(settings.store_url), queue=queue)


_lock = threading.Lock()
_current: Runtime | None = None


def install(runtime: Runtime) -> Runtime:
    global _current
    with _lock:
        _current = runtime
    return runtime


def current() -> Runtime:
    """The process's runtime; RQ work horses build theirs from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = Runtime.build(Settings.from_env())
        return _current

"""What a process needs to do work: settings, store, queue and clock, built once per process."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bridge.config import Settings
from bridge.pipeline.route_config import RoutingError
from bridge.pipeline.routing_file import routing_for
from bridge.queue import InProcessQueue, JobQueue, RQQueue
from bridge.store.db import Store

if TYPE_CHECKING:
    from bridge.pipeline.route_config import Routing

log = logging.getLogger("bridge.runtime")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    queue: JobQueue
    clock: Callable[[], datetime] = field(default=utcnow)
    _routing: tuple[tuple[str, float], Routing] | None = field(default=None, repr=False)

    def routing(self) -> Routing:
        """The routing in force. An edit to ROUTING_FILE takes effect on the next escalation; an
        edit that breaks the file is logged and the last good routing stays in force (at start, a
        broken file is refused: see ``check_routing``)."""

        path = str(self.settings.routing_file or "")
        try:
            stamp = (path, os.stat(path).st_mtime if path else 0.0)
        except OSError:
            stamp = (path, -1.0)
        if self._routing is not None and self._routing[0] == stamp:
            return self._routing[1]
        try:
            routing = routing_for(self.settings)
        except RoutingError:
            if self._routing is None:
                raise
            log.exception("bridge.routing.invalid_reload")
            return self._routing[1]
        self._routing = (stamp, routing)
        return routing

    @classmethod
    def build(cls, settings: Settings) -> Runtime:

        queue: JobQueue
        if settings.redis_url:
            queue = RQQueue(settings.redis_url, settings.queue_name, settings.job_timeout, settings.lease_seconds)
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

"""The bridge's queue worker under a chosen RQ worker class, for the worker-class comparison.

``bridge worker`` (the Procfile's ``worker`` line) runs a supervisor, a dispatcher (scheduler and
sweeper) and job processes with an in-process RQ worker. This runs the same job functions on the same
queue with another class:
``python -m bench.worker_variant SimpleWorker|Worker``. No scheduler, no sweeper (the drain
benchmarks need neither).
"""

from __future__ import annotations

import sys

import rq

from bridge.config import Settings
from bridge.runtime import Runtime, install


def main() -> None:
    cls = getattr(rq, sys.argv[1])
    rt = install(Runtime.build(Settings.from_env()))
    queues = rt.queue.queues  # type: ignore[attr-defined]
    cls(queues, connection=rt.queue.redis, serializer=rt.queue.serializer).work(  # type: ignore[attr-defined]
        burst=False, with_scheduler=False, logging_level="WARNING")


if __name__ == "__main__":
    main()

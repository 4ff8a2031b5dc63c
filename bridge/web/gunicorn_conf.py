"""gunicorn settings the Procfile loads (``--config python:bridge.web.gunicorn_conf``): one set of
Prometheus counters across the web workers.

A scrape of ``/metrics`` reaches one gunicorn worker; the webhook counter must be the sum over all
of them, or every scrape would show another worker's share and Prometheus would read the jumps as
counter resets. prometheus_client's multiprocess mode does the adding up: each worker writes its
counts to a file in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape reads them all. Its rules, from
prometheus_client's documentation: the directory is set before a worker starts, it is emptied when
the server starts (files of an earlier run would be added in), and a worker that exits is marked
dead. A dead worker's counter file stays: its counts are part of the totals.

Without ``PROMETHEUS_MULTIPROC_DIR`` in the environment, a directory of its own is made for the
server's life and removed when it exits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

_made: list[str] = []  # a directory made here, removed on exit


def on_starting(server: Any) -> None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink()
    else:
        path = tempfile.mkdtemp(prefix="bridge-prometheus-")
        _made.append(path)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path  # the workers are forked after this


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    for path in _made:
        shutil.rmtree(path, ignore_errors=True)

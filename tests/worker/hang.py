"""Jobs for the supervisor tests, enqueued by dotted path (``PYTHONPATH`` is the repository)."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def stuck(marker: str) -> str:
    """A job stuck in C code where RQ's timeout cannot reach it (as a horse deadlocked in
    ``sqlite3.connect`` was): signals blocked, a read nobody will ever answer."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
    Path(marker).write_text(str(os.getpid()))
    read_end, _write_end = os.pipe()
    while True:
        os.read(read_end, 1)


def note(marker: str) -> str:
    Path(marker).write_text(str(os.getpid()))
    return "noted"

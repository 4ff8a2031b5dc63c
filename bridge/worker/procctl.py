"""Linux ``prctl``: die with the parent, and a process name ``ps``/``top`` show (no-ops elsewhere);
and every thread's stack on ``SIGUSR1``, so a process that stalls can say where."""

from __future__ import annotations

import ctypes
import ctypes.util
import faulthandler
import os
import signal
import sys

PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15


def _prctl(option: int, arg: int | bytes) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(option, arg, 0, 0, 0)


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies. If the parent is
    already gone (it died between fork and here), exit now."""
    _prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent_pid:
        os._exit(1)


def set_name(name: str) -> None:
    """The kernel's name of this process (15 bytes), e.g. ``bridge-jobs-1`` in ``ps -o comm``."""
    _prctl(PR_SET_NAME, name.encode()[:15])


def dump_stacks_on(sig: int = signal.SIGUSR1) -> bool:
    """``kill -USR1 PID`` writes every thread's Python stack to this process's stderr (from C, so it
    answers even when the interpreter is stuck or a lock is held). A forked child inherits it.
    False when the process has no stderr file to write to (e.g. run inside a test's CLI runner)."""
    try:
        faulthandler.register(sig, file=sys.__stderr__, all_threads=True, chain=False)
    except (AttributeError, ValueError, OSError):  # None, or a stream with no file descriptor
        return False
    return True

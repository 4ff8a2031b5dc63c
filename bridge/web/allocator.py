"""glibc malloc settings for a threaded web worker, and giving freed memory back (issue 19: RSS).

A gunicorn ``gthread`` worker runs requests on 4 threads, and glibc gives each thread that allocates
while another holds the main arena an arena of its own (up to 8 per core), each keeping what it once
held. And glibc raises its mmap threshold to the size of the largest block freed so far: after the
first 500 KB webhook body, bodies and their copies no longer get pages of their own, which ``free``
returns at once, but come from those arenas, which keep the high-water mark of every thread. Python
allocates its own objects (≤ 512 bytes) under the GIL, so the arenas buy this process little
concurrency and cost it tens of MB after large bodies.

``tune`` is called in each worker before its threads exist (``bridge.web.server``): at most
``ARENA_MAX`` arenas and a fixed mmap threshold, so a block of ``MMAP_THRESHOLD`` or more is always
mapped on its own and unmapped when freed. ``trim`` hands the arenas' free pages back
(``malloc_trim``); the worker calls it at most once a second after a request with a large body.

``BRIDGE_MALLOC_TUNING`` picks what applies: a comma-separated subset of ``arenas,mmap,trim``
(default all three), or ``0`` for none (how bench/web_rss.py measures each without a code change).
Anything but glibc: nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import cache
from typing import Any

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8
ARENA_MAX = 2
MMAP_THRESHOLD = 128 * 1024  # glibc's default start; fixing it stops the dynamic raise
FEATURES = ("arenas", "mmap", "trim")


def enabled(feature: str) -> bool:
    setting = os.environ.get("BRIDGE_MALLOC_TUNING", ",".join(FEATURES)).strip()
    return feature in {part.strip() for part in setting.split(",")}


@cache
def _libc() -> Any:
    """glibc, or None: ``malloc_trim`` and these ``mallopt`` parameters are glibc's own."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError on musl and others
    except (OSError, AttributeError):
        return None
    return libc


def tune() -> list[str]:
    """Apply the enabled settings to this process; returns those applied. Call before threads start:
    arenas made already stay."""
    libc = _libc()
    if libc is None:
        return []
    applied = []
    if enabled("arenas") and libc.mallopt(M_ARENA_MAX, ARENA_MAX) == 1:
        applied.append("arenas")
    if enabled("mmap") and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1:
        applied.append("mmap")
    return applied


def trim() -> bool:
    """Give free heap pages back to the system; True if any were (and trimming is enabled)."""
    libc = _libc()
    if libc is None or not enabled("trim"):
        return False
    return bool(libc.malloc_trim(0))

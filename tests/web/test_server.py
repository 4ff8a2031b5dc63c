"""The Procfile's gunicorn worker decides when a buffered request is whole, and gives a large one's
memory back (bridge/web/server.py, bridge/web/allocator.py)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.workers.gthread import ThreadWorker

from bridge.web import allocator
from bridge.web.server import LARGE_BODY, MAX_HEAD, TRIM_INTERVAL, BufferedWorker, request_complete

HEAD = b"POST /webhooks/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(("data", "whole"), [
    (HEAD, False),  # headers not finished
    (HEAD + b"\r\n", True),  # no body announced
    (HEAD + b"Content-Length: 5\r\n\r\n{\"a\"", False),
    (HEAD + b"Content-Length: 5\r\n\r\n{\"a\"}", True),
    (HEAD + b"content-length: 99999999\r\n\r\n" + b" " * 11, True),  # more than the limit: 413 from the header
    (HEAD + b"Content-Length: 99999999\r\n\r\n" + b" " * 9, False),
    (HEAD + b"Content-Length: nope\r\n\r\n", True),  # malformed: gunicorn answers 400
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", False),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD + 1), True),  # endless headers: gunicorn refuses them
])
def test_request_complete(data: bytes, whole: bool) -> None:
    assert request_complete(data, max_body=10) is whole


# --- the worker's memory (issue 19: web worker RSS) ----------------------------------------------


class _Unreader:
    def __init__(self) -> None:
        self.data = b""

    def unread(self, data: bytes) -> None:
        self.data += data


class _Conn:
    """What ``BufferedWorker._on_bytes`` uses of gunicorn's ``TConn``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = SimpleNamespace(unreader=_Unreader())
        self.data_ready = False

    def init(self) -> None:
        pass


class _Poller:
    def register(self, *_args: Any) -> None:
        pass

    def unregister(self, *_args: Any) -> None:
        pass


def _worker() -> tuple[BufferedWorker, list[Any]]:
    """A worker with only what buffering needs (no arbiter, no sockets of its own)."""
    worker = BufferedWorker.__new__(BufferedWorker)
    worker.read_timeout, worker.max_body = 10.0, 1024 * 1024
    worker.reading = deque()
    worker.poller = _Poller()
    worker.trim_due, worker.trimmed_at = False, 0.0
    queued: list[Any] = []
    worker.enqueue_req = queued.append  # type: ignore[method-assign]
    return worker, queued


def _send(worker: BufferedWorker, body_bytes: int) -> tuple[_Conn, bytes]:
    """One request through the worker's buffering, the sender and the poller taking turns."""
    ours, theirs = socket.socketpair()
    request = HEAD + b"Content-Length: %d\r\n\r\n" % body_bytes + b"x" * body_bytes
    conn = _Conn(ours)
    worker._read(conn)  # type: ignore[arg-type]
    theirs.setblocking(False)
    sent = 0
    while not conn.data_ready:
        if sent < len(request):
            with contextlib.suppress(BlockingIOError):
                sent += theirs.send(request[sent:sent + 65536])
        worker._on_bytes(conn, ours)  # type: ignore[arg-type]
    theirs.close()
    return conn, request


@pytest.mark.parametrize(("body_bytes", "large"), [(10_000, False), (LARGE_BODY, True)])
def test_a_buffered_request_keeps_no_copy_and_a_large_one_asks_for_a_trim(
        body_bytes: int, large: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    worker, queued = _worker()
    conn, request = _send(worker, body_bytes)
    assert queued == [conn] and conn.parser.unreader.data == request  # the whole request, handed on
    assert conn.rb_buffer is None  # type: ignore[attr-defined]  # not kept with the kept-alive connection
    monkeypatch.setattr(ThreadWorker, "finish_request", lambda *_a: None)
    trims: list[bool] = []
    monkeypatch.setattr(allocator, "trim", lambda: trims.append(True) or True)
    monkeypatch.setattr(ThreadWorker, "murder_pending", lambda _self: None)
    worker.finish_request(conn, None)  # type: ignore[arg-type]
    assert worker.trim_due is large
    worker.murder_pending()
    assert trims == ([True] if large else [])


def test_trims_are_at_most_one_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    worker, _ = _worker()
    trims: list[bool] = []
    monkeypatch.setattr(allocator, "trim", lambda: trims.append(True) or True)
    monkeypatch.setattr(ThreadWorker, "murder_pending", lambda _self: None)
    worker.trim_due = True
    worker.murder_pending()
    worker.trim_due = True
    worker.murder_pending()  # within the interval: stays due
    assert len(trims) == 1 and worker.trim_due
    worker.trimmed_at -= TRIM_INTERVAL
    worker.murder_pending()
    assert len(trims) == 2 and not worker.trim_due


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt")
@pytest.mark.parametrize(("setting", "applied", "trims"), [
    (None, ["arenas", "mmap"], True), ("0", [], False), ("mmap", ["mmap"], False), ("trim", [], True)])
def test_allocator_settings_follow_the_environment(setting: str | None, applied: list[str], trims: bool) -> None:
    """In a fresh process (the settings are the process's): what ``tune`` applies, whether ``trim`` runs."""
    env = {k: v for k, v in os.environ.items() if k != "BRIDGE_MALLOC_TUNING"}
    if setting is not None:
        env["BRIDGE_MALLOC_TUNING"] = setting
    code = ("import json; from bridge.web import allocator; "
            "libc = allocator._libc(); ran = []; "
            "libc.malloc_trim = lambda pad: ran.append(pad) or 1; "
            "print(json.dumps([allocator.tune(), allocator.trim(), ran]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    got_applied, trimmed, ran = json.loads(out.stdout)
    assert got_applied == applied
    assert trimmed is trims and ran == ([0] if trims else [])


def test_large_requests_are_handled_one_at_a_time_small_ones_together(monkeypatch: pytest.MonkeyPatch) -> None:
    worker, _ = _worker()
    worker.large_lock = threading.Lock()
    inside: list[str] = []
    release = threading.Event()
    small_together = threading.Barrier(2, timeout=10)

    def handle(_self: Any, conn: Any) -> bool:
        inside.append(conn.name)
        if conn.name.startswith("small"):
            small_together.wait()  # raises unless both small requests run at once
        else:
            release.wait(10)
        return True

    monkeypatch.setattr(ThreadWorker, "handle", handle)
    smalls = [SimpleNamespace(name=f"small{i}", rb_large=False) for i in range(2)]
    threads = [threading.Thread(target=worker.handle, args=(c,)) for c in smalls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(inside) == ["small0", "small1"]
    inside.clear()
    larges = [threading.Thread(target=worker.handle, args=(SimpleNamespace(name=f"large{i}", rb_large=True),))
              for i in range(2)]
    larges[0].start()
    deadline = time.monotonic() + 10
    while not inside and time.monotonic() < deadline:
        time.sleep(0.001)
    larges[1].start()
    larges[1].join(0.2)
    assert larges[1].is_alive() and inside == ["large0"]  # the second waits for the first
    release.set()
    for t in larges:
        t.join(10)
    assert inside == ["large0", "large1"]

"""The gunicorn worker the Procfile runs: a request is read whole before a thread takes it.

gunicorn's ``sync`` worker gives a connection a whole process from its first byte: a sender that
trickles its headers or body (slow-loris) holds the process until the arbiter's ``--timeout``
kills it, and a handful of such connections (as many as there are processes) stopped every other
webhook from being answered. ``gthread`` gives a connection a thread once its first bytes arrive,
and the thread then blocks on the rest.

``BufferedWorker`` is ``gthread`` with the read moved to the worker's poller: bytes are collected
without blocking until the request line, the headers and the body its ``Content-Length`` announces
(up to ``BRIDGE_MAX_BODY_BYTES``) are in, and only then does a thread parse and answer it. A
request not complete within ``BRIDGE_REQUEST_READ_TIMEOUT`` seconds (default 10) is answered
``408`` and closed, so a slow sender costs a buffer, never a thread or a process.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

from bridge.web import allocator

READ_TIMEOUT = 10.0
MAX_HEAD = 64 * 1024  # request line + headers; gunicorn's own limits answer anything longer
LARGE_BODY = 256 * 1024  # a request this large is followed by a malloc_trim (bridge/web/allocator.py)
TRIM_INTERVAL = 1.0  # seconds: at most one trim per interval, whatever the rate of large requests
TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def _number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


def request_complete(buf: bytes | bytearray, max_body: int) -> bool:
    """True once ``buf`` holds a whole request (or enough for gunicorn or the app to refuse it):
    the headers, and the body ``Content-Length`` announces (only its first ``max_body`` + 1 bytes
    when it announces more: the app answers 413 from the header alone). A chunked body is complete
    at its last chunk."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return len(buf) > MAX_HEAD
    length, chunked = 0, False
    for line in bytes(buf[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return True  # malformed: gunicorn answers 400
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    body = len(buf) - end - 4
    if chunked:
        return buf.endswith(b"0\r\n\r\n") or body > max_body
    return body >= min(length, max_body + 1)


class BufferedWorker(ThreadWorker):
    """``gthread`` that reads each request on the poller before a thread runs it (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = _number("BRIDGE_REQUEST_READ_TIMEOUT", READ_TIMEOUT)
        self.max_body = int(_number("BRIDGE_MAX_BODY_BYTES", 1024 * 1024))
        self.reading: deque[TConn] = deque()  # in arrival order, so the oldest deadline is first
        self.trim_due = False
        self.trimmed_at = 0.0
        # Large requests are handled one at a time: see ``handle``.
        self.large_lock = threading.Lock()

    def init_process(self) -> None:
        """The allocator's settings first: the app is loaded and the threads start after this."""
        allocator.tune()
        super().init_process()

    def accept(self, listener: socket.socket) -> None:
        try:
            client, addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, addr, listener.getsockname())  # non-blocking from here
        self._read(conn)

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """A kept-alive connection's next request is buffered the same way."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        conn.sock.setblocking(False)
        self._read(conn)

    def _read(self, conn: TConn) -> None:
        conn.rb_buffer = bytearray()  # type: ignore[attr-defined]
        conn.rb_deadline = time.monotonic() + self.read_timeout  # type: ignore[attr-defined]
        self.reading.append(conn)
        self.poller.register(conn.sock, 1, partial(self._on_bytes, conn))  # 1: selectors.EVENT_READ

    def _on_bytes(self, conn: TConn, client: socket.socket) -> None:
        try:
            data = client.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        buffer: bytearray = conn.rb_buffer  # type: ignore[attr-defined]
        buffer += data
        if not request_complete(buffer, self.max_body):
            return
        self.poller.unregister(client)
        self.reading.remove(conn)
        conn.sock.setblocking(True)
        conn.init()
        conn.parser.unreader.unread(bytes(buffer))
        # The parser has its copy: the buffer must not live on with the kept-alive connection.
        conn.rb_buffer = None  # type: ignore[attr-defined]
        conn.rb_large = len(buffer) >= LARGE_BODY  # type: ignore[attr-defined]
        conn.data_ready = True
        self.enqueue_req(conn)

    def handle(self, conn: TConn) -> Any:
        """A request of ``LARGE_BODY`` or more waits for the one before it: parsing and validating a
        500 KB body makes some MB of small Python objects, and Python's allocator keeps an arena of
        them as long as one object in it lives, so four at once on four threads left the worker's
        high-water mark (and RSS) at four times one. Under the GIL they gain nothing from running
        together; a waiting request holds only its bytes."""
        if getattr(conn, "rb_large", False):
            with self.large_lock:
                return super().handle(conn)
        return super().handle(conn)

    def finish_request(self, conn: TConn, fs: Any) -> None:
        """After a large request the heap holds its freed copies: trim soon (``murder_pending``)."""
        if getattr(conn, "rb_large", False):
            conn.rb_large = False  # type: ignore[attr-defined]
            self.trim_due = True
        super().finish_request(conn, fs)

    def _drop(self, conn: TConn, answer: bytes = b"") -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        with contextlib.suppress(ValueError):
            self.reading.remove(conn)
        if answer:
            with contextlib.suppress(OSError):
                conn.sock.send(answer)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """gunicorn's own pending connections, then every request not read in time: 408."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading and self.reading[0].rb_deadline <= now:  # type: ignore[attr-defined]
            self._drop(self.reading[0], TIMEOUT_ANSWER)
        # The loop passes here after every batch of events and at least once a second; a trim costs
        # a walk of the heap, so it is done here, rate-limited, not after every large request.
        if self.trim_due and now - self.trimmed_at >= TRIM_INTERVAL:
            self.trim_due = False
            self.trimmed_at = now
            allocator.trim()

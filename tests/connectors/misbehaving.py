"""A loopback TCP server that misbehaves on purpose: it speaks just enough HTTP to start a response
and then lies about the length, drips bytes, stalls, or resets the connection.

``MisbehavingServer(behaviour)`` runs ``behaviour(conn)`` for every accepted connection on its own
thread. The behaviours below are what the outside probe of issue 20 used against the evidence fetcher.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

Behaviour = Callable[[socket.socket], None]
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"


def short_body(conn: socket.socket) -> None:
    """Announces 1,000 bytes, sends 10, closes: urllib3's ProtocolError(IncompleteRead)."""
    conn.recv(4096)
    conn.sendall(HEAD + b"Content-Length: 1000\r\n\r\n" + b"\x89PNG\r\n\x1a\n..")


def drip_body(conn: socket.socket) -> None:
    """A byte every 50 ms of a 100 kB body: never more than a moment between two bytes."""
    conn.recv(4096)
    conn.sendall(HEAD + b"Content-Length: 100000\r\n\r\n")
    for _ in range(100_000):
        conn.sendall(b"x")
        time.sleep(0.05)


def drip_headers(conn: socket.socket) -> None:
    """The status line, then header bytes one at a time, forever."""
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(100_000):
        conn.sendall(b"X")
        time.sleep(0.05)


def stall(conn: socket.socket) -> None:
    """Accepts and says nothing."""
    time.sleep(30)


def reset(conn: socket.socket) -> None:
    """Reads the request, then resets the connection (RST, not FIN)."""
    conn.recv(4096)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def reset_mid_body(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.sendall(HEAD + b"Content-Length: 5000\r\n\r\n" + b"x" * 100)
    time.sleep(0.1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def garbage(conn: socket.socket) -> None:
    """Not HTTP at all (and not TLS either)."""
    conn.recv(4096)
    conn.sendall(b"\x00\x01\x02 hello there \xff\xfe\r\n\r\n")


def bad_chunking(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")


BEHAVIOURS: dict[str, Behaviour] = {
    "short_body": short_body, "drip_body": drip_body, "drip_headers": drip_headers, "stall": stall,
    "reset": reset, "reset_mid_body": reset_mid_body, "garbage": garbage, "bad_chunking": bad_chunking,
}


class MisbehavingServer:
    def __init__(self, behaviour: Behaviour, host: str = "127.0.0.2") -> None:
        self.behaviour = behaviour
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.behaviour(conn)
        except OSError:
            pass  # the client gave up: that is the point
        finally:
            conn.close()

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()

"""Infrastructure faults for the suite: a TCP proxy that a test can cut (in front of PostgreSQL) or
that spreads connections round-robin over several web instances (the load balancer of the multi-node
run), and slow-loris clients that trickle a request to the web process one byte at a time.

Nothing here touches the machine's shared PostgreSQL server: the proxy only forwards (and drops)
the connections of the deployment under test.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``targets``, one connection to each in turn (round-robin); a
    target that refuses the connection is passed over for the next, as a load balancer does
    (nginx's ``proxy_next_upstream error``). ``cut()`` resets every forwarded connection and refuses
    new ones (accepted, then reset at once: what a stopped server looks like to a client) until
    ``restore()``. ``lose_answers(i, n)`` drops the next ``n`` answers of target ``i`` on the way
    back (the client's connection is reset once the answer arrives). ``forwarded`` counts the
    connections each target took, ``lost`` the answers dropped."""

    def __init__(self, *targets: tuple[str, int]) -> None:
        assert targets, "a proxy needs somewhere to forward to"
        self.targets = list(targets)
        self.forwarded = [0] * len(targets)
        self.turn = 0
        self.to_lose = [0] * len(targets)
        self.lost = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = int(self.listener.getsockname()[1])
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.down = threading.Event()
        self.stopping = threading.Event()
        self.cuts = 0
        self.refused = 0
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down.is_set():
                with self.lock:
                    self.refused += 1
                _reset(client)
                continue
            upstream = self._connect()
            if upstream is None:
                _reset(client)
                continue
            with self.lock:
                self.pairs.append((client, upstream[1]))
            threading.Thread(target=self._pump, args=(client, *upstream), daemon=True).start()

    def _connect(self) -> tuple[int, socket.socket] | None:
        """A connection to the next target in turn that takes one, with the target's index (None:
        every target refused)."""
        first, self.turn = self.turn, (self.turn + 1) % len(self.targets)
        for n in range(len(self.targets)):
            index = (first + n) % len(self.targets)
            try:
                upstream = socket.create_connection(self.targets[index], timeout=3)
            except OSError:
                continue
            self.forwarded[index] += 1
            return index, upstream
        return None

    def lose_answers(self, target: int, n: int) -> None:
        with self.lock:
            self.to_lose[target] += n

    def _pump(self, a: socket.socket, index: int, b: socket.socket) -> None:
        """Client ``a`` ⇄ upstream ``b`` (target ``index``) until either side closes."""
        peers = {a: b, b: a}
        try:
            while not self.stopping.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.5)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is b and self.to_lose[index]:
                        with self.lock:
                            if self.to_lose[index]:
                                self.to_lose[index] -= 1
                                self.lost += 1
                                return  # the answer goes nowhere; both connections are reset below
                    peers[sock].sendall(data)
        except (OSError, ValueError):  # ValueError: cut() closed a socket under select()
            return
        finally:
            for sock in (a, b):
                _reset(sock)
            with self.lock:
                if (a, b) in self.pairs:
                    self.pairs.remove((a, b))

    def cut(self) -> int:
        """Reset every live connection and refuse new ones; returns how many were cut."""
        self.down.set()
        with self.lock:
            pairs, self.pairs = list(self.pairs), []
            self.cuts += 1
        for a, b in pairs:
            _reset(a)
            _reset(b)
        return len(pairs)

    def restore(self) -> None:
        self.down.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.close()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class SlowClient:
    """A slow-loris sender: the request line, then one byte of headers (or, with ``body``, complete
    headers announcing a body, then one byte of body) every ``gap`` seconds, for at most ``budget``
    seconds. ``closed_after`` is when the server dropped it (None: it never did)."""

    port: int
    body: bool = False
    gap: float = 0.5
    budget: float = 40.0
    closed_after: float | None = None
    answer: bytes = b""
    sent: int = 0
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> SlowClient:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.budget)
        head = b"POST /webhooks/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        if self.body:
            head += b"Content-Length: 100000\r\nwebhook-id: msg_slow\r\n\r\n"
            drip = b"{" + b" " * 99999
        else:
            drip = b"X-Slow: " + b"a" * 100000
        try:
            sock.sendall(head)
            sock.setblocking(False)
            for byte in drip:
                if self.stop.wait(self.gap) or time.monotonic() - started > self.budget:
                    break
                with contextlib.suppress(BlockingIOError):
                    self.answer += sock.recv(4096)  # an answer (408, 400) or b"": the server let go
                    self.closed_after = time.monotonic() - started
                    return
                sock.send(bytes([byte]))
                self.sent += 1
        except OSError:
            self.closed_after = time.monotonic() - started
        finally:
            sock.close()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(5)

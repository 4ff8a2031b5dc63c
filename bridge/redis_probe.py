"""Redis readiness checks for the web process, without redis-py.

``/readyz`` asks whether Redis answers and whether an RQ scheduler holds its lock. With redis-py
that costs a web worker the import of redis (8.x loads its asyncio client, its parsers and, when
installed, the OpenTelemetry SDK) and rq: 7.5-10 MB of RSS in every web worker that a load
balancer's readiness probe reaches, although no request of the web process ever enqueues (the
dispatcher in ``bridge worker`` does). Both questions are one command each, so they go over a plain
socket in RESP, the protocol's text form: ``AUTH`` when the URL carries a password, ``SELECT`` for a
database other than 0, then ``PING`` or ``EXISTS``.

What this does not speak (a ``unix://`` socket, ``rediss://`` with options, Sentinel or cluster URLs,
query options) is answered by ``None`` from ``plain_url``; the caller then uses redis-py as before.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote, urlsplit


class ProbeError(Exception):
    """Redis did not answer as it should: the text says what happened."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None
    tls: bool


def plain_url(url: str) -> Target | None:
    """The target of a ``redis://`` or ``rediss://`` URL without options, else None."""
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError:
        return None
    if parts.scheme not in ("redis", "rediss") or parts.query or parts.fragment or not parts.hostname:
        return None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        return None
    return Target(parts.hostname, port, int(path or 0), unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None, parts.scheme == "rediss")


def _encode(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _reply(stream: BinaryIO) -> bytes | int:
    """One simple-string, error or integer reply (the only kinds these commands get)."""
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ProbeError("connection closed")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body
    if kind == b":":
        return int(body)
    if kind == b"-":
        raise ProbeError(body.decode(errors="replace"))
    raise ProbeError(f"unexpected reply {line[:40]!r}")


def ask(target: Target, command: tuple[str, ...], timeout: float = 2.0) -> bytes | int:
    """Connect, authenticate, select, send ``command`` and return its reply."""
    try:
        sock = socket.create_connection((target.host, target.port), timeout=min(timeout, 1.0))
        sock.settimeout(timeout)
        if target.tls:
            import ssl  # only for rediss://: a CLI that never asks Redis does not load OpenSSL for it

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
    except OSError as exc:
        raise ProbeError(f"cannot connect to {target.host}:{target.port}: {exc}") from exc
    with sock, sock.makefile("rb") as stream:
        commands = []
        if target.password is not None:
            commands.append(("AUTH", target.username, target.password) if target.username
                            else ("AUTH", target.password))
        if target.db:
            commands.append(("SELECT", str(target.db)))
        commands.append(command)
        try:
            sock.sendall(b"".join(_encode(*(a for a in c if a is not None)) for c in commands))
            replies = [_reply(stream) for _ in commands]
        except OSError as exc:
            raise ProbeError(f"{target.host}:{target.port}: {exc}") from exc
    return replies[-1]

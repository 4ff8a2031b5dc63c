"""SSRF-safe evidence downloader: screenshots and logs named by URLs in untrusted payloads.

The host is resolved once; every address it resolves to must be public (no loopback, private,
link-local — which includes the 169.254.169.254 metadata service — shared, reserved or multicast
ranges, also when hidden in IPv4-mapped/6to4/Teredo IPv6). The connection then goes to exactly the
address that was checked (TLS still verifies the hostname), so a DNS answer that changes between
the check and the connect cannot point it elsewhere. Decimal, octal and hex spellings of an address
are caught because the check is on the resolved address, not the string. Redirects are followed by
hand, re-checked at every hop and capped. No proxy from the environment is ever used.

Whatever goes wrong, ``fetch`` raises ``FetchError`` (``BlockedURL`` is one), never urllib3's,
the socket's or TLS's own exceptions, and it returns or raises by its deadline: a watchdog shuts
the connection's socket when the budget is spent, so neither a host that drips its headers or
body a byte at a time nor one that stops sending can hold a worker longer than ``total_seconds``.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

MAX_BYTES = 10 * 1024 * 1024
TOTAL_SECONDS = 15.0
MAX_REDIRECTS = 3
READ_SIZE = 8192  # small reads, so the deadline is looked at often even when the host drips

Resolver = Callable[..., list[tuple[Any, ...]]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchError(Exception):
    """The evidence could not be fetched (listed as such in the ticket, never dropped silently)."""


class BlockedURL(FetchError):
    """The URL points somewhere the bridge must never connect to."""


@dataclass(frozen=True)
class Fetched:
    url: str
    content: bytes
    content_type: str
    name: str


def _embedded_ipv4(address: Address) -> list[Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[Address] = []
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address.sixtofour:
        found.append(address.sixtofour)
    if address.teredo:
        found.extend(address.teredo)
    if address in _NAT64 or address in _IPV4_COMPATIBLE:  # the last 32 bits are an IPv4 address
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


# Python counts these as global; a NAT64 gateway or an old dual stack reaches the IPv4 inside them.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated "::127.0.0.1" form
_NOT_PUBLIC: tuple[Network, ...] = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215): a private network
    # IETF protocol assignments: Python before 3.11.10 / 3.12.4 calls 192.0.0.8-255 global, so the
    # answer would depend on the interpreter's patch release (found by tests/fuzz/test_ssrf.py).
    ipaddress.IPv4Network("192.0.0.0/24"),
)


def fetch_allowlist(text: str | None) -> list[Network]:
    """``BRIDGE_FETCH_ALLOW``: comma-separated networks that may be fetched although not public
    (an internal evidence host you trust, or a test server). Empty by default."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in (text or "").split(",") if part.strip()]


def is_public(address: Address, allow: Sequence[Network] = ()) -> bool:
    if any(address in net for net in allow):
        return True
    if not address.is_global or address.is_multicast or any(address in net for net in _NOT_PUBLIC):
        return False
    return all(is_public(inner) for inner in _embedded_ipv4(address))


def resolve_public(host: str, port: int, resolver: Resolver, allow: Sequence[Network] = ()) -> str:
    """Resolve ``host`` and return one address to connect to, or raise if any answer is not public."""
    try:
        infos = resolver(host, port, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host!r}: {exc}") from None
    addresses = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        addresses.append(ipaddress.ip_address(raw))
    if not addresses:
        raise FetchError(f"{host!r} resolves to nothing")
    for address in addresses:
        if not is_public(address, allow):
            raise BlockedURL(f"{host!r} resolves to a non-public address ({address})")
    return str(addresses[0])


_MAGIC: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
]


def sniff(content: bytes, declared: str) -> str:
    """The content type the bytes really have; text claims are kept only for decodable text."""
    for magic, kind in _MAGIC:
        if content.startswith(magic):
            return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    head = content[:4096]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multi-byte character at the end is still text
            return "application/octet-stream"
    declared = declared.split(";", 1)[0].strip().lower()
    if declared in ("application/json", "text/csv", "text/html", "application/x-ndjson"):
        return "text/plain" if declared == "text/html" else declared  # never hand HTML on as markup
    return "text/plain"


def _name(url: str, content_type: str) -> str:
    last = urlsplit(url).path.rsplit("/", 1)[-1] or "evidence"
    if "." not in last:
        last += {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "application/pdf": ".pdf",
                 "image/webp": ".webp", "application/json": ".json"}.get(content_type, ".txt")
    return last[:200]


def fetch(
    url: str,
    *,
    max_bytes: int = MAX_BYTES,
    total_seconds: float | None = None,
    max_redirects: int = MAX_REDIRECTS,
    resolver: Resolver = socket.getaddrinfo,
    allow: Sequence[Network] = (),
) -> Fetched:
    """Download one piece of evidence, or raise ``BlockedURL`` / ``FetchError`` saying why not.

    Returns or raises within ``total_seconds`` (default ``TOTAL_SECONDS``), name resolution included."""
    total_seconds = TOTAL_SECONDS if total_seconds is None else total_seconds
    watch = _Watchdog(time.monotonic() + total_seconds)
    try:
        with watch:
            got = _fetch(url, max_bytes, max_redirects, resolver, allow, watch)
    except FetchError:
        raise
    except (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException, ValueError) as exc:
        # Reset, truncated body (IncompleteRead), TLS failure, a socket the watchdog shut: one family.
        if watch.expired:
            raise FetchError(f"evidence download took too long (over {total_seconds:g} s)") from None
        raise FetchError(f"cannot fetch the evidence: {_reason(exc)}") from None
    if watch.expired:  # a shut socket can look like a short body without Content-Length
        raise FetchError(f"evidence download took too long (over {total_seconds:g} s)")
    return got


def _reason(exc: BaseException) -> str:
    """A short why, without the URL or the body (a vendor ticket shows it)."""
    # urllib3 wraps the cause as ProtocolError(message, cause); its IncompleteRead counts bytes
    # as ints where http.client's holds the partial bytes themselves.
    while isinstance(exc, urllib3.exceptions.ProtocolError) and len(exc.args) > 1 \
            and isinstance(exc.args[1], BaseException):
        exc = exc.args[1]
    if isinstance(exc, http.client.IncompleteRead):
        got = exc.partial if isinstance(exc.partial, int) else len(exc.partial or b"")
        return f"connection closed after {got} bytes, {exc.expected} more were announced"
    text = str(exc.args[0]) if exc.args else ""
    return type(exc).__name__ + (f" ({text[:160]})" if text else "")


def _fetch(url: str, max_bytes: int, max_redirects: int, resolver: Resolver, allow: Sequence[Network],
           watch: _Watchdog) -> Fetched:
    deadline = watch.deadline
    current = url
    for _hop in range(max_redirects + 1):
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https"):
            raise BlockedURL(f"scheme {parts.scheme or '(none)'!r} is not allowed")
        if not parts.hostname:
            raise BlockedURL("URL has no host")
        if parts.username or parts.password:
            raise BlockedURL("URLs with credentials are not fetched")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise BlockedURL("invalid port") from None
        ip = _resolve_within(watch, parts.hostname, port, resolver, allow)
        response = _request(parts.scheme, parts.hostname, ip, port, parts, watch)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(f"redirect {response.status} without Location")
                current = urljoin(current, location)
                continue
            if response.status >= 400:
                raise FetchError(f"HTTP {response.status} from {parts.hostname}")
            content = _read_capped(response, max_bytes, deadline)
            kind = sniff(content, response.headers.get("Content-Type", ""))
            return Fetched(url=current, content=content, content_type=kind, name=_name(current, kind))
        finally:
            response.release_conn()
    raise FetchError(f"more than {max_redirects} redirects")


@dataclass
class _Watchdog:
    """Shuts every socket of one fetch when its deadline passes (a blocked read then returns)."""

    deadline: float
    expired: bool = False
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _timer: threading.Timer | None = None

    def __enter__(self) -> _Watchdog:
        self._timer = threading.Timer(max(0.0, self.deadline - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer:
            self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0 or self.expired:
            raise FetchError("evidence download took too long")
        return left


def _resolve_within(watch: _Watchdog, host: str, port: int, resolver: Resolver, allow: Sequence[Network]) -> str:
    """``resolve_public`` within the fetch's budget: the system resolver has no timeout of its own
    to give, so it runs on a helper thread that is left to finish alone if the budget runs out."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["ip"] = resolve_public(host, port, resolver, allow)
        except Exception as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name="bridge-evidence-dns", daemon=True)
    thread.start()
    thread.join(watch.remaining())
    if thread.is_alive():
        raise FetchError(f"resolving {host[:100]!r} took too long")
    if "error" in box:
        raise box["error"]
    return str(box["ip"])


def _watched(base: type[HTTPConnection], watch: _Watchdog) -> type[HTTPConnection]:
    class Watched(base):  # type: ignore[valid-type, misc]
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            watch.watch(sock)  # before the TLS handshake, so a stalled handshake is cut too
            return sock

    return Watched


def _request(scheme: str, host: str, ip: str, port: int, parts: Any, watch: _Watchdog) -> Any:
    remaining = watch.remaining()
    timeout = urllib3.Timeout(connect=min(5.0, remaining), read=remaining)
    pool_args: dict[str, Any] = dict(host=ip, port=port, timeout=timeout, retries=False, maxsize=1)
    if scheme == "https":
        # Connect to the checked address; certificate and SNI are still for the real hostname.
        pool: Any = urllib3.HTTPSConnectionPool(server_hostname=host, assert_hostname=host, **pool_args)
        pool.ConnectionCls = _watched(HTTPSConnection, watch)
    else:
        pool = urllib3.HTTPConnectionPool(**pool_args)
        pool.ConnectionCls = _watched(HTTPConnection, watch)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    # Errors (refused, reset, timeout, TLS) become one FetchError at fetch()'s boundary.
    return pool.urlopen("GET", path, headers={"Host": host_header, "User-Agent": "recovery-bridge-evidence"},
                        redirect=False, preload_content=False, assert_same_host=False)


def _read_capped(response: Any, max_bytes: int, deadline: float) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"evidence is {length} bytes, over the {max_bytes}-byte cap")
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError("evidence download took too long")
        chunk = response.read1(READ_SIZE)  # what one receive brings, not a full 64 KiB
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"evidence is over the {max_bytes}-byte cap")
        chunks.append(chunk)
    if time.monotonic() > deadline:
        raise FetchError("evidence download took too long")
    return b"".join(chunks)

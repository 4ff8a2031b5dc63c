"""Evidence URLs that name an internal address in any spelling are never connected to.

Hypothesis writes internal addresses (loopback, private, link-local with the metadata service,
shared, reserved, multicast, unique-local IPv6) as dotted decimal, one integer, hex, octal, short
forms, IPv4-mapped and 6to4 IPv6, with ports, paths, user-info and fragment tricks. ``fetch``
raises (``BlockedURL``, or ``FetchError`` when the resolver refuses the spelling) and no socket
connects. The count of forms tried is the "SSRF forms blocked" line of docs/reliability.md.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from unittest import mock

from hypothesis import given, settings as hsettings, strategies as st

from connectors.fetch import BlockedURL, FetchError, fetch
from tests.fuzz.conftest import examples
from tests.fuzz.tally import record

INTERNAL = [ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
    "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "198.18.0.0/15", "192.0.0.0/24")]
INTERNAL6 = [ipaddress.ip_network(n) for n in ("::1/128", "fc00::/7", "fe80::/10", "ff00::/8")]


@st.composite
def ipv4_internal(draw: st.DrawFn) -> ipaddress.IPv4Address:
    net = draw(st.sampled_from(INTERNAL))
    offset = draw(st.integers(min_value=0, max_value=net.num_addresses - 1))
    return ipaddress.IPv4Address(int(net.network_address) + offset)  # type: ignore[arg-type]


def _spellings(addr: ipaddress.IPv4Address) -> dict[str, str]:
    n = int(addr)
    a, b, c, d = addr.packed
    return {
        "dotted": str(addr), "integer": str(n), "hex": hex(n), "octal dotted": ".".join(f"0{x:o}" for x in addr.packed),
        "hex dotted": ".".join(hex(x) for x in addr.packed), "short a.b.cd": f"{a}.{b}.{(c << 8) | d}",
        "short a.bcd": f"{a}.{(b << 16) | (c << 8) | d}", "mapped IPv6": f"[::ffff:{addr}]",
        "mapped IPv6 hex": f"[::ffff:{(a << 8) | b:x}:{(c << 8) | d:x}]",
        "6to4": f"[2002:{(a << 8) | b:x}:{(c << 8) | d:x}::1]",
    }  # not "127.0.0.1." (a name to the resolver: a DNS query, which a hermetic test must not make)


@st.composite
def internal_urls(draw: st.DrawFn) -> tuple[str, str]:
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        net = draw(st.sampled_from(INTERNAL6))
        offset = draw(st.integers(min_value=0, max_value=min(net.num_addresses - 1, 2**32)))
        host, form = f"[{ipaddress.IPv6Address(int(net.network_address) + offset)}]", "IPv6"
    else:
        spellings = _spellings(draw(ipv4_internal()))
        form = draw(st.sampled_from(sorted(spellings)))
        host = spellings[form]
    port = draw(st.sampled_from(["", ":80", ":8000", ":443", ":6379", ":5432"]))
    scheme = draw(st.sampled_from(["http", "https"]))
    trick = draw(st.sampled_from(["", "user@", "evil.example.com@"]))
    path = draw(st.sampled_from(["/", "/latest/meta-data/", "/x.png", "/a#@evil.example.com/", "/?q=1"]))
    return f"{scheme}://{trick}{host}{port}{path}", form


def test_internal_addresses_in_any_spelling_are_never_connected_to() -> None:
    connected: list[Any] = []

    def refuse(sock: socket.socket, address: Any) -> None:
        connected.append(address)
        raise AssertionError(f"connection attempted to {address}")

    @hsettings(max_examples=examples(8))
    @given(internal_urls())
    def run(case: tuple[str, str]) -> None:
        url, form = case
        connected.clear()
        try:
            fetch(url, total_seconds=2)
        except BlockedURL:
            outcome = "blocked"
        except FetchError:
            outcome = "unresolvable"
        else:
            raise AssertionError(f"{url} was fetched")
        record("ssrf", form, outcome)
        assert not connected, f"{url} connected to {connected}"

    with mock.patch.object(socket.socket, "connect", refuse), mock.patch.object(socket.socket, "connect_ex", refuse):
        run()

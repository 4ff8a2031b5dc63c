"""Issue 20, item 9: what the bridge keeps and shows beyond a case's owners.

The status URL is a capability on the configured address (not the request's Host, not derivable
from the sender's event id), the admin API is never cached, a platform's credential in the body is
not stored, loopback means loopback, and NAT64 or IPv4-compatible spellings of internal addresses
are not public.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.config import ConfigError, Settings, check_vendor_url
from bridge.runtime import Runtime
from bridge.store.models import InboxRow
from bridge.worker.intake import event_key
from connectors.fetch import is_public
from tests.adapters.support import app_for, load
from tests.helpers import dumps, generic_event, signed_headers

ADMIN = "admin-test-token-0123456789"


def _accept(client: FlaskClient, **headers: str) -> dict[str, str]:
    body = dumps(generic_event(event_id="evt-guessable-1"))
    answer = client.post("/webhooks/generic", data=body, headers={**signed_headers(body), **headers})
    assert answer.status_code == 202
    return answer.get_json()  # type: ignore[no-any-return]


def test_the_status_url_is_on_the_configured_address_not_the_host_header(rt: Runtime, client: FlaskClient) -> None:
    status = _accept(client, Host="evil.example")["status"]
    assert urlsplit(status).netloc == urlsplit(rt.settings.base_url).netloc != "evil.example"


def test_the_status_url_uses_bridge_public_url(rt: Runtime, client: FlaskClient) -> None:
    rt.settings = rt.settings.with_overrides(extra={"BRIDGE_PUBLIC_URL": "https://bridge.example.com/"})
    status = _accept(client, Host="evil.example")["status"]
    assert status.startswith("https://bridge.example.com/api/events/hb-")


def test_the_status_needs_its_signature_or_the_admin_token(client: FlaskClient) -> None:
    answer = _accept(client)
    status = answer["status"]
    assert client.get(status).status_code == 200  # the URL of the answer works as before
    key = event_key("generic", "evt-guessable-1")  # what anyone knowing the sender's event id can compute
    assert key == answer["event"]
    bare = client.get(f"/api/events/{key}")
    assert bare.status_code == 401 and "sig" in bare.get_json()["error"]["message"]
    assert client.get(f"/api/events/{key}?sig=AAAAAAAAAAAAAAAAAAAAAA").status_code == 401
    assert client.get(f"/api/events/{key}", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
    assert parse_qs(urlsplit(status).query)["sig"][0] not in key


def test_the_admin_api_is_never_cached(client: FlaskClient) -> None:
    answer = _accept(client)
    for path, headers in ((f"/api/cases/{answer['case']}", {"Authorization": f"Bearer {ADMIN}"}),
                          ("/api/cases/c-x", {}), (answer["status"], {})):
        assert client.get(path, headers=headers).headers["Cache-Control"] == "no-store", path


def test_drifts_verification_token_is_not_stored(settings: Settings) -> None:
    body, meta = load("drift", "new-message-billing")
    token = meta["signature"]["value"]
    rt, client = app_for(settings, "drift", (token,))
    answer = client.post("/webhooks/drift", data=body,
                         headers={"Content-Type": "application/json", "X-Verification-Token": token})
    assert answer.status_code == 202
    with rt.store.session() as s:
        row = s.scalars(select(InboxRow)).one()
    assert token.encode() not in row.body and json.loads(row.body)["token"] == "[redacted]"
    assert json.loads(row.body)["data"] == json.loads(body)["data"]  # the rest is kept as sent


@pytest.mark.parametrize("url", ["http://127.evil.example/", "http://127.0.0.1.evil.example/", "http://localhost.evil/"])
def test_plain_http_only_for_real_loopback(url: str) -> None:
    with pytest.raises(ConfigError):
        check_vendor_url("JIRA_URL", url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:4010", "http://127.8.9.10/", "http://[::1]:8080/", "http://localhost/"])
def test_loopback_stays_allowed(url: str) -> None:
    assert check_vendor_url("JIRA_URL", url) == url


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b:1::808:808",
                                     "64:ff9b:1::7f00:1", "::7f00:1", "::a00:1"])
def test_nat64_and_ipv4_compatible_spellings_of_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_nat64_of_a_public_address_stays_fetchable() -> None:
    """On an IPv6-only network DNS64 answers 64:ff9b::<IPv4> for every IPv4-only host."""
    assert is_public(ipaddress.ip_address("64:ff9b::808:808"))

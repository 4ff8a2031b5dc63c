"""POST /events/zendesk and /events/jira: verification, dedupe, durability (the request path only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from bridge import create_app
from bridge.adapters.vendor.zendesk import ZENDESK_TEST_SECRET, zendesk_signature
from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.store import loop_repo
from bridge.store.migrate import upgrade
from bridge.store.models import VendorEventRow
from bridge.web import vendor_events
from tests.helpers import SECRET, HeldCommit

ZD_SECRET = "zd-signing-secret"
JIRA_SECRET = "jira-shared-secret"


@pytest.fixture
def settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(data_dir=tmp_path / "var", retry_intervals=(0, 0), sweep_age=0,
                    webhook_secrets={"generic": (SECRET,), "zendesk": ("old-zendesk-signing-secret", ZD_SECRET),
                                     "jira": (JIRA_SECRET,)})


def make_client(rt: Runtime) -> FlaskClient:
    app = create_app(rt=rt)
    if "vendor_events" not in app.blueprints:
        app.register_blueprint(vendor_events.bp)
    return app.test_client()


@pytest.fixture
def vclient(rt: Runtime) -> FlaskClient:
    return make_client(rt)


def stamp(delta: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def zd_headers(body: bytes, secret: str = ZD_SECRET, ts: str | None = None, invocation: str | None = "inv-1",
               signature: str | None = None) -> dict[str, str]:
    ts = ts or stamp()
    headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": ts,
               "X-Zendesk-Webhook-Signature": signature or zendesk_signature(body, ts, secret)}
    if invocation:
        headers["X-Zendesk-Webhook-Invocation-Id"] = invocation
    return headers


BODY = json.dumps({"type": "zen:event-type:ticket.status_changed", "id": "evt-1", "detail": {"id": "1"},
                   "event": {"current": "SOLVED", "previous": "OPEN"}}).encode()


def rows(rt: Runtime) -> list[VendorEventRow]:
    with rt.store.session() as s:
        return list(s.scalars(select(VendorEventRow)))


def test_signature_is_base64_hmac_over_timestamp_then_body() -> None:
    ts = "2026-07-22T10:00:00Z"
    expected = base64.b64encode(hmac.new(ZENDESK_TEST_SECRET.encode(), ts.encode() + b'{"a":1}',
                                         hashlib.sha256).digest()).decode()
    assert zendesk_signature(b'{"a":1}', ts, ZENDESK_TEST_SECRET) == expected


def test_valid_zendesk_delivery_is_stored_and_answered_200(vclient: FlaskClient, rt: Runtime) -> None:
    response = vclient.post("/events/zendesk", data=BODY, headers=zd_headers(BODY))
    assert response.status_code == 200
    stored = rows(rt)
    assert [(r.source, r.delivery_id, r.event_type, r.state) for r in stored] == [
        ("zendesk", "inv-1", "zen:event-type:ticket.status_changed", "received")]
    assert stored[0].body == BODY


def test_rotated_secret_is_accepted(vclient: FlaskClient) -> None:
    old = zd_headers(BODY, "old-zendesk-signing-secret")
    assert vclient.post("/events/zendesk", data=BODY, headers=old).status_code == 200


@pytest.mark.parametrize("variant", ["hex", "dotted", "wrong_secret", "stale", "future", "unix_ts", "missing",
                                     "not_base64"])
def test_bad_zendesk_signatures_are_401(vclient: FlaskClient, rt: Runtime, variant: str) -> None:
    ts = stamp()
    headers = zd_headers(BODY, ts=ts)
    if variant == "hex":  # a common bug in public verifiers: hex digest instead of base64
        headers["X-Zendesk-Webhook-Signature"] = hmac.new(ZD_SECRET.encode(), ts.encode() + BODY,
                                                          hashlib.sha256).hexdigest()
    elif variant == "dotted":  # the other common bug: a "." between timestamp and body
        headers["X-Zendesk-Webhook-Signature"] = zendesk_signature(b"." + BODY, ts, ZD_SECRET)
    elif variant == "wrong_secret":
        headers = zd_headers(BODY, "nope")
    elif variant == "stale":
        headers = zd_headers(BODY, ts=stamp(-301))
    elif variant == "future":
        headers = zd_headers(BODY, ts=stamp(400))
    elif variant == "unix_ts":
        now = str(int(datetime.now(UTC).timestamp()))
        headers = zd_headers(BODY, ts=now)
    elif variant == "missing":
        headers.pop("X-Zendesk-Webhook-Signature")
    elif variant == "not_base64":
        headers["X-Zendesk-Webhook-Signature"] = "%%%"
    response = vclient.post("/events/zendesk", data=BODY, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert rows(rt) == []


def test_published_test_secret_is_refused_in_production(settings: Settings) -> None:
    for env, status in (("", 200), ("production", 401)):
        rt = install(Runtime.build(settings.with_overrides(
            webhook_secrets={"zendesk": (ZENDESK_TEST_SECRET,)}, extra={"BRIDGE_ENV": env},
            data_dir=settings.data_dir / (env or "dev"))))
        upgrade(rt.store)
        response = make_client(rt).post("/events/zendesk", data=BODY, headers=zd_headers(BODY, ZENDESK_TEST_SECRET))
        assert response.status_code == status


def test_repeat_invocation_is_a_duplicate(vclient: FlaskClient, rt: Runtime) -> None:
    first = vclient.post("/events/zendesk", data=BODY, headers=zd_headers(BODY)).get_json()
    again = vclient.post("/events/zendesk", data=BODY, headers=zd_headers(BODY)).get_json()
    assert again == {"received": first["received"], "duplicate": True}
    assert len(rows(rt)) == 1


def test_without_invocation_id_the_event_id_dedupes(vclient: FlaskClient, rt: Runtime) -> None:
    for _ in range(2):
        assert vclient.post("/events/zendesk", data=BODY, headers=zd_headers(BODY, invocation=None)).status_code == 200
    assert [r.delivery_id for r in rows(rt)] == ["evt-1"]


def test_bad_input_is_4xx(vclient: FlaskClient) -> None:
    body = b"{not json"
    assert vclient.post("/events/zendesk", data=body, headers=zd_headers(body)).status_code == 400
    headers = zd_headers(BODY) | {"Content-Type": "text/plain"}
    assert vclient.post("/events/zendesk", data=BODY, headers=headers).status_code == 415


def test_wrong_account_is_403(settings: Settings) -> None:
    rt = install(Runtime.build(settings.with_overrides(extra={"ZENDESK_ACCOUNT_ID": "111"})))
    upgrade(rt.store)
    headers = zd_headers(BODY) | {"X-Zendesk-Account-Id": "222"}
    assert make_client(rt).post("/events/zendesk", data=BODY, headers=headers).status_code == 403


def test_store_failure_is_503_with_retry_after(vclient: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OperationalError("insert", {}, Exception("disk full"))

    monkeypatch.setattr(loop_repo, "insert_vendor_event", broken)
    response = vclient.post("/events/zendesk", data=BODY, headers=zd_headers(BODY))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


JIRA_BODY = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"key": "BUG-1", "fields": {}}}).encode()


@pytest.mark.parametrize("how", ["hub", "header", "query"])
def test_jira_shared_secret_or_signature(vclient: FlaskClient, rt: Runtime, how: str) -> None:
    headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": f"wh-{how}"}
    url = "/events/jira"
    if how == "hub":
        headers["X-Hub-Signature"] = "sha256=" + hmac.new(JIRA_SECRET.encode(), JIRA_BODY, hashlib.sha256).hexdigest()
    elif how == "header":
        headers["X-Bridge-Webhook-Secret"] = JIRA_SECRET
    else:
        url += f"?secret={JIRA_SECRET}"
    assert vclient.post(url, data=JIRA_BODY, headers=headers).status_code == 200
    stored = rows(rt)
    assert [(r.source, r.delivery_id, r.event_type) for r in stored] == [("jira", f"wh-{how}", "jira:issue_updated")]
    assert "X-Bridge-Webhook-Secret".lower() not in stored[0].headers or \
        stored[0].headers["x-bridge-webhook-secret"] == "[redacted]"


@pytest.mark.parametrize("headers", [
    {},
    {"X-Bridge-Webhook-Secret": "wrong"},
    {"X-Hub-Signature": "sha256=" + "0" * 64},
    {"X-Hub-Signature": "sha1=abc"},
])
def test_jira_without_the_secret_is_401(vclient: FlaskClient, headers: dict[str, str]) -> None:
    response = vclient.post("/events/jira", data=JIRA_BODY, headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 401


def test_jira_repeat_delivery_is_a_duplicate(vclient: FlaskClient, rt: Runtime) -> None:
    headers = {"Content-Type": "application/json", "X-Bridge-Webhook-Secret": JIRA_SECRET}
    vclient.post("/events/jira", data=JIRA_BODY, headers=headers)
    again = vclient.post("/events/jira", data=JIRA_BODY, headers=headers).get_json()
    assert again["duplicate"] is True
    assert len(rows(rt)) == 1


def test_concurrent_deliveries_share_one_commit_and_a_repeat_inside_it_is_a_duplicate(rt: Runtime) -> None:
    """Vendor events take the webhooks' group-commit path: deliveries queued behind a commit in
    flight share the next one, and a repeat of a delivery in the same batch gets the first one's id."""
    client = make_client(rt)
    commits: list[int] = []
    event.listen(rt.store.engine, "commit", lambda _conn: commits.append(1))
    answers: dict[str, dict[str, object]] = {}

    def deliver(name: str, invocation: str) -> None:
        headers = zd_headers(BODY, invocation=invocation)
        answers[name] = client.application.test_client().post("/events/zendesk", data=BODY, headers=headers).get_json()

    threads = [threading.Thread(target=deliver, args=args)
               for args in (("first", "inv-a"), ("second", "inv-b"), ("repeat", "inv-a"))]
    with HeldCommit(rt.store.group) as held:
        for thread in threads:
            thread.start()
        held.queued(3)
    for thread in threads:
        thread.join(30)
    assert len(commits) == 2  # the held commit, then all three deliveries together
    assert sorted(r.delivery_id for r in rows(rt)) == ["inv-a", "inv-b"]
    assert answers["first"]["received"] == answers["repeat"]["received"] != answers["second"]["received"]
    assert [answers[n].get("duplicate") for n in ("first", "second", "repeat")].count(True) == 1

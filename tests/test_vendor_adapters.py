"""The Zendesk and Jira event adapters: verification reasons and the typed changes they parse."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.adapters.base import Inbound, Unauthorized, UnsupportedEvent
from bridge.adapters.vendor import VENDOR_ADAPTERS
from bridge.adapters.vendor.base import Ignored, NotAnObject, NotJSON
from bridge.adapters.vendor.changes import FixVersion, IssueChanged, Snapshot, TicketChange, VersionReleased
from bridge.adapters.vendor.zendesk import ZENDESK_TEST_SECRET, zendesk_signature

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
STAMP = "2026-11-02T10:00:00Z"


def inbound(data: Any, headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> Inbound:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return Inbound(body=body, headers={k.lower(): v for k, v in (headers or {}).items()}, query=query or {},
                   now=NOW.timestamp())


def zd_signed(body: bytes, secret: str = "zd-secret", stamp: str = STAMP) -> Inbound:
    return inbound(body, {"X-Zendesk-Webhook-Signature": zendesk_signature(body, stamp, secret),
                          "X-Zendesk-Webhook-Signature-Timestamp": stamp})


def reason(call: Any) -> str:
    with pytest.raises(Unauthorized) as caught:
        call()
    return str(caught.value)


def test_zendesk_verification_accepts_a_rotated_secret_and_names_each_refusal() -> None:
    zd, body = VENDOR_ADAPTERS["zendesk"], b'{"a":1}'
    zd.verify(zd_signed(body, "old"), ("old", "new"), 300)
    assert reason(lambda: zd.verify(zd_signed(body), (), 300)) == "no usable secret configured"
    assert reason(lambda: zd.verify(inbound(body), ("zd-secret",), 300)) == "missing signature"
    assert reason(lambda: zd.verify(zd_signed(body, stamp="1762077600"), ("zd-secret",), 300)) \
        == "timestamp is not ISO 8601"
    assert reason(lambda: zd.verify(zd_signed(body, stamp="2026-11-02T09:00:00Z"), ("zd-secret",), 300)) \
        == "timestamp too old"
    assert reason(lambda: zd.verify(zd_signed(body, "other"), ("zd-secret",), 300)) == "signature mismatch"
    test = zd_signed(body, ZENDESK_TEST_SECRET)
    zd.verify(test, (ZENDESK_TEST_SECRET,), 300)
    assert reason(lambda: zd.verify(test, (ZENDESK_TEST_SECRET,), 300, production=True)) \
        == "no usable secret configured"


def test_jira_verification_takes_a_hub_signature_or_the_shared_secret() -> None:
    jira, body = VENDOR_ADAPTERS["jira"], b'{"webhookEvent":"jira:issue_updated"}'
    hub = "sha256=" + hmac.new(b"jira-secret", body, hashlib.sha256).hexdigest()
    jira.verify(inbound(body, {"X-Hub-Signature": hub}), ("jira-secret",), 300)
    jira.verify(inbound(body, query={"secret": "jira-secret"}), ("jira-secret",), 300)
    jira.verify(inbound(body, {"X-Bridge-Webhook-Secret": "jira-secret"}), ("jira-secret",), 300)
    assert reason(lambda: jira.verify(inbound(body), ("jira-secret",), 300)) == "no signature and no shared secret"
    assert reason(lambda: jira.verify(inbound(body, {"X-Hub-Signature": "md5=x"}), ("jira-secret",), 300)) \
        == "X-Hub-Signature is not sha256=<hex>"
    assert reason(lambda: jira.verify(inbound(body, query={"secret": "nope"}), ("jira-secret",), 300)) \
        == "shared secret mismatch"
    assert reason(lambda: jira.verify(inbound(body, {"X-Hub-Signature": hub}), (), 300)) == "no secret configured"


def test_zendesk_ticket_events_and_snapshots_parse_to_typed_changes() -> None:
    zd = VENDOR_ADAPTERS["zendesk"]
    [change] = zd.parse(inbound({"type": "zen:event-type:ticket.status_changed", "time": STAMP,
                                 "detail": {"id": 42, "external_id": "c-1", "actor_id": 9},
                                 "event": {"previous": "Open", "current": "SOLVED"}}))
    assert change == TicketChange("status", ticket_id="42", external_id="c-1", at=NOW, actor_id="9",
                                  status_from="open", status_to="solved")
    [snapshot] = zd.parse(inbound({"ticket_id": 42, "status": "Solved", "updated_at": STAMP,
                                   "satisfaction": {"score": "Good, I'm satisfied"}}))
    assert isinstance(snapshot, Snapshot) and (snapshot.status, snapshot.score, snapshot.at) == ("solved", "good", NOW)


def test_what_the_zendesk_adapter_cannot_apply_names_its_result() -> None:
    zd = VENDOR_ADAPTERS["zendesk"]
    with pytest.raises(UnsupportedEvent):
        zd.parse(inbound({"type": "zen:event-type:ticket.priority_changed", "detail": {"id": 1}}))
    with pytest.raises(UnsupportedEvent):  # a comment event without a comment id
        zd.parse(inbound({"type": "zen:event-type:ticket.comment_added", "detail": {"id": 1}, "event": {}}))
    with pytest.raises(Ignored) as ignored:
        zd.parse(inbound({"status": "solved"}))
    assert ignored.value.result == "no_ticket"
    with pytest.raises(NotJSON):
        zd.parse(inbound(b"{"))
    with pytest.raises(NotAnObject):
        zd.parse(inbound(b"[]"))


def test_jira_updates_parse_to_typed_issue_changes() -> None:
    jira = VENDOR_ADAPTERS["jira"]
    [change] = jira.parse(inbound({
        "webhookEvent": "jira:issue_updated", "timestamp": int(NOW.timestamp() * 1000), "user": {"accountId": "acc-1"},
        "issue": {"key": "BUG-7", "fields": {"resolution": {"name": "Fixed"}, "resolutiondate": STAMP,
                                              "fixVersions": [{"id": 10, "name": "2.4", "released": True},
                                                              {"name": "2.5"}, "junk"]}}}))
    assert change == IssueChanged(key="BUG-7", at=NOW, actor="acc-1", resolved=True, resolution="Fixed",
                                  resolved_at=NOW, fix_versions=(FixVersion("10", "2.4", True),
                                                                 FixVersion("", "2.5", False)))
    [reopened] = jira.parse(inbound({"webhookEvent": "jira:issue_updated", "issue": {"key": "BUG-7", "fields": {}}}))
    assert isinstance(reopened, IssueChanged) and (reopened.resolved, reopened.actor, reopened.at) == (False, "webhook",
                                                                                                      None)
    [released] = jira.parse(inbound({"webhookEvent": "jira:version_released", "version": {"name": "2.4"}}))
    assert released == VersionReleased(id="", name="2.4", at=None, actor="webhook")


@pytest.mark.parametrize(("data", "result"), [
    ({"webhookEvent": "jira:version_released", "version": {}}, "no_version"),
    ({"webhookEvent": "jira:issue_created", "issue": {"fields": {}}}, "unknown_issue"),
])
def test_what_the_jira_adapter_cannot_apply_names_its_result(data: dict[str, Any], result: str) -> None:
    with pytest.raises(Ignored) as ignored:
        VENDOR_ADAPTERS["jira"].parse(inbound(data))
    assert ignored.value.result == result


def test_vendor_adapters_stay_out_of_the_chatbot_registry() -> None:
    from bridge.adapters import ADAPTERS

    assert not set(VENDOR_ADAPTERS) & set(ADAPTERS)

"""Slack: blocks that cannot be abused, the live client against a local stub, request signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from bridge.config import Settings
from bridge.events import Event, RouteInfo
from bridge.pipeline.package import build_package
from bridge.pipeline.triggers import decide
from connectors import STEPS, connector_for
from connectors.base import Context, PermanentError, RetryableError
from connectors.outbox import OutboxConnector
from connectors.slack import SlackConnector, verify_request
from connectors.slack.blocks import build_alert, build_page, build_update
from tests.connectors.slack_stub import slack_stub
from tests.helpers import generic_event

ROUTE = RouteInfo(team="support", team_name="Support", channel="C0SUPPORT", owner_slack_id="U0ANA",
                  owner_name="Ana", zendesk_agent_id=901)


def package(text: str = "Can I talk to a person please?", route: RouteInfo | None = ROUTE) -> Any:
    event = Event.from_json(generic_event(messages=[{"id": "1", "role": "customer", "text": text}]))
    return build_package("c-1", "generic", event, decide(event), route=route)


def _all_text(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"]) + message["text"]


# --- blocks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", ["<!channel> help", "<!here>", "<@U999> look", "<https://evil.example|click>"])
def test_customer_text_cannot_mention_or_link(hostile: str) -> None:
    text = _all_text(build_alert(package(f"I need a person {hostile}"), {}))
    for token in ("<!channel>", "<!here>", "<@U999>", "<https://evil"):
        assert token not in text
    assert "&lt;" in text


def test_the_owner_is_a_real_mention_and_the_buttons_are_there() -> None:
    alert = build_alert(package(), {"zendesk.ticket.url": "https://acme.zendesk.com/agent/tickets/4"})
    assert alert["channel"] == "C0SUPPORT" and "<@U0ANA>" in _all_text(alert)
    actions = next(b for b in alert["blocks"] if b["type"] == "actions")
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids[:3] == ["take_case", "reassign", "not_mine"] and "open_zendesk" in ids
    assert alert["unfurl_links"] is False and alert["unfurl_media"] is False


def test_nobody_on_shift_is_said_plainly_and_taken_cases_lose_the_take_button() -> None:
    lonely = build_alert(package(route=RouteInfo(team="support", channel="#support", no_one_on_shift=True)), {})
    assert "No one on shift" in _all_text(lonely)
    taken = build_update(package(route=ROUTE.model_copy(update={"acknowledged": True})), {"slack.alert": "C1:1.2"})
    actions = next(b for b in taken["blocks"] if b["type"] == "actions")
    assert "take_case" not in [e["action_id"] for e in actions["elements"]]
    assert taken["channel"] == "C1" and taken["ts"] == "1.2" and "taken" in _all_text(taken)


def test_limits_hold_for_huge_transcripts() -> None:
    alert = build_alert(package("x" * 90_000), {})
    assert len(alert["blocks"]) <= 50
    sections = [b.get("text", {}).get("text", "") for b in alert["blocks"] if b["type"] == "section"]
    assert sections and all(len(text) <= 3000 for text in sections)


def test_live_when_the_customer_just_wrote() -> None:
    event = Event.from_json(generic_event())
    pkg = build_package("c-1", "generic", event, decide(event), route=ROUTE)
    assert "Live" in _all_text(build_alert(pkg, {"live": True}))
    assert "Live" not in _all_text(build_alert(pkg, {"live": False}))


def test_page_mentions_come_only_from_routing() -> None:
    page = build_page(package("<!channel>"), {"slack.alert": "C1:1.2", "page": {
        "level": 3, "mention": "<!here>", "channel": "C1", "final": True, "waited_minutes": 30}})
    assert page["text"].startswith("<!here> ")
    assert page["thread_ts"] == "1.2" and page["broadcast"] is True
    assert "<!channel>" not in json.dumps(page)


def test_a_page_says_who_what_which_language_and_links_the_case() -> None:
    """Issue 16, point 10: not "nobody has taken this case yet after 15 min (high, customer_requested_human)"."""
    event = generic_event(messages=[{"id": "1", "role": "customer", "text": "Me cobraron dos veces la factura "
                                     "F-2291, quiero hablar con una persona. Mi teléfono es +34 600 11 22 33"}])
    event["conversation"]["language"] = "es-MX"
    event["customer"]["account"] = {"name": "Taquería Los Arcos"}
    parsed = Event.from_json(event)
    pkg = build_package("c-1", "generic", parsed, decide(parsed), route=ROUTE)
    refs = {"slack.alert": "C1:1.2", "case.url": "https://bridge.example.com/cases/c-1?sig=s",
            "case.escalated_at": "2026-12-01T09:00:00+00:00",
            "page": {"level": 1, "mention": "<@U0BEN>", "member": "U0BEN", "channel": "C1", "final": False,
                     "waited_minutes": 15, "language": "es", "speaks": False}}
    text = build_page(pkg, refs)["text"]
    assert text.startswith("<@U0BEN> Ana Lima (Taquería Los Arcos) has been waiting for 15 min and nobody has taken "
                           "the case: “Me cobraron dos veces la factura F-2291, quiero hablar con una persona.”")
    assert "asked for a person" in text and "*Spanish (es-MX)*" in text and "does not list it" in text
    assert "reply due by" in text.lower() and "<https://bridge.example.com/cases/c-1?sig=s|Open the case>" in text
    assert "600 11 22 33" not in text and "customer_requested_human" not in text


# --- live client ------------------------------------------------------------------------------

def connector(url: str) -> SlackConnector:
    return SlackConnector(Settings(extra={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": url}))


def test_without_a_token_the_outbox_is_used() -> None:
    assert isinstance(connector_for("slack", Settings()), OutboxConnector)
    assert isinstance(connector_for("slack", Settings(extra={"SLACK_BOT_TOKEN": "x"})), SlackConnector)


def test_post_once_then_a_retry_finds_the_message_instead_of_posting_again() -> None:
    with slack_stub() as (stub, url):
        request = build_alert(package(), {})
        first = connector(url).send(STEPS["slack.alert"], request, Context("c-1", "c-1-slack.alert", {}, 1))
        again = connector(url).send(STEPS["slack.alert"], request, Context("c-1", "c-1-slack.alert", {}, 2))
        assert stub.methods() == ["chat.postMessage", "conversations.history"]
        posted = stub.calls[0][1]
    assert first.external_id == again.external_id and first.external_id.startswith("C0SUPPORT:")
    assert posted["metadata"]["event_payload"]["key"] == "c-1-slack.alert"
    assert posted["unfurl_links"] is False


def test_update_in_place() -> None:
    with slack_stub() as (stub, url):
        request = build_update(package(route=ROUTE.model_copy(update={"acknowledged": True})),
                               {"slack.alert": "C0SUPPORT:1.5"})
        result = connector(url).send(STEPS["slack.update"], request, Context("c-1", "c-1-slack.update#1", {}))
        assert stub.methods() == ["chat.update"] and stub.calls[0][1]["ts"] == "1.5"
    assert result.external_id == "C0SUPPORT:1.5"


@pytest.mark.parametrize("retry_after,expected", [("30", 30.0), ("1.5", 1.5), (None, None)])
def test_429_is_retryable_with_retry_after(retry_after: str | None, expected: float | None) -> None:
    with slack_stub() as (stub, url):
        stub.fail("chat.postMessage", 429, {"ok": False, "error": "ratelimited"},
                  {"Retry-After": retry_after} if retry_after else {})
        with pytest.raises(RetryableError) as excinfo:
            connector(url).send(STEPS["slack.alert"], build_alert(package(), {}), Context("c-1", "k", {}))
        assert stub.methods() == ["chat.postMessage"]  # slack-sdk did not retry by itself
    assert excinfo.value.retry_after == expected


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "invalid_auth"])
def test_configuration_errors_are_permanent_and_name_the_channel(error: str) -> None:
    with slack_stub() as (stub, url):
        stub.fail("chat.postMessage", 200, {"ok": False, "error": error})
        with pytest.raises(PermanentError) as excinfo:
            connector(url).send(STEPS["slack.alert"], build_alert(package(), {}), Context("c-1", "k", {}))
    assert error in str(excinfo.value) and "C0SUPPORT" in str(excinfo.value)


def test_server_errors_and_refused_connections_are_retryable() -> None:
    with slack_stub() as (stub, url):
        stub.fail("chat.postMessage", 503, {"ok": False, "error": "service_unavailable"})
        with pytest.raises(RetryableError):
            connector(url).send(STEPS["slack.alert"], build_alert(package(), {}), Context("c-1", "k", {}))
    with pytest.raises(RetryableError):
        connector("http://127.0.0.1:1/api/").send(STEPS["slack.alert"], build_alert(package(), {}),
                                                  Context("c-1", "k", {}))


# --- signatures -------------------------------------------------------------------------------

# Slack's documented example (api.slack.com "Verifying requests from Slack").
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TS = "1531420618"
VECTOR_BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
               b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
               b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
               b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
VECTOR_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slacks_own_example_verifies() -> None:
    assert verify_request(VECTOR_BODY, VECTOR_TS, VECTOR_SIG, [VECTOR_SECRET], float(VECTOR_TS))


def sign(body: bytes, ts: str, secret: str = VECTOR_SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "body,ts,signature,now",
    [
        (VECTOR_BODY, VECTOR_TS, VECTOR_SIG.replace("a2114", "a2115"), 1531420618),  # forged
        (VECTOR_BODY, VECTOR_TS, VECTOR_SIG, 1531420618 + 360),  # stale
        (VECTOR_BODY, VECTOR_TS, VECTOR_SIG, 1531420618 - 360),  # from the future
        (VECTOR_BODY, "abc", sign(VECTOR_BODY, "abc"), 1531420618),  # non-numeric timestamp
        (b"\xff\xfe payload", VECTOR_TS, sign(b"\xff\xfe payload", VECTOR_TS), 1531420618),  # not UTF-8
        (VECTOR_BODY, "", "", 1531420618),  # missing
    ],
)
def test_bad_requests_are_not_valid_and_never_raise(body: bytes, ts: str, signature: str, now: float) -> None:
    assert verify_request(body, ts, signature, [VECTOR_SECRET], now) is False


def test_rotation() -> None:
    assert verify_request(VECTOR_BODY, VECTOR_TS, VECTOR_SIG, ["old-secret", VECTOR_SECRET], float(VECTOR_TS))


def test_a_retry_to_a_channel_name_finds_the_alert_by_its_id() -> None:
    """The default channel is `#support`: history is read by id, so the name is resolved first."""
    from connectors.slack import policy as slack_module

    slack_module._CHANNEL_IDS.clear()
    with slack_stub() as (stub, url):
        request = {**build_alert(package(), {}), "channel": "#support"}
        first = connector(url).send(STEPS["slack.alert"], request, Context("c-1", "c-1-slack.alert", {}, 1))
        again = connector(url).send(STEPS["slack.alert"], request, Context("c-1", "c-1-slack.alert", {}, 2))
        assert stub.methods() == ["chat.postMessage", "conversations.list", "conversations.history"]
    assert first.external_id == again.external_id == "CSUPPORT:" + first.external_id.split(":")[1]


def test_a_post_carries_the_step_key_in_its_metadata() -> None:
    from connectors.slack.policy import with_key

    assert with_key({"channel": "C1", "text": "x"}, "c-1-slack.alert") == {
        "channel": "C1", "text": "x",
        "metadata": {"event_type": "bridge_case", "event_payload": {"key": "c-1-slack.alert"}}}
    kept = {"event_type": "bridge_case", "event_payload": {"case": "c-1"}}
    assert with_key({"metadata": kept}, "k")["metadata"] == {"event_type": "bridge_case",
                                                            "event_payload": {"case": "c-1", "key": "k"}}
    assert kept == {"event_type": "bridge_case", "event_payload": {"case": "c-1"}}  # the request is not changed

"""Bot Framework: handoff.initiate (SDK activity and Copilot Studio Direct Line set), RS256 JWT, HTTP, e2e."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa

from bridge.adapters import botframework as bf
from bridge.adapters.base import InvalidPayload, MalformedPayload, Unauthorized, UnsupportedEvent
from bridge.cli import main
from bridge.config import Settings
from bridge.events import Decision, TriggerHit
from bridge.pipeline.priority import prioritize
from bridge.worker.intake import case_id_for
from bridge.worker.runner import run_due
from tests.adapters.support import FIXTURES, Stub, inbound, ticket
from tests.adapters.webhook import Credentials, WebhookCase

SLUG = "botframework"
USED = {"copilot-studio-handoff-initiate", "sdk-handoff-initiate-bug", "handoff-status-accepted"}
APP_ID = "6d2c9a41-5b7e-4f10-8c3d-2e9a7b1f0c55"
TENANT = "d6d49420-f39b-4df7-a1dc-d59a935871db"
KEYS = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in ("kid-a", "kid-b")}


def jwks(*kids: str) -> str:
    keys = []
    for kid in kids:
        key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEYS[kid].public_key()))
        keys.append(key | {"kid": kid, "use": "sig", "alg": "RS256"})
    return json.dumps({"keys": keys})


def token(now: int, kid: str = "kid-a", **claims) -> str:
    body = {"aud": "https://api.botframework.com", "iss": f"https://sts.windows.net/{TENANT}/", "appid": APP_ID,
            "iat": now, "nbf": now, "exp": now + 3600, "tid": TENANT, "ver": "1.0"} | claims
    return jwt.encode(body, KEYS[kid], algorithm="RS256", headers={"kid": kid})


def adapter(settings: Settings, keyset: str | None = None, **extra: str) -> bf.BotFrameworkAdapter:
    extra = {"BOTFRAMEWORK_JWKS": keyset or jwks("kid-a"), **extra}
    return bf.BotFrameworkAdapter(settings.with_overrides(extra=extra))


def jwt_bearer(body: bytes, app_id: str, bearer: str | None = None, anonymous: bool = False) -> Credentials:
    # Bot Framework presents a JWT from Microsoft's identity platform (here: signed with kid-a, which
    # the app's BOTFRAMEWORK_JWKS holds); the configured secret lists the accepted bot app ids.
    if anonymous:
        return {}, {}
    return {"Authorization": f"Bearer {bearer or token(int(time.time()), appid=app_id)}"}, {}


CASE = WebhookCase(SLUG, APP_ID, jwt_bearer)


def test_every_fixture_is_used() -> None:
    assert CASE.fixture_names() == USED


@pytest.mark.parametrize("name", ["copilot-studio-handoff-initiate", "sdk-handoff-initiate-bug"])
def test_fixture_facts(name: str) -> None:
    [event], meta = CASE.parse_fixture(name)
    expected = meta["expected"]
    assert event.type == "handoff.requested" and event.conversation.partial is False
    assert event.conversation.id == expected["conversation_id"]
    for key in ("id", "name", "email", "plan"):
        assert getattr(event.customer, key) == expected["customer"][key]
    assert event.customer.account.id == expected["customer"]["account_id"]
    messages = event.conversation.messages
    assert len(messages) == expected["transcript_turns"]
    assert sum(m.role == "customer" for m in messages) == expected["transcript_customer_turns"]
    found = {a.url for m in messages for a in m.attachments} | {s.url for m in messages for s in m.sources}
    found |= {event.evidence.session_replay_url} if event.evidence else set()
    assert set(expected["evidence_urls"]) <= found


def test_copilot_studio_set_picks_the_handoff_and_reads_confidence() -> None:
    [event], meta = CASE.parse_fixture("copilot-studio-handoff-initiate")
    expected = meta["expected"]
    assert event.event_id == "Gx4WqT2pLb8K3nVd0Rz5Am-eu|0000006"  # not the ordinary bot message beside it
    assert event.handoff.requested_by == "customer"  # expected trigger: customer_requested_human
    customer_turns = [m for m in event.conversation.messages if m.role == "customer"]
    assert customer_turns[-1].text == expected["last_customer_utterance"]
    assert [m.confidence for m in event.conversation.messages if m.role == "bot"] == \
        expected["confidence_signals"][0]["values"]
    assert event.customer.attributes["agent_note"] == event.handoff.reason
    assert event.customer.locale == "en-GB" and event.conversation.language == "en-GB"


def test_sdk_event_carries_bug_evidence() -> None:
    [event], meta = CASE.parse_fixture("sdk-handoff-initiate-bug")
    expected = meta["expected"]
    assert event.handoff.topic == expected["trigger"] and event.handoff.requested_by == "bot"
    assert len(event.evidence.console_logs) == expected["console_log_lines"]
    assert event.evidence.console_logs[0].level == "ERROR"
    device = expected["device"]
    assert event.evidence.device.browser == f"{device['browser']} {device['browser_version']}"
    assert event.evidence.device.os == f"{device['os']} {device['os_version']}"
    assert event.evidence.device.viewport == device["viewport"] and event.evidence.device.app_version == "4.12.0"
    shot = event.conversation.messages[expected["screenshot_in_transcript"]["activity_index"]].attachments[0]
    assert shot.kind == "screenshot" and shot.content_type == expected["screenshot_in_transcript"]["contentType"]
    assert event.customer.attributes["external_id"] == "cus_2210458"
    assert event.customer.id == "29:1f4Ue6kXgWq7n3bZ0cYv2mA8"  # relatesTo.user, not "from" (the bot)


def test_the_handoff_context_priority_lands_in_handoff_priority_and_raises_the_package_priority() -> None:
    [event], _ = CASE.parse_fixture("sdk-handoff-initiate-bug")
    assert event.handoff.priority == "high"  # value.priority, the SDK bot's agent-hub context
    bug = Decision(escalate=True, at_message=3, triggers=[TriggerHit(trigger="product_bug", message_index=3)])
    assert prioritize(event, bug) == ("high", "high: product_bug (normal) ≥ high Bot Framework handoff priority")
    [studio], _ = CASE.parse_fixture("copilot-studio-handoff-initiate")
    assert studio.handoff.priority is None  # no va_* variable is a priority


def test_bridge_parse_prints_the_handoff_priority() -> None:
    path = FIXTURES / SLUG / "sdk-handoff-initiate-bug.json"
    result = CliRunner().invoke(main, ["parse", "--source", SLUG, str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["handoff"]["priority"] == "high"


@pytest.mark.parametrize(("context", "expected"), [
    ({"priority": "Urgent"}, "urgent"), ({"Priority": "medium"}, "normal"),  # an author's topic variable
    ({"priority": "low"}, "low"), ({"priority": 1}, None), ({"priority": "soonish"}, None), ({}, None),
])
def test_handoff_priority_words(context: dict, expected: str | None) -> None:
    activity = {"type": "event", "name": "handoff.initiate", "id": "a9", "conversation": {"id": "c9"},
                "value": {"va_Phrases": ["I need a person now"], **context}}
    event = CASE.parse_one(activity)
    assert event.handoff.priority == expected


def test_handoff_status_is_the_golden_outbound_shape_and_is_ignored_inbound() -> None:
    body, meta = CASE.load("handoff-status-accepted")
    data = json.loads(body)
    assert data["value"]["state"] in meta["expected"]["allowed_states"]
    assert data["conversation"]["id"] == meta["expected"]["conversation_id"]
    with pytest.raises(UnsupportedEvent) as info:
        CASE.parse(body)
    assert info.value.event_type == "handoff.status"


@pytest.mark.parametrize("kind", sorted(bf.SUPPORTED_EVENTS))
def test_every_declared_event_type_parses(kind: str) -> None:
    activity = {"type": "event", "name": kind} if kind != "message" else {"type": "message", "text": "Hallo 👋"}
    activity |= {"id": "a1", "conversation": {"id": "c1"}, "from": {"id": "u1", "role": "user"}}
    event = CASE.parse_one(activity)
    assert event.type == ("handoff.requested" if kind == "handoff.initiate" else "conversation.updated")


def test_offline_or_missing_transcript() -> None:
    activity = {"type": "event", "name": "handoff.initiate", "id": "a2", "conversation": {"id": "c2"},
                "attachments": [{"name": "transcript", "contentType": "application/json",
                                 "contentUrl": "https://bot.example.com/t/1"}]}
    event = CASE.parse_one(activity)
    assert event.conversation.partial is True and event.conversation.messages == []
    bare = {"type": "event", "name": "handoff.initiate", "conversation": {"id": "c3"},
            "timestamp": "2025-03-18T13:07:03.0520001Z",
            "value": {"va_Phrases": ["Ich möchte einen Menschen sprechen"]}}
    event = CASE.parse_one(bare)
    assert [m.text for m in event.conversation.messages] == ["Ich möchte einen Menschen sprechen"]
    assert event.occurred_at is not None


def test_malformed_and_unsupported() -> None:
    with pytest.raises(MalformedPayload):
        CASE.parse(b'{"foo": 1}')
    with pytest.raises(MalformedPayload):
        CASE.parse(b"[]")
    with pytest.raises(InvalidPayload) as info:
        CASE.parse(b'{"type": "event", "name": "handoff.initiate"}')
    assert info.value.field == "conversation.id"
    with pytest.raises(UnsupportedEvent):
        CASE.parse(b'{"type": "typing", "conversation": {"id": "c"}}')
    with pytest.raises(UnsupportedEvent):
        CASE.parse(b'{"activities": [], "watermark": "1"}')


# ---- JWT ---------------------------------------------------------------------------------------

def test_fixture_token_verifies_against_its_test_jwks(settings: Settings) -> None:
    name = "sdk-handoff-initiate-bug"
    sig = CASE.meta(name)["signature"]
    checker = adapter(settings, json.dumps(sig["test_jwks"]), BOTFRAMEWORK_TENANT_IDS=TENANT)
    checker.verify(CASE.inbound(name, now=sig["verify_at_unix"]), [sig["validate"]["appid_expected"]],
                   sig["validate"]["clock_skew_seconds"])
    exp = sig["jwt_claims"]["exp"]
    with pytest.raises(Unauthorized):  # stale
        checker.verify(CASE.inbound(name, now=exp + 301), [APP_ID], 300)
    with pytest.raises(Unauthorized):  # "future": not valid yet
        checker.verify(CASE.inbound(name, now=sig["jwt_claims"]["nbf"] - 301), [APP_ID], 300)


def check(settings: Settings, bearer: str | None, now: int, app_ids=(APP_ID,), keyset: str | None = None,
          **extra: str) -> None:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    adapter(settings, keyset, **extra).verify(inbound(b"{}", headers, now=now), list(app_ids), 300)


def test_forged_missing_wrong_and_rotated_tokens(settings: Settings) -> None:
    now = 1_742_303_223
    check(settings, token(now), now)
    check(settings, token(now, iss=f"https://login.microsoftonline.com/{TENANT}/v2.0", appid=None, azp=APP_ID), now)
    good = token(now)
    head, payload, signature = good.split(".")
    bad = [
        None, "", "not-a-jwt", f"{head}.{payload}.{signature[::-1]}",
        token(now, kid="kid-b"),                                   # key not in the JWKS
        token(now, appid="someone-else"),                          # another bot
        token(now, aud="https://example.com"),
        token(now, iss="https://evil.example.com/"),
        token(now - 4000),                                         # expired
        token(now + 400),                                          # not yet valid
        jwt.encode({"appid": APP_ID, "aud": "https://api.botframework.com", "exp": now + 60}, "s" * 32,
                   algorithm="HS256", headers={"kid": "kid-a"}),  # algorithm confusion
    ]
    for bearer in bad:
        with pytest.raises(Unauthorized):
            check(settings, bearer, now)
    with pytest.raises(Unauthorized):
        check(settings, token(now), now, BOTFRAMEWORK_TENANT_IDS="another-tenant")
    # rotation: two accepted bot app ids, and two signing keys during a key roll-over
    check(settings, token(now, appid="new-app"), now, app_ids=("new-app", APP_ID))
    check(settings, token(now, kid="kid-b"), now, keyset=jwks("kid-a", "kid-b"))


@pytest.mark.parametrize("header", [{"alg": "RS256", "x5t": ["a"]}, {"alg": "RS256", "kid": {"a": 1}},
                                    {"alg": "RS256", "kid": 7, "x5t": [1]}, {"alg": ["RS256"], "kid": "kid-a"}])
def test_a_token_header_of_the_wrong_types_is_a_401(settings: Settings, header: dict) -> None:
    """Issue 20: ``"x5t": ["a"]`` in the (unverified) header was a TypeError, a 500 to anyone."""
    now = 1_742_303_223
    _, payload, signature = token(now).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=") + f".{payload}.{signature}"
    with pytest.raises(Unauthorized):
        check(settings, forged, now)
    rt, client = CASE.app(settings, BOTFRAMEWORK_JWKS=jwks("kid-a"))
    assert CASE.post(client, b"{}", bearer=forged).status_code == 401


def test_unreachable_key_endpoint_is_a_503_not_a_401(settings: Settings) -> None:
    # Issue 21: the bridge failing to fetch the keys is not the sender's fault; it must retry.
    checker = bf.BotFrameworkAdapter(settings.with_overrides(extra={"BOTFRAMEWORK_JWKS_URL": "http://127.0.0.1:9/keys"}))
    with pytest.raises(bf.Unavailable):
        checker.verify(inbound(b"{}", {"Authorization": f"Bearer {token(1)}"}, now=1), [APP_ID], 300)
    _, client = CASE.app(settings, BOTFRAMEWORK_JWKS_URL="http://127.0.0.1:9/keys")
    answer = CASE.post(client, "sdk-handoff-initiate-bug")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert answer.get_json()["error"]["code"] == "verification_unavailable"


# ---- HTTP and end to end -----------------------------------------------------------------------

def test_http_statuses(settings: Settings) -> None:
    _, client = CASE.app(settings, BOTFRAMEWORK_JWKS=jwks("kid-a"))
    now = int(time.time())
    body = CASE.body("copilot-studio-handoff-initiate")
    assert CASE.post(client, body, bearer=token(now)).status_code == 202
    assert CASE.post(client, body, bearer=token(now)).status_code == 200
    assert CASE.post(client, body, anonymous=True).status_code == 401
    assert CASE.post(client, body, bearer=token(now - 7200)).status_code == 401
    assert CASE.post(client, b"{oops", bearer=token(now)).status_code == 400
    assert CASE.post(client, b'{"type": "event", "name": "handoff.initiate"}', bearer=token(now)).status_code == 422
    answer = CASE.post(client, "handoff-status-accepted", bearer=token(now))
    assert answer.status_code == 200 and answer.get_json() == {"ignored": "handoff.status"}


def test_end_to_end_handoff_reaches_the_outbox_with_the_inline_transcript(settings: Settings) -> None:
    rt, client = CASE.app(settings, BOTFRAMEWORK_JWKS=jwks("kid-a"))
    CASE.check_webhook(client, "sdk-handoff-initiate-bug")
    run_due(rt)
    made = ticket(rt, case_id_for(SLUG, "a:1RzB7xK0qN3m9TfW2cVd8pLh"))
    document = json.dumps(made, ensure_ascii=False)
    assert "revenue dashboard shows no charts" in document
    # The bot's own "priority": "high" is a floor under whatever the engine found.
    assert made["request"]["priority"] in ("high", "urgent") and "≥ high Bot Framework handoff priority" in document
    assert (rt.settings.outbox_dir / case_id_for(SLUG, "a:1RzB7xK0qN3m9TfW2cVd8pLh") / "slack.alert.json").exists()


def test_voice_and_rich_turns_count_in_the_transcript() -> None:
    activity = CASE.data("sdk-handoff-initiate-bug")
    items = activity["attachments"][0]["content"]["activities"]
    before = len(bf.parse_handoff_initiate(activity, None).conversation.messages)
    user = next(a for a in items if a.get("from", {}).get("role") == "user")
    bot = next(a for a in items if a.get("from", {}).get("role") == "bot")
    items += [
        {**bot, "id": "voice-1", "text": None, "speak": "<speak>Let me <break/> check that.</speak>"},
        {**bot, "id": "card-1", "text": "", "attachments": [{"contentType": "application/vnd.microsoft.card.hero",
                                                            "content": {"title": "Reset your cache",
                                                                        "buttons": [{"title": "Show me how"}]}}]},
        {**bot, "id": "card-2", "text": None, "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "Still empty?"}]}}]},
        {**user, "id": "voice-2", "text": None, "speak": "yes it is still empty"},
    ]
    messages = bf.parse_handoff_initiate(activity, None).conversation.messages
    assert len(messages) == before + 4
    assert [m.text for m in messages[-4:]] == ["Let me check that.", "Reset your cache Show me how", "Still empty?",
                                               "yes it is still empty"]


# ---- the identity platform's keys: rolled over, refreshed in the background ---------------------

class _KeyServer:
    """A JWKS endpoint on loopback (the adapters' ``Stub``) whose keys the test changes; it can
    hold a fetch (``hold``) or fail them (``status``)."""

    def __init__(self) -> None:
        import threading

        self.document, self.status = jwks("kid-a"), 200
        self.hold = threading.Event()
        self.hold.set()
        self.stub = Stub({"/keys": self._answer})
        self.url = f"{self.stub.url}/keys"

    def _answer(self, _query: dict[str, list[str]]) -> tuple[int, Any]:
        self.hold.wait(10)
        return self.status, json.loads(self.document)

    @property
    def fetches(self) -> int:
        return len(self.stub.requests)


@pytest.fixture
def key_server():
    server = _KeyServer()
    with server.stub:
        yield server
        server.hold.set()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _checker(settings: Settings, server: _KeyServer, clock: _Clock) -> bf.BotFrameworkAdapter:
    checker = bf.BotFrameworkAdapter(settings.with_overrides(extra={"BOTFRAMEWORK_JWKS_URL": server.url}))
    checker._keys = bf.KeySource(clock)
    return checker


def _verify(checker: bf.BotFrameworkAdapter, bearer: str) -> None:
    now = int(time.time())
    checker.verify(inbound(b"{}", {"Authorization": f"Bearer {bearer}"}, now=now), [APP_ID], 300)


def test_a_rolled_over_key_is_fetched_at_once_and_made_up_kids_fetch_once(settings: Settings, key_server) -> None:
    clock = _Clock()
    checker = _checker(settings, key_server, clock)
    _verify(checker, token(int(time.time()), kid="kid-a"))
    key_server.document = jwks("kid-b")  # Microsoft rolled its keys
    clock.now += bf.UNKNOWN_KID_EVERY
    _verify(checker, token(int(time.time()), kid="kid-b"))  # was a 401 until the day-old set expired
    assert key_server.fetches == 2
    clock.now += bf.UNKNOWN_KID_EVERY
    forged = [jwt.encode({"aud": "x"}, KEYS["kid-b"], algorithm="RS256", headers={"kid": f"made-up-{i}"})
              for i in range(5)]
    for bearer in forged:
        with pytest.raises(Unauthorized):
            _verify(checker, bearer)
    assert key_server.fetches == 3  # one fetch for the whole burst of unknown kids


def test_a_day_old_key_set_answers_while_the_next_is_fetched(settings: Settings, key_server) -> None:
    clock = _Clock()
    checker = _checker(settings, key_server, clock)
    _verify(checker, token(int(time.time()), kid="kid-a"))
    key_server.document, key_server.status = jwks("kid-a", "kid-b"), 200
    key_server.hold.clear()  # the endpoint is slow now
    clock.now += bf.JWKS_TTL + 1
    started = time.monotonic()
    _verify(checker, token(int(time.time()), kid="kid-a"))  # answered from the held set
    assert time.monotonic() - started < 5 and not key_server.hold.is_set()
    key_server.hold.set()
    deadline = time.monotonic() + 10
    while key_server.fetches < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert key_server.fetches == 2  # fetched in the background
    # The stub counts a fetch when it arrives: wait until the answer is in the held set as well.
    while "kid-b" not in checker._keys.keys(checker.settings()) and time.monotonic() < deadline:
        time.sleep(0.02)
    _verify(checker, token(int(time.time()), kid="kid-b"))
    assert key_server.fetches == 2  # kid-b came with the background fetch


def test_a_failed_background_refresh_keeps_the_held_keys(settings: Settings, key_server) -> None:
    clock = _Clock()
    checker = _checker(settings, key_server, clock)
    _verify(checker, token(int(time.time()), kid="kid-a"))
    key_server.status = 500
    clock.now += bf.JWKS_TTL + 1
    _verify(checker, token(int(time.time()), kid="kid-a"))
    deadline = time.monotonic() + 10
    while key_server.fetches < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    _verify(checker, token(int(time.time()), kid="kid-a"))  # still verifies with the held keys
    assert key_server.fetches == 2  # and does not retry on every request

"""Microsoft Bot Framework / Azure Bot Service / Copilot Studio: the ``handoff.initiate`` event activity.

Docs: MicrosoftDocs/bot-docs ``bot-service-design-pattern-handoff-human.md`` and
``rest-api/bot-framework-rest-connector-authentication.md``; botbuilder-js ``eventFactory.ts``.
Authentication: ``Authorization: Bearer <JWT>`` (RS256) issued by the Microsoft identity platform for the
bot: audience ``BOTFRAMEWORK_AUDIENCE`` (default ``https://api.botframework.com``), issuer
``https://sts.windows.net/<tenant>/`` or ``https://login.microsoftonline.com/<tenant>/v2.0`` (restricted to
``BOTFRAMEWORK_TENANT_IDS`` when set), ``appid``/``azp`` one of ``BOTFRAMEWORK_WEBHOOK_SECRET`` (the accepted
bot app ids, comma list), expiry checked against the injected clock with the tolerance as skew. Signing
keys: ``BOTFRAMEWORK_JWKS`` (a JWKS document or a path to one; tests use their own) or, when unset, the
JWKS at ``BOTFRAMEWORK_JWKS_URL`` fetched once and cached for a day.
Body: one activity (SDK bot posting to the bridge as its agent hub) or a Direct Line activity set
``{"activities": [...]}`` (Copilot Studio). Events: ``handoff.initiate`` (handoff, transcript in the
``Transcript`` attachment) and ``message`` activities (update); ``handoff.status`` and other activities
are acknowledged and ignored.
Platform signals: the protocol defines no priority or sentiment; ``value`` is agent-hub-specific context
(``{"skill": …, "priority": "high"}`` from SDK bots; Copilot Studio sends ``va_*`` variables, none of
them a priority, plus the author's own topic variables, e.g. a ``Priority``). A ``priority``/``Priority``
word there becomes ``handoff.priority``. Copilot Studio's ``RankedIntents[0].Score`` is already on the
bot message that answers the recognised turn, so it stays there as ``confidence``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from bridge import runtime
from bridge.adapters import vendor_api as v
from bridge.adapters.base import (
    Adapter,
    Delivery,
    Handler,
    Inbound,
    MalformedPayload,
    Unauthorized,
    Unavailable,
    UnsupportedEvent,
    handoff_priority,
    validate_event as _validate,
)
from bridge.config import Settings
from bridge.errors import RetryableError
from bridge.events import Event

log = logging.getLogger("bridge.adapters.botframework")

SLUG = "botframework"
DEFAULT_AUDIENCE = "https://api.botframework.com"
DEFAULT_JWKS_URL = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
JWKS_TTL = 24 * 3600
UNKNOWN_KID_EVERY = 300  # seconds between fetches caused by a kid we do not hold
ISSUERS = re.compile(r"^https://(sts\.windows\.net/(?P<t1>[^/]+)/|login\.microsoftonline\.com/(?P<t2>[^/]+)/v2\.0)$")
URL = re.compile(r"https?://[^\s)\]>\"']+")


# ---- authentication ----------------------------------------------------------------------------

@dataclass
class _KeySet:
    keys: dict[str, Any]
    fetched: float  # time.monotonic() of the fetch that gave these keys
    tried: float  # of the last fetch attempt, whatever came of it
    refreshing: bool = False


class KeySource:
    """Signing keys by ``kid``: from configuration, or the identity platform's JWKS.

    Microsoft rolls its signing keys without notice, so (as the Bot Framework SDKs do) a token
    signed with a ``kid`` we do not hold makes us fetch the set again — at most once per
    ``UNKNOWN_KID_EVERY``, so tokens with made-up kids cannot make us hammer the endpoint. A set
    older than ``JWKS_TTL`` keeps answering while a background thread fetches the next one: after
    the first fetch, requests never wait on the endpoint except for a key we have not seen."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, _KeySet] = {}
        self._clock = clock

    def keys(self, settings: Settings, kid: str | None = None) -> dict[str, Any]:
        inline = settings.platforms.botframework_jwks
        if inline:
            return self._parse(inline if inline.startswith("{") else Path(inline).read_text())
        url = v.base_url("BOTFRAMEWORK_JWKS_URL", settings.platforms.botframework_jwks_url, DEFAULT_JWKS_URL)
        now = self._clock()
        with self._lock:
            held = self._sets.get(url)
            rolled = bool(held and kid and kid not in held.keys and now - held.tried >= UNKNOWN_KID_EVERY)
            stale = bool(held and now - held.fetched > JWKS_TTL and not held.refreshing
                         and now - held.tried >= UNKNOWN_KID_EVERY)
            if held is not None and (rolled or stale):
                held.tried = now  # one fetch per window, whatever the number of requests asking
            if held is not None and stale and not rolled:
                held.refreshing = True
                threading.Thread(target=self._refresh, args=(url,), name="botframework-jwks", daemon=True).start()
        if held is None or rolled:
            # The first request waits; so does one signed with a key we have not seen (Microsoft
            # rolled its keys). A failure is a 503 either way: it says nothing about the sender.
            return self._fetch(url).keys
        return held.keys

    def _fetch(self, url: str) -> _KeySet:
        try:
            keys = self._parse(json.dumps(v.get_json(v.session(), url)))
        finally:
            with self._lock:
                if url in self._sets:
                    self._sets[url].refreshing = False
        now = self._clock()
        fresh = _KeySet(keys, now, now)
        with self._lock:
            self._sets[url] = fresh
        return fresh

    def _refresh(self, url: str) -> None:
        try:
            self._fetch(url)
        except Exception as exc:  # the held keys keep answering; the next request past the TTL retries
            log.warning("bridge.botframework.jwks_refresh_failed", extra={"error": type(exc).__name__})

    @staticmethod
    def _parse(text: str) -> dict[str, Any]:
        found = {}
        for key in jwt.PyJWKSet.from_json(text).keys:
            if key.key_id:
                found[key.key_id] = key.key
        return found


def token_kid(token: str) -> str:
    """The ``kid`` (or ``x5t``) of a JWT's header, unverified; "" when it has none we can use."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return ""
    return next((h for h in (header.get("kid"), header.get("x5t")) if isinstance(h, str) and h), "")


def verify_token(token: str, app_ids: Sequence[str], keys: dict[str, Any], now: float, skew: int,
                 audience: str = DEFAULT_AUDIENCE, tenants: Sequence[str] = ()) -> dict[str, Any]:
    """Check one bearer JWT; returns its claims or raises ``Unauthorized``."""
    try:
        header = jwt.get_unverified_header(token)
        # The header is the sender's JSON before any check: a kid that is a list must not reach a lookup.
        kid = next((h for h in (header.get("kid"), header.get("x5t")) if isinstance(h, str) and h), "")
        key = keys.get(kid)
        if key is None or header.get("alg") != "RS256":
            raise Unauthorized("unknown signing key or algorithm")
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=audience,
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                     "require": ["exp", "iss", "aud"]})
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"bad token: {type(exc).__name__}") from None
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if not isinstance(exp, int | float) or exp + skew < now:
        raise Unauthorized("token expired")
    if isinstance(nbf, int | float) and nbf - skew > now:
        raise Unauthorized("token not yet valid")
    issuer = ISSUERS.match(str(claims.get("iss")))
    if issuer is None or (tenants and (issuer["t1"] or issuer["t2"]) not in tenants):
        raise Unauthorized("issuer not accepted")
    app_id = claims.get("appid") or claims.get("azp")
    if app_id not in app_ids:
        raise Unauthorized("bot app id not accepted")
    return claims


# ---- payload → canonical -----------------------------------------------------------------------

def _score(activity: dict[str, Any]) -> tuple[float | None, str | None]:
    ranked = v.dig(activity, "channelData", "ConversationUnderstandingDetail", "RankedIntents", 0)
    return v.confidence(v.dig(ranked, "Score")), v.opt_str(v.dig(ranked, "MatchedTriggerQuery"))


def turn(activity: Any, bot_id: str | None = None) -> dict[str, Any] | None:
    if not isinstance(activity, dict) or activity.get("type") != "message":
        return None
    who = v.dig(activity, "from", "role")
    is_bot = who == "bot" or v.dig(activity, "from", "id") == bot_id
    role = "customer" if who == "user" else "bot" if is_bot else "agent"
    cards = [x for x in v.items(activity.get("attachments")) if isinstance(x, dict)]
    attachments = [a for a in (v.attachment(x.get("contentUrl"), x.get("name"), x.get("contentType"))
                               for x in cards) if a]
    # A turn is a turn whatever carries it: ``text``; on voice channels only ``speak`` (SSML); a rich
    # message only cards (hero, adaptive…) whose words sit in ``attachments[].content``.
    text = (v.opt_str(activity.get("text")) or v.ssml_text(activity.get("speak"))
            or " ".join(filter(None, (v.card_text(x.get("content")) for x in cards if not x.get("contentUrl")))))
    if not text and not attachments:
        return None
    extra: dict[str, Any] = {}
    if role == "bot":
        extra["confidence"], extra["intent"] = _score(activity)
        extra["sources"] = [{"url": u.rstrip(".,;")} for u in URL.findall(text)][:50]
    return v.message(role, text, id=activity.get("id"), sent_at=activity.get("timestamp"),
                     attachments=attachments, **extra)


def _transcript(activity: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """Turns from the ``Transcript`` attachment, or the URL of an offline one."""
    bot_id = v.opt_str(v.dig(activity, "relatesTo", "bot", "id")) or v.opt_str(v.dig(activity, "from", "id"))
    for att in v.items(activity.get("attachments")):
        if not isinstance(att, dict) or str(att.get("name", "")).lower() != "transcript":
            continue
        items = v.dig(att, "content", "activities")
        if isinstance(items, list):
            return v.trim_transcript([m for m in (turn(a, bot_id) for a in items) if m]), None
        return [], v.opt_str(att.get("contentUrl"))
    phrases = v.dig(activity, "value", "va_Phrases")  # Copilot Studio without a transcript
    return [v.message("customer", p) for p in phrases if isinstance(p, str) and p]\
        if isinstance(phrases, list) else [], None


def _customer(activity: dict[str, Any], value: dict[str, Any], locale: str | None) -> dict[str, Any] | None:
    user = v.dig(activity, "relatesTo", "user") or (
        activity.get("recipient") if v.dig(activity, "from", "role") == "bot" else activity.get("from"))
    given = value.get("customer") if isinstance(value.get("customer"), dict) else {}
    account = v.opt_str(given.get("accountId")) or v.opt_str(value.get("AccountId"))
    return v.drop_empty({
        "id": v.opt_str(v.dig(user, "id")),
        "name": v.opt_str(given.get("name")) or v.opt_str(v.dig(user, "name")),
        "email": v.opt_str(given.get("email")) or v.opt_str(value.get("CustomerEmail")),
        "locale": locale,
        "plan": v.opt_str(given.get("plan")) or v.opt_str(value.get("PlanName")),
        "account": {"id": account} if account else None,
        "attributes": v.drop_empty({
            "external_id": v.opt_str(given.get("id")),
            "agent_note": v.opt_str(value.get("va_AgentMessage")),
            "topics": [t for t in v.items(value.get("va_Topics")) if isinstance(t, str)],
            "attempted_answers": [a for a in v.items(value.get("attemptedAnswers")) if isinstance(a, str)],
            "priority": v.opt_str(value.get("priority")),
            "skill": v.opt_str(value.get("skill")),
        }),
    }) or None


def _console(line: Any) -> dict[str, Any] | None:
    if not isinstance(line, str):
        return None
    match = re.match(r"^\[(?P<at>[^\]]+)\]\s+(?P<level>[A-Z]+)\s+(?P<msg>.*)$", line)
    return v.drop_empty(match.groupdict() | {"message": match["msg"], "msg": None}) if match else {"message": line}


def _evidence(value: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    given = value.get("evidence") if isinstance(value.get("evidence"), dict) else {}
    device = given.get("device") if isinstance(given.get("device"), dict) else {}
    screenshot = v.attachment(given.get("screenshotUrl"), content_type="image/png")
    known = {a.get("url") for m in messages for a in m.get("attachments", [])}
    extra = [] if not screenshot or screenshot["url"] in known else [{"role": "system", "text": "",
                                                                      "attachments": [screenshot]}]
    return v.evidence_from(
        messages + extra,
        session_replay_url=v.opt_str(given.get("sessionReplayUrl")),
        console_logs=[c for c in map(_console, v.items(given.get("consoleLog"))) if c][:1000],
        device=v.drop_empty({
            "browser": " ".join(filter(None, [v.opt_str(device.get("browser")),
                                              v.opt_str(device.get("browser_version"))])) or None,
            "os": " ".join(filter(None, [v.opt_str(device.get("os")), v.opt_str(device.get("os_version"))])) or None,
            "viewport": v.opt_str(device.get("viewport")),
            "app_version": v.opt_str(given.get("appVersion")),
        }) or None,
    )


def _base(activity: dict[str, Any], kind: str, messages: list[dict[str, Any]], value: dict[str, Any],
          handoff: dict[str, Any] | None, partial: bool = False) -> Event:
    conversation_id = v.text_id(activity, "conversation", "id", field="conversation.id")
    locale = next((v.opt_str(m.get("locale")) for m in [activity] if m.get("locale")), None)
    event_id = v.opt_str(activity.get("id")) or f"{conversation_id}:{activity.get('timestamp')}"
    return _validate(v.drop_empty({
        "event_id": v.clip(event_id, 200),
        "type": kind,
        "occurred_at": v.iso(activity.get("timestamp")),
        "bot": v.drop_empty({"platform": SLUG, "name": v.opt_str(value.get("va_BotName"))
                             or v.opt_str(v.dig(activity, "relatesTo", "bot", "name"))}),
        "conversation": v.drop_empty({"id": conversation_id, "channel": v.opt_str(activity.get("channelId")),
                                      "language": locale or v.opt_str(value.get("va_Language")),
                                      "partial": partial}) | {"messages": messages},
        "customer": _customer(activity, value, locale),
        "handoff": handoff,
        "evidence": _evidence(value, messages),
    }))


def parse_handoff_initiate(activity: dict[str, Any], d: Delivery) -> Event:
    value = activity.get("value") if isinstance(activity.get("value"), dict) else {}
    messages, offline = _transcript(activity)
    by_customer = v.opt_str(value.get("va_LastTopic")) == "Escalate" and not value.get("reason")
    handoff = v.drop_empty({
        "requested_by": "customer" if by_customer else "bot",
        "reason": v.clip(v.opt_str(value.get("summary")) or v.opt_str(value.get("va_AgentMessage"))
                         or v.opt_str(value.get("reason")) or "the bot initiated a handoff", 2000),
        "topic": v.clip(v.opt_str(value.get("reason")) or v.opt_str(value.get("va_LastTopic")) or "", 200) or None,
        "priority": handoff_priority(value.get("priority", value.get("Priority"))),
    })
    if not activity.get("locale"):
        first = next((m for m in v.items(v.dig(activity, "attachments", 0, "content", "activities"))
                      if v.dig(m, "from", "role") == "user" and v.dig(m, "locale")), None)
        activity = {**activity, "locale": v.dig(first, "locale")} if first else activity
    return _base(activity, "handoff.requested", messages, value, handoff, partial=bool(offline))


def parse_message(activity: dict[str, Any], d: Delivery) -> Event:
    message = turn(activity)
    return _base(activity, "conversation.updated", [message] if message else [], {}, None)


EVENT_HANDLERS: dict[str, Handler] = {
    "handoff.initiate": parse_handoff_initiate,
    "message": parse_message,
}
SUPPORTED_EVENTS = frozenset(EVENT_HANDLERS)


def _kind(activity: Any) -> str:
    if not isinstance(activity, dict):
        return ""
    return str(activity.get("name") or "") if activity.get("type") == "event" else str(activity.get("type") or "")


def _chosen(body: dict[str, Any]) -> dict[str, Any]:
    """The activity to act on: the body, or from a Direct Line activity set the handoff if there is
    one, else its latest activity of a handled type."""
    if isinstance(body.get("activities"), list):
        activities = [a for a in body["activities"] if isinstance(a, dict)]
        chosen = next((a for a in activities if _kind(a) == "handoff.initiate"), None)
        chosen = chosen or next((a for a in reversed(activities) if _kind(a) in EVENT_HANDLERS), None)
        if chosen is None:
            raise UnsupportedEvent(_kind(activities[-1]) if activities else "empty activity set")
        return chosen
    if "type" in body:
        return body
    raise MalformedPayload("not a Bot Framework activity or Direct Line activity set")


class BotFrameworkAdapter(Adapter):
    slug = SLUG
    handlers = EVENT_HANDLERS
    emits = frozenset({"handoff.requested", "conversation.updated"})

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings  # None: the process's runtime settings, read on use
        self._keys = KeySource()

    def settings(self) -> Settings:
        return self._settings if self._settings is not None else runtime.current().settings

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        scheme, _, token = inbound.header("authorization").strip().partition(" ")
        if scheme.lower() != "bearer" or token.count(".") != 2:
            raise Unauthorized("missing bearer token")
        settings = self.settings()
        try:
            keys = self._keys.keys(settings, token_kid(token.strip()))
        except (v.FetchFailed, RetryableError, OSError, ValueError, jwt.PyJWTError) as exc:
            # Our failure to fetch Microsoft's keys says nothing about the sender: 503, and it retries.
            raise Unavailable(f"Bot Framework signing keys unavailable: {type(exc).__name__}") from None
        tenants = list(settings.platforms.botframework_tenant_ids)
        verify_token(token.strip(), secrets, keys, inbound.now, tolerance,
                     settings.platforms.botframework_audience or DEFAULT_AUDIENCE, tenants)

    def event_type(self, body: dict[str, Any]) -> str:
        return _kind(_chosen(body)) or "activity without type"

    def subject(self, delivery: Delivery) -> dict[str, Any]:
        return _chosen(delivery.body)

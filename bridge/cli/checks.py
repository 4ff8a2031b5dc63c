"""``bridge doctor``: one line per dependency saying what works and what does not.

Each check yields ``(name, status, message)`` with status ``ok``, ``warn`` (works, but something a
person should know) or ``fail`` (exit 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import connectors
from bridge.adapters import ADAPTERS
from bridge.config import ConfigError, Settings, secret_env_name, secret_policy
from bridge.errors import reason
from bridge.pipeline import trigger_config
from bridge.pipeline.route_config import RoutingError
from bridge.runtime import Runtime
from bridge.web import auth

OK, WARN, FAIL = "ok", "warn", "fail"


_reason = reason


def apart(settings: Settings) -> bool:
    """Web and worker may run as separate processes on separate machines (production layout)."""
    return bool(settings.redis_url) or not settings.store_url.startswith("sqlite")


def run_checks(settings: Settings) -> Iterator[tuple[str, str, str]]:
    rt = Runtime.build(settings)
    try:
        rt.store.ping()
        yield "store", OK, f"{rt.store.dialect} reachable"
    except Exception as exc:
        yield "store", FAIL, f"{rt.store.dialect} unreachable: {_reason(exc)}"
    if settings.redis_url:
        try:
            rt.queue.ping()
            yield "redis", OK, "reachable; jobs run on RQ workers (`bridge worker`)"
        except Exception as exc:
            yield "redis", FAIL, f"unreachable: {_reason(exc)}"
    else:
        yield "redis", OK, "REDIS_URL unset; `bridge serve` runs the in-process worker"
    try:
        cfg = trigger_config.from_settings(settings)
        yield "triggers", OK, f"configuration loaded (low confidence below {cfg.low_confidence_threshold})"
    except ConfigError as exc:
        yield "triggers", FAIL, str(exc)
    yield from _routing(rt)
    yield from _login(settings)
    yield from _secret_key(settings)
    yield from _public_url(settings)
    for vendor, names in connectors.CREDENTIALS.items():
        if connectors.is_configured(vendor, settings):
            live = vendor in connectors.LIVE
            yield vendor, OK if live else FAIL, "credentials set" + ("" if live else ", but no live connector exists")
        else:
            yield vendor, OK, f"dry run to the outbox (set {', '.join(names)} to go live)"
    weak = dict(secret_policy.problems(settings))  # one reason per variable is enough to act on
    for slug in ADAPTERS:
        env = secret_env_name(slug)
        if env in weak:
            yield f"webhook {slug}", FAIL, weak.pop(env)
        elif settings.secrets_for(slug):
            yield f"webhook {slug}", OK, f"{len(settings.secrets_for(slug))} secret(s) configured"
        elif slug == "generic":
            yield f"webhook {slug}", OK, f"{env} unset; `bridge serve` uses a development secret"
        else:
            yield f"webhook {slug}", OK, f"{env} unset; deliveries from {slug} are refused (401)"
    for name, message in weak.items():
        yield name, FAIL, message


def _routing(rt: Runtime) -> Iterator[tuple[str, str, str]]:
    path = str(rt.settings.routing_file or "")
    try:
        routing = rt.routing()
    except RoutingError as exc:
        yield "routing", FAIL, f"ROUTING_FILE {path} is invalid: {exc.problems[0] if exc.problems else exc}"
        return
    except OSError as exc:
        yield "routing", FAIL, f"ROUTING_FILE {path} cannot be read: {_reason(exc)}"
        return
    if not path:
        yield "routing", OK, ("ROUTING_FILE unset: one team, no members, every case \"no one on shift\" "
                              "(see docs/routing.md; examples/routing.yaml is a start)")
        return
    members = sum(len(team.members) for team in routing.teams)
    yield "routing", OK, (f"ROUTING_FILE {path}: {len(routing.teams)} team(s), {members} member(s), "
                          f"{len(routing.rules)} rule(s)")


def _login(settings: Settings) -> Iterator[tuple[str, str, str]]:
    try:
        users = auth.users(settings)
    except ConfigError as exc:
        yield "login", FAIL, str(exc)
        return
    ways = ([f"{len(users)} user(s) in BRIDGE_USERS"] if users else []) + (
        ["the admin token (BRIDGE_ADMIN_TOKEN)"] if settings.admin_token else [])
    if ways:
        yield "login", OK, f"dashboard sign-in with {' and '.join(ways)} at {auth.base_url(settings)}/login"
    elif apart(settings):
        yield "login", WARN, ("no login configured: only one-time links (`bridge login-link`) open the dashboard; "
                              "set BRIDGE_USERS (bridge user-hash NAME) or BRIDGE_ADMIN_TOKEN")
    else:
        yield "login", OK, ("no login configured: `bridge serve` prints a one-time login link at start "
                            "(`bridge login-link` prints another)")


def _secret_key(settings: Settings) -> Iterator[tuple[str, str, str]]:
    if settings.secret_key:
        yield "secret key", OK, "BRIDGE_SECRET_KEY set (signs sessions and case links; same value on every machine)"
    elif apart(settings):
        yield "secret key", FAIL, ("BRIDGE_SECRET_KEY unset while web and worker run apart: each machine would make "
                                   "its own key in its data dir, so case links the workers sign would not open on "
                                   "the web processes. Set one value everywhere (`bridge secret --plain` makes one)")
    else:
        yield "secret key", OK, (f"BRIDGE_SECRET_KEY unset: a key kept in {settings.data_dir}/session-secret-key "
                                 "(fine on one machine)")


def _public_url(settings: Settings) -> Iterator[tuple[str, str, str]]:
    url = settings.public_url
    live = [v for v in ("zendesk", "slack", "jira") if connectors.is_configured(v, settings)]
    if not url:
        message = ("BRIDGE_PUBLIC_URL unset: case links in tickets, bugs and Slack are relative and do not open "
                   "from there; set it to the address people reach the bridge at")
        if auth.cookie_secure(settings):
            message += (f". Bound to {settings.host}, the session cookie is sent over https only: sign in through "
                        "https (a TLS proxy), or set an http:// BRIDGE_PUBLIC_URL to allow plain http")
        yield "public url", WARN if live or auth.cookie_secure(settings) else OK, message
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield "public url", FAIL, f"BRIDGE_PUBLIC_URL must be an http(s) URL, got {url!r}"
    elif parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        yield "public url", WARN, f"BRIDGE_PUBLIC_URL {url} is plain http: sessions and case links travel unencrypted"
    else:
        yield "public url", OK, f"case links point at {url.rstrip('/')}/cases/…"

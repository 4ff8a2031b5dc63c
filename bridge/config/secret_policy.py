"""How strong a secret must be before the bridge starts with it.

A webhook secret is the only thing between the internet and the case queue, and the admin token
opens every case: a short or placeholder value (``whsec_``, ``whsec_AA``, ``BRIDGE_ADMIN_TOKEN=a``)
must stop the start, with the variable named and the value never printed. ``problems`` is what
``create_app``, ``bridge serve``/``worker`` and ``bridge doctor`` all ask.

- Standard Webhooks secrets (``whsec_`` + base64: the generic webhook, Ada's Svix endpoints,
  ``BOT_CALLBACK_SECRET``) must decode, to at least 16 bytes.
- Other shared secrets (a platform's signing secret or token, Slack's signing secret) must be at
  least 16 characters; the platforms that issue them make longer ones.
- ``BRIDGE_ADMIN_TOKEN`` must be at least 24 characters.
- Any of them made of fewer than 6 different characters (or bytes) is a placeholder, not a secret.

Not secrets, so not checked: ``BOTFRAMEWORK_WEBHOOK_SECRET`` lists the accepted bot app ids and
``FRESHCHAT_WEBHOOK_SECRET`` is Freshchat's public key.
"""

from __future__ import annotations

from collections.abc import Iterator

from bridge.config.settings import Settings, secret_env_name
from bridge.signing import MIN_KEY_BYTES, standard_webhook_key

MIN_SECRET_BYTES = MIN_KEY_BYTES
MIN_ADMIN_TOKEN = 24
MIN_DISTINCT = 6
STANDARD_WEBHOOKS = frozenset({"generic", "ada"})  # verified as whsec_ + base64, prefix optional
NOT_SECRETS = frozenset({"botframework", "freshchat"})
FRESH = "`bridge secret` prints a fresh one"


def _which(name: str, index: int, count: int) -> str:
    return name if count == 1 else f"{name} (value {index} of {count})"


def secret_problem(name: str, value: str, standard: bool) -> str | None:
    """Why ``value`` may not be used as ``name``, or None. Never quotes the value."""
    if standard or value.startswith("whsec_"):
        try:
            key = standard_webhook_key(value)
        except ValueError:
            return f"{name} is not a valid secret: it must be 'whsec_' followed by base64 ({FRESH})"
        if len(key) < MIN_SECRET_BYTES:
            return (f"{name} is too short: a whsec_ secret needs at least {MIN_SECRET_BYTES} random bytes, "
                    f"this one has {len(key)} ({FRESH})")
        if len(set(key)) < MIN_DISTINCT:
            return f"{name} is a placeholder, not a random secret ({FRESH})"
        return None
    if len(value) < MIN_SECRET_BYTES:
        return (f"{name} is too short: a webhook secret needs at least {MIN_SECRET_BYTES} characters, "
                f"this one has {len(value)} (use the one the platform issues, or `bridge secret --plain`)")
    if len(set(value)) < MIN_DISTINCT:
        return f"{name} is a placeholder, not a random secret (`bridge secret --plain` prints a fresh one)"
    return None


def admin_token_problem(token: str) -> str | None:
    if not token:
        return None
    if len(token) < MIN_ADMIN_TOKEN or len(set(token)) < MIN_DISTINCT:
        return (f"BRIDGE_ADMIN_TOKEN is too weak: it needs at least {MIN_ADMIN_TOKEN} random characters, "
                f"this one has {len(token)} (`bridge secret --plain` prints a fresh one)")
    return None


def problems(settings: Settings) -> Iterator[tuple[str, str]]:
    """``(variable, reason)`` for every secret the bridge must not start with."""
    checks: list[tuple[str, tuple[str, ...], bool]] = [
        (secret_env_name(slug), values, slug in STANDARD_WEBHOOKS)
        for slug, values in sorted(settings.webhook_secrets.items()) if slug not in NOT_SECRETS
    ]
    checks += [("SLACK_SIGNING_SECRET", settings.slack.signing_secrets, False),
               ("BOT_CALLBACK_SECRET", settings.bot_callback.secrets, True)]
    for name, values, standard in checks:
        for index, value in enumerate(values, 1):
            reason = secret_problem(_which(name, index, len(values)), value, standard)
            if reason:
                yield name, reason
    reason = admin_token_problem(settings.admin_token)
    if reason:
        yield "BRIDGE_ADMIN_TOKEN", reason


def refusal(settings: Settings) -> str | None:
    """One message listing every weak secret, or None when all are fit to start with."""
    found = [reason for _, reason in problems(settings)]
    return "refusing to start with weak secrets:\n- " + "\n- ".join(found) if found else None

"""The typed settings parsed once from the raw variables: small frozen groups (OpenAI, Zendesk,
Jira, Slack, the bot callback, the chat platforms' credentials) and the bridge's own values.

``parse(env)`` gives every typed field of ``Settings`` from the raw mapping; ``Settings`` calls it
when it is built (``from_env``, a test's ``Settings(extra=…)`` or ``with_overrides``), so a value the
bridge cannot use raises ``ConfigError`` naming the variable before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bridge.config import parse as p
from bridge.config.parse import ConfigError

JUDGE_MODES = ("local", "llm", "both")
DEFAULT_RETENTION_DAYS = 90
DEFAULT_DEDUPE_DAYS = 7  # longer than any sender's retry schedule (Zendesk, Slack, Svix: ≤ 3 days)
DEFAULT_CASE_LINK_TTL = 30 * 24 * 3600


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class OpenAIConfig:
    api_key: str = ""
    model: str = ""  # unset: each use has its default model
    base_url: str | None = None
    timeout: float | None = None  # unset: each use has its default (and bound)


@dataclass(frozen=True)
class ZendeskSettings:
    url: str = ""  # ZENDESK_URL: a proxy, a data-center install or a test server instead of the subdomain
    subdomain: str = ""
    email: str = ""
    api_token: str = ""
    oauth_token: str = ""
    placeholder_email: str = ""
    field_map: str = ""  # ZENDESK_FIELD_MAP as written; the connector reads it
    account_id: str = ""
    bridge_user_id: str = ""
    bot_user_ids: frozenset[str] = frozenset()
    holding_macros: frozenset[str] = frozenset()

    @property
    def web_url(self) -> str:
        """Where agents open tickets: ZENDESK_URL, else the subdomain's address; "" with neither."""
        if self.url:
            return self.url.rstrip("/")
        return f"https://{self.subdomain}.zendesk.com" if self.subdomain else ""


@dataclass(frozen=True)
class JiraSettings:
    url: str = ""  # without a trailing "/"
    email: str = ""
    api_token: str = ""
    pat: str = ""  # Data Center: a personal access token instead of e-mail + API token
    project: str = ""
    issue_type: str = ""
    deployment: str = ""  # "cloud", "server" or "" (then a PAT means Data Center)
    priorities: str = ""  # JIRA_PRIORITIES as written; the connector reads it
    blast_radius: str | None = None  # JIRA_BLAST_RADIUS as written; None when unset
    timeout: float = 20.0
    search_lag: float = 90.0
    claim_ttl: float = 600.0


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = ""
    api_url: str = ""  # unset: Slack's own API
    channel: str = ""  # unset: #support
    signing_secrets: tuple[str, ...] = ()
    workspace_url: str = ""  # without a trailing "/"


@dataclass(frozen=True)
class BotCallbackSettings:
    url: str = ""
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlatformCredentials:
    """The chat platforms' API credentials, used to fetch what a webhook leaves out."""

    api_urls: Mapping[str, str] = field(default_factory=_empty)  # slug → <SLUG>_API_URL as written
    drift_api_token: str = ""
    chatwoot_account_id: str = ""
    chatwoot_api_token: str = ""
    sunshine_app_id: str = ""
    sunshine_key_id: str = ""
    sunshine_key_secret: str = ""
    intercom_access_token: str = ""
    freshchat_api_token: str = ""
    crisp_api_identifier: str = ""
    crisp_api_key: str = ""
    botframework_jwks: str = ""  # inline JSON or a file
    botframework_jwks_url: str = ""
    botframework_tenant_ids: tuple[str, ...] = ()
    botframework_audience: str = ""


def _users(env: Mapping[str, str]) -> Mapping[str, str]:
    """``BRIDGE_USERS`` as name → password hash."""
    found: dict[str, str] = {}
    for entry in env.get("BRIDGE_USERS", "").split(","):
        if not entry.strip():
            continue
        name, sep, hashed = entry.strip().partition(":")
        if not sep or not name or not hashed.startswith("pbkdf2:"):
            raise ConfigError(f"BRIDGE_USERS entries must be name:pbkdf2-hash (bridge user-hash), got {name!r}")
        found[name.strip()] = hashed.strip()
    return MappingProxyType(found)


def _judge(env: Mapping[str, str]) -> str:
    raw = env.get("BRIDGE_JUDGE", "").strip().lower()
    if raw not in ("", *JUDGE_MODES):
        raise ConfigError(f"BRIDGE_JUDGE must be local, llm or both, got {env['BRIDGE_JUDGE']!r}")
    return raw or "local"


def _csat(env: Mapping[str, str]) -> float | None:
    """``BRIDGE_CSAT_BASELINE``: a share (0.82) or a percentage (82 or 82%)."""
    raw = env.get("BRIDGE_CSAT_BASELINE", "").strip().rstrip("%")
    value = p.number({"BRIDGE_CSAT_BASELINE": raw}, "BRIDGE_CSAT_BASELINE")
    if value is None:
        return None
    return value / 100 if value > 1 else value


def _api_urls(env: Mapping[str, str]) -> Mapping[str, str]:
    suffix = "_API_URL"
    return MappingProxyType({name[: -len(suffix)].lower().replace("_", "-"): value
                             for name, value in env.items() if name.endswith(suffix)})


def _openai(env: Mapping[str, str]) -> OpenAIConfig:
    return OpenAIConfig(api_key=p.text(env, "OPENAI_API_KEY"), model=p.text(env, "OPENAI_MODEL"),
                        base_url=p.text(env, "OPENAI_BASE_URL") or None, timeout=p.number(env, "OPENAI_TIMEOUT"))


def _zendesk(env: Mapping[str, str]) -> ZendeskSettings:
    return ZendeskSettings(
        url=env.get("ZENDESK_URL", ""), subdomain=p.text(env, "ZENDESK_SUBDOMAIN"),
        email=env.get("ZENDESK_EMAIL", ""), api_token=env.get("ZENDESK_API_TOKEN", ""),
        oauth_token=env.get("ZENDESK_OAUTH_TOKEN", ""), placeholder_email=env.get("ZENDESK_PLACEHOLDER_EMAIL", ""),
        field_map=env.get("ZENDESK_FIELD_MAP", ""), account_id=p.text(env, "ZENDESK_ACCOUNT_ID"),
        bridge_user_id=p.text(env, "ZENDESK_BRIDGE_USER_ID"),
        bot_user_ids=frozenset(p.listed(env, "ZENDESK_BOT_USER_IDS")),
        holding_macros=frozenset(p.listed(env, "ZENDESK_HOLDING_MACROS")),
    )


def _jira(env: Mapping[str, str]) -> JiraSettings:
    return JiraSettings(
        url=env.get("JIRA_URL", "").rstrip("/"), email=env.get("JIRA_EMAIL", ""),
        api_token=env.get("JIRA_API_TOKEN", ""), pat=env.get("JIRA_PAT", ""), project=env.get("JIRA_PROJECT", ""),
        issue_type=env.get("JIRA_ISSUE_TYPE", ""), deployment=env.get("JIRA_DEPLOYMENT", "").strip().lower(),
        priorities=env.get("JIRA_PRIORITIES", ""), blast_radius=env.get("JIRA_BLAST_RADIUS"),
        timeout=p.seconds(env, "JIRA_TIMEOUT", 20.0), search_lag=p.seconds(env, "JIRA_SEARCH_LAG", 90.0),
        claim_ttl=p.seconds(env, "JIRA_CLAIM_TTL", 600.0),
    )


def _slack(env: Mapping[str, str]) -> SlackSettings:
    return SlackSettings(bot_token=env.get("SLACK_BOT_TOKEN", ""), api_url=env.get("SLACK_API_URL", ""),
                         channel=p.text(env, "SLACK_CHANNEL"), signing_secrets=p.listed(env, "SLACK_SIGNING_SECRET"),
                         workspace_url=env.get("SLACK_WORKSPACE_URL", "").rstrip("/"))


def _platforms(env: Mapping[str, str]) -> PlatformCredentials:
    return PlatformCredentials(
        api_urls=_api_urls(env), drift_api_token=env.get("DRIFT_API_TOKEN", ""),
        chatwoot_account_id=env.get("CHATWOOT_ACCOUNT_ID", ""), chatwoot_api_token=env.get("CHATWOOT_API_TOKEN", ""),
        sunshine_app_id=env.get("SUNSHINE_CONVERSATIONS_APP_ID", ""),
        sunshine_key_id=env.get("SUNSHINE_CONVERSATIONS_KEY_ID", ""),
        sunshine_key_secret=env.get("SUNSHINE_CONVERSATIONS_KEY_SECRET", ""),
        intercom_access_token=env.get("INTERCOM_ACCESS_TOKEN", ""),
        freshchat_api_token=env.get("FRESHCHAT_API_TOKEN", ""),
        crisp_api_identifier=env.get("CRISP_API_IDENTIFIER", ""), crisp_api_key=env.get("CRISP_API_KEY", ""),
        botframework_jwks=p.text(env, "BOTFRAMEWORK_JWKS"), botframework_jwks_url=env.get("BOTFRAMEWORK_JWKS_URL", ""),
        botframework_tenant_ids=p.listed(env, "BOTFRAMEWORK_TENANT_IDS"),
        botframework_audience=env.get("BOTFRAMEWORK_AUDIENCE", ""),
    )


def parse(env: Mapping[str, str]) -> dict[str, Any]:
    """Every typed field of ``Settings`` (by field name) from the raw variables."""
    return {
        "routing_file": p.path(env, "ROUTING_FILE"),
        "triggers_file": p.path(env, "BRIDGE_TRIGGERS_FILE"),
        "public_url": p.text(env, "BRIDGE_PUBLIC_URL").rstrip("/"),
        "production": p.text(env, "BRIDGE_ENV").lower() == "production",
        "judge_mode": _judge(env),
        "low_confidence_threshold": p.number(env, "BRIDGE_LOW_CONFIDENCE_THRESHOLD"),
        "retention_days": p.integer(env, "BRIDGE_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, 1),
        "dedupe_days": p.integer(env, "BRIDGE_DEDUPE_DAYS", DEFAULT_DEDUPE_DAYS, 1),
        "users": _users(env),
        "secret_key": p.text(env, "BRIDGE_SECRET_KEY"),
        "case_link_ttl": p.duration(env, "BRIDGE_CASE_LINK_TTL", DEFAULT_CASE_LINK_TTL),
        "csat_baseline": _csat(env),
        "worker_processes": p.integer(env, "BRIDGE_WORKER_PROCESSES", 1, 1),
        "dispatch_interval": p.seconds(env, "BRIDGE_DISPATCH_INTERVAL", 0.1),
        "holding_phrases": tuple(s.lower() for s in p.listed(env, "BRIDGE_HOLDING_PHRASES", "|")) or None,
        "fetch_allow": env.get("BRIDGE_FETCH_ALLOW", ""),
        "openai": _openai(env),
        "zendesk": _zendesk(env),
        "jira": _jira(env),
        "slack": _slack(env),
        "bot_callback": BotCallbackSettings(url=env.get("BOT_CALLBACK_URL", ""),
                                            secrets=p.listed(env, "BOT_CALLBACK_SECRET")),
        "platforms": _platforms(env),
    }

"""Each vendor's settings, read once from ``bridge.config.Settings`` into a typed, frozen config.

The connectors read these instead of looking environment names up as strings; a value the
bridge cannot use raises ``ConfigError`` naming the variable when the connector is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bridge.config import ConfigError, Settings
from connectors.fetch import Network, fetch_allowlist

DEFAULT_PRIORITIES = "urgent=Highest,high=High,normal=Medium,low=Low"
DEFAULT_BLAST_RADIUS = "3=High,10=Highest"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


def _seconds(settings: Settings, name: str, default: float) -> float:
    raw = settings.get(name).strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0 or value != value:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _allowlist(settings: Settings) -> tuple[Network, ...]:
    try:
        return tuple(fetch_allowlist(settings.get("BRIDGE_FETCH_ALLOW")))
    except ValueError as exc:
        raise ConfigError(f"BRIDGE_FETCH_ALLOW must list networks (10.0.0.0/8,...): {exc}") from None


def zendesk_base(settings: Settings) -> str:
    """Where agents open tickets: ZENDESK_URL, else the subdomain's address (``bridge`` if unset)."""
    return (settings.get("ZENDESK_URL")
            or f"https://{settings.get('ZENDESK_SUBDOMAIN') or 'bridge'}.zendesk.com").rstrip("/")


def priority_map(text: str) -> dict[str, str]:
    """``JIRA_PRIORITIES``: ``urgent=Highest,...``; ``none`` sends no priority (field not on the screen)."""
    if text.strip().lower() == "none":
        return {}
    mapping: dict[str, str] = {}
    for part in (text or DEFAULT_PRIORITIES).split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() and value.strip():
            mapping[name.strip().lower()] = value.strip()
    return mapping


def blast_radius(text: str) -> list[tuple[int, str]]:
    """``JIRA_BLAST_RADIUS``: ``3=High,10=Highest`` → the priority an issue gets at N customers."""
    steps = []
    for part in (text or "").split(","):
        count, sep, name = part.partition("=")
        if sep and count.strip().isdigit() and name.strip():
            steps.append((int(count.strip()), name.strip()))
    return sorted(steps)


def field_map(text: str) -> dict[str, int]:
    """``ZENDESK_FIELD_MAP``: ``trigger=360001,completeness=360002,...`` (package fact → field id)."""
    mapping: dict[str, int] = {}
    for part in (text or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() and value.strip().isdigit():
            mapping[name.strip()] = int(value.strip())
    return mapping


@dataclass(frozen=True)
class JiraConfig:
    url: str = ""
    email: str = ""
    api_token: str = ""
    pat: str = ""  # Data Center: a personal access token instead of e-mail + API token
    project: str = ""
    issue_type: str = ""
    cloud: bool = True
    timeout: float = 20.0
    search_lag: float = 90.0
    claim_ttl: float = 600.0
    send_priority: bool = True  # JIRA_PRIORITIES=none: the priority field is not on the create screen
    priorities: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(priority_map("")))
    blast_radius: tuple[tuple[int, str], ...] = tuple(blast_radius(DEFAULT_BLAST_RADIUS))
    zendesk_url: str = "https://bridge.zendesk.com"
    public_url: str = ""
    fetch_allow: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> JiraConfig:
        deployment = settings.get("JIRA_DEPLOYMENT").strip().lower()
        priorities = settings.get("JIRA_PRIORITIES")
        return cls(
            url=settings.get("JIRA_URL").rstrip("/"), email=settings.get("JIRA_EMAIL"),
            api_token=settings.get("JIRA_API_TOKEN"), pat=settings.get("JIRA_PAT"),
            project=settings.get("JIRA_PROJECT"), issue_type=settings.get("JIRA_ISSUE_TYPE"),
            cloud=deployment == "cloud" or (not deployment and not settings.get("JIRA_PAT")),
            timeout=_seconds(settings, "JIRA_TIMEOUT", 20.0),
            search_lag=_seconds(settings, "JIRA_SEARCH_LAG", 90.0),
            claim_ttl=_seconds(settings, "JIRA_CLAIM_TTL", 600.0),
            send_priority=priorities.strip().lower() != "none",
            priorities=MappingProxyType(priority_map(priorities)),
            blast_radius=tuple(blast_radius(settings.get("JIRA_BLAST_RADIUS", DEFAULT_BLAST_RADIUS))),
            zendesk_url=zendesk_base(settings),
            public_url=settings.get("BRIDGE_PUBLIC_URL").rstrip("/"),
            fetch_allow=_allowlist(settings),
        )


@dataclass(frozen=True)
class ZendeskConfig:
    url: str = ""  # ZENDESK_URL: a proxy, a data-center install or a test server instead of the subdomain
    subdomain: str = "bridge"
    email: str = ""
    api_token: str = ""
    oauth_token: str = ""
    placeholder_email: str = ""
    fields: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    fetch_allow: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> ZendeskConfig:
        return cls(
            url=settings.get("ZENDESK_URL"), subdomain=settings.get("ZENDESK_SUBDOMAIN") or "bridge",
            email=settings.get("ZENDESK_EMAIL"), api_token=settings.get("ZENDESK_API_TOKEN"),
            oauth_token=settings.get("ZENDESK_OAUTH_TOKEN"),
            placeholder_email=settings.get("ZENDESK_PLACEHOLDER_EMAIL"),
            fields=MappingProxyType(field_map(settings.get("ZENDESK_FIELD_MAP"))),
            fetch_allow=_allowlist(settings),
        )


@dataclass(frozen=True)
class SlackConfig:
    token: str = ""
    api_url: str = DEFAULT_SLACK_API_URL  # always ends with "/"
    channel: str = "#support"

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackConfig:
        return cls(token=settings.get("SLACK_BOT_TOKEN"),
                   api_url=(settings.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL).rstrip("/") + "/",
                   channel=settings.get("SLACK_CHANNEL") or "#support")

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


def _allowlist(settings: Settings) -> tuple[Network, ...]:
    try:
        return tuple(fetch_allowlist(settings.fetch_allow))
    except ValueError as exc:
        raise ConfigError(f"BRIDGE_FETCH_ALLOW must list networks (10.0.0.0/8,...): {exc}") from None


def zendesk_base(settings: Settings) -> str:
    """Where agents open tickets: ZENDESK_URL, else the subdomain's address (``bridge`` if unset)."""
    return (settings.zendesk.url or f"https://{settings.zendesk.subdomain or 'bridge'}.zendesk.com").rstrip("/")


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
        jira = settings.jira
        radius = DEFAULT_BLAST_RADIUS if jira.blast_radius is None else jira.blast_radius
        return cls(
            url=jira.url, email=jira.email, api_token=jira.api_token, pat=jira.pat,
            project=jira.project, issue_type=jira.issue_type,
            cloud=jira.deployment == "cloud" or (not jira.deployment and not jira.pat),
            timeout=jira.timeout, search_lag=jira.search_lag, claim_ttl=jira.claim_ttl,
            send_priority=jira.priorities.strip().lower() != "none",
            priorities=MappingProxyType(priority_map(jira.priorities)),
            blast_radius=tuple(blast_radius(radius)),
            zendesk_url=zendesk_base(settings),
            public_url=settings.public_url,
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
        zendesk = settings.zendesk
        return cls(
            url=zendesk.url, subdomain=zendesk.subdomain or "bridge", email=zendesk.email,
            api_token=zendesk.api_token, oauth_token=zendesk.oauth_token,
            placeholder_email=zendesk.placeholder_email,
            fields=MappingProxyType(field_map(zendesk.field_map)),
            fetch_allow=_allowlist(settings),
        )


@dataclass(frozen=True)
class SlackConfig:
    token: str = ""
    api_url: str = DEFAULT_SLACK_API_URL  # always ends with "/"
    channel: str = "#support"

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackConfig:
        slack = settings.slack
        return cls(token=slack.bot_token, api_url=(slack.api_url or DEFAULT_SLACK_API_URL).rstrip("/") + "/",
                   channel=slack.channel or "#support")

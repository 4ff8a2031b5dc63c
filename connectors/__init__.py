"""Delivery steps and the connector that performs each.

``STEPS`` is the explicit registry of outbound steps, in the order a case runs them; ``plan``
picks the steps a decision needs. ``connector_for`` returns the live connector when its vendor is
configured and the dry-run outbox otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from bridge.config import Settings
from connectors.base import Connector, Step
from connectors.jira import build_bug
from connectors.outbox import OutboxConnector
from connectors.slack import build_alert
from connectors.zendesk import ZendeskConnector, build_link_note, build_ticket

STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step("zendesk.ticket", build_ticket),
        Step("slack.alert", build_alert, after="zendesk.ticket"),
        Step("jira.bug", build_bug, after="zendesk.ticket"),
        Step("zendesk.link", build_link_note, after="jira.bug"),
    )
}

# Which environment variables make a vendor "configured" (live instead of dry run).
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "zendesk": ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"),
    "slack": ("SLACK_BOT_TOKEN",),
    "jira": ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN"),
}
# Live connectors; a vendor without one (or without credentials) goes to the dry-run outbox.
LIVE: dict[str, type] = {"zendesk": ZendeskConnector}


def plan(trigger_ids: Iterable[str], file_jira: bool | None = None) -> list[tuple[str, str | None]]:
    """The steps of an escalation; a Jira bug for product bugs unless routing says otherwise."""
    wanted = ["zendesk.ticket", "slack.alert"]
    if file_jira if file_jira is not None else "product_bug" in set(trigger_ids):
        wanted += ["jira.bug", "zendesk.link"]
    return [(name, STEPS[name].after) for name in wanted]


def is_configured(vendor: str, settings: Settings) -> bool:
    if vendor == "zendesk" and settings.get("ZENDESK_SUBDOMAIN") and settings.get("ZENDESK_OAUTH_TOKEN"):
        return True
    return all(settings.get(name) for name in CREDENTIALS.get(vendor, ("-",)))


def connector_for(vendor: str, settings: Settings) -> Connector:
    live = LIVE.get(vendor)
    if live is not None and is_configured(vendor, settings):
        return live(settings)  # type: ignore[no-any-return]
    return OutboxConnector(vendor, settings.outbox_dir)

"""Delivery steps and the connector that performs each.

``STEPS`` is the explicit registry of outbound steps, in the order a case runs them; ``plan``
picks the steps a decision needs. ``connector_for`` returns the live connector when its vendor is
configured and the dry-run outbox otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bridge.config import Settings
from connectors.base import Connector, Step
from connectors.botcallback import BotCallbackConnector, build_accepted, build_failed
from connectors.jira import BugIndex, JiraConnector, build_bug, build_followup as build_bug_followup
from connectors.outbox import OutboxConnector
from connectors.slack import (
    SlackConnector,
    build_alert,
    build_dm,
    build_ephemeral,
    build_followup as build_thread_followup,
    build_page,
    build_thread,
    build_update,
)
from connectors.zendesk import (
    ZendeskConnector,
    build_assign,
    build_followup,
    build_link_note,
    build_note,
    build_reply,
    build_ticket,
)

STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step("zendesk.ticket", build_ticket),
        Step("slack.alert", build_alert, after="zendesk.ticket"),
        Step("slack.dm", build_dm, after="slack.alert"),
        Step("jira.bug", build_bug, after="zendesk.ticket"),
        Step("zendesk.link", build_link_note, after="jira.bug"),
        # Repeatable steps run as numbered instances ("slack.update#2"): ownership changes,
        # re-escalation pages, answers to the person who clicked.
        Step("slack.update", build_update, after="slack.alert"),
        Step("slack.page", build_page, after="slack.alert"),
        Step("slack.ephemeral", build_ephemeral),
        Step("zendesk.assign", build_assign, after="zendesk.ticket"),
        Step("bot.callback", build_accepted),
        Step("bot.failed", build_failed),
        Step("zendesk.note", build_note, after="zendesk.ticket"),
        Step("zendesk.reply", build_reply, after="zendesk.ticket"),
        Step("slack.thread", build_thread, after="slack.alert"),
        # What the customer sends after the escalation, one instance per follow-up; instance k
        # waits for k-1 (bridge.worker.followups sets each row's prerequisite), so they arrive in order.
        Step("zendesk.followup", build_followup, after="zendesk.ticket"),
        Step("slack.followup", build_thread_followup, after="slack.alert"),
        Step("jira.followup", build_bug_followup, after="jira.bug"),
    )
}


def step_for(name: str) -> Step:
    """The step of a delivery row; ``slack.update#3`` is an instance of ``slack.update``."""
    return STEPS[name.split("#", 1)[0]]

# Which environment variables make a vendor "configured" (live instead of dry run).
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "zendesk": ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"),
    "slack": ("SLACK_BOT_TOKEN",),
    "bot": ("BOT_CALLBACK_URL", "BOT_CALLBACK_SECRET"),
    "jira": ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PROJECT"),  # or JIRA_PAT instead of email+token
}
# Live connectors; a vendor without one (or without credentials) goes to the dry-run outbox.
LIVE: dict[str, type] = {
    "zendesk": ZendeskConnector,
    "slack": SlackConnector,
    "jira": JiraConnector,
    "bot": BotCallbackConnector,
}


def plan(
    trigger_ids: Iterable[str],
    file_jira: bool | None = None,
    owner: bool = False,
    ack_timeout: int | None = None,
) -> list[tuple[str, str | None, int]]:
    """The steps of an escalation as (name, prerequisite, delay in seconds).

    A Jira bug for product bugs unless routing says otherwise; a DM when someone owns the case;
    the first re-escalation page one ack timeout later (it checks, when it runs, whether anyone
    took the case, and schedules the next level itself).
    """
    wanted: list[tuple[str, str | None, int]] = [("zendesk.ticket", None, 0), ("slack.alert", "zendesk.ticket", 0)]
    if owner:
        wanted.append(("slack.dm", "slack.alert", 0))
    if file_jira if file_jira is not None else "product_bug" in set(trigger_ids):
        # The bug link goes onto the ticket and into the Slack message (updated in place).
        wanted += [("jira.bug", "zendesk.ticket", 0), ("zendesk.link", "jira.bug", 0),
                   ("slack.update#bug", "jira.bug", 0)]
    if ack_timeout:
        wanted.append(("slack.page#1", "slack.alert", ack_timeout))
    return wanted


def vendor_links(settings: Settings, refs: dict[str, Any]) -> dict[str, str]:
    """Web links to what the steps created, for the buttons and notes that point at them."""
    links: dict[str, str] = {}
    ticket = str(refs.get("zendesk.ticket") or "")
    zendesk = settings.zendesk.web_url
    if zendesk:
        links["zendesk.url"] = zendesk.rstrip("/")
    if ticket.isdigit() and zendesk:
        links["zendesk.ticket.url"] = f"{zendesk.rstrip('/')}/agent/tickets/{ticket}"
    bug = str(refs.get("jira.bug") or "")
    if bug and not bug.startswith("dry-run") and settings.jira.url:
        links["jira.bug.url"] = f"{settings.jira.url}/browse/{bug}"
    return links


def is_configured(vendor: str, settings: Settings) -> bool:
    """The vendor's credentials (``CREDENTIALS``, or their alternatives) are all set."""
    zendesk, jira = settings.zendesk, settings.jira
    if vendor == "zendesk":
        return bool(zendesk.subdomain and (zendesk.oauth_token or (zendesk.email and zendesk.api_token)))
    if vendor == "jira":  # Data Center: a personal access token instead of e-mail + API token
        return bool(jira.url and jira.project and (jira.pat or (jira.email and jira.api_token)))
    if vendor == "slack":
        return bool(settings.slack.bot_token)
    if vendor == "bot":
        return bool(settings.bot_callback.url and settings.bot_callback.secrets)
    return False


def connector_for(vendor: str, settings: Settings, bugs: BugIndex | None = None) -> Connector:
    """``bugs``: the bug index the live Jira connector files against (``bridge.worker.bug_index``)."""
    live = LIVE.get(vendor)
    if live is not None and is_configured(vendor, settings):
        if live is JiraConnector:
            if bugs is None:
                raise ValueError("the live Jira connector needs a bug index")
            return JiraConnector(settings, bugs)
        return live(settings)  # type: ignore[no-any-return]
    return OutboxConnector(vendor, settings.outbox_dir, settings)

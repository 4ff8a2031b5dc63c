"""Slack: the alert that makes one named person own the case, the DM to that person, the in-place
update, re-escalation pages and private answers; and the check of Slack's signed requests
(``POST /slack/actions``).

Split the way Sentry's integrations are: ``blocks`` (pure: the Block Kit messages, exactly as
posted), ``client`` (one method per Web API endpoint; the only module importing slack-sdk),
``policy`` (exactly once: the step's key in the message metadata, looked for before a retried
post) and ``connector`` (step action → handler).
"""

from connectors.slack.blocks import (
    build_alert,
    build_dm,
    build_ephemeral,
    build_followup,
    build_page,
    build_thread,
    build_update,
)
from connectors.slack.client import PERMANENT, verify_request
from connectors.slack.connector import ACTIONS, SlackConnector, user_name

__all__ = [
    "ACTIONS", "PERMANENT", "SlackConnector", "build_alert", "build_dm", "build_ephemeral", "build_followup",
    "build_page", "build_thread", "build_update", "user_name", "verify_request",
]

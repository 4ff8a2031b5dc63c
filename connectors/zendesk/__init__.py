"""Zendesk: one ticket per escalation carrying the whole handoff package, created exactly once,
and the notes that follow it (the Jira link, ownership changes, follow-ups, the approved reply).

Split the way Sentry's integrations are: ``build`` (pure: the requests, exactly as sent),
``client`` (one method per endpoint; the only module importing zenpy), ``connector`` (step
action → handler, with the exactly-once lookups: the ticket by ``external_id`` before a retried
create, a note by its marker before it is posted again) and ``audits`` (a ticket's audits as
plain data for the reconciler).
"""

from connectors.config import field_map
from connectors.zendesk.build import (
    BODY_LIMIT,
    Requester,
    TicketCreate,
    TicketNote,
    build_assign,
    build_followup,
    build_link_note,
    build_note,
    build_reply,
    build_ticket,
    marker,
)
from connectors.zendesk.client import ZendeskSession
from connectors.zendesk.connector import ACTIONS, ZendeskConnector

__all__ = [
    "ACTIONS", "BODY_LIMIT", "Requester", "TicketCreate", "TicketNote", "ZendeskConnector", "ZendeskSession",
    "build_assign", "build_followup", "build_link_note", "build_note", "build_reply", "build_ticket", "field_map",
    "marker",
]

"""Adapters for the events the vendors send back (``POST /events/zendesk``, ``POST /events/jira``).

Kept apart from ``bridge.adapters.ADAPTERS``, which lists the chatbot platforms.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.adapters.vendor.base import VendorAdapter
from bridge.adapters.vendor.jira import JiraEvents
from bridge.adapters.vendor.zendesk import ZendeskEvents

VENDOR_ADAPTERS: Mapping[str, VendorAdapter] = {"zendesk": ZendeskEvents(), "jira": JiraEvents()}

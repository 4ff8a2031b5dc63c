"""Names, not ids, wherever a person reads: the case list, the case page, its timeline, the outbox.

A Slack user id (``U01ANA``) or a Zendesk agent id (``9001``) becomes the member's name from the
routing file; a Slack id the roster does not know becomes the name Slack gives (``users.info``,
asked at most once a day per id and cached in ``<data dir>/cache/slack-users.json``) when a Slack
token is configured; otherwise a neutral phrase. The roster and the Slack lookup are given
(``connectors.names.people_for`` gives both): nothing here reads the routing file or calls Slack.
Customers without a name are "the customer".
Ids stay available to the page in ``title`` attributes, never as the text.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.config.settings import Settings

log = logging.getLogger("bridge.people")

SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CACHE_TTL = 24 * 3600
LOOKUP_TIMEOUT = 3.0
SOMEONE = "someone outside the roster"
CUSTOMER = "the customer"
SOURCES = {"slack": "Slack", "zendesk": "Zendesk", "jira": "Jira", "web": "the case page", "cli": "the command line",
           "connector": "", "bot": "the bot", "bridge": "the bridge"}


def looks_like_slack_id(text: str | None) -> bool:
    return bool(text and SLACK_ID.match(text))


Lookup = Callable[[str], "str | None"]  # Slack's name for a user id, or None


@dataclass
class People:
    """Resolves ids to names for one page or one outbox file (build one per request)."""

    slack: dict[str, str] = field(default_factory=dict)  # slack user id → name (routing)
    zendesk: dict[str, str] = field(default_factory=dict)  # zendesk agent id → name (routing)
    settings: Settings | None = None
    asked: set[str] = field(default_factory=set)
    lookup: Lookup | None = None  # asks Slack (with a token configured)

    @classmethod
    def of(cls, settings: Settings, routing: Any = None, lookup: Lookup | None = None) -> People:
        people = cls(settings=settings, lookup=lookup)
        for team in getattr(routing, "teams", []) or []:
            for member in team.members:
                people.slack[member.slack_user_id] = member.name
                if member.zendesk_agent_id is not None:
                    people.zendesk[str(member.zendesk_agent_id)] = member.name
        return people

    def slack_name(self, user_id: str | None) -> str:
        """``U01ANA`` → ``Ana Souza``; unknown → Slack's name for them, or a neutral phrase."""
        if not user_id:
            return "nobody"
        if user_id in self.slack:
            return self.slack[user_id]
        if not looks_like_slack_id(user_id):
            return user_id  # already a name (an owner recorded by name, a web login)
        cached = _cached(self.settings, user_id) if self.settings else None
        if cached:
            return cached
        if self.settings is not None and self.lookup is not None and user_id not in self.asked:
            self.asked.add(user_id)
            found = ask_slack(self.settings, user_id, self.lookup)
            if found:
                return found
        return SOMEONE

    def agent_name(self, agent_id: Any) -> str:
        text = str(agent_id or "")
        return self.zendesk.get(text) or ("a Zendesk agent" if text else "nobody")

    def owner(self, owner: str | None, owner_name: str | None = None) -> str:
        """The case owner: the routing's name for the id, else the recorded name when it is one."""
        if owner and owner in self.slack:
            return self.slack[owner]
        if owner_name and not looks_like_slack_id(owner_name):
            return owner_name
        return self.slack_name(owner) if owner else "nobody"

    def actor(self, actor: str | None) -> str:
        """A timeline actor (``slack:U01ANA``, ``zendesk:9001``, ``connector:zendesk``, ``bot:intercom``)."""
        source, _, who = (actor or "").partition(":")
        if not who:
            return SOURCES.get(source, source) or "the bridge"
        if source == "slack":
            return f"{self.slack_name(who)} (Slack)"
        if who == "customer":
            return f"the customer ({SOURCES.get(source, source)})"
        if source == "zendesk":
            return f"{self.agent_name(who)} (Zendesk)"
        if source == "web":
            return f"{self.slack_name(who)} (case page)"
        if source == "connector":
            return {"zendesk": "Zendesk", "slack": "Slack", "jira": "Jira", "bot": "the bot's callback"}.get(who, who)
        if source == "bot":
            return f"the bot ({who})"
        if source == "cli":
            return "the command line"
        if source == "bridge":
            return "the bridge"
        return self.slack_name(who) if looks_like_slack_id(who) else who

    def mentions(self, text: str) -> str:
        """``<@U01ANA>`` (Slack mrkdwn) → ``@Ana Souza``."""
        return re.sub(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>", lambda m: "@" + self.slack_name(m.group(1)), text)


def customer_name(customer: dict[str, Any] | None) -> str:
    customer = customer or {}
    return str(customer.get("name") or customer.get("email") or CUSTOMER)


# --- the Slack users.info cache --------------------------------------------------------------------

def _cache_path(settings: Settings) -> Path:
    return settings.data_dir / "cache" / "slack-users.json"


def _load(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads(_cache_path(settings).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _cached(settings: Settings | None, user_id: str) -> str | None:
    if settings is None:
        return None
    entry = _load(settings).get(user_id)
    if isinstance(entry, dict) and time.time() - float(entry.get("at", 0)) < CACHE_TTL:
        return str(entry.get("name") or "") or None
    return None


def remember(settings: Settings, user_id: str, name: str) -> None:
    """Keep Slack's name for an id (atomically: several web processes may write at once)."""
    path = _cache_path(settings)
    data = _load(settings)
    data[user_id] = {"name": name, "at": time.time()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".slack-users.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
    os.replace(tmp, path)


def ask_slack(settings: Settings, user_id: str, lookup: Lookup) -> str | None:
    """Slack's display name for a user the roster does not know (only with a Slack token)."""
    if not settings.slack.bot_token:
        return None
    try:
        name = lookup(user_id)
    except Exception as exc:  # a name is a nicety: never fail a page over it
        log.info("bridge.people.slack_lookup_failed", extra={"error": type(exc).__name__})
        return None
    if name:
        remember(settings, user_id, name)
    return name

"""``People`` as the pages and the outbox need them: the roster of the routing in force and Slack's
``users.info`` for ids the roster does not know (``bridge.config.people`` resolves the names)."""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from bridge.config import Settings
from bridge.config.people import LOOKUP_TIMEOUT, People
from bridge.pipeline.routing_file import routing_for
from connectors.slack import user_name

_ROUTINGS: dict[tuple[str, float], Any] = {}


def _routing(settings: Settings) -> Any:
    """The routing in force, read once per version of the file (an outbox write must not parse YAML)."""
    path = str(settings.routing_file or "")
    try:
        stamp = (path, os.stat(path).st_mtime if path else 0.0)
    except OSError:
        return None
    if stamp not in _ROUTINGS:
        try:
            _ROUTINGS.clear()
            _ROUTINGS[stamp] = routing_for(settings)
        except Exception:  # an unreadable routing file: the cache and neutral phrases still work
            return None
    return _ROUTINGS[stamp]


def _slack_name(settings: Settings, user_id: str) -> str | None:
    return user_name(settings, user_id, timeout=LOOKUP_TIMEOUT)


def people_for(settings: Settings, routing: Any = None) -> People:
    """Names for one page or one outbox file; ``routing`` (else the routing file in force) gives the roster."""
    return People.of(settings, routing if routing is not None else _routing(settings),
                     lookup=partial(_slack_name, settings))

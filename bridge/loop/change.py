"""The outcome of an ownership change (take, reassign, not mine), as a Slack click answers it.

Its own module so the web process's ORM-free take path (``bridge.web.slack_take``) and the ORM one
(``bridge.loop.ownership``) return the same type without the first importing the second.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    ok: bool
    owner: str | None  # the owner after the attempt (the winner when ``ok`` is False)
    message: str

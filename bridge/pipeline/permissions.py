"""Who may act on a case from Slack: the routing file's ``slack_permissions``.

Anyone in a Slack workspace can press a button on a post they can see, so the routing file may say
who may take, reassign (Reassign and Not mine) and approve (a drafted customer update). Each list
holds Slack user ids (``U…``/``W…``) and groups the routing file already knows: ``roster`` (every
member of every team), ``leads`` (every lead), ``team:<id>`` (that team's members). An action
without a list is open to everyone, as before. Slack's own user groups (``S…``) are not accepted:
their members are known only by asking Slack, and a click must be answered without a vendor call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

if TYPE_CHECKING:
    from bridge.pipeline.route_config import Routing

Action = Literal["take", "reassign", "approve"]
# A Slack user id, or a group the routing file defines.
Entry = Annotated[str, StringConstraints(pattern=r"^(?:[UW][A-Z0-9]{2,}|roster|leads|team:[a-z0-9][a-z0-9_-]*)$")]


class SlackPermissions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    take: list[Entry] | None = None
    reassign: list[Entry] | None = None  # Reassign and Not mine
    approve: list[Entry] | None = None  # a drafted customer update


def allows(routing: Routing, action: Action, user: str) -> bool:
    """May this Slack user do ``action``? Unknown teams name nobody: a typo never opens the door."""
    listed = getattr(routing.slack_permissions, action)
    if listed is None:
        return True
    for entry in listed:
        if entry == user:
            return True
        if entry == "roster" and any(m.key == user for t in routing.teams for m in t.members):
            return True
        if entry == "leads" and any(m.key == user and m.lead for t in routing.teams for m in t.members):
            return True
        if entry.startswith("team:"):
            team = next((t for t in routing.teams if t.id == entry[5:]), None)
            if team and any(m.key == user for m in team.members):
                return True
    return False

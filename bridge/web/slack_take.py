"""Take case from Slack, in SQLAlchemy Core on the webhooks' group-commit path (issue 19, item 5).

The click's durable record is the compare-and-set on the case (one conditional UPDATE: of two
simultaneous clicks exactly one wins), a timeline row and the delivery steps it queues (the Slack
message updated in place, the Zendesk assignee, the bot's callback; or the loser's private
"already taken"). They share the next commit of the process with the webhooks in flight, and the
click is answered once that commit is durable; the steps run in the queue workers. With RQ the
web process does not enqueue them: they are written for the dispatcher (``click_rows.HANDOVER``),
which hands them to RQ within its 100 ms pass, as it does accepted webhooks; so a click neither
loads the RQ client nor waits for Redis, and a Redis outage costs it nothing. This is what
``bridge.loop.ownership.take`` does for a take, without the ORM: the web process serving clicks
loads neither the ORM nor the connectors, and a click never reads the stored conversation.
Reassign and "Not mine" (rare, and "Not mine" needs the conversation's language) stay there.
"""

from __future__ import annotations

from typing import Any

from bridge.events import RouteInfo
from bridge.loop.change import Change
from bridge.pipeline.route_config import Member, Routing, Team
from bridge.queue import DELIVER, RQQueue
from bridge.runtime import Runtime
from bridge.store import click_rows
from bridge.store.types import PENDING

# The prerequisite of each step a take queues, as ``connectors.STEPS`` declares it (importing the
# registry would load every connector; tests/web/test_slack_clicks.py holds the two equal).
AFTER: dict[str, str | None] = {"slack.update": "slack.alert", "zendesk.assign": "zendesk.ticket",
                                "bot.callback": None, "slack.ephemeral": None}
ON_TAKE = ("slack.update", "zendesk.assign", "bot.callback")


def _member(routing: Routing, team: Team, user: str) -> Member | None:
    """The person in the case's team, else anywhere in the routing (someone from another team may
    take a case: they are still a known person with a name and a Zendesk id)."""
    found = next((m for m in team.members if m.key == user), None)
    return found or next((m for t in routing.teams for m in t.members if m.key == user), None)


def taken_route(route: dict[str, Any] | None, team: Team, routing: Routing, user: str,
                name: str | None) -> dict[str, Any]:
    """The case's route once ``user`` took it (``bridge.loop.ownership._route_with``, acknowledged)."""
    info = RouteInfo.model_validate(route) if route else RouteInfo(team=team.id, team_name=team.display_name,
                                                                   channel=team.slack_channel)
    member = _member(routing, team, user)
    return info.model_copy(update={
        "owner_slack_id": user,
        # Someone outside the roster is named as Slack names them, never by their id alone.
        "owner_name": member.name if member else (name or None),
        "zendesk_agent_id": member.zendesk_agent_id if member else None,
        "jira_account_id": member.jira_account_id if member else None,
        "owner_outside_roster": member is None,
        "no_one_on_shift": False,
        "acknowledged": True,
    }).to_json()


def take(rt: Runtime, case_id: str, user: str, channel: str | None, name: str | None = None) -> Change:
    """Take the case for ``user``; returns once the change (or the loser's answer) is committed."""
    now = rt.clock()
    routing = rt.routing()  # outside the shared commit: a reload parses the file
    # RQ: the dispatcher enqueues the steps. In process: the runner reads them from the store once woken.
    handed_over = isinstance(rt.queue, RQQueue)
    status = click_rows.HANDOVER if handed_over else PENDING

    def unit(conn: Any) -> tuple[Change, list[int]]:
        found = click_rows.take_case(conn, case_id, user, now)
        if found is None:
            return Change(False, None, "no such case"), []
        if not found.won:  # the UPDATE matched nothing, so it wrote nothing
            if found.owner == user and found.acknowledged:
                return Change(True, user, "you already have this case"), []  # a repeated click
            taken = f"already taken by <@{found.owner}>" if found.owner else f"this case is {found.status}"
            told = [click_rows.step_instance(conn, case_id, "slack.ephemeral", AFTER["slack.ephemeral"], now, {
                "channel": channel, "user": user, "text": f"Not taken: {taken}."}, status=status).id] if channel else []
            return Change(False, found.owner, taken), told
        route = taken_route(found.route, routing.team_or_default(found.team), routing, user, name)
        click_rows.set_route(conn, case_id, route)
        detail = {"owner": user, "via": "slack"} | ({"owner_name": route["owner_name"]} if route.get("owner_name")
                                                     else {})
        click_rows.add_timeline(conn, case_id, "case.acknowledged", f"slack:{user}", now, detail)
        return Change(True, user, "taken"), [
            click_rows.step_instance(conn, case_id, step, AFTER[step], now, status=status).id for step in ON_TAKE]

    change, created = rt.store.group.run_core(unit)
    if not handed_over:
        for delivery_id in created:
            rt.queue.enqueue(DELIVER, delivery_id)  # in process: wakes the runner, no I/O
    return change

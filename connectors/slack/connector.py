"""The Slack connector: post the alert, DM the owner, update the message in place, page on
re-escalation, answer privately; one handler per step action over the client and the policy."""

from __future__ import annotations

from typing import Any

from bridge.config import Settings
from connectors.base import Context, Handler, PermanentError, Result, Step, dispatch
from connectors.config import SlackConfig
from connectors.slack.client import SlackClient, classify
from connectors.slack.policy import find_posted, with_key

POST_FIELDS = ("channel", "text", "blocks", "metadata", "unfurl_links", "unfurl_media", "thread_ts",
               "reply_broadcast")


class SlackConnector:
    name = "slack"

    def __init__(self, settings: Settings, client: SlackClient | None = None) -> None:
        self.config = SlackConfig.from_settings(settings)
        self.client = client or SlackClient(self.config)

    def send(self, step: Step, request: dict[str, Any], context: Context) -> Result:
        channel = request.get("channel") or self.config.channel
        return dispatch(self, ACTIONS, step, dict(request, channel=channel), context,
                        lambda exc: classify(exc, channel))

    def post(self, request: dict[str, Any], context: Context) -> Result:
        payload = with_key({k: v for k, v in request.items() if k in POST_FIELDS and v is not None}, context.key)
        if context.attempt > 1:  # an earlier attempt may have posted before its answer was lost
            found = find_posted(self.client, payload["channel"], context.key)
            if found:
                return Result(external_id=f"{found[0]}:{found[1]}")
        channel, ts = self.client.post_message(payload)
        return Result(external_id=f"{channel}:{ts}")

    def update(self, request: dict[str, Any], context: Context) -> Result:
        if not request.get("ts"):
            raise PermanentError("no posted Slack alert to update (it may have been dry run)")
        channel, ts = self.client.update_message(
            {k: v for k, v in request.items() if k in ("channel", "ts", "text", "blocks") and v is not None})
        return Result(external_id=f"{channel}:{ts}")

    def page(self, request: dict[str, Any], context: Context) -> Result:
        """A re-escalation page: a DM to the next person, and in the alert's thread (or the channel)."""
        base = {k: request[k] for k in ("text", "blocks", "unfurl_links", "unfurl_media") if k in request}
        posted = []
        if request.get("dm"):
            posted.append(self.post({**base, "channel": request["dm"]}, _sub(context, "dm")).external_id)
        if request.get("thread_ts"):
            reply = {**base, "channel": request["channel"], "thread_ts": request["thread_ts"],
                     "reply_broadcast": bool(request.get("broadcast"))}
            posted.append(self.post(reply, _sub(context, "thread")).external_id)
        elif request.get("broadcast") or not posted:
            posted.append(self.post({**base, "channel": request["channel"]}, _sub(context, "channel")).external_id)
        return Result(external_id=" ".join(posted))

    def ephemeral(self, request: dict[str, Any], context: Context) -> Result:
        return Result(external_id=self.client.post_ephemeral(request["channel"], request["user"], request["text"]))


def user_name(settings: Settings, user_id: str, timeout: float = 3.0) -> str | None:
    """Slack's name for a user (``users.info``: display name, else real name), for the pages' names
    of people the routing file does not list. None when Slack does not know them."""
    user = SlackClient(SlackConfig.from_settings(settings), timeout=int(timeout) or 1).user(user_id)
    if user is None:
        return None
    profile = user.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name")
    return str(name)[:200] if name else None


def _sub(context: Context, part: str) -> Context:
    return Context(context.case_id, f"{context.key}.{part}", context.refs, context.attempt, context.instance)


# Step action → handler.
ACTIONS: dict[str, Handler] = {
    **dict.fromkeys(("alert", "dm", "thread", "followup"), SlackConnector.post),
    "update": SlackConnector.update,
    "page": SlackConnector.page,
    "ephemeral": SlackConnector.ephemeral,
}

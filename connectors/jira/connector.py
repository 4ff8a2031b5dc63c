"""The Jira connector: one handler per step action, over the client, the filing policy and the
pure builders. After the issue exists each part is idempotent, so a retry finishes what an
attempt began: comments carry a marker and are looked for before they are posted, remote links
use a ``globalId``, attachments are named after the case and skipped when already on the issue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bridge.config import Settings
from connectors.base import Context, Handler, PermanentError, Result, RetryableError, Step, dispatch
from connectors.config import JiraConfig
from connectors.jira.build import (
    BugComment,
    BugCreate,
    followup_comment,
    marker,
    plus_one_comment,
    rank,
    remote_links,
    target_priority,
)
from connectors.jira.client import JiraClient, classify
from connectors.jira.policy import ISSUE_KEY, BugIndex, Filed, Filing, fetch_files, note_or_raise

log = logging.getLogger("bridge.connectors.jira")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class JiraConnector:
    """Files one issue per bug fingerprint and puts every reporting customer on it, exactly once."""

    name = "jira"

    def __init__(self, settings: Settings, bugs: BugIndex, client: JiraClient | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.config = JiraConfig.from_settings(settings)
        self.client = client if client is not None else JiraClient(self.config)
        self.filing = Filing(self.client, bugs, self.config, clock)
        self.bugs = bugs

    def send(self, step: Step, request: Any, context: Context) -> Result:
        return dispatch(self, ACTIONS, step, request, context, classify)

    def file_bug(self, request: BugCreate, context: Context) -> Result:
        filed = self.filing.file(request, context)
        try:
            self._complete(filed, request, context)
        except Exception as exc:  # the issue exists: whatever failed after it, its key is not lost
            error = exc if isinstance(exc, (RetryableError, PermanentError)) else classify(exc)
            error.external_id = filed.key
            if error is exc:
                raise
            raise error from exc
        return Result(external_id=filed.key, url=self._browse(filed.key))

    def _complete(self, filed: Filed, request: BugCreate, context: Context) -> None:
        key, case = filed.key, context.case_id
        notes: list[str] = []
        state = filed.state
        if not filed.fresh and state is None:
            state = self.client.issue_state(key)
        if request.watcher:
            try:
                self.client.add_watcher(key, request.watcher)
            except Exception as exc:
                note_or_raise(exc, "watcher", notes)
        ticket = request.zendesk_ticket or context.refs.get("zendesk.ticket")
        for link in remote_links(self.config, ticket, case, request.earlier_tickets):
            try:
                self.client.add_remote_link(key, link)
            except Exception as exc:
                note_or_raise(exc, "remote link", notes)
        have = _attached(state)
        if filed.fetched is None:
            fetched, lines = fetch_files(request.evidence, self.config.fetch_allow)
        else:
            fetched, lines = filed.fetched, []
        files = [(f.name, f.text.encode()) for f in request.attachments]
        for name, content in [*files, *fetched]:
            filename = f"{case}-{name}"[:250]
            if filename in have:
                continue
            try:
                self.client.add_attachment(key, filename, content)
            except Exception as exc:
                note_or_raise(exc, f"attachment {filename}", notes)
        if not filed.creator:
            self._plus_one(key, request, ticket, context, lines)
        self._raise_priority(key, request, state, notes)
        if notes:
            log.warning("bridge.jira.incomplete", extra={"case": case, "issue": key, "notes": notes})

    def _plus_one(self, key: str, request: BugCreate, ticket: Any, context: Context, lines: list[str]) -> None:
        tag = marker(context.key)
        if any(tag in body for _, body in self.client.comments(key)):
            return
        tally = self.bugs.tally(key)
        self.client.add_comment(key, plus_one_comment(request, self.config, ticket, context.case_id, context.key,
                                                      tally.customers, tally.mrr, lines))

    def _raise_priority(self, key: str, request: BugCreate, state: dict[str, Any] | None, notes: list[str]) -> None:
        target = target_priority(self.config, request.priority, self.bugs.tally(key).customers)
        if not target or state is None:
            return  # just created: the create carried the priority
        current = (((state.get("fields") or {}).get("priority")) or {}).get("name")
        if rank(target) <= rank(current):
            return
        try:
            self.client.set_priority(key, target)
        except Exception as exc:
            note_or_raise(exc, "priority", notes)

    def add_followup(self, request: BugComment, context: Context) -> Result:
        """One comment with what the customer sent later, and its files, exactly once."""
        key = str(request.issue or context.refs.get("jira.bug") or "")
        if not ISSUE_KEY.match(key):
            raise PermanentError(f"no Jira issue to comment on ({key or 'none'})")
        tag = marker(context.key)
        if context.attempt > 1:
            for comment_id, body in self.client.comments(key):
                if tag in body:
                    return Result(external_id=f"{key}#{comment_id}", url=self._browse(key))
        fetched, lines = fetch_files(request.evidence, self.config.fetch_allow)
        if fetched:
            have = _attached(self.client.issue_state(key))
            for name, content in fetched:
                filename = f"{context.case_id}-{name}"[:250]
                if filename in have:
                    continue
                try:
                    self.client.add_attachment(key, filename, content)
                except Exception as exc:  # a refused file is listed; a transient failure retries the step
                    refused: list[str] = []
                    note_or_raise(exc, f"attachment {filename}", refused)
                    lines = [line for line in lines if not line.startswith(f"{name} (")]
                    lines.append(f"{name}: not attached: {refused[0]}")
        added = self.client.add_comment(key, followup_comment(request, context.key, lines))
        return Result(external_id=f"{key}#{added}", url=self._browse(key))

    def _browse(self, key: str) -> str:
        return f"{self.config.url}/browse/{key}"


def _attached(state: dict[str, Any] | None) -> set[str]:
    return {a.get("filename") for a in ((state or {}).get("fields") or {}).get("attachment") or []}


# Step action → handler: the request each one takes is the one its step's builder returns.
ACTIONS: dict[str, Handler] = {
    "bug": JiraConnector.file_bug,
    "followup": JiraConnector.add_followup,
}

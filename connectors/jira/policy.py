"""Exactly once: which issue a bug report goes on, and creating it at most once.

The bug index (``BugIndex``, kept by the store) maps a fingerprint to its issue. One case at a
time holds the right to create it (the claim); the others wait, then join the issue. The claim
holder records that a create was sent *before* it is sent; a retry after an ambiguous failure
(reset, timeout, 5xx) waits until Jira's search has caught up (``JIRA_SEARCH_LAG`` seconds after
the attempt, by rescheduling the job, never by sleeping) and searches the case label before it
creates again. A resolved issue is not joined: the next report files a new one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from connectors.base import Context, PermanentError, RetryableError
from connectors.config import JiraConfig
from connectors.fetch import Network
from connectors.files import EvidenceFile, fetch_evidence
from connectors.jira.build import BugCreate, issue_fields, with_attachment_notes
from connectors.jira.client import JiraClient, classify, definitely_not_created

log = logging.getLogger("bridge.connectors.jira")

ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")


@dataclass(frozen=True)
class BugClaim:
    """What the index says about a report of a bug: ``filed`` (this case is on ``issue_key``
    already), ``open`` (join ``issue_key``; None: read it again), ``mine`` (create it; an earlier
    attempt was sent at ``attempted_at``) or ``theirs`` (``claimed_by`` is creating it)."""

    state: Literal["filed", "open", "mine", "theirs"]
    issue_key: str | None = None
    creator: bool = False
    claimed_by: str | None = None
    attempted_at: datetime | None = None


@dataclass(frozen=True)
class IssueTally:
    customers: int = 1
    mrr: float = 0.0
    creators: frozenset[str] = frozenset()  # the first case of each fingerprint on the issue


class BugIndex(Protocol):
    """Fingerprint → Jira issue, with the customers on it; every call is its own transaction."""

    def claim(self, fingerprint: str, case_id: str, now: datetime, stale_after: float) -> BugClaim: ...

    def issue_of(self, fingerprint: str) -> str | None: ...

    def tally(self, issue_key: str) -> IssueTally: ...

    def add_case(self, fingerprint: str, issue_key: str, case_id: str, customer_key: str, mrr: float | None,
                 now: datetime) -> None: ...

    def mark_closed(self, issue_key: str, now: datetime) -> None: ...

    def mark_attempt(self, fingerprint: str, case_id: str, now: datetime) -> None:
        """Record that a create is about to be sent (before the POST: the answer may never come)."""

    def attempt_failed(self, fingerprint: str, case_id: str, now: datetime, permanent: bool) -> None:
        """Jira answered that it made nothing: give the claim up (permanent) or clear the attempt."""


@dataclass(frozen=True)
class Filed:
    """The issue a report went on, and what finishing it needs (each part idempotent)."""

    key: str
    creator: bool  # this case created the issue (a joiner adds a "+1 customer" comment)
    fresh: bool = False  # created just now: the create carried the priority, no state to read
    state: dict[str, Any] | None = None  # the issue as just read (status, priority, attachments)
    fetched: list[tuple[str, bytes]] | None = None  # the evidence downloaded for the create


def fetch_files(items: Sequence[EvidenceFile], allow: Sequence[Network]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Downloaded evidence as (file name, content); every item gets a line saying what happened."""
    got: list[tuple[str, bytes]] = []
    lines: list[str] = []
    for outcome in fetch_evidence(items, allow):
        if outcome.fetched is None:
            lines.append(f"{outcome.shown_url}: not attached: {outcome.refused}")
            continue
        name = re.sub(r"[^\w.-]+", "_", outcome.item.name or outcome.fetched.name)[:120] or "evidence"
        got.append((name, outcome.fetched.content))
        lines.append(f"{name} ({outcome.item.kind}): attached, from {outcome.shown_url}")
    return got, lines


def done(state: dict[str, Any]) -> bool:
    status = (state.get("fields") or {}).get("status") or {}
    return ((status.get("statusCategory") or {}).get("key") or "").lower() == "done"


class Filing:
    """Files one issue per bug fingerprint, or puts the report on the open one."""

    def __init__(self, client: JiraClient, bugs: BugIndex, config: JiraConfig, clock: Callable[[], datetime]) -> None:
        self.client, self.bugs, self.config, self.clock = client, bugs, config, clock

    def file(self, request: BugCreate, context: Context) -> Filed:
        case = context.case_id
        fp = request.fingerprint
        key_in_map = fp.value if fp else f"case:{case}"
        known = str(context.refs.get("jira.bug") or "")
        if ISSUE_KEY.match(known):  # a replay of a step that already filed or joined its issue
            return Filed(known, case in self.bugs.tally(known).creators)
        for _ in range(2):
            claim = self.bugs.claim(key_in_map, case, self.clock(), self.config.claim_ttl)
            if claim.state == "filed" and claim.issue_key:
                return Filed(claim.issue_key, claim.creator)
            if claim.state == "open":
                open_key = claim.issue_key or self._open_key(key_in_map)
                state = self.client.issue_state(open_key)
                if done(state):  # resolved meanwhile: a new report files a new issue
                    self.bugs.mark_closed(open_key, self.clock())
                    continue
                self._join(key_in_map, open_key, request, context)
                return Filed(open_key, False, state=state)
            if claim.state == "theirs":
                wait = max(10.0, min(self.config.search_lag, 60.0))
                raise RetryableError(f"case {claim.claimed_by} is filing the Jira issue for this bug; this case "
                                     "joins it once it exists", retry_after=wait)
            return self._create(key_in_map, claim.attempted_at, fp.label if fp else None, request, context)
        raise RetryableError("the Jira issue for this bug changed state twice; trying again")

    def _open_key(self, key_in_map: str) -> str:
        key = self.bugs.issue_of(key_in_map)
        if not key:
            raise RetryableError("the bug fingerprint changed while it was read")
        return key

    def _join(self, key_in_map: str, key: str, request: BugCreate, context: Context) -> None:
        self.bugs.add_case(key_in_map, key, context.case_id, request.reporter.key or f"case:{context.case_id}",
                           request.reporter.mrr, self.clock())

    def _create(self, key_in_map: str, attempted_at: datetime | None, fp_label: str | None,
                request: BugCreate, context: Context) -> Filed:
        case = context.case_id
        if attempted_at is not None:
            # An earlier create may have reached Jira although its answer never came back.
            waited = (self.clock() - attempted_at).total_seconds()
            if waited < self.config.search_lag:
                raise RetryableError("an earlier create may have succeeded; waiting for Jira's search to catch up "
                                     "before looking for it", retry_after=self.config.search_lag - waited)
            found = self._search(case, fp_label)
            if found is not None:
                key, labels = found
                self._join(key_in_map, key, request, context)
                return Filed(key, f"rb-{case}" in labels)
        fields = issue_fields(request, self.config, case)
        fetched, lines = fetch_files(request.evidence, self.config.fetch_allow)
        if lines:
            fields["description"] = with_attachment_notes(fields["description"], lines)
        self.bugs.mark_attempt(key_in_map, case, self.clock())
        try:
            key = self.client.create_issue(fields)
        except Exception as exc:
            error = classify(exc)
            if definitely_not_created(exc):
                self.bugs.attempt_failed(key_in_map, case, self.clock(), isinstance(error, PermanentError))
            raise error from exc
        self._join(key_in_map, key, request, context)
        log.info("bridge.jira.created", extra={"case": case, "issue": key})
        return Filed(key, True, fresh=True, fetched=fetched)

    def _search(self, case: str, fp_label: str | None) -> tuple[str, list[str]] | None:
        """The issue an earlier attempt made (its case label), or the open one for the fingerprint."""
        jql = f'labels = "rb-{case}"'
        if fp_label:
            jql += f' OR (labels = "{fp_label}" AND statusCategory != Done)'
        issues = self.client.search(jql + " ORDER BY created ASC")
        mine = [i for i in issues if f"rb-{case}" in ((i.get("fields") or {}).get("labels") or [])]
        chosen = (mine or issues or [None])[0]
        if chosen is None:
            return None
        return str(chosen["key"]), list((chosen.get("fields") or {}).get("labels") or [])


def note_or_raise(exc: BaseException, what: str, notes: list[str]) -> None:
    """A refused extra (unknown watcher, file too large) is noted; a transient failure retries the step."""
    error = classify(exc, what)
    if isinstance(error, PermanentError):
        notes.append(str(error))
        return
    raise error from exc


"""Jira events: a linked bug resolved or its fix version released → every linked case hears of it.

For each case linked to the issue (``cases.refs["jira.bug"]``, several tickets may share a bug):
a ``jira.resolved`` / ``jira.released`` timeline entry, an internal Zendesk note and a Slack thread
post (recorded in ``case_notes`` as ``intended`` until their delivery steps send them), and a
customer update drafted for the owner (``update.drafted``), never sent without approval.

The draft goes out on release; on resolution only when the issue has no fix version (nothing
else to wait for). Each (case, kind, issue/version) is recorded once, so Jira's retries and
repeated ``issue_updated`` events change nothing.

The changes arrive typed (``IssueChanged``, ``VersionReleased``): ``bridge.adapters.vendor.jira``
reads Jira's payloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bridge.adapters.vendor.changes import Change, IssueChanged, VersionReleased
from bridge.events import Event
from bridge.loop.outcome import Outcome
from bridge.loop.ownership import enqueue, follow_up
from bridge.runtime import Runtime
from bridge.store import loop_repo, loop_state, repo
from bridge.store.db import Session
from bridge.store.models import DRAFTED, INTENDED, NOTE_SLACK, NOTE_UPDATE, NOTE_ZENDESK, CaseRow, JiraIssueRow


def apply_jira(rt: Runtime, s: Session, changes: Sequence[Change]) -> Outcome:
    outcome = Outcome()
    for change in changes:
        if isinstance(change, VersionReleased):
            outcome.results += _version_released(rt, s, change).results
        elif isinstance(change, IssueChanged):
            outcome.results += _issue_changed(rt, s, change).results
    return outcome


def _version_released(rt: Runtime, s: Session, change: VersionReleased) -> Outcome:
    now = rt.clock()
    vid, name, at, actor = change.id, change.name, change.at or now, f"jira:{change.actor}"
    # Remembered first: an issue that joins the version later still hears of it (see below).
    loop_repo.record_release(s, vid or name, name, at)
    outcome = Outcome()
    for listed in sorted(loop_repo.issues_with_version(s, vid, name), key=lambda r: r.key):
        issue = loop_repo.jira_issue(s, listed.key, now)  # locked and re-read, in key order
        outcome.results.append(_released(s, issue, vid or name, name, at, actor))
    return outcome if outcome.results else Outcome(["unknown_version"])


def _issue_changed(rt: Runtime, s: Session, change: IssueChanged) -> Outcome:
    now = rt.clock()
    at, actor = change.at or now, f"jira:{change.actor}"
    if not loop_repo.cases_for_issue(s, change.key):
        return Outcome(["unknown_issue"])
    issue = loop_repo.jira_issue(s, change.key, now)
    loop_state.set_fix_versions(issue, [{"id": v.id, "name": v.name} for v in change.fix_versions], now)
    outcome = Outcome()
    if change.resolved is True and issue.resolved_at is None:
        loop_state.resolve_issue(issue, change.resolution[:200], change.resolved_at or at)
        outcome.results.append(_resolved(s, issue, actor))
    elif change.resolved is False and issue.resolved_at is not None:
        loop_state.resolve_issue(issue, None, None)  # reopened in Jira: a later resolve counts again
    # Released: as the update says, or announced before this update reached us (Jira sends
    # version_released and issue_updated independently, and either may come first).
    announced = loop_repo.released_versions(s, issue.fix_versions)
    for version in change.fix_versions:
        vid = version.id or version.name
        if version.released or vid in announced:
            outcome.results.append(_released(s, issue, vid, version.name or vid, announced.get(vid) or at, actor))
    return outcome if outcome.results else Outcome(["no_change"])


def _customer_update(case: CaseRow, key: str, version: str | None) -> str:
    event = Event.from_json(case.event) if case.event else None
    name = (event.customer.name or "").split(" ")[0] if event and event.customer and event.customer.name else ""
    topic = ((case.summary or {}).get("suggested_topic") or "the problem you reported").strip()
    shipped = f" and the fix is released in version {version}" if version else ""
    return (f"Hi{' ' + name if name else ''}, an update on {topic}: our engineers have fixed it{shipped}. "
            "Could you try again and tell us if it works for you now? Just reply to this message if anything "
            f"is still wrong. (ref {key})")


def _notify(s: Session, case: CaseRow, reason: str, note: str, draft: str | None, at: datetime) -> None:
    """Record each note once per reason, and queue its delivery (a redelivered event adds nothing)."""
    draft_id = loop_repo.add_note(s, case.id, NOTE_UPDATE, reason, draft, DRAFTED, at) if draft else None
    if draft_id:
        repo.add_timeline(s, case.id, "update.drafted", "bridge:loop", at, {"text": draft, "by": "bridge:loop"})
    if loop_repo.add_note(s, case.id, NOTE_ZENDESK, reason, note, INTENDED, at):
        follow_up(s, case.id, ["zendesk.note"], at, payload={"text": note})
    if loop_repo.add_note(s, case.id, NOTE_SLACK, reason, note, INTENDED, at):
        follow_up(s, case.id, ["slack.thread"], at, payload={"text": note, "draft": draft, "draft_id": draft_id})


def _resolved(s: Session, issue: JiraIssueRow, actor: str) -> str:
    at = issue.resolved_at or datetime.now(UTC)
    reason = f"jira.resolved:{issue.key}"
    for case in loop_repo.cases_for_issue(s, issue.key):
        repo.add_timeline(s, case.id, "jira.resolved", actor, at, {"key": issue.key, "resolution": issue.resolution})
        note = f"Jira {issue.key} was resolved ({issue.resolution}). Owner: review the drafted customer update."
        draft = None if issue.fix_versions else _customer_update(case, issue.key, None)
        _notify(s, case, reason, note, draft, at)
    return "applied"


def _released(s: Session, issue: JiraIssueRow, vid: str, name: str, at: datetime, actor: str) -> str:
    if not loop_state.mark_released(issue, vid):
        return "duplicate"
    reason = f"jira.released:{issue.key}:{vid}"
    for case in loop_repo.cases_for_issue(s, issue.key):
        repo.add_timeline(s, case.id, "jira.released", actor, at, {"key": issue.key, "version": name})
        note = f"The fix for Jira {issue.key} is released in {name}. Owner: approve the customer update."
        _notify(s, case, reason, note, _customer_update(case, issue.key, name), at)
    return "applied"


def approve_update(rt: Runtime, note_id: int, by: str) -> str | None:
    """The owner approves a drafted customer update (the Slack button calls this): ``update.sent``.

    Returns the approved text, or None when the draft is unknown or was already approved. Sending
    it to the customer is the ``zendesk.update`` delivery step's job (a public reply)."""
    now = rt.clock()

    def unit(s: Session) -> tuple[str, str, list[str]] | None:
        note = loop_repo.approve_draft(s, note_id, by, now)
        if note is None:
            return None
        repo.add_timeline(s, note.case_id, "update.sent", by, now, {"text": note.text, "by": by})
        return note.text, note.case_id, follow_up(s, note.case_id, ["zendesk.reply"], now, payload={"text": note.text})

    done = rt.store.group.run(unit)
    if done is None:
        return None
    text, case_id, created = done
    enqueue(rt, case_id, created)
    return text

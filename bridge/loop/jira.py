"""Jira events: a linked bug resolved or its fix version released → every linked case hears of it.

For each case linked to the issue (``cases.refs["jira.bug"]``, several tickets may share a bug):
a ``jira.resolved`` / ``jira.released`` timeline entry, an internal Zendesk note and a Slack thread
post (recorded in ``case_notes`` as ``intended`` until their delivery steps send them), and a
customer update drafted for the owner (``update.drafted``), never sent without approval.

The draft goes out on release; on resolution only when the issue has no fix version (nothing
else to wait for). Each (case, kind, issue/version) is recorded once, so Jira's retries and
repeated ``issue_updated`` events change nothing.

Payloads (Jira Cloud webhooks): ``jira:issue_updated`` / ``jira:issue_created`` with ``issue``
{``key``, ``fields`` {``resolution``, ``resolutiondate``, ``fixVersions``}}, ``user``,
``timestamp`` (ms); ``jira:version_released`` with ``version`` {``id``, ``name``}.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from bridge.events import Event
from bridge.loop.outcome import Outcome
from bridge.loop.ownership import enqueue, follow_up
from bridge.loop.replies import parse_time
from bridge.runtime import Runtime
from bridge.store import loop_repo, repo
from bridge.store.models import DRAFTED, INTENDED, NOTE_SLACK, NOTE_UPDATE, NOTE_ZENDESK, CaseRow, JiraIssueRow


def _when(data: dict[str, Any], fallback: datetime) -> datetime:
    stamp = data.get("timestamp")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return fallback


def _actor(data: dict[str, Any]) -> str:
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    return f"jira:{user.get('accountId') or user.get('name') or 'webhook'}"


def apply_jira(rt: Runtime, s: Session, data: dict[str, Any]) -> Outcome:
    kind = str(data.get("webhookEvent") or "")
    now = rt.clock()
    if kind == "jira:version_released":
        version = data.get("version") if isinstance(data.get("version"), dict) else {}
        vid, name = str(version.get("id") or ""), str(version.get("name") or "")
        if not vid and not name:
            return Outcome(["no_version"])
        # Remembered first: an issue that joins the version later still hears of it (see below).
        loop_repo.record_release(s, vid or name, name, _when(data, now))
        outcome = Outcome()
        for listed in sorted(loop_repo.issues_with_version(s, vid, name), key=lambda r: r.key):
            issue = loop_repo.jira_issue(s, listed.key, now)  # locked and re-read, in key order
            outcome.results.append(_released(s, issue, vid or name, name, _when(data, now), _actor(data)))
        return outcome if outcome.results else Outcome(["unknown_version"])
    if kind not in ("jira:issue_updated", "jira:issue_created"):
        return Outcome(["unsupported_event"])
    issue_data = data.get("issue") if isinstance(data.get("issue"), dict) else {}
    key = str(issue_data.get("key") or "")
    if not key or not loop_repo.cases_for_issue(s, key):
        return Outcome(["unknown_issue"])
    fields = issue_data.get("fields") if isinstance(issue_data.get("fields"), dict) else {}
    issue = loop_repo.jira_issue(s, key, now)
    versions = [v for v in fields.get("fixVersions") or [] if isinstance(v, dict)]
    issue.fix_versions = [{"id": str(v.get("id") or ""), "name": str(v.get("name") or "")} for v in versions]
    issue.updated_at = now
    outcome = Outcome()
    resolution = fields.get("resolution")
    if isinstance(resolution, dict) and issue.resolved_at is None:
        issue.resolution = str(resolution.get("name") or "Resolved")[:200]
        issue.resolved_at = parse_time(fields.get("resolutiondate")) or _when(data, now)
        outcome.results.append(_resolved(s, issue, _actor(data)))
    elif resolution is None and issue.resolved_at is not None:
        issue.resolution, issue.resolved_at = None, None  # reopened in Jira: a later resolve counts again
    # Released: as the update says, or announced before this update reached us (Jira sends
    # version_released and issue_updated independently, and either may come first).
    announced = loop_repo.released_versions(s, issue.fix_versions)
    for version in versions:
        vid = str(version.get("id") or version.get("name") or "")
        if version.get("released") is True or vid in announced:
            outcome.results.append(_released(s, issue, vid, str(version.get("name") or vid),
                                             announced.get(vid) or _when(data, now), _actor(data)))
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
    if vid in (issue.released or []):
        return "duplicate"
    issue.released = [*(issue.released or []), vid]
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
    from sqlalchemy import update as sql_update

    from bridge.store.models import APPROVED, CaseNoteRow

    now = rt.clock()

    def unit(s: Session) -> tuple[str, str, list[str]] | None:
        took = s.execute(
            sql_update(CaseNoteRow)
            .where(CaseNoteRow.id == note_id, CaseNoteRow.kind == NOTE_UPDATE, CaseNoteRow.status == DRAFTED)
            .values(status=APPROVED, by=by, updated_at=now)
        ).rowcount
        if not took:
            return None
        note = s.get(CaseNoteRow, note_id)
        assert note is not None
        repo.add_timeline(s, note.case_id, "update.sent", by, now, {"text": note.text, "by": by})
        return note.text, note.case_id, follow_up(s, note.case_id, ["zendesk.reply"], now, payload={"text": note.text})

    done = rt.store.group.run(unit)
    if done is None:
        return None
    text, case_id, created = done
    enqueue(rt, case_id, created)
    return text

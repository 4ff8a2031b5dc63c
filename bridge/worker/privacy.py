"""Data kept, and data forgotten: retention purge and per-customer erasure.

What a purge or an erasure removes from a case: the raw payloads and headers of its inbox rows,
the transcript, customer profile, evidence and handoff text of the conversation, the summary, the
evidence quotes and follow-up texts in its timeline, the follow-ups waiting in its delivery steps, and
its dry-run outbox folder. What it keeps: ids, timestamps,
status, triggers, priority, team and owner, so the recovery metrics keep their aggregates. Copies
the vendors hold (Zendesk tickets, Jira issues, Slack messages) are listed for the operator: the
bridge does not delete other systems' records.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bridge.config.sections import DEFAULT_RETENTION_DAYS
from bridge.runtime import Runtime
from bridge.store import erasure, repo
from bridge.store.models import CaseRow

VENDOR_REFS = ("zendesk.ticket", "jira.bug", "slack.alert", "slack.dm")


@dataclass
class Report:
    cases: list[str] = field(default_factory=list)
    inbox_rows: int = 0
    inbox_deleted: int = 0
    outbox_folders: int = 0
    summary_files: int = 0
    vendor_copies: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"cases scrubbed: {len(self.cases)}", f"inbox rows scrubbed: {self.inbox_rows}",
               f"inbox rows past the dedupe window deleted: {self.inbox_deleted}",
               f"outbox folders removed: {self.outbox_folders}", f"summary cache files removed: {self.summary_files}"]
        if self.vendor_copies:
            out.append("copies held by vendors (delete them there):")
            out += [f"  {ref}" for ref in self.vendor_copies]
        return out


def _scrub_case(s: Any, case: CaseRow, report: Report, rt: Runtime) -> None:
    refs = case.refs or {}
    report.vendor_copies += [f"{case.id} {name}: {refs[name]}" for name in VENDOR_REFS
                             if refs.get(name) and not str(refs[name]).startswith("dry-run")]
    report.inbox_rows += erasure.scrub_case(s, case)
    folder = rt.settings.outbox_dir / case.id
    if folder.exists():
        shutil.rmtree(folder)
        report.outbox_folders += 1
    report.cases.append(case.id)


def purge(rt: Runtime, days: int = DEFAULT_RETENTION_DAYS) -> Report:
    """Scrub cases untouched for ``days`` that no human is still working on."""
    cutoff = rt.clock() - timedelta(days=days)
    report = Report()
    with rt.store.session() as s:
        for case in erasure.idle_cases(s, cutoff):
            if (case.event or {}).get("conversation", {}).get("messages") or case.summary or case.customer_email:
                _scrub_case(s, case, report, rt)
        report.inbox_rows += erasure.scrub_caseless_inbox(s, cutoff, report.cases)
        s.commit()
    report.inbox_deleted = delete_past_dedupe(rt)
    report.summary_files = _purge_files(rt.settings.data_dir / "cache" / "summary", cutoff)
    return report


def delete_past_dedupe(rt: Runtime, batch: int = 5000) -> int:
    """Delete processed inbox rows older than the dedupe window, a batch per transaction (a long
    delete would hold SQLite's write lock against intake)."""
    cutoff = rt.clock() - timedelta(days=dedupe_days(rt))
    deleted = 0
    while True:
        with rt.store.session() as s:
            n = repo.delete_old_inbox(s, cutoff, batch)
            s.commit()
        deleted += n
        if n < batch:
            return deleted


def _purge_files(folder: Any, cutoff: datetime) -> int:
    if not folder.exists():
        return 0
    removed = 0
    for path in folder.glob("*.json"):
        if path.stat().st_mtime < cutoff.timestamp():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def forget(rt: Runtime, emails: Iterable[str] = (), customer_ids: Iterable[str] = ()) -> Report:
    """Erase one customer's personal data from the store and the outbox."""
    emails = [e.strip().lower() for e in emails if e.strip()]
    ids = [i.strip() for i in customer_ids if i.strip()]
    report = Report()
    with rt.store.session() as s:
        for case in erasure.cases_of_customer(s, emails, ids):
            _scrub_case(s, case, report, rt)
        s.commit()
    return report





def dedupe_days(rt: Runtime) -> int:
    """How long an accepted event's row is kept so that a redelivery is answered as a duplicate."""
    return rt.settings.dedupe_days


def retention_days(rt: Runtime) -> int:
    return rt.settings.retention_days

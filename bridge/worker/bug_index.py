"""The Jira connector's bug index (``connectors.jira.BugIndex``) over the store's
``bug_fingerprints`` rows (``bridge.store.bugs``): each call is one transaction. The worker gives
it to the connector, so the store never imports a connector."""

from __future__ import annotations

from datetime import datetime

from bridge.store import bugs
from bridge.store.db import Store
from connectors.jira import BugClaim, IssueTally


class StoreBugIndex:
    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(self, fingerprint: str, case_id: str, now: datetime, stale_after: float) -> BugClaim:
        with self.store.session() as s:
            row = bugs.get(s, fingerprint)
            if row is not None and row.issue_key and case_id in row.case_ids:
                return BugClaim("filed", row.issue_key, creator=row.case_ids[0] == case_id)
            claim = bugs.claim(s, fingerprint, case_id, now, stale_after)
            s.commit()
            if claim is None:
                return BugClaim("open", row.issue_key if row is not None else None)
            if claim.mine:
                return BugClaim("mine", attempted_at=claim.row.attempted_at)
            return BugClaim("theirs", claimed_by=claim.row.claimed_by)

    def issue_of(self, fingerprint: str) -> str | None:
        with self.store.session() as s:
            row = bugs.get(s, fingerprint)
            return row.issue_key if row is not None else None

    def tally(self, issue_key: str) -> IssueTally:
        with self.store.session() as s:
            rows = bugs.by_issue(s, issue_key)
            return IssueTally(customers=max((r.customers for r in rows), default=1),
                              mrr=max((r.mrr for r in rows), default=0.0),
                              creators=frozenset(r.case_ids[0] for r in rows if r.case_ids))

    def add_case(self, fingerprint: str, issue_key: str, case_id: str, customer_key: str, mrr: float | None,
                 now: datetime) -> None:
        with self.store.session() as s:
            bugs.add_case(s, fingerprint, issue_key, case_id, customer_key, mrr, now)
            s.commit()

    def mark_closed(self, issue_key: str, now: datetime) -> None:
        with self.store.session() as s:
            bugs.mark_closed(s, issue_key, now)
            s.commit()

    def mark_attempt(self, fingerprint: str, case_id: str, now: datetime) -> None:
        with self.store.session() as s:
            bugs.mark_attempt(s, fingerprint, case_id, now)
            s.commit()

    def attempt_failed(self, fingerprint: str, case_id: str, now: datetime, permanent: bool) -> None:
        with self.store.session() as s:
            if permanent:
                bugs.release(s, fingerprint, case_id)
            else:
                bugs.clear_attempt(s, fingerprint, case_id, now)
            s.commit()

"""The recovery report's facts, judged once per case and reused while the case is unchanged.

Judging a case reads its whole transcript (completeness, topics, the bug fingerprint, its words),
which over months of history costs far more than the report itself; ``case_facts`` keeps each
judgment with the stamp it was made under (``facts_repo.stamps``) and only cases whose stamp moved
are judged again. Linking (duplicates, repeat contacts) spans cases, so it is never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bridge.store import facts_repo
from bridge.store.models import CaseRow, KbSuggestionRow, TimelineRow

if TYPE_CHECKING:  # the session is only handed on to store functions
    from bridge.store.db import Session

VERSION = "f1"  # bump when ``facts.judge`` or ``CaseFacts`` change: every cached judgment is redone

Judge = Callable[[CaseRow, Sequence[TimelineRow], KbSuggestionRow | None], Any]


def to_json(facts: Any) -> dict[str, Any]:
    data = asdict(facts)
    data["created_at"] = facts.created_at.isoformat()
    data["solves"] = [at.isoformat() for at in facts.solves]
    for name in ("customer", "triggers"):
        data[name] = list(data[name])
    for name in ("topics", "words"):
        data[name] = sorted(data[name])
    return data


def from_json(data: dict[str, Any], cls: type[Any]) -> Any:
    return cls(**{**data,
                  "created_at": datetime.fromisoformat(data["created_at"]),
                  "solves": tuple(datetime.fromisoformat(at) for at in data["solves"]),
                  "customer": tuple(data["customer"]), "triggers": tuple(data["triggers"]),
                  "topics": frozenset(data["topics"]), "words": frozenset(data["words"])})


def facts_since(session: Session, lower: datetime, kinds: Sequence[str], judge: Judge, cls: type[Any]) -> list[Any]:
    """Unlinked facts of every case created at or after ``lower``, oldest first."""
    stamps = facts_repo.stamps(session, lower, kinds, VERSION)
    cached = facts_repo.cached(session, lower)
    out: dict[str, Any] = {}
    stale = []
    for case_id, (_, stamp) in stamps.items():
        hit = cached.get(case_id)
        if hit is not None and hit[0] == stamp:
            out[case_id] = from_json(hit[1], cls)
        else:
            stale.append(case_id)
    fresh = []
    for case, timeline, kb in facts_repo.cases_with_history(session, stale, kinds):
        facts = judge(case, timeline, kb)
        out[case.id] = facts
        fresh.append((case.id, stamps[case.id][0], stamps[case.id][1], to_json(facts)))
    if fresh:
        facts_repo.save(session, fresh)
    return sorted(out.values(), key=lambda f: (f.created_at, f.id))

"""The recovery report's facts, judged once per case and reused while the case is unchanged.

Judging a case reads its whole transcript (completeness, topics, the bug fingerprint, its words),
which over months of history costs far more than the report itself; ``case_facts`` keeps each
judgment with the stamp it was made under (``facts_repo.judged``) and only cases whose stamp moved
are judged again. Linking (duplicates, repeat contacts) spans cases, so it is never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from bridge.store import facts_repo
from bridge.store.models import CaseRow, KbSuggestionRow, TimelineRow

if TYPE_CHECKING:  # the session is only handed on to store functions
    from bridge.store.db import Session

VERSION = "f2"  # bump when ``facts.judge`` or ``CaseFacts`` change: every cached judgment is redone

Judge = Callable[[CaseRow, Sequence[TimelineRow], KbSuggestionRow | None], Any]

# A judgment is kept as a JSON array in the order of the class's fields (f2; f1 kept an object):
# a report over 100,000 cases decodes and builds one per case, and field names in every row
# doubled the decoding. The fields below are stored in a JSON form and converted back.
_OUT: dict[str, Callable[[Any], Any]] = {
    "created_at": datetime.isoformat,
    "solves": lambda times: [at.isoformat() for at in times],
    "customer": list, "triggers": list, "topics": sorted, "words": sorted,
}
_IN: dict[str, Callable[[Any], Any]] = {
    "created_at": datetime.fromisoformat,
    "solves": lambda times: tuple(map(datetime.fromisoformat, times)),
    "customer": tuple, "triggers": tuple, "topics": frozenset, "words": frozenset,
}


@cache
def _names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@cache
def _converters(cls: type[Any]) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    return tuple((i, _IN[name]) for i, name in enumerate(_names(cls)) if name in _IN)


def to_json(facts: Any) -> list[Any]:
    out = []
    for name in _names(type(facts)):
        value = getattr(facts, name)
        out.append(_OUT[name](value) if name in _OUT else value)
    return out


def from_json(data: list[Any], cls: type[Any]) -> Any:
    values = list(data)
    for i, convert in _converters(cls):
        values[i] = convert(values[i])
    return cls(*values)


def facts_since(session: Session, lower: datetime, kinds: Sequence[str], judge: Judge, cls: type[Any],
                upper: datetime | None = None) -> list[Any]:
    """Unlinked facts of every case created in [lower, upper) (no upper bound when None), oldest first."""
    out: dict[str, Any] = {}
    stale: dict[str, tuple[datetime, str]] = {}
    for case_id, created, stamp, facts in facts_repo.judged(session, lower, kinds, VERSION, upper):
        if facts is not None:
            out[case_id] = from_json(facts, cls)
        else:
            stale[case_id] = (created, stamp)
    fresh = []
    for case, timeline, kb in facts_repo.cases_with_history(session, list(stale), kinds):
        facts = judge(case, timeline, kb)
        out[case.id] = facts
        fresh.append((case.id, *stale[case.id], to_json(facts)))
    if fresh:
        facts_repo.save(session, fresh)
    return sorted(out.values(), key=lambda f: (f.created_at, f.id))

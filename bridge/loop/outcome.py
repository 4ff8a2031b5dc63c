"""What applying one vendor delivery did, and the slow follow-ups that run after its commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bridge.loop import kb
from bridge.runtime import Runtime

log = logging.getLogger("bridge.loop")


@dataclass
class Outcome:
    """What applying one delivery did: the row's ``result`` and follow-ups to run after commit."""

    results: list[str] = field(default_factory=list)
    kb_cases: list[str] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return "applied" in self.results

    @property
    def result(self) -> str:
        if not self.results:
            return "no_change"
        return ",".join(sorted(set(self.results)))[:200]


def after_commit(rt: Runtime, outcome: Outcome) -> None:
    """Slow follow-ups (a KB draft may call an LLM) run outside the transaction, each idempotent."""
    for case_id in outcome.kb_cases:
        try:
            kb.suggest_for_case(rt, case_id)
        except Exception:  # the next solve or `bridge kb` can draft it again; never fail the event
            log.exception("bridge.loop.kb_suggest_failed", extra={"case": case_id})

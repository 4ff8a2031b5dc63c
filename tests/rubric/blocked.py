"""Rubric facts that fail for a reason outside the handoff package, each with that reason.

Only the trigger engine (issue 15: bridge/pipeline/triggers*, triage.py) decides whether a
conversation is escalated and whether it is a product bug; this work does not touch it. Facts listed
here are expected to fail today and reported as such in docs/handoff-rubric.md; they are run as
non-strict xfails, so the suite passes, and an xpass shows in the test summary the day the engine
catches these conversations (then delete the entry). Nothing here changes what the product does.
"""

from __future__ import annotations

# scenario -> (the places whose facts are blocked, why)
BLOCKED: dict[str, tuple[tuple[str, ...], str]] = {}  # none today: the learned judge catches 06 and 07


def blocked(scenario: str, check: dict[str, object]) -> str | None:
    """Why this fact cannot hold yet, or None. A must_not_contain fact is never blocked: something that
    is not sent cannot leak."""
    places, why = BLOCKED.get(scenario, ((), ""))
    return why if check.get("where") in places and "must_not_contain" not in check else None

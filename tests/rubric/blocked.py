"""Rubric facts that fail for a reason outside the handoff package, each with that reason.

Only the trigger engine (issue 15: bridge/pipeline/triggers*, triage.py) decides whether a
conversation is escalated and whether it is a product bug; this work does not touch it. Facts listed
here are expected to fail today and reported as such in docs/handoff-rubric.md; they are run as
non-strict xfails, so the suite passes, and an xpass shows in the test summary the day the engine
catches these conversations (then delete the entry). Nothing here changes what the product does.
"""

from __future__ import annotations

# scenario -> (the places whose facts are blocked, why)
BLOCKED: dict[str, tuple[tuple[str, ...], str]] = {
    "06-duplicate-card-charge": (
        ("ticket", "alert"),
        "the trigger engine does not escalate this conversation (\"Then get me someone who can. I want the "
        "second €249 back today.\" is neither customer_requested_human nor billing_exception to it), so no "
        "ticket or alert exists; issue 15 (trigger recall)",
    ),
    "07-plain-words-bug-screenshot-only": (
        ("bug",),
        "the bot hands off a bug told in plain words with only a photo; the engine files it as bot_handoff, "
        "not product_bug, and the evidence holds no error to prove a failure, so no Jira bug is filed; "
        "issue 15 (\"bugs told in plain words ... a failure shown only in an attachment\")",
    ),
}


def blocked(scenario: str, check: dict[str, object]) -> str | None:
    """Why this fact cannot hold yet, or None. A must_not_contain fact is never blocked: something that
    is not sent cannot leak."""
    places, why = BLOCKED.get(scenario, ((), ""))
    return why if check.get("where") in places and "must_not_contain" not in check else None

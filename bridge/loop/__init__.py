"""Closing the loop: what happens after the handoff, from the vendors and the people back to the case.

* ``jobs``: the queue entry points (``process_vendor_event``, ``reconcile_ticket``).
* ``zendesk`` / ``jira``: typed ticket and issue changes applied to cases (``docs/timeline.md``).
* ``replies``: judgments on a Zendesk comment (a human reply? a holding one? a re-ask?).
* ``reconcile``: what the Zendesk webhooks missed, read back from the ticket's audits.
* ``ownership``: take, reassign and re-escalation; ``kb``: knowledge-base suggestions.
"""

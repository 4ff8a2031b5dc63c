"""Moved to ``connectors.zendesk.audits``; kept for ``bridge.loop_reconcile`` and ``bridge.loop_zendesk``
until their move into ``bridge/loop/`` (issue 18) imports it from there."""

from connectors.zendesk.audits import Audit, AuditRead, audits_after

__all__ = ["Audit", "AuditRead", "audits_after"]

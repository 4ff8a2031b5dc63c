"""Prometheus metrics. Each app gets its own registry so several apps (tests) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from sqlalchemy import func, select

from bridge.runtime import Runtime
from bridge.store.models import CaseRow, DeliveryRow, InboxRow


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter(
            "bridge_webhooks", "Webhook deliveries by platform and outcome", ["platform", "outcome"],
            registry=self.registry,
        )
        self.inbox = Gauge("bridge_inbox_events", "Inbox rows by state", ["state"], registry=self.registry)
        self.deliveries = Gauge(
            "bridge_deliveries", "Delivery steps by step and status", ["step", "status"], registry=self.registry
        )
        self.cases = Gauge("bridge_cases", "Cases by status", ["status"], registry=self.registry)

    def exposition(self, rt: Runtime) -> bytes:
        with rt.store.session() as s:
            for state, count in s.execute(select(InboxRow.state, func.count()).group_by(InboxRow.state)):
                self.inbox.labels(state).set(count)
            rows = s.execute(select(DeliveryRow.step, DeliveryRow.status, func.count())
                             .group_by(DeliveryRow.step, DeliveryRow.status))
            for step, status, count in rows:
                self.deliveries.labels(step, status).set(count)
            for status, count in s.execute(select(CaseRow.status, func.count()).group_by(CaseRow.status)):
                self.cases.labels(status).set(count)
        return generate_latest(self.registry)

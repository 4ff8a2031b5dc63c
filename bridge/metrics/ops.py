"""Prometheus metrics. Each app gets its own registry so several apps (tests) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from bridge.runtime import Runtime


def step_label(step: str) -> str:
    """A bounded label: repeatable steps run as numbered instances (``slack.thread#108``,
    ``slack.page#2``); the metric counts them under their step (``slack.thread``)."""
    return step.split("#", 1)[0]


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
        self.dead = Gauge("bridge_dead_letters", "Dead letters waiting for a replay", ["kind"], registry=self.registry)
        self.oldest = Gauge("bridge_oldest_unfinished_event_seconds",
                            "Age of the oldest accepted event not yet processed", registry=self.registry)
        self.retries = Gauge("bridge_delivery_retries", "Attempts beyond the first, by connector",
                             ["connector"], registry=self.registry)
        self.failures = Gauge("bridge_delivery_failures", "Delivery steps that ended dead, by connector",
                              ["connector"], registry=self.registry)

    def exposition(self, rt: Runtime) -> bytes:
        from bridge.store import metrics_repo  # Core: a scrape loads no ORM

        with rt.store.engine.connect() as conn:
            counts = metrics_repo.queue_counts(conn)
        for state, count in counts.inbox.items():
            self.inbox.labels(state).set(count)
        by_step: dict[tuple[str, str], int] = {}
        for (step, status), count in counts.deliveries.items():
            key = (step_label(step), status)
            by_step[key] = by_step.get(key, 0) + count
        for (step, status), count in by_step.items():
            self.deliveries.labels(step, status).set(count)
        for status, count in counts.cases.items():
            self.cases.labels(status).set(count)
        self.dead.labels("event").set(counts.dead_events)
        self.dead.labels("delivery").set(counts.dead_deliveries)
        oldest = counts.oldest_received
        self.oldest.set((rt.clock() - oldest).total_seconds() if oldest else 0)
        retries: dict[str, float] = {}
        failures: dict[str, float] = {}
        for step, attempts in counts.retries.items():
            connector = step.split(".", 1)[0]
            retries[connector] = retries.get(connector, 0) + attempts
        for step, count in counts.dead_by_step.items():
            connector = step.split(".", 1)[0]
            failures[connector] = failures.get(connector, 0) + count
        for connector in ("zendesk", "slack", "jira"):
            self.retries.labels(connector).set(retries.get(connector, 0))
            self.failures.labels(connector).set(failures.get(connector, 0))
        return generate_latest(self.registry)

"""Prometheus metrics of the web process. Each app gets its own registry so several apps (tests)
never collide.

The webhook counter is counted by the web worker that answered the webhook. Under gunicorn's
several workers, a scrape reaches one of them: with ``PROMETHEUS_MULTIPROC_DIR`` set (the Procfile's
gunicorn settings, ``bridge.web.gunicorn_conf``, set it), each worker writes its counts to a file
there and every scrape adds up all of them (prometheus_client's multiprocess mode); without it, a
scrape shows only its own worker's counts, right for a single process (``bridge serve``). The
gauges are read from the store at scrape time, the same whichever worker answers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge.errors import reason
from bridge.runtime import Runtime

log = logging.getLogger("bridge.metrics")
CONNECTORS = ("zendesk", "slack", "jira")


def step_label(step: str) -> str:
    """A bounded label: repeatable steps run as numbered instances (``slack.thread#108``,
    ``slack.page#2``); the metric counts them under their step (``slack.thread``)."""
    return step.split("#", 1)[0]


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    def __init__(self, rt: Runtime) -> None:
        from bridge.metrics.prom import RecoveryCollector

        shared = multiprocess_dir()
        self.registry = CollectorRegistry()
        # In multiprocess mode the counter's values live in a file of this process's own; the
        # exposition reads every worker's files instead of this registry.
        self.webhooks = Counter("bridge_webhooks", "Webhook deliveries by platform and outcome",
                                ["platform", "outcome"], registry=None if shared else self.registry)
        if shared:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry, path=shared)
        self.registry.register(StoreCollector(rt))
        self.registry.register(RecoveryCollector(rt))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """What the store holds (``metrics_repo.queue_counts``, in Core): the moving rows counted at every
    scrape, the settled ones as a queue worker counted them in the last minute (all of them counted
    now until a worker has)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from bridge.store import metrics_repo

        up = GaugeMetricFamily("bridge_store_up", "1 when the store answered this scrape's counts, 0 when not")
        try:
            with self.rt.store.engine.connect() as conn:
                kept = metrics_repo.read_snapshot(conn, metrics_repo.SETTLED)
                counts = metrics_repo.queue_counts(conn, kept[1] if kept else None)
        except Exception as exc:  # the scrape still carries the process's counters, and says why not these
            log.warning("bridge.metrics.store_unreachable", extra={"error": reason(exc)})
            up.add_metric([], 0)
            return iter([up])
        up.add_metric([], 1)
        inbox = GaugeMetricFamily("bridge_inbox_events", "Inbox rows by state", labels=["state"])
        for state, count in counts.inbox.items():
            inbox.add_metric([state], count)
        by_step: dict[tuple[str, str], int] = {}
        for (step, status), count in counts.deliveries.items():
            key = (step_label(step), status)
            by_step[key] = by_step.get(key, 0) + count
        deliveries = GaugeMetricFamily("bridge_deliveries", "Delivery steps by step and status",
                                       labels=["step", "status"])
        for (step, status), count in sorted(by_step.items()):
            deliveries.add_metric([step, status], count)
        cases = GaugeMetricFamily("bridge_cases", "Cases by status", labels=["status"])
        for status, count in counts.cases.items():
            cases.add_metric([status], count)
        dead = GaugeMetricFamily("bridge_dead_letters", "Dead letters waiting for a replay", labels=["kind"])
        dead.add_metric(["event"], counts.dead_events)
        dead.add_metric(["delivery"], counts.dead_deliveries)
        oldest = GaugeMetricFamily("bridge_oldest_unfinished_event_seconds",
                                   "Age of the oldest accepted event not yet processed")
        at = counts.oldest_received
        oldest.add_metric([], (self.rt.clock() - at).total_seconds() if at else 0)
        retries: dict[str, float] = {}
        failures: dict[str, float] = {}
        for step, attempts in counts.retries.items():
            connector = step.split(".", 1)[0]
            retries[connector] = retries.get(connector, 0) + attempts
        for step, count in counts.dead_by_step.items():
            connector = step.split(".", 1)[0]
            failures[connector] = failures.get(connector, 0) + count
        retried = GaugeMetricFamily("bridge_delivery_retries", "Attempts beyond the first, by connector",
                                    labels=["connector"])
        failed = GaugeMetricFamily("bridge_delivery_failures", "Delivery steps that ended dead, by connector",
                                   labels=["connector"])
        for connector in CONNECTORS:
            retried.add_metric([connector], retries.get(connector, 0))
            failed.add_metric([connector], failures.get(connector, 0))
        return iter([up, inbox, deliveries, cases, dead, oldest, retried, failed])

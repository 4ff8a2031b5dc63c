"""Recovery figures on ``/metrics``: a collector that reads the store at scrape time.

The report over the last ``window`` (default 30 days) is computed at most once per ``ttl`` seconds;
a scrape in between gets the cached figures. Values that have no data are left out (Prometheus has
no "None"), so dashboards show a gap rather than a false zero.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge.metrics.model import METRICS
from bridge.runtime import Runtime

log = logging.getLogger("bridge.recovery_prom")


class RecoveryCollector(Collector):
    def __init__(self, rt: Runtime, window: timedelta = timedelta(days=30), ttl: float = 60.0) -> None:
        self.rt, self.window, self.ttl = rt, window, ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, list[GaugeMetricFamily]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self.ttl:
                try:
                    self._cached = (time.monotonic(), self._families())
                except Exception:  # a scrape must not fail because the report did
                    log.exception("bridge.recovery_prom.failed")
                    return iter(self._cached[1] if self._cached else [])
            return iter(self._cached[1])

    def _families(self) -> list[GaugeMetricFamily]:
        now = self.rt.clock()
        days = f"{int(self.window.total_seconds() // 86400)}d"
        with self.rt.store.session() as s:
            from bridge.metrics.report import build_report  # on the first scrape: webhooks need none of it
            from bridge.store import loop_repo, metrics_repo

            report = build_report(s, now - self.window, now, settings=self.rt.settings)
            dead, oldest_vendor = loop_repo.vendor_event_health(s, now)
            oldest_inbox = metrics_repo.oldest_unprocessed_event(s)
        recovery = GaugeMetricFamily("bridge_recovery", "Recovery figures over a trailing window (docs/metrics.md)",
                                     labels=["metric", "window"])
        for metric in METRICS:
            value = report.total(metric)
            if value is not None:
                recovery.add_metric([metric, days], value)
        cohorts = GaugeMetricFamily("bridge_recovery_cohort_cases", "Escalated cases by outcome cohort",
                                    labels=["cohort", "window"])
        for name, count in report.cohorts.items():
            cohorts.add_metric([name, days], count)
        by_trigger = GaugeMetricFamily("bridge_recovery_by_trigger", "Recovery figures per trigger",
                                       labels=["metric", "trigger", "window"])
        for breakdown in report.breakdowns:
            if breakdown.dimension == "trigger" and breakdown.metric in ("escalations", "csat", "reopen_rate"):
                for row in breakdown.rows:
                    if row.value is not None:
                        by_trigger.add_metric([breakdown.metric, row.key, days], row.value)
        dead_g = GaugeMetricFamily("bridge_vendor_events_dead", "Zendesk/Jira events that ran out of attempts")
        dead_g.add_metric([], dead)
        ages = [a for a in (oldest_vendor, _age(now, oldest_inbox)) if a is not None]
        oldest = GaugeMetricFamily("bridge_oldest_unfinished_event_age_seconds",
                                   "Age of the oldest inbound event (chatbot or vendor) not yet processed")
        oldest.add_metric([], max(ages) if ages else 0.0)
        return [recovery, cohorts, by_trigger, dead_g, oldest]


def _age(now: Any, at: Any) -> float | None:
    if at is None:
        return None
    if at.tzinfo is None:  # SQLite aggregates come back naive (UTC)
        at = at.replace(tzinfo=UTC)
    return float((now - at).total_seconds())


def register_recovery_metrics(registry: CollectorRegistry, rt: Runtime, window_days: int = 30) -> RecoveryCollector:
    """Add the recovery collector to an app's registry (``Metrics.registry``)."""
    collector = RecoveryCollector(rt, timedelta(days=window_days))
    registry.register(collector)
    return collector

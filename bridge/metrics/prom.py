"""Recovery figures on ``/metrics``: a collector that reads the store at scrape time, in Core.

The recovery report's figures come from the snapshot a queue worker keeps (``bridge.metrics.snapshot``),
so a scrape loads neither the ORM nor the report. The health of the vendor events and of the inbox is
read live at every scrape: it must move even when no worker runs. Values that have no data are left
out (Prometheus has no "None"), so dashboards show a gap rather than a false zero.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge.metrics import snapshot
from bridge.runtime import Runtime
from bridge.store import metrics_repo

log = logging.getLogger("bridge.recovery_prom")


class RecoveryCollector(Collector):
    def __init__(self, rt: Runtime, window: timedelta = snapshot.WINDOW) -> None:
        self.rt, self.window = rt, window

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            families = self._families()
        except Exception:  # a scrape must not fail because the store did: the process's own figures still go out
            log.exception("bridge.recovery_prom.failed")
            return iter([])
        return iter(families)

    def _families(self) -> list[GaugeMetricFamily]:
        now = self.rt.clock()
        with self.rt.store.engine.connect() as conn:
            kept = metrics_repo.read_snapshot(conn, snapshot.name(self.window))
            dead, oldest_vendor = metrics_repo.vendor_event_health(conn, now)
            oldest_inbox = metrics_repo.oldest_unprocessed_event(conn)
        dead_g = GaugeMetricFamily("bridge_vendor_events_dead", "Zendesk/Jira events that ran out of attempts")
        dead_g.add_metric([], dead)
        ages = [a for a in (oldest_vendor, (now - oldest_inbox).total_seconds() if oldest_inbox else None)
                if a is not None]
        oldest = GaugeMetricFamily("bridge_oldest_unfinished_event_age_seconds",
                                   "Age of the oldest inbound event (chatbot or vendor) not yet processed")
        oldest.add_metric([], max(ages) if ages else 0.0)
        return [*snapshot.families(kept, now), dead_g, oldest]

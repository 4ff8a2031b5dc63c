"""The recovery figures ``/metrics`` shows, computed by a queue worker and kept in the store.

A queue worker (a short-lived child of ``bridge worker``'s supervisor, or the in-process runner of
``bridge serve``) builds the recovery report over the trailing window once a minute (``refresh``)
and writes its figures as one ``metrics_snapshots`` row; every web worker's scrape reads that row by
name (``families``). Before, each web worker built the report itself on its first scrape and every
minute after: the ORM and the report's modules (12 MB of RSS in every web worker) and the report's
CPU once per web worker instead of once. The same refresh counts the store's settled rows (events
processed, steps done, cases solved: ``metrics_repo.SETTLED``), which every scrape would otherwise
count again. Several workers refreshing at once is harmless: each checks the row's age first, and
the newer write wins.

The scrape shows how old the figures are (``bridge_recovery_snapshot_age_seconds``): with no worker
running they stop moving, and an alert on that age says so; with no snapshot at all, the recovery
families are absent (no false zeros), as are values with no data.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from bridge.runtime import Runtime
from bridge.store import metrics_repo

log = logging.getLogger("bridge.metrics.snapshot")

EVERY = 60.0  # seconds between two refreshes
WINDOW = timedelta(days=30)
BY_TRIGGER = ("escalations", "csat", "reopen_rate")  # the per-trigger figures a scrape carries


def name(window: timedelta) -> str:
    return f"recovery:{window_label(window)}"


def window_label(window: timedelta) -> str:
    return f"{int(window.total_seconds() // 86400)}d"


def compute(rt: Runtime, window: timedelta = WINDOW, now: datetime | None = None) -> dict[str, Any]:
    """The report's figures over ``window`` up to ``now``, as the JSON the snapshot row keeps."""
    from bridge.metrics.model import METRICS  # the worker's side: the report and the ORM are loaded here
    from bridge.metrics.report import build_report

    now = now or rt.clock()
    with rt.store.session() as s:
        report = build_report(s, now - window, now, settings=rt.settings)
    by_trigger = [[b.metric, row.key, row.value] for b in report.breakdowns
                  if b.dimension == "trigger" and b.metric in BY_TRIGGER for row in b.rows if row.value is not None]
    return {
        "window": window_label(window),
        "until": now.isoformat(),
        "totals": {m: v for m in METRICS if (v := report.total(m)) is not None},
        "cohorts": dict(report.cohorts),
        "by_trigger": by_trigger,
    }


def refresh(rt: Runtime, window: timedelta = WINDOW, every: float = EVERY) -> bool:
    """Compute and keep the snapshot unless one younger than ``every`` seconds is kept already
    (another worker made it). True when this call wrote one."""
    now = rt.clock()
    with rt.store.engine.connect() as conn:
        at = metrics_repo.snapshot_time(conn, name(window))
    if at is not None and timedelta(0) <= now - at < timedelta(seconds=every):
        return False
    body = compute(rt, window, now)
    with rt.store.engine.connect() as conn:
        settled = metrics_repo.settled_counts(conn)
    with rt.store.engine.begin() as conn:
        metrics_repo.write_snapshot(conn, name(window), now, body)
        metrics_repo.write_snapshot(conn, metrics_repo.SETTLED, now, settled)
    return True


def refresh_logged(rt: Runtime) -> None:
    """``refresh`` for a worker's loop: a failure is logged, and the next minute tries again."""
    try:
        refresh(rt)
    except Exception:
        log.exception("bridge.metrics.snapshot_failed")


def families(kept: tuple[datetime, dict[str, Any]] | None, now: datetime) -> list[GaugeMetricFamily]:
    """The Prometheus families of a kept snapshot (none when nothing is kept yet)."""
    if kept is None:
        return []
    at, body = kept
    window = body.get("window", "")
    recovery = GaugeMetricFamily("bridge_recovery", "Recovery figures over a trailing window (docs/metrics.md)",
                                 labels=["metric", "window"])
    for metric, value in body.get("totals", {}).items():
        recovery.add_metric([metric, window], value)
    cohorts = GaugeMetricFamily("bridge_recovery_cohort_cases", "Escalated cases by outcome cohort",
                                labels=["cohort", "window"])
    for cohort, count in body.get("cohorts", {}).items():
        cohorts.add_metric([cohort, window], count)
    by_trigger = GaugeMetricFamily("bridge_recovery_by_trigger", "Recovery figures per trigger",
                                   labels=["metric", "trigger", "window"])
    for metric, trigger, value in body.get("by_trigger", []):
        by_trigger.add_metric([metric, trigger, window], value)
    age = GaugeMetricFamily("bridge_recovery_snapshot_age_seconds",
                            "Seconds since a queue worker last computed the recovery figures", labels=["window"])
    age.add_metric([window], max(0.0, (now - at).total_seconds()))
    return [recovery, cohorts, by_trigger, age]

"""Render docs/sustained-load.md from the sustained-load test's reports.

``python -m tests.load.report bench/results/load-*.json > docs/sustained-load.md``: one table row
per store and rate (the first column names the report file: a dated name keeps an earlier run), against the
targets of issue 14. Each report is what ``tests/load`` wrote with
``LOAD_REPORT`` set (a JSON object keyed by store).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TARGETS = ("queue ≤ 2× unprocessed rows; handoff → ticket and → alert p95 ≤ 5 s during the load; everything "
           "processed ≤ 60 s after it; 0 lost, 0 duplicate tickets or alerts; no hung job, no process left "
           "behind; job processes' RSS flat within 10 %")


def _row(r: dict[str, Any], source: str) -> str:
    rss = r.get("rss_growth") or {}
    growth = ", ".join(f"{v:+.0%}" for v in rss.values()) or "–"
    drained = "not within 90 s" if r.get("drained_after_s") is None else f"{r['drained_after_s']} s"
    lost = r.get("lost_count", len(r.get("lost") or []))
    lost_text = f"≥ {lost}" if "lost_count" not in r and lost >= 20 else str(lost)
    return (f"| {source} | {r['store']} | {r['rate']:g}/s × {r['seconds']:g} s | {r['accepted']}/{r['sent']} "
            f"({r['handoffs']} handoffs) | {r['ack_p99_ms']} ms | {r['max_queued']} ({r['max_queue_ratio']}×) | "
            f"{r['ticket_p95_s']} / {r['alert_p95_s']} s | {drained} | {lost_text} | "
            f"{len(r.get('duplicated') or [])} | {r['hung_kills']} | {len(r.get('left_behind') or [])} | {growth} |")


def render(paths: list[Path]) -> str:
    rows = []
    for path in paths:
        data = json.loads(path.read_text())
        for report in (data.values() if "store" not in data else [data]):
            rows.append(_row(report, path.stem))
    head = ("| report | store | load | accepted | ack p99 | max queue (÷ unprocessed) | ticket / alert p95 | "
            "drained after | unprocessed at the end | duplicates | hung jobs killed | left behind | "
            "children's RSS growth |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    return "\n".join([head, *rows])


if __name__ == "__main__":
    print(render([Path(p) for p in sys.argv[1:]]))

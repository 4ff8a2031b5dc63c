"""``bridge report``: the recovery metrics as a table, CSV or JSON (definitions: docs/metrics.md).

The report (``bridge.metrics``) is imported inside the functions, for start-up speed.
"""

from __future__ import annotations

import csv
import sys
from typing import TYPE_CHECKING

import click

from bridge.cli.common import runtime

if TYPE_CHECKING:
    from bridge.metrics.model import RecoveryReport


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric.endswith("_s"):
        minutes, seconds = divmod(int(round(value)), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"
    if metric.endswith("rate") or metric.startswith("csat"):
        return f"{100 * value:.1f}%"
    return f"{value:g}"


def render_table(report: RecoveryReport) -> str:
    from bridge.metrics.model import METRICS  # start-up speed: pydantic loads only for this command

    lines = [f"Recovery report {report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC"
             + (f"  filters: {report.filters}" if report.filters else "")]
    width = max(len(m) for m in METRICS) + 2
    for v in report.totals:
        ratio = f"  ({v.numerator:g}/{v.denominator:g})" if v.numerator is not None and v.denominator else ""
        lines.append(f"  {v.metric:<{width}}{_fmt(v.metric, v.value):>12}{ratio}")
    lines.append("  outcome cohorts: " + ", ".join(f"{k}={n}" for k, n in report.cohorts.items()))
    for dimension in ("trigger", "team", "completeness_band"):
        shown = ("escalations", "time_to_first_useful_response_median_s", "csat", "reopen_rate")
        by_metric = {b.metric: b for b in report.breakdowns if b.dimension == dimension and b.metric in shown}
        keys = [r.key for r in by_metric["escalations"].rows] if "escalations" in by_metric else []
        if not keys:
            continue
        lines.append(f"  by {dimension}:")
        for key in keys:
            cells = []
            for metric in shown:
                row = next((r for r in by_metric[metric].rows if r.key == key), None)
                cells.append(f"{metric.split('_median')[0]}={_fmt(metric, row.value if row else None)}")
            lines.append(f"    {key:<26}" + "  ".join(cells))
    return "\n".join(lines)


@click.command("report")
@click.option("--since", default="30d", show_default=True, help="Window start: 30d, 2w, 12h or an ISO date.")
@click.option("--until", "until_text", default=None, help="Window end (ISO date/time; default now).")
@click.option("--team", default=None)
@click.option("--trigger", default=None)
@click.option("--platform", default=None)
@click.option("--owner", default=None)
@click.option("--granularity", type=click.Choice(["day", "week"]), default="week", show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="Flat CSV rows (totals, then breakdowns).")
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
def report(since: str, until_text: str | None, team: str | None, trigger: str | None, platform: str | None,
           owner: str | None, granularity: str, as_csv: bool, as_json: bool) -> None:
    """Print the recovery metrics (definitions: docs/metrics.md)."""
    from bridge.metrics.report import build_report, flat_rows, parse_since

    rt = runtime(migrate=True)
    now = rt.clock()
    try:
        start = parse_since(since, now)
        end = parse_since(until_text, now) if until_text else now
    except ValueError:
        raise click.BadParameter("use 30d, 12h, 2w or an ISO date", param_hint="--since/--until") from None
    filters = {k: v for k, v in dict(team=team, trigger=trigger, platform=platform, owner=owner).items() if v}
    with rt.store.session() as s:
        result = build_report(s, start, end, filters, granularity, settings=rt.settings)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    elif as_csv:
        fields = ["dimension", "key", "metric", "value", "numerator", "denominator"]
        writer = csv.DictWriter(sys.stdout, fieldnames=fields)
        writer.writeheader()
        writer.writerows(flat_rows(result))
    else:
        click.echo(render_table(result))

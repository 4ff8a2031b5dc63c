"""The shape of a recovery report: what `bridge report`, `/metrics` and `/dashboard` show.

Definitions of each metric are in docs/metrics.md. A value is ``None`` when its denominator is
empty (never 0 by default: "no data" is not "zero").
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

METRICS = (
    "conversations",            # conversations the bridge saw (denominator of the escalation rate)
    "escalations",
    "escalation_rate",
    "time_to_ack_median_s",
    "time_to_ack_p90_s",
    "time_to_first_useful_response_median_s",
    "time_to_first_useful_response_p90_s",
    "csat",                     # good / (good + bad) on bridge tickets
    "csat_baseline",            # the helpdesk's non-bridge CSAT, when known
    "reopen_rate",
    "repeat_contact_rate",
    "kb_suggestions",
    "kb_conversions",
    "kb_conversion_rate",
)
DIMENSIONS = ("trigger", "platform", "team", "owner", "completeness_band")
# Counts are whole numbers: reported as integers, never "145.0".
COUNTS = ("conversations", "escalations", "kb_suggestions", "kb_conversions")
# Breakdown-only: a group's escalations over all counted escalations in the window.
SHARE = "share_of_escalations"


def breakdown_metrics(dimension: str) -> tuple[str, ...]:
    """The metrics a breakdown row can honestly carry, each over the row's own cases.

    Only a platform has conversations of its own (team, owner, trigger and completeness exist only
    once a case escalated), so ``conversations`` and ``escalation_rate`` break down by platform
    only; the other dimensions get their ``share_of_escalations`` instead. ``csat_baseline`` is the
    helpdesk's figure without the bridge: one number, never a breakdown.
    """
    metrics = [m for m in METRICS if m != "csat_baseline"]
    if dimension != "platform":
        metrics = [SHARE if m == "conversations" else m for m in metrics if m != "escalation_rate"]
        metrics.remove("escalations")
        metrics.insert(0, "escalations")
    return tuple(metrics)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Value(_Model):
    metric: str
    value: int | float | None
    numerator: int | float | None = None
    denominator: int | float | None = None


class Point(_Model):
    period: date  # first day of the day/week
    value: int | float | None
    n: int = 0  # cases behind the value


class Series(_Model):
    metric: str
    granularity: str  # "day" | "week"
    points: list[Point] = Field(default_factory=list)


class Row(_Model):
    key: str
    value: int | float | None
    n: int = 0  # cases behind the value
    numerator: int | None = None  # for rates: the row's own numerator and denominator
    denominator: int | None = None


class Breakdown(_Model):
    metric: str
    dimension: str  # one of DIMENSIONS
    rows: list[Row] = Field(default_factory=list)


class RecoveryReport(_Model):
    since: datetime
    until: datetime
    filters: dict[str, str] = Field(default_factory=dict)  # team/trigger/platform/owner
    totals: list[Value] = Field(default_factory=list)
    series: list[Series] = Field(default_factory=list)
    breakdowns: list[Breakdown] = Field(default_factory=list)
    cohorts: dict[str, int] = Field(default_factory=dict)  # "human_fixed_it", "ai_delayed_customer", "open"

    def total(self, metric: str) -> float | None:
        return next((v.value for v in self.totals if v.metric == metric), None)

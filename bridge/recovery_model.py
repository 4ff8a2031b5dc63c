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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Value(_Model):
    metric: str
    value: float | None
    numerator: float | None = None
    denominator: float | None = None


class Point(_Model):
    period: date  # first day of the day/week
    value: float | None
    n: int = 0  # cases behind the value


class Series(_Model):
    metric: str
    granularity: str  # "day" | "week"
    points: list[Point] = Field(default_factory=list)


class Row(_Model):
    key: str
    value: float | None
    n: int = 0


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

"""The verification queue's figures over time, ``/console/verifications/stats``: the use case
``manual_payments.verifications.stats`` (the same as ``GET /v1/verifications/stats``) as a
page, for those with the verify scope (owners, admins, verifiers; the use case checks).

``?period=day|week|month`` (the pills at the top; days by default) cuts the last 30 days, 12
weeks or 12 months (UTC). Three charts, drawn by ``static/js/console-stats.js`` with the
vendored uPlot from the JSON in each chart's ``data-chart`` attribute (files only, no inline
script): how many proofs were waiting at the end of each period, the median time from a proof
arriving to its decision, and the approval rate beside how often the score agreed with the
person who decided. Each chart names its latest figure in words, and the same figures are in
a table under the charts, for screen readers and for anyone who wants the numbers.

Its routes are included before the queue's own (``/verifications/{id}`` would take ``stats``
for a proof's id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from orderline.core.http import RuntimeDep
from orderline.manual_payments import verifications
from orderline.manual_payments.review_rules import Period
from orderline.web.console.access import ConsoleStaffDep
from orderline.web.console.pages import console_page, translated

router = APIRouter()

# A median time is drawn in hours once one period's passes two hours, else in minutes.
HOURS_FROM_MINUTES = 120


def chosen_period(text: str) -> Period:
    """A period the page does not know shows the days, as the dashboard shows its week."""
    return Period(text) if text in Period.__members__.values() else Period.DAY


@dataclass(frozen=True, slots=True)
class StatsCharts:
    """Each chart's ``data-chart`` JSON: the periods' starts (Unix seconds), then each series
    (``null`` where a period had no decision: a gap, not a zero)."""

    pending: str
    waiting_time: str
    rates: str
    time_unit: str  # "minutes" or "hours", as the median time is drawn


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def stats_charts(periods: list[dict[str, Any]], labels: dict[str, str]) -> StatsCharts:
    x = [int(p["start"].timestamp()) for p in periods]
    medians = [p["median_seconds_to_decision"] for p in periods]
    longest = max((m for m in medians if m is not None), default=0.0)
    hours = longest >= HOURS_FROM_MINUTES * 60
    unit = "hours" if hours else "minutes"
    per = 3600 if hours else 60
    waits = [None if m is None else round(m / per, 1) for m in medians]

    def chart(unit_label: str, *series: tuple[str, list[Any], str]) -> str:
        return json.dumps({"x": x, "x_label": labels["period"], "unit": unit_label,
                           "series": [{"label": label, "values": values, "stroke": stroke}
                                      for label, values, stroke in series]})

    return StatsCharts(
        pending=chart("", (labels["waiting"], [p["pending_at_end"] for p in periods],
                           "#1d70b8")),
        waiting_time=chart(labels[unit], (labels["median"], waits, "#505a5f")),
        rates=chart("%",
                    (labels["approval"], [_percent(p["approval_rate"]) for p in periods],
                     "#00703c"),
                    (labels["agreement"],
                     [_percent(p["score_agreement_rate"]) for p in periods], "#d4351c")),
        time_unit=unit)


def period_name(start: datetime, period: Period) -> str:
    """How a period is named in the table: its first day, or its month."""
    return start.strftime("%Y-%m") if period == Period.MONTH else start.date().isoformat()


@router.get("/verifications/stats", response_class=HTMLResponse)
async def verification_stats(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                             period: Annotated[str, Query(max_length=20)] = Period.DAY.value
                             ) -> HTMLResponse:
    chosen = chosen_period(period)
    figures = await verifications.stats(runtime, staff.principal, period=chosen)
    periods: list[dict[str, Any]] = figures["periods"] or []
    labels = {key: translated(request, text) for key, text in (
        ("period", "Period"), ("waiting", "Waiting"), ("median", "Median time"),
        ("minutes", "minutes"), ("hours", "hours"), ("approval", "Approved"),
        ("agreement", "Score agreed"))}
    return console_page(request, staff, "console/verification_stats.html", figures=figures,
                        periods=periods, period=chosen, choices=list(Period),
                        charts=stats_charts(periods, labels), period_name=period_name)

"""The dashboard, ``/console``: the overview use case (``orderline.overview.service``, the same
as ``GET /v1/overview``) as a page: today's and the period's revenue, orders, average order
value and conversion, in total and by channel; the daily series as charts (uPlot, drawn by
``static/js/dashboard.js`` from the JSON in the chart's ``data-chart`` attribute); the orders
waiting for action; low stock; webhook and outbox health. ``?period=day|week|month|quarter|
year`` picks the period (a week by default).

The figures are live: the page listens to the business's stream (``/console/stream``, htmx's
SSE extension) and, when an order is placed, paid, shipped or cancelled (or a proof arrives or
is decided), asks ``/console/dashboard/figures`` for the same period's figures again and
swaps them in; the period picker stays as it was.

A staff member without the read scope (a verifier) has no dashboard: the console's first page
for them is their queue, so ``/console`` sends them there.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from orderline.core.http import RuntimeDep
from orderline.core.money import currency_exponent
from orderline.events.event_types import EventType
from orderline.overview import service as overview_service
from orderline.overview.rules import DEFAULT_DUE_WITHIN_HOURS, Period
from orderline.tenancy.rules import Scope
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.console.pages import console_page, translated
from orderline.web.console.shop_names import shop_names

router = APIRouter()

def chart_data(overview: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    """The two charts' data as JSON for their ``data-chart`` attributes: the days (UTC
    midnights as Unix seconds), then each series. Money is in major units of the business's
    currency, for the axis; the tooltip-free chart is backed by the table below it."""
    currency = overview["currency"]
    scale = 10 ** currency_exponent(currency)
    days = [int(_midnight(entry["date"])) for entry in overview["series"]]
    revenue = [entry["revenue"].get(currency, 0) / scale for entry in overview["series"]]
    orders = [entry["orders"] for entry in overview["series"]]
    paid = [entry["paid_orders"] for entry in overview["series"]]
    return {
        "revenue": json.dumps({"x": days, "x_label": labels["day"], "series": [
            {"label": currency, "values": revenue, "stroke": "#1d70b8"}]}),
        "orders": json.dumps({"x": days, "x_label": labels["day"], "series": [
            {"label": labels["placed"], "values": orders, "stroke": "#505a5f"},
            {"label": labels["paid"], "values": paid, "stroke": "#00703c"}]}),
    }


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


# What changes the figures: orders placed, paid, shipped or cancelled, and, for those who may
# see them, proofs arriving or decided (the proof events need the verify scope).
ORDER_EVENTS = (EventType.ORDER_CREATED, EventType.ORDER_PAID, EventType.ORDER_SHIPPED,
                EventType.ORDER_CANCELLED)
PROOF_EVENTS = (EventType.PAYMENT_PROOF_SUBMITTED, EventType.PAYMENT_PROOF_APPROVED,
                EventType.PAYMENT_PROOF_REJECTED)


def live_types(staff: ConsoleStaff) -> list[str]:
    """The stream's event types the dashboard refreshes on, for this staff member."""
    chosen = list(ORDER_EVENTS) + (list(PROOF_EVENTS) if staff.may(Scope.VERIFY) else [])
    return [t.value for t in chosen]


def _period(text: str) -> Period:
    return Period(text) if text in Period.__members__.values() else Period.WEEK


async def _figures(request: Request, runtime: RuntimeDep, staff: ConsoleStaff,
                   chosen: Period) -> dict[str, Any]:
    overview = await overview_service.overview(runtime, staff.principal, period=chosen,
                                               due_within_hours=DEFAULT_DUE_WITHIN_HOURS)
    share_base = max([figures["revenue"].get(overview["currency"], 0)
                      for figures in overview["sales_in_period"]["by_channel"].values()]
                     or [0])
    return {"overview": overview, "period": chosen, "periods": list(Period),
            "names": await shop_names(runtime, staff.principal),
            "charts": chart_data(overview, {
                "day": translated(request, "Day"),
                "placed": translated(request, "Placed"),
                "paid": translated(request, "Paid")}),
            "share_base": share_base, "currency": overview["currency"]}


@router.get("", response_class=HTMLResponse, response_model=None)
async def dashboard(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                    period: Annotated[str, Query(max_length=20)] = Period.WEEK.value
                    ) -> Response:
    if not staff.may(Scope.READ):
        if staff.may(Scope.VERIFY):
            return RedirectResponse("/console/verifications", status_code=303)
        return console_page(request, staff, "console/dashboard_empty.html")
    figures = await _figures(request, runtime, staff, _period(period))
    return console_page(request, staff, "console/dashboard.html",
                        live_types=live_types(staff), **figures)


@router.get("/dashboard/figures", response_class=HTMLResponse, response_model=None)
async def dashboard_figures(request: Request, runtime: RuntimeDep, staff: ConsoleStaffDep,
                            period: Annotated[str, Query(max_length=20)] = Period.WEEK.value
                            ) -> Response:
    """The dashboard's figures alone, for the same period, when the stream says they moved
    (the overview use case checks the read scope: a verifier gets the 403 page)."""
    figures = await _figures(request, runtime, staff, _period(period))
    return console_page(request, staff, "console/_dashboard_figures.html", **figures)

"""/v1/overview: the merchant's dashboard figures in one answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orderline.core.http import RuntimeDep, refusals
from orderline.overview import service
from orderline.overview.rules import DEFAULT_DUE_WITHIN_HOURS, MAX_DUE_WITHIN_HOURS, Period
from orderline.overview.schemas import OverviewOut
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/overview", tags=["overview"])


@router.get("", response_model=OverviewOut, responses=refusals(401, 403))
async def overview(
    runtime: RuntimeDep, principal: PrincipalDep,
    period: Annotated[Period, Query(description="today alone (day), or the last 7, 30, 90 "
                                                "or 365 UTC days ending today")] = Period.WEEK,
    due_within_hours: Annotated[int, Query(
        ge=1, le=MAX_DUE_WITHIN_HOURS,
        description="unpaid orders whose payment deadline falls within this many hours "
                    "wait for action")] = DEFAULT_DUE_WITHIN_HOURS,
) -> dict[str, Any]:
    """Sales today and in the period by channel (revenue by currency, average order value,
    conversion of checkouts), a daily series, the orders waiting for action, low stock, and
    webhook and outbox health. Days are UTC. Needs the read scope."""
    return await service.overview(runtime, principal, period=period,
                                  due_within_hours=due_within_hours)

"""Cash on delivery: collection and failed deliveries for the merchant or courier, and the
business's policy (the buyer's one-time codes are checkout routes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orderline.cod import service as cod
from orderline.cod.schemas import (
    CodSettingsIn,
    CodSettingsOut,
    CollectIn,
    DeliveryFailedIn,
)
from orderline.core.http import RuntimeDep, parse_id, refusals
from orderline.orders.schemas import OrderView
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["cash on delivery"])


@router.post("/orders/{order_id}/cod/collect", response_model=OrderView,
             responses=refusals(401, 403, 409))
async def collect(order_id: str, body: CollectIn, runtime: RuntimeDep,
                  principal: PrincipalDep) -> dict[str, Any]:
    """The cash was collected: the order is paid (delivered, if it was shipped)."""
    return await cod.collect(runtime, principal, parse_id("order", order_id),
                             amount=body.amount)


@router.post("/orders/{order_id}/cod/failed", response_model=OrderView,
             responses=refusals(401, 403, 409))
async def delivery_failed(order_id: str, body: DeliveryFailedIn, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    """Refused or undeliverable: the stock comes back and the buyer's trust falls."""
    return await cod.delivery_failed(runtime, principal, parse_id("order", order_id),
                                     outcome=body.outcome, note=body.note)


@router.get("/business/cod", response_model=CodSettingsOut, responses=refusals(401, 403))
async def get_cod_settings(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return await cod.get_settings(runtime, principal)


@router.patch("/business/cod", response_model=CodSettingsOut, responses=refusals(401, 403))
async def update_cod_settings(body: CodSettingsIn, runtime: RuntimeDep,
                              principal: PrincipalDep) -> dict[str, Any]:
    return await cod.update_settings(runtime, principal, body.model_dump(exclude_unset=True))

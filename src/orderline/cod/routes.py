"""Cash on delivery: collection and failed deliveries for the merchant or courier, and the
business's policy (the buyer's one-time codes are checkout routes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from orderline.cod import service as cod
from orderline.cod.schemas import (
    CodSettingsIn,
    CodSettingsOut,
    CollectIn,
    DeliveryFailedIn,
)
from orderline.core.http import RuntimeDep, VersionDep, etag, parse_id, refusals
from orderline.orders.schemas import OrderView
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["cash on delivery"])


@router.post("/orders/{order_id}/cod/collect", response_model=OrderView,
             responses=refusals(401, 403, 409, 412))
async def collect(order_id: str, body: CollectIn, runtime: RuntimeDep,
                  principal: PrincipalDep, version: VersionDep,
                  response: Response) -> dict[str, Any]:
    """The cash was collected: the order is paid (delivered, if it was shipped). Send the
    order's ETag in If-Match to be refused (412) if someone changed it meanwhile."""
    order = await cod.collect(runtime, principal, parse_id("order", order_id),
                              amount=body.amount, expected_version=version)
    response.headers["ETag"] = etag(order["version"])
    return order


@router.post("/orders/{order_id}/cod/failed", response_model=OrderView,
             responses=refusals(401, 403, 409, 412))
async def delivery_failed(order_id: str, body: DeliveryFailedIn, runtime: RuntimeDep,
                          principal: PrincipalDep, version: VersionDep,
                          response: Response) -> dict[str, Any]:
    """Refused or undeliverable: the stock comes back and the buyer's trust falls; ``note``
    (why) is kept in the order's history."""
    order = await cod.delivery_failed(runtime, principal, parse_id("order", order_id),
                                      outcome=body.outcome, note=body.note,
                                      expected_version=version)
    response.headers["ETag"] = etag(order["version"])
    return order


@router.get("/business/cod", response_model=CodSettingsOut, responses=refusals(401, 403))
async def get_cod_settings(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return await cod.get_settings(runtime, principal)


@router.patch("/business/cod", response_model=CodSettingsOut, responses=refusals(401, 403))
async def update_cod_settings(body: CodSettingsIn, runtime: RuntimeDep,
                              principal: PrincipalDep) -> dict[str, Any]:
    return await cod.update_settings(runtime, principal, body.model_dump(exclude_unset=True))

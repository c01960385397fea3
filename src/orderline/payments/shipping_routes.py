"""PATCH /v1/orders/{id}/shipping: shipping an order is a payments use case, because with
manual capture its authorised payment is captured first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from orderline.core.http import RuntimeDep, VersionDep, bind_order_id, etag, parse_id, refusals
from orderline.orders.schemas import OrderOut, ShippingUpdate
from orderline.payments import service as payments
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/orders", tags=["orders"], dependencies=[Depends(bind_order_id)])


@router.patch("/{order_id}/shipping", response_model=OrderOut,
              responses=refusals(401, 403, 409, 412))
async def set_shipping(order_id: str, body: ShippingUpdate, runtime: RuntimeDep,
                       principal: PrincipalDep, version: VersionDep,
                       response: Response) -> dict[str, Any]:
    """Ship the order; with manual capture, its authorised payment is captured first."""
    order = await payments.ship_order(
        runtime, principal, parse_id("order", order_id), carrier=body.carrier,
        tracking_number=body.tracking_number,
        tracking_url=str(body.tracking_url) if body.tracking_url else None,
        expected_version=version)
    response.headers["ETag"] = etag(order["version"])
    return order

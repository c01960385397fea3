"""POST /v1/orders: place an order directly (the merchant types it in)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from orderline.checkout import direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.core.http import RuntimeDep, etag, refusals
from orderline.orders.schemas import OrderCreate, PlacedOrderOut, to_lines
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlacedOrderOut,
             responses=refusals(401, 403, 409))
async def create_order(body: OrderCreate, runtime: RuntimeDep, principal: PrincipalDep,
                       response: Response) -> dict[str, Any]:
    """Place an order: reserves every line's stock until the payment deadline, or nothing."""
    order = await direct_orders.create_order(runtime, principal, NewOrder(
        customer=body.customer.to_contact(), channel=body.channel, lines=to_lines(body.lines),
        payment_method=body.payment_method, note=body.note, location=body.location))
    response.headers["Location"] = f"/v1/orders/{order['id']}"
    response.headers["ETag"] = etag(order["version"])
    return order

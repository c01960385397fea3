"""POST /v1/orders: place an order directly (the merchant types it in)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from orderline.checkout import direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.core.http import RuntimeDep, etag, refusals
from orderline.idempotency.headers import IdempotencyKeyHeader, send
from orderline.idempotency.service import KeyedRequest, run_once
from orderline.orders.schemas import OrderCreate, PlacedOrderOut, to_lines
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlacedOrderOut,
             responses=refusals(401, 403, 409))
async def create_order(body: OrderCreate, runtime: RuntimeDep, principal: PrincipalDep,
                       response: Response,
                       idempotency_key: IdempotencyKeyHeader = None) -> dict[str, Any]:
    """Place an order: reserves every line's stock until the payment deadline, or nothing.
    Cash on delivery is confirmed at once, its stock sold, if the business's cash policy
    accepts it (or the merchant overrides it with ``cod_override_reason``)."""
    new = NewOrder(
        customer=body.customer.to_contact(), channel=body.channel, lines=to_lines(body.lines),
        payment_method=body.payment_method, note=body.note, location=body.location,
        shipping_address=body.shipping_address.to_address() if body.shipping_address else None,
        cod_override_reason=body.cod_override_reason)
    answer = await run_once(runtime, KeyedRequest(
        business_id=principal.business_id, operation=direct_orders.OPERATION,
        key=idempotency_key, request=body.model_dump(mode="json")),
        lambda claim: direct_orders.create_order(runtime, principal, new, claim=claim))
    order: dict[str, Any] = send(response, answer)
    response.headers["Location"] = f"/v1/orders/{order['id']}"
    response.headers["ETag"] = etag(order["version"])
    return order

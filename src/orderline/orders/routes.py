"""/v1/orders: place, read, edit, pay, ship and cancel orders."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime

from orderline.core.http import (
    RuntimeDep,
    VersionDep,
    bind_order_id,
    decode_cursor,
    encode_cursor,
    etag,
    parse_id,
    refusals,
)
from orderline.core.schemas import STORED_INT_MAX
from orderline.orders import reading
from orderline.orders import service as orders
from orderline.orders import status as order_status
from orderline.orders.deps import OrderCallerDep
from orderline.orders.rules import CancelReason, OrderStatus
from orderline.orders.schemas import (
    NOTE_MAX,
    BuyerOrderOut,
    HistoryEntry,
    OrderOut,
    OrderPage,
    OrderStats,
    OrderUpdate,
    PaymentConfirm,
    StatusChange,
    to_lines,
)
from orderline.orders.service import OrderEdit
from orderline.orders.store import OrderFilter
from orderline.tenancy.deps import PrincipalDep

# Every line logged while a /{order_id} route runs names that order.
router = APIRouter(prefix="/v1/orders", tags=["orders"], dependencies=[Depends(bind_order_id)])


def _with_etag(response: Response, order: dict[str, Any]) -> dict[str, Any]:
    response.headers["ETag"] = etag(order["version"])
    return order


@router.get("", response_model=OrderPage, responses=refusals(401, 403))
async def list_orders(
    runtime: RuntimeDep, principal: PrincipalDep,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    channel: str | None = None,
    customer_id: uuid.UUID | None = None,
    customer: Annotated[str | None, Query(max_length=200,
                                          description="part of name, phone or email")] = None,
    created_from: AwareDatetime | None = None,
    created_to: AwareDatetime | None = None,
    total_min: Annotated[int | None, Query(ge=0, le=STORED_INT_MAX)] = None,
    total_max: Annotated[int | None, Query(ge=0, le=STORED_INT_MAX)] = None,
    number: Annotated[str | None, Query(max_length=20, description="part of the number")] = None,
    payment_method: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200, description=(
        "one search box: part of the number, or of the customer's name, phone or email"))] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    f = OrderFilter(status=status_.value if status_ else None, channel=channel,
                    customer_id=customer_id,
                    customer=customer, created_from=created_from, created_to=created_to,
                    total_min=total_min, total_max=total_max, number=number,
                    payment_method=payment_method, search=q)
    rows = await orders.list_orders(runtime, principal, f, limit=limit + 1,
                                    before=decode_cursor(cursor))
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None
    return {"data": page, "next_cursor": next_cursor}


@router.get("/stats", response_model=OrderStats, responses=refusals(401, 403))
async def order_stats(runtime: RuntimeDep, principal: PrincipalDep,
                      created_from: AwareDatetime | None = None,
                      created_to: AwareDatetime | None = None) -> dict[str, Any]:
    """Revenue (paid and later statuses), order count, average order value, by status/channel."""
    return await orders.order_stats(runtime, principal, created_from=created_from,
                                    created_to=created_to)


@router.get("/{order_id}", response_model=OrderOut | BuyerOrderOut, responses=refusals(401, 403))
async def get_order(runtime: RuntimeDep, caller: OrderCallerDep,
                    response: Response) -> dict[str, Any]:
    """The order: the merchant's view with an API key (read scope), the buyer's own view
    (``BuyerOrderOut``) with the order's access token (``Bearer oat_...``)."""
    order = await reading.read_order(runtime, caller)
    return order if caller.is_buyer else _with_etag(response, order)


@router.get("/{order_id}/history", response_model=list[HistoryEntry], responses=refusals(401, 403))
async def order_history(order_id: str, runtime: RuntimeDep,
                        principal: PrincipalDep) -> list[dict[str, Any]]:
    return await orders.order_history(runtime, principal, parse_id("order", order_id))


@router.put("/{order_id}", response_model=OrderOut, responses=refusals(401, 403, 409, 412))
async def edit_order(order_id: str, body: OrderUpdate, runtime: RuntimeDep,
                     principal: PrincipalDep, version: VersionDep,
                     response: Response) -> dict[str, Any]:
    """Change note, contact, or (while awaiting payment) lines; send If-Match to be safe."""
    edit = OrderEdit(note=body.note,
                     customer=body.customer.to_contact() if body.customer else None,
                     lines=to_lines(body.lines) if body.lines is not None else None)
    order = await orders.edit_order(runtime, principal, parse_id("order", order_id), edit,
                                    expected_version=version)
    return _with_etag(response, order)


@router.patch("/{order_id}/status", response_model=OrderOut, responses=refusals(401, 403, 409, 412))
async def change_status(order_id: str, body: StatusChange, runtime: RuntimeDep,
                        principal: PrincipalDep, version: VersionDep,
                        response: Response) -> dict[str, Any]:
    order = await order_status.change_status(runtime, principal, parse_id("order", order_id),
                                             status=body.status, reason=body.reason,
                                             note=body.note, expected_version=version)
    return _with_etag(response, order)


@router.patch("/{order_id}/payment", response_model=OrderOut,
              responses=refusals(401, 403, 409, 412))
async def confirm_payment(order_id: str, body: PaymentConfirm, runtime: RuntimeDep,
                          principal: PrincipalDep, version: VersionDep,
                          response: Response) -> dict[str, Any]:
    """Confirm payment: the held stock becomes a sale and the order becomes ``paid``."""
    order = await order_status.confirm_payment(runtime, principal, parse_id("order", order_id),
                                               reference=body.reference, amount=body.amount,
                                               note=body.note, expected_version=version)
    return _with_etag(response, order)


@router.delete("/{order_id}", response_model=OrderOut, responses=refusals(401, 403, 409, 412))
async def cancel_order(order_id: str, runtime: RuntimeDep, principal: PrincipalDep,
                       version: VersionDep, response: Response,
                       reason: CancelReason = CancelReason.MERCHANT,
                       note: Annotated[str | None, Query(
                           max_length=NOTE_MAX, description=(
                               "why, in the merchant's words: kept in the order's history, "
                               "never shown to the buyer"))] = None) -> dict[str, Any]:
    """Cancel before shipping; reserved stock is released, sold stock goes back on hand. An
    order that holds the buyer's money is refused (409 ``refund_first``): refund it first."""
    order = await order_status.cancel_order(runtime, principal, parse_id("order", order_id),
                                            reason=reason, note=note,
                                            expected_version=version)
    return _with_etag(response, order)

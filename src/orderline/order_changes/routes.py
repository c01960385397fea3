"""/v1/orders/{id}/changes: edits after payment (add, remove or change lines of a paid,
unshipped order), their payment requests, and paying them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, status

from orderline.core.http import RuntimeDep, VersionDep, bind_order_id, parse_id, refusals
from orderline.order_changes import paying, reading, service
from orderline.order_changes.schemas import (
    ChangeIn,
    ChangeLinesIn,
    ChangeList,
    ChangeOut,
    ChangePreview,
    PayByCardIn,
)
from orderline.orders.deps import OrderCallerDep
from orderline.tenancy.deps import PrincipalDep
from orderline.tenancy.rules import Scope

router = APIRouter(prefix="/v1/orders", tags=["orders"], dependencies=[Depends(bind_order_id)])


@router.post("/{order_id}/changes/preview", response_model=ChangePreview,
             responses=refusals(401, 403, 409))
async def preview_change(order_id: str, body: ChangeLinesIn, runtime: RuntimeDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """What the change would do, changing nothing: the touched lines, the figures before and
    after (re-priced by the pricing engine, coupons included), the difference, and whether it
    is refunded or asked of the buyer."""
    return await service.preview_change(runtime, principal, parse_id("order", order_id),
                                        body.edits())


@router.post("/{order_id}/changes", status_code=status.HTTP_201_CREATED,
             response_model=ChangeOut, responses=refusals(401, 403, 409, 412, 503))
async def make_change(order_id: str, body: ChangeIn, runtime: RuntimeDep,
                      principal: PrincipalDep, version: VersionDep) -> dict[str, Any]:
    """Change the lines of a paid (or confirmed) order that has not shipped. When the buyer
    owes nothing the change applies at once (the difference refunded: by the provider for
    cards, recorded as given back by hand for cash and transfers). When the buyer owes, the
    change waits (``awaiting_payment``) with a payment request and a deadline, the added units
    held; it applies as a whole when paid. Refused: a shipped or cancelled order (409
    ``order_not_changeable``), another change waiting (409 ``order_change_open``), too few
    units (409 ``out_of_stock``), an order changed since the expected version (412)."""
    expected = version if version is not None else body.expected_version
    return await service.make_change(runtime, principal, parse_id("order", order_id),
                                     body.edits(), note=body.note, expected_version=expected,
                                     pay_within_hours=body.pay_within_hours)


@router.get("/{order_id}/changes", response_model=ChangeList, responses=refusals(401, 403))
async def list_changes(order_id: str, runtime: RuntimeDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    """The order's changes, oldest first, each with its lines and payment request."""
    return {"items": await reading.list_changes(runtime, principal,
                                                parse_id("order", order_id))}


@router.get("/{order_id}/changes/{change_id}", response_model=ChangeOut,
            responses=refusals(401, 403))
async def get_change(order_id: str, change_id: str, runtime: RuntimeDep,
                     principal: PrincipalDep) -> dict[str, Any]:
    return await reading.get_change(runtime, principal, parse_id("order", order_id),
                                    parse_id("order change", change_id))


@router.post("/{order_id}/changes/{change_id}/cancel", response_model=ChangeOut,
             responses=refusals(401, 403, 409))
async def cancel_change(order_id: str, change_id: str, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    """Cancel a change waiting for payment: the held units go back, the order stays as it
    was; a card payment under way is cancelled or refunded. 409 ``order_change_closed`` once
    it applied, lapsed or was cancelled."""
    return await service.cancel_change(runtime, principal, parse_id("order", order_id),
                                       parse_id("order change", change_id))


@router.post("/{order_id}/changes/{change_id}/pay-by-card", response_model=ChangeOut,
             responses=refusals(401, 402, 403, 409, 503))
async def pay_by_card(order_id: str, change_id: str, body: PayByCardIn, runtime: RuntimeDep,
                      caller: OrderCallerDep) -> dict[str, Any]:
    """Pay a change's payment request by card: the order's buyer (its access token) or the
    merchant's key (``write``). The change applies once the money is in; money that arrives
    for a change that was cancelled or lapsed meanwhile is refunded."""
    caller.require(Scope.WRITE)
    return await paying.pay_by_card(runtime, caller.business_id, caller.order_id,
                                     parse_id("order change", change_id),
                                     payment_method=body.payment_method, actor=caller.actor)


@router.post("/{order_id}/changes/{change_id}/paid-by-hand", response_model=ChangeOut,
             responses=refusals(401, 403, 409))
async def paid_by_hand(order_id: str, change_id: str, runtime: RuntimeDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    """The buyer paid the request in cash or by transfer and you saw the money (``verify``
    scope): it is booked as received and the change applies, in one transaction."""
    return await paying.record_paid_by_hand(runtime, principal, parse_id("order", order_id),
                                             parse_id("order change", change_id))

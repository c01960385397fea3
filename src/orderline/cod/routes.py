"""Cash on delivery: one-time codes for the buyer, collection and failed deliveries for the
merchant or courier, and the business's policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orderline.checkout.deps import CartCallerDep
from orderline.cod import service as cod
from orderline.cod.schemas import (
    CodeIn,
    CodeSent,
    CodeVerified,
    CodSettingsIn,
    CodSettingsOut,
    CollectIn,
    DeliveryFailedIn,
)
from orderline.core.http import RuntimeDep, parse_id
from orderline.orders.schemas import OrderView
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["cash on delivery"])


@router.post("/checkouts/{checkout_id}/otp", response_model=CodeSent)
async def send_code(checkout_id: str, runtime: RuntimeDep,
                    caller: CartCallerDep) -> dict[str, Any]:
    """Send a one-time code to the buyer's phone (needed for a first or a large cash order)."""
    return await cod.send_code(runtime, caller, parse_id("checkout", checkout_id))


@router.post("/checkouts/{checkout_id}/otp/verify", response_model=CodeVerified)
async def verify_code(checkout_id: str, body: CodeIn, runtime: RuntimeDep,
                      caller: CartCallerDep) -> dict[str, Any]:
    return await cod.verify_code(runtime, caller, parse_id("checkout", checkout_id), body.code)


@router.post("/orders/{order_id}/cod/collect", response_model=OrderView)
async def collect(order_id: str, body: CollectIn, runtime: RuntimeDep,
                  principal: PrincipalDep) -> dict[str, Any]:
    """The cash was collected: the order is paid (delivered, if it was shipped)."""
    return await cod.collect(runtime, principal, parse_id("order", order_id),
                             amount=body.amount)


@router.post("/orders/{order_id}/cod/failed", response_model=OrderView)
async def delivery_failed(order_id: str, body: DeliveryFailedIn, runtime: RuntimeDep,
                          principal: PrincipalDep) -> dict[str, Any]:
    """Refused or undeliverable: the stock comes back and the buyer's trust falls."""
    return await cod.delivery_failed(runtime, principal, parse_id("order", order_id),
                                     outcome=body.outcome, note=body.note)


@router.get("/business/cod", response_model=CodSettingsOut)
async def get_cod_settings(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return await cod.get_settings(runtime, principal)


@router.patch("/business/cod", response_model=CodSettingsOut)
async def update_cod_settings(body: CodSettingsIn, runtime: RuntimeDep,
                              principal: PrincipalDep) -> dict[str, Any]:
    return await cod.update_settings(runtime, principal, body.model_dump(exclude_unset=True))

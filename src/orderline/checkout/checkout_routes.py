"""/v1/checkouts: start a checkout from a cart, review it, confirm it into an order.

Reached with the merchant's API key or the cart's ``X-Cart-Token``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, status
from fastapi.responses import JSONResponse

from orderline.checkout import checkouts, confirm
from orderline.checkout.checkout_schemas import (
    CheckoutConfirm,
    CheckoutCreate,
    CheckoutOut,
    CheckoutStarted,
    ConfirmedOrderOut,
)
from orderline.checkout.checkouts import NewCheckout
from orderline.checkout.deps import CartCallerDep
from orderline.core.http import RuntimeDep, parse_id, refusals

router = APIRouter(prefix="/v1", tags=["checkouts"])


@router.post("/checkouts", status_code=status.HTTP_201_CREATED, response_model=CheckoutStarted,
             response_model_exclude_unset=True,  # "cod" only when paying cash on delivery
             responses=refusals(401, 403, 404, 409))
async def start_checkout(body: CheckoutCreate, runtime: RuntimeDep,
                         caller: CartCallerDep) -> dict[str, Any]:
    """Price the cart for this address, shipping method and coupons, and hold its stock until
    ``reservation_deadline``. A newer checkout of the same cart replaces this one."""
    return await checkouts.start_checkout(runtime, caller, NewCheckout(
        cart_id=body.cart_id, address=body.address.to_address(),
        shipping_method_id=body.shipping_method_id, payment_method=body.payment_method,
        coupon_codes=body.coupon_codes,
        customer=body.customer.to_contact() if body.customer else None))


@router.get("/checkouts/{checkout_id}", response_model=CheckoutOut, responses=refusals(401, 403))
async def get_checkout(checkout_id: str, runtime: RuntimeDep,
                       caller: CartCallerDep) -> dict[str, Any]:
    return await checkouts.get_checkout(runtime, caller, parse_id("checkout", checkout_id))


# The answer is stored with the idempotency key and sent as stored, so the model documents it.
@router.post("/checkouts/{checkout_id}/confirm", status_code=status.HTTP_201_CREATED,
             response_model=ConfirmedOrderOut, responses=refusals(401, 403, 409, 429))
async def confirm_checkout(checkout_id: str, body: CheckoutConfirm, request: Request,
                           runtime: RuntimeDep, caller: CartCallerDep,
                           idempotency_key: Annotated[str | None, Header()] = None
                           ) -> JSONResponse:
    """Place the order at the totals the buyer saw. Needs an ``Idempotency-Key``: a retry with
    the same key and body returns the first answer (``Idempotent-Replayed: true``)."""
    done = await confirm.confirm_checkout(runtime, caller, confirm.ConfirmRequest(
        checkout_id=parse_id("checkout", checkout_id), idempotency_key=idempotency_key,
        totals=body.totals.as_dict(),
        client_ip=request.client.host if request.client else "unknown"))
    return JSONResponse(done.body, status_code=done.status_code,
                        headers={"Idempotent-Replayed": "true" if done.replayed else "false"})

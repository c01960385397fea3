"""/v1/checkouts/{id}/otp: the buyer's one-time code for a cash-on-delivery checkout."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orderline.checkout import cash_codes
from orderline.checkout.deps import CartCallerDep
from orderline.cod.schemas import CodeIn, CodeSent, CodeVerified
from orderline.core.http import RuntimeDep, parse_id, refusals

router = APIRouter(prefix="/v1", tags=["cash on delivery"])


@router.post("/checkouts/{checkout_id}/otp", response_model=CodeSent,
             responses=refusals(401, 403, 409, 429))
async def send_code(checkout_id: str, runtime: RuntimeDep,
                    caller: CartCallerDep) -> dict[str, Any]:
    """Send a one-time code to the buyer's phone (needed for a first or a large cash order)."""
    return await cash_codes.send_code(runtime, caller, parse_id("checkout", checkout_id))


@router.post("/checkouts/{checkout_id}/otp/verify", response_model=CodeVerified,
             responses=refusals(401, 403, 409, 429))
async def verify_code(checkout_id: str, body: CodeIn, runtime: RuntimeDep,
                      caller: CartCallerDep) -> dict[str, Any]:
    return await cash_codes.verify_code(runtime, caller, parse_id("checkout", checkout_id),
                                        body.code)

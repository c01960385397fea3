"""/v1/coupons: the merchant's coupons (admin scope to change, read scope to read) and the
orders that used each one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id, refusals
from orderline.coupons import service as coupons
from orderline.coupons.schemas import (
    CouponCreate,
    CouponOut,
    CouponPage,
    CouponUpdate,
    RedemptionPage,
)
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["coupons"])

Limit = Annotated[int, Query(ge=1, le=200)]


def _page(rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None
    return {"data": page, "next_cursor": next_cursor}


@router.post("/coupons", status_code=status.HTTP_201_CREATED, response_model=CouponOut,
             responses=refusals(401, 403, 409))
async def create_coupon(body: CouponCreate, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    return await coupons.create_coupon(runtime, principal, **body.model_dump())


@router.get("/coupons", response_model=CouponPage, responses=refusals(401, 403))
async def list_coupons(runtime: RuntimeDep, principal: PrincipalDep, active: bool | None = None,
                       limit: Limit = 50, cursor: str | None = None) -> dict[str, Any]:
    """Newest first; ``?active=true`` for the coupons buyers can use."""
    rows = await coupons.list_coupons(runtime, principal, active=active, limit=limit + 1,
                                      before=decode_cursor(cursor))
    return _page(rows, limit)


@router.get("/coupons/{coupon_id}", response_model=CouponOut, responses=refusals(401, 403))
async def get_coupon(coupon_id: str, runtime: RuntimeDep,
                     principal: PrincipalDep) -> dict[str, Any]:
    return await coupons.get_coupon(runtime, principal, parse_id("coupon", coupon_id))


@router.patch("/coupons/{coupon_id}", response_model=CouponOut, responses=refusals(401, 403))
async def update_coupon(coupon_id: str, body: CouponUpdate, runtime: RuntimeDep,
                        principal: PrincipalDep) -> dict[str, Any]:
    """Change anything but the code and the kind; null clears a date or a limit."""
    return await coupons.update_coupon(runtime, principal, parse_id("coupon", coupon_id),
                                       body.model_dump(exclude_unset=True))


@router.delete("/coupons/{coupon_id}", response_model=CouponOut, responses=refusals(401, 403))
async def deactivate_coupon(coupon_id: str, runtime: RuntimeDep,
                            principal: PrincipalDep) -> dict[str, Any]:
    """Deactivate the coupon: it is no longer accepted, and stays listed with its history."""
    return await coupons.deactivate_coupon(runtime, principal, parse_id("coupon", coupon_id))


@router.get("/coupons/{coupon_id}/redemptions", response_model=RedemptionPage,
            responses=refusals(401, 403))
async def list_redemptions(coupon_id: str, runtime: RuntimeDep, principal: PrincipalDep,
                           limit: Limit = 50, cursor: str | None = None) -> dict[str, Any]:
    """The orders that used the coupon, newest first."""
    rows = await coupons.list_redemptions(runtime, principal, parse_id("coupon", coupon_id),
                                          limit=limit + 1, before=decode_cursor(cursor))
    return _page(rows, limit)

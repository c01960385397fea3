"""The merchant's coupons: create, list, change, deactivate, and see which orders used them.

A coupon's code is stored normalised (upper case, no surrounding blanks) and is unique in its
business. Its kind fixes which amount it carries: a percentage (``percent_off``, stored as
basis points), a fixed amount (``amount_off``, minor units) or free shipping (neither); the
code and the kind never change, so the orders that used a coupon keep meaning the same thing.
Deleting a coupon only deactivates it: orders and redemptions still point at it.

Uses are counted by the checkout (``coupon_store.take_use`` and friends), never here; the only
rule this module adds is that a usage limit cannot go below the uses already taken.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import Conflict, NotFound, ValidationFailed
from orderline.core.runtime import Runtime
from orderline.coupons import store
from orderline.coupons.rules import normalize_code
from orderline.pricing.engine import CouponKind
from orderline.tenancy.rules import Principal, Scope

_CODE = re.compile(r"^[A-Za-z0-9_\-]{3,50}$")
MAX_MINOR_UNITS = 10**15
MAX_COUNT = 2**31 - 1  # usage limits are 32-bit integers in the database
MAX_PRODUCTS = 500

# Fields a PATCH may change, and those of them that may be set back to null.
CHANGEABLE = frozenset({"percent_off", "amount_off", "min_subtotal", "starts_at", "ends_at",
                        "usage_limit", "per_customer_limit", "product_ids", "active"})
NULLABLE = frozenset({"starts_at", "ends_at", "usage_limit", "per_customer_limit"})


def check_code(code: str) -> str:
    """The code as stored: normalised the way the checkout looks codes up."""
    normal = normalize_code(code)
    if not _CODE.match(normal):
        raise ValidationFailed("A coupon code is 3-50 letters, digits, '-' or '_'.",
                               details={"code": code})
    return normal


def percent_to_bp(percent: Decimal) -> int:
    """12.5 (%) is 1250 basis points; more than two decimals, 0 or above 100 is refused."""
    bp = percent * 100
    if not percent.is_finite() or bp != bp.to_integral_value() or not 0 < bp <= 10_000:
        raise ValidationFailed("percent_off is above 0 and at most 100, with at most two "
                               "decimals.", details={"percent_off": str(percent)})
    return int(bp)


def _check_count(field: str, value: int | None, *, lowest: int) -> None:
    if value is not None and not lowest <= value <= MAX_COUNT:
        raise ValidationFailed(f"{field} is a whole number from {lowest} to {MAX_COUNT}.",
                               details={field: value})


def _check_amount(field: str, value: int, *, lowest: int) -> None:
    if not lowest <= value <= MAX_MINOR_UNITS:
        raise ValidationFailed(f"{field} is in minor units, from {lowest} to {MAX_MINOR_UNITS}.",
                               details={field: value})


def _check_dates(starts_at: datetime | None, ends_at: datetime | None) -> None:
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{field} needs a timezone, such as 'Z' or '+02:00'.",
                                   details={field: value.isoformat()})
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValidationFailed("ends_at must be after starts_at.",
                               details={"starts_at": starts_at.isoformat(),
                                        "ends_at": ends_at.isoformat()})


def _amounts(kind: CouponKind, percent_off: Decimal | None,
             amount_off: int | None) -> tuple[int, int]:
    """(percent_off_bp, amount_off) for the kind; the amount of another kind is refused, so a
    merchant never believes a free-shipping coupon also takes 10% off."""
    if kind == CouponKind.PERCENTAGE:
        if percent_off is None:
            raise ValidationFailed("A percentage coupon needs percent_off.",
                                   details={"kind": kind.value, "missing": "percent_off"})
        if amount_off is not None:
            raise ValidationFailed("A percentage coupon has no amount_off.",
                                   details={"kind": kind.value, "field": "amount_off"})
        return percent_to_bp(percent_off), 0
    if percent_off is not None:
        raise ValidationFailed(f"A {kind.value} coupon has no percent_off.",
                               details={"kind": kind.value, "field": "percent_off"})
    if kind == CouponKind.FIXED_AMOUNT:
        if amount_off is None:
            raise ValidationFailed("A fixed_amount coupon needs amount_off.",
                                   details={"kind": kind.value, "missing": "amount_off"})
        _check_amount("amount_off", amount_off, lowest=1)
        return 0, amount_off
    if amount_off is not None:
        raise ValidationFailed("A free_shipping coupon has no amount_off.",
                               details={"kind": kind.value, "field": "amount_off"})
    return 0, 0


def _parse_kind(kind: CouponKind | str) -> CouponKind:
    try:
        return CouponKind(kind)
    except ValueError:
        raise ValidationFailed("kind is one of percentage, fixed_amount, free_shipping.",
                               details={"kind": str(kind)}) from None


async def _check_products(conn: AsyncConnection, business_id: uuid.UUID,
                          product_ids: Sequence[uuid.UUID]) -> list[str]:
    """The ids as stored (strings, in the order given, without repeats), all of them products
    of this business."""
    unique = list(dict.fromkeys(product_ids))
    if len(unique) > MAX_PRODUCTS:
        raise ValidationFailed(f"A coupon applies to at most {MAX_PRODUCTS} products.")
    unknown = await store.unknown_products(conn, business_id, unique)
    if unknown:
        raise ValidationFailed("These products do not exist in this business.",
                               details={"unknown_product_ids": [str(p) for p in unknown]})
    return [str(p) for p in unique]


def coupon_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    """What the merchant sees: the amount of the coupon's own kind (the other is null), and
    the uses left (null when unlimited)."""
    view = dict(row)
    kind = CouponKind(view["kind"])
    view["percent_off"] = (Decimal(view["percent_off_bp"]) / 100
                           if kind == CouponKind.PERCENTAGE else None)
    if kind != CouponKind.FIXED_AMOUNT:
        view["amount_off"] = None
    limit = view["usage_limit"]
    view["remaining"] = None if limit is None else max(limit - view["used_count"], 0)
    view["product_ids"] = list(view["product_ids"] or [])
    return view


async def create_coupon(runtime: Runtime, principal: Principal, *, code: str,
                        kind: CouponKind | str, percent_off: Decimal | None = None,
                        amount_off: int | None = None, min_subtotal: int = 0,
                        starts_at: datetime | None = None, ends_at: datetime | None = None,
                        usage_limit: int | None = None, per_customer_limit: int | None = None,
                        product_ids: Sequence[uuid.UUID] = (), active: bool = True
                        ) -> dict[str, Any]:
    """A new coupon; a code the business already has (in any case) is a conflict."""
    principal.require(Scope.ADMIN)
    normal = check_code(code)
    chosen = _parse_kind(kind)
    percent_off_bp, amount = _amounts(chosen, percent_off, amount_off)
    _check_amount("min_subtotal", min_subtotal, lowest=0)
    _check_dates(starts_at, ends_at)
    _check_count("usage_limit", usage_limit, lowest=1)
    _check_count("per_customer_limit", per_customer_limit, lowest=1)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> RowMapping:
        stored_products = await _check_products(conn, principal.business_id, product_ids)
        row = await store.insert_coupon(conn, {
            "id": uuid.uuid4(), "business_id": principal.business_id, "code": normal,
            "kind": chosen.value, "percent_off_bp": percent_off_bp, "amount_off": amount,
            "min_subtotal": min_subtotal, "starts_at": starts_at, "ends_at": ends_at,
            "usage_limit": usage_limit, "per_customer_limit": per_customer_limit,
            "used_count": 0, "product_ids": stored_products, "active": active,
            "created_at": now, "updated_at": now})
        if row is None:
            raise Conflict(f"Coupon '{normal}' already exists.", details={"code": normal})
        return row

    return coupon_view(await runtime.db.run(work))


async def list_coupons(runtime: Runtime, principal: Principal, *, active: bool | None = None,
                       limit: int, before: tuple[datetime, uuid.UUID] | None = None
                       ) -> list[dict[str, Any]]:
    """Newest first, optionally only the active (or inactive) ones."""
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        rows = await store.list_coupons(conn, principal.business_id, active=active,
                                        limit=limit, before=before)
    return [coupon_view(r) for r in rows]


async def get_coupon(runtime: Runtime, principal: Principal,
                     coupon_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        row = await store.get_coupon(conn, principal.business_id, coupon_id)
    if row is None:
        raise NotFound("coupon", coupon_id)
    return coupon_view(row)


def _changed_values(current: Mapping[Any, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The columns to write for ``changes``, checked against the coupon as it would become."""
    unknown = sorted(set(changes) - CHANGEABLE)
    if unknown:
        raise ValidationFailed("Only a coupon's amounts, minimum, dates, limits, products and "
                               "active flag can change (not its code or kind).",
                               details={"fields": unknown})
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise ValidationFailed(f"{field} cannot be null.", details={"field": field})
    kind = CouponKind(current["kind"])
    values = {k: v for k, v in changes.items() if k not in ("percent_off", "amount_off")}
    if "percent_off" in changes or "amount_off" in changes:
        percent = changes.get("percent_off")
        amount = changes.get("amount_off")
        # Check only the amount(s) sent, against the kind.
        if kind == CouponKind.PERCENTAGE and percent is None:
            percent = Decimal(current["percent_off_bp"]) / 100
        if kind == CouponKind.FIXED_AMOUNT and amount is None:
            amount = current["amount_off"]
        values["percent_off_bp"], values["amount_off"] = _amounts(kind, percent, amount)
    if "min_subtotal" in changes:
        _check_amount("min_subtotal", changes["min_subtotal"], lowest=0)
    _check_dates(changes.get("starts_at", current["starts_at"]),
                 changes.get("ends_at", current["ends_at"]))
    _check_count("usage_limit", changes.get("usage_limit"), lowest=1)
    _check_count("per_customer_limit", changes.get("per_customer_limit"), lowest=1)
    limit = changes.get("usage_limit")
    if limit is not None and limit < current["used_count"]:
        raise ValidationFailed(
            f"The coupon was already used {current['used_count']} times; its usage limit "
            "cannot be lower.",
            details={"usage_limit": limit, "used_count": current["used_count"]})
    return values


async def update_coupon(runtime: Runtime, principal: Principal, coupon_id: uuid.UUID,
                        changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change any of ``CHANGEABLE`` (``percent_off`` as a Decimal percentage, ``product_ids``
    as UUIDs). The row is locked while checking, so a use taken meanwhile cannot slip under
    a lowered usage limit."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> RowMapping:
        current = await store.get_coupon(conn, principal.business_id, coupon_id,
                                         for_update=True)
        if current is None:
            raise NotFound("coupon", coupon_id)
        values = _changed_values(current, changes)
        if "product_ids" in values:
            values["product_ids"] = await _check_products(conn, principal.business_id,
                                                          values["product_ids"])
        row = await store.update_coupon(conn, principal.business_id, coupon_id,
                                        {**values, "updated_at": now})
        assert row is not None, "locked above"
        return row

    return coupon_view(await runtime.db.run(work))


async def deactivate_coupon(runtime: Runtime, principal: Principal,
                            coupon_id: uuid.UUID) -> dict[str, Any]:
    """Stop the coupon being accepted; the row stays, for the orders that used it."""
    principal.require(Scope.ADMIN)
    now = runtime.clock.now()
    row = await runtime.db.run(lambda conn: store.update_coupon(
        conn, principal.business_id, coupon_id, {"active": False, "updated_at": now}))
    if row is None:
        raise NotFound("coupon", coupon_id)
    return coupon_view(row)


async def list_redemptions(runtime: Runtime, principal: Principal, coupon_id: uuid.UUID, *,
                           limit: int, before: tuple[datetime, uuid.UUID] | None = None
                           ) -> list[dict[str, Any]]:
    """The orders that used the coupon, newest first; ``returned_at`` once the use was given
    back (the order was cancelled or expired)."""
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        if await store.get_coupon(conn, principal.business_id, coupon_id) is None:
            raise NotFound("coupon", coupon_id)
        rows = await store.list_redemptions(conn, principal.business_id, coupon_id,
                                            limit=limit, before=before)
    return [dict(r) for r in rows]

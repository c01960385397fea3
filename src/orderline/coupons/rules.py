"""Coupon rules: which coupon a buyer may use now, and how codes combine.

A checkout takes at most one discount coupon (percentage or fixed amount) and at most one
free-shipping coupon. The usage limits checked here are advisory, so the review page can say
"exhausted" early; the binding check is the conditional UPDATE that takes a use on confirm.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from orderline.core.errors import (
    CouponCustomerLimitReached,
    CouponExhausted,
    CouponExpired,
    CouponMinimumNotMet,
    CouponNotApplicable,
    CouponNotStarted,
    InvalidCoupon,
    ValidationFailed,
)
from orderline.pricing.engine import CouponKind, CouponTerms

_DISCOUNT_KINDS = frozenset({CouponKind.PERCENTAGE, CouponKind.FIXED_AMOUNT})


@dataclass(frozen=True, slots=True)
class CouponRules:
    id: uuid.UUID
    code: str
    kind: CouponKind
    percent_off_bp: int
    amount_off: int
    min_subtotal: int
    starts_at: datetime | None
    ends_at: datetime | None
    usage_limit: int | None
    per_customer_limit: int | None
    used_count: int
    product_ids: frozenset[str]
    active: bool

    def terms(self) -> CouponTerms:
        return CouponTerms(code=self.code, kind=self.kind, percent_off_bp=self.percent_off_bp,
                           amount_off=self.amount_off, product_ids=self.product_ids)


def normalize_code(code: str) -> str:
    """Codes compare without case or surrounding blanks: ' summer10 ' is 'SUMMER10'."""
    return code.strip().upper()


def check_coupons(found: list[CouponRules], requested_codes: list[str], *, now: datetime,
                  subtotal: int, product_ids: frozenset[str],
                  customer_uses: dict[uuid.UUID, int]) -> list[CouponTerms]:
    """The coupons to price with, in the order requested, or the first refusal.

    ``found`` holds the business's coupons for the requested codes (active or not);
    ``subtotal`` and ``product_ids`` describe the cart; ``customer_uses`` counts the buyer's
    earlier uses by coupon id.
    """
    by_code = {normalize_code(coupon.code): coupon for coupon in found}
    accepted: list[CouponRules] = []
    for requested in requested_codes:
        code = normalize_code(requested)
        if any(normalize_code(c.code) == code for c in accepted):
            raise ValidationFailed(f"The coupon code '{code}' is given more than once.",
                                   details={"code": code, "field": "coupon_codes"})
        coupon = by_code.get(code)
        if coupon is None or not coupon.active:
            raise InvalidCoupon(f"There is no coupon '{code}' that can be used.",
                                details={"code": code})
        _check_one(coupon, code, now=now, subtotal=subtotal, product_ids=product_ids,
                   uses=customer_uses.get(coupon.id, 0))
        _check_combination(accepted, coupon, code)
        accepted.append(coupon)
    return [coupon.terms() for coupon in accepted]


def _check_one(coupon: CouponRules, code: str, *, now: datetime, subtotal: int,
               product_ids: frozenset[str], uses: int) -> None:
    details: dict[str, object] = {"code": code}
    if coupon.starts_at is not None and coupon.starts_at > now:
        raise CouponNotStarted(
            f"The coupon '{code}' can be used from {coupon.starts_at.isoformat()}.",
            details={**details, "starts_at": coupon.starts_at.isoformat()})
    if coupon.ends_at is not None and coupon.ends_at <= now:
        raise CouponExpired(f"The coupon '{code}' expired at {coupon.ends_at.isoformat()}.",
                            details={**details, "ends_at": coupon.ends_at.isoformat()})
    if subtotal < coupon.min_subtotal:
        raise CouponMinimumNotMet(
            f"The coupon '{code}' needs a subtotal of at least {coupon.min_subtotal}; "
            f"this cart comes to {subtotal}.",
            details={**details, "min_subtotal": coupon.min_subtotal, "subtotal": subtotal})
    if coupon.product_ids and coupon.product_ids.isdisjoint(product_ids):
        raise CouponNotApplicable(
            f"The coupon '{code}' applies to products that are not in this cart.",
            details=details)
    if coupon.usage_limit is not None and coupon.used_count >= coupon.usage_limit:
        raise CouponExhausted(f"The coupon '{code}' has been used as often as it may be.",
                              details=details)
    if coupon.per_customer_limit is not None and uses >= coupon.per_customer_limit:
        raise CouponCustomerLimitReached(
            f"You have already used the coupon '{code}' as often as it allows "
            f"({coupon.per_customer_limit}).",
            details={**details, "per_customer_limit": coupon.per_customer_limit})


def _check_combination(accepted: list[CouponRules], coupon: CouponRules, code: str) -> None:
    kinds = {CouponKind(c.kind) for c in accepted}
    kind = CouponKind(coupon.kind)
    clash = (kind in _DISCOUNT_KINDS and bool(kinds & _DISCOUNT_KINDS)) or (
        kind == CouponKind.FREE_SHIPPING and CouponKind.FREE_SHIPPING in kinds)
    if clash:
        raise CouponNotApplicable(
            f"The coupon '{code}' cannot be combined with the others: one discount coupon and "
            "one free-shipping coupon at most.",
            details={"code": code, "combined_with": [normalize_code(c.code) for c in accepted]})

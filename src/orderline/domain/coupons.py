"""Coupon rules: which coupon a buyer may use now, and how codes combine.

(Interface fixed by the lead; helper H1 implements the functions.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from orderline.domain.pricing import CouponKind, CouponTerms


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
    raise NotImplementedError


def check_coupons(found: list[CouponRules], requested_codes: list[str], *, now: datetime,
                  subtotal: int, product_ids: frozenset[str],
                  customer_uses: dict[uuid.UUID, int]) -> list[CouponTerms]:
    """The coupons to price with, in the order requested, or the first refusal."""
    raise NotImplementedError

"""Coupon bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StrictBool, StrictInt

from orderline.core.schemas import Body, MinorUnits
from orderline.coupons.service import MAX_COUNT, MAX_MINOR_UNITS, MAX_PRODUCTS
from orderline.pricing.engine import CouponKind

Percent = Annotated[Decimal, Field(gt=0, le=100, decimal_places=2, examples=[12.5],
                                   description="above 0 and at most 100, two decimals at most")]
AmountOff = Annotated[StrictInt, Field(ge=1, le=MAX_MINOR_UNITS,
                                       description="integer minor units, e.g. cents")]
Count = Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)]
ProductIds = Annotated[list[uuid.UUID], Field(
    max_length=MAX_PRODUCTS,
    description="Products of this business the coupon is limited to; empty: every product.")]


class CouponCreate(Body):
    code: Annotated[str, Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_\-]+$",
                               examples=["SUMMER10"],
                               description="Letters, digits, '-' or '_'; stored upper case.")]
    kind: CouponKind
    percent_off: Percent | None = Field(default=None,
                                        description="Required for a percentage coupon.")
    amount_off: AmountOff | None = Field(default=None,
                                         description="Required for a fixed_amount coupon.")
    min_subtotal: MinorUnits = 0
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    usage_limit: Count | None = None
    per_customer_limit: Count | None = None
    product_ids: ProductIds = Field(default_factory=list)
    active: StrictBool = True


class CouponUpdate(Body):
    """Only the fields sent change; null clears a date or a limit. The code and the kind
    never change."""

    percent_off: Percent | None = None
    amount_off: AmountOff | None = None
    min_subtotal: MinorUnits | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    usage_limit: Count | None = None
    per_customer_limit: Count | None = None
    product_ids: ProductIds | None = None
    active: StrictBool | None = None


class CouponOut(BaseModel):
    id: uuid.UUID
    code: str
    kind: CouponKind
    percent_off: float | None = Field(description="Percentage coupons only.")
    percent_off_bp: int = Field(description="percent_off in basis points (10000 is 100%).")
    amount_off: int | None = Field(description="Fixed-amount coupons only.")
    min_subtotal: int
    starts_at: datetime | None
    ends_at: datetime | None
    usage_limit: int | None
    per_customer_limit: int | None
    used_count: int
    remaining: int | None = Field(description="Uses left; null when unlimited.")
    product_ids: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class CouponPage(BaseModel):
    data: list[CouponOut]
    next_cursor: str | None


class RedemptionOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    order_number: str
    customer_id: uuid.UUID
    code: str
    kind: CouponKind
    discount: int
    returned_at: datetime | None = Field(
        description="When the use was given back (the order was cancelled or expired).")
    created_at: datetime = Field(description="When the order was placed.")


class RedemptionPage(BaseModel):
    data: list[RedemptionOut]
    next_cursor: str | None

"""Checkout request bodies and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from orderline.core.schemas import Body, MinorUnits
from orderline.orders.schemas import CustomerIn, CustomerOut, PlacedOrderOut
from orderline.shipping.schemas import AddressIn


class CheckoutCreate(Body):
    cart_id: uuid.UUID
    address: AddressIn
    shipping_method_id: Annotated[uuid.UUID | None, Field(
        description="a method of the address's zone; the zone's first if omitted")] = None
    payment_method: Annotated[str, Field(min_length=1, max_length=40)]
    coupon_codes: Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]],
                            Field(default_factory=list, max_length=5)]
    customer: Annotated[CustomerIn | None, Field(
        description="the buyer; may be omitted when the cart belongs to a customer")] = None


class SeenTotals(Body):
    """The totals the review showed the buyer (``total`` at least)."""

    total: MinorUnits
    subtotal: MinorUnits | None = None
    discount_total: MinorUnits | None = None
    shipping: MinorUnits | None = None
    shipping_discount: MinorUnits | None = None
    tax_total: MinorUnits | None = None

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class CheckoutConfirm(Body):
    totals: SeenTotals


# --- answers ---------------------------------------------------------------------------------

class AddressOut(BaseModel):
    name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    phone: str | None


class ShippingChoice(BaseModel):
    """The shipping method as priced for this checkout."""

    id: uuid.UUID
    name: str
    kind: str
    price: int


class QuotedLineOut(BaseModel):
    sku: str
    unit_price: int
    quantity: int
    subtotal: int
    line_discount: int
    order_discount: int
    discount: int = Field(description="line_discount + order_discount")
    tax: int
    total: int


class QuotedTaxOut(BaseModel):
    name: str
    rate: str = Field(description="a percentage, as a decimal string such as '8.25'")
    amount: int = Field(description="lines and shipping together")


class AppliedCouponOut(BaseModel):
    code: str
    kind: str
    amount: int = Field(description="what it took off merchandise or shipping")


class QuoteOut(BaseModel):
    """The pricing engine's quote, every figure in minor units."""

    currency: str
    lines: list[QuotedLineOut]
    subtotal: int
    line_discount_total: int
    order_discount_total: int
    discount_total: int
    shipping: int
    shipping_discount: int
    shipping_tax: int
    tax_total: int
    total: int
    prices_include_tax: bool
    taxes: list[QuotedTaxOut]
    coupons: list[AppliedCouponOut]
    shipping_method: ShippingChoice | None


class TotalsOut(BaseModel):
    """The figures a buyer confirms: what the review page shows."""

    subtotal: int
    discount_total: int
    shipping: int
    shipping_discount: int
    tax_total: int
    total: int


class CheckoutOut(BaseModel):
    id: uuid.UUID
    status: str
    cart_id: uuid.UUID
    cart_version: int
    version: int
    customer: CustomerOut
    address: AddressOut
    zone_id: uuid.UUID
    shipping_method: ShippingChoice | None
    coupon_codes: list[str]
    payment_method: str
    currency: str
    totals: TotalsOut
    quote: QuoteOut
    prices_validated_at: datetime
    reservation_deadline: datetime
    order_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class CodCheck(BaseModel):
    otp_required: bool = Field(description="a one-time code must be verified before confirm")
    reasons: list[str]


class CheckoutStarted(CheckoutOut):
    cod: CodCheck | None = Field(default=None, description=(
        "Only when paying cash on delivery: whether the buyer's phone must be verified "
        "first, and why."))


class ConfirmedOrderOut(PlacedOrderOut):
    """The order a confirmed checkout placed, with that checkout."""

    customer_id: uuid.UUID
    checkout: CheckoutOut

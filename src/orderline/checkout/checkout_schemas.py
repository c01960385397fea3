"""Checkout request bodies."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field

from orderline.core.schemas import PHONE_PATTERN, Body, MinorUnits
from orderline.orders.schemas import CustomerIn
from orderline.shipping.rules import Address


class AddressIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    line1: Annotated[str, Field(min_length=1, max_length=300)]
    line2: Annotated[str, Field(max_length=300)] = ""
    city: Annotated[str, Field(min_length=1, max_length=200)]
    region: Annotated[str, Field(max_length=100)] = ""
    postal_code: Annotated[str, Field(max_length=20)] = ""
    country: Annotated[str, Field(min_length=2, max_length=2,
                                  description="ISO 3166-1 alpha-2, such as 'US'")]
    phone: Annotated[str | None, Field(pattern=PHONE_PATTERN)] = None

    def to_address(self) -> Address:
        return Address(name=self.name, line1=self.line1, line2=self.line2, city=self.city,
                       region=self.region, postal_code=self.postal_code,
                       country=self.country, phone=self.phone)


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

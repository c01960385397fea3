"""Draft order request bodies and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field

from orderline.checkout.cart_schemas import CartLineOut
from orderline.checkout.checkout_schemas import AddressOut, QuoteOut, TotalsOut
from orderline.core.schemas import Body, PatchBody, Quantity, Sku
from orderline.orders.schemas import CustomerIn
from orderline.shipping.schemas import AddressIn

PaymentCode = Annotated[str, Field(min_length=1, max_length=40, description=(
    "the way to pay the checkout starts with (card, cod, or a manual method's code); the "
    "buyer may change it. If omitted, the first way the business offers"))]
CouponCodes = Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]],
                        Field(max_length=5)]


class DraftLineIn(Body):
    sku: Sku
    quantity: Quantity


class DraftCreate(Body):
    channel: Annotated[str, Field(min_length=1, max_length=40,
                                  description="a channel set up for the business")] = "web"
    lines: Annotated[list[DraftLineIn], Field(default_factory=list, max_length=100)]
    customer: CustomerIn | None = None
    customer_id: Annotated[uuid.UUID | None, Field(
        description="a customer of this business (their contact is copied)")] = None
    address: Annotated[AddressIn | None, Field(
        description="where to deliver; with it the link opens a checkout at once")] = None
    shipping_method_id: Annotated[uuid.UUID | None, Field(
        description="a method of the address's zone; the zone's first if omitted")] = None
    coupon_codes: Annotated[CouponCodes, Field(default_factory=list)]
    payment_method: PaymentCode | None = None
    note: Annotated[str, Field(max_length=500)] = ""


class DraftUpdate(PatchBody):
    """Only the fields sent change; null clears the optional ones."""

    clearable: ClassVar[frozenset[str]] = frozenset({
        "customer", "customer_id", "address", "shipping_method_id", "payment_method"})
    customer: CustomerIn | None = None
    customer_id: uuid.UUID | None = None
    address: AddressIn | None = None
    shipping_method_id: uuid.UUID | None = None
    coupon_codes: CouponCodes | None = None
    payment_method: PaymentCode | None = None
    note: Annotated[str | None, Field(max_length=500)] = None

    def changes(self) -> dict[str, Any]:
        sent = self.model_fields_set
        out: dict[str, Any] = {}
        for name in sent:
            value = getattr(self, name)
            if name == "customer":
                value = None if value is None else value.to_contact()
            elif name == "address":
                value = None if value is None else value.to_address()
            out[name] = value
        return out


class DraftLineSet(Body):
    quantity: Quantity


class DraftSend(Body):
    expires_in_hours: Annotated[int | None, Field(
        ge=1, le=2160, description="the link stops opening after this many hours "
                                   "(at most 90 days); never, if omitted")] = None


class DraftCustomerOut(BaseModel):
    id: uuid.UUID | None
    name: str | None
    phone: str | None
    email: str | None


class PricingProblem(BaseModel):
    code: str = Field(description="the error code a checkout of the draft would refuse with")
    message: str


class DraftOut(BaseModel):
    id: uuid.UUID
    status: str = Field(description="draft, sent (its link is out), open (the buyer opened "
                                    "it: a checkout holds the stock), completed (into "
                                    "order_id) or cancelled")
    version: int = Field(description="moves on with every change; send it back as If-Match")
    channel: str
    currency: str
    customer: DraftCustomerOut
    address: AddressOut | None
    shipping_method_id: uuid.UUID | None
    coupon_codes: list[str]
    payment_method: str | None
    note: str
    lines: list[CartLineOut]
    totals: TotalsOut = Field(description="priced by the pricing engine as a checkout would "
                                          "price the draft now")
    quote: QuoteOut
    pricing_problem: PricingProblem | None = Field(description=(
        "why the draft could not be priced with its address, shipping and coupons (its "
        "lines are priced alone then); a checkout would refuse with this code"))
    link_expires_at: datetime | None
    cart_id: uuid.UUID | None
    checkout_id: uuid.UUID | None
    order_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class DraftSent(DraftOut):
    link_token: str = Field(description="the link's token, shown in this answer only")
    link_url: str = Field(description="the link to send the buyer: it opens the checkout")
    whatsapp_url: str = Field(description="a WhatsApp link with the buyer's link ready to send")


class DraftPage(BaseModel):
    data: list[DraftOut]
    next_cursor: str | None

"""Order request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, Field, field_validator

from orderline.core.schemas import (
    EMAIL_PATTERN,
    PHONE_PATTERN,
    Body,
    MinorUnits,
    PatchBody,
    Quantity,
    Sku,
)
from orderline.orders.rules import CancelReason, OrderStatus, RequestedLine
from orderline.orders.service import Contact
from orderline.shipping.schemas import AddressIn


class CustomerIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    phone: Annotated[str | None, Field(pattern=PHONE_PATTERN)] = None
    email: Annotated[str | None, Field(pattern=EMAIL_PATTERN, max_length=320)] = None

    def to_contact(self) -> Contact:
        return Contact(name=self.name, phone=self.phone,
                       email=self.email.lower() if self.email else None)


class LineIn(Body):
    sku: Sku
    quantity: Quantity


def to_lines(lines: list[LineIn]) -> list[RequestedLine]:
    return [RequestedLine(sku=line.sku, quantity=line.quantity) for line in lines]


class OrderCreate(Body):
    customer: CustomerIn
    channel: Annotated[str, Field(min_length=1, max_length=40)] = "api"
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=100)]
    payment_method: Annotated[str, Field(min_length=1, max_length=40)]
    note: Annotated[str, Field(max_length=2000)] = ""
    location: Annotated[str | None, Field(max_length=40,
                                          description="stock location code; default location "
                                                      "if omitted")] = None
    shipping_address: Annotated[AddressIn | None, Field(
        description="where the order goes; for cash on delivery, its shipping zone must be "
                    "one the business collects cash in")] = None
    cod_override_reason: Annotated[str | None, Field(
        min_length=1, max_length=500,
        description="cash on delivery only: place the order even though the business's cash "
                    "policy refuses it, for this reason (kept in the order's history)")] = None


class OrderUpdate(PatchBody):
    note: Annotated[str | None, Field(max_length=2000)] = None
    customer: CustomerIn | None = None
    lines: Annotated[list[LineIn] | None, Field(min_length=1, max_length=100)] = None


NOTE_MAX = 500
InternalNote = Annotated[str | None, Field(
    max_length=NOTE_MAX, description="why, in the merchant's words: kept in the order's "
                                     "history, never shown to the buyer")]


class StatusChange(Body):
    status: OrderStatus
    reason: CancelReason | None = None
    note: InternalNote = None

    @field_validator("reason")
    @classmethod
    def _not_merged(cls, reason: CancelReason | None) -> CancelReason | None:
        # An order is cancelled as merged only by merging it (POST /v1/orders/{id}/merge).
        if reason == CancelReason.MERGED:
            raise ValueError("'merged' is given by a merge (POST /v1/orders/{id}/merge)")
        return reason


class PaymentConfirm(Body):
    reference: Annotated[str | None, Field(max_length=200)] = None
    amount: MinorUnits | None = Field(default=None, description="if given, must equal the total")
    note: InternalNote = None


class ShippingUpdate(Body):
    carrier: Annotated[str, Field(min_length=1, max_length=100)]
    tracking_number: Annotated[str, Field(min_length=1, max_length=100)]
    tracking_url: AnyHttpUrl | None = None


class LineOut(BaseModel):
    sku: str
    name: str
    unit_price: int
    quantity: int
    line_total: int
    discount: int = Field(description="this line's share of every discount")
    tax: int = Field(description="this line's tax (inside line_total when prices include tax)")
    refunded_quantity: int = Field(0, description="units of this line refunded so far "
                                                  "(refunds by line); never more than quantity")
    cancelled_quantity: int = Field(0, description="units of this line cancelled before "
                                                   "shipment; the buyer ordered quantity + "
                                                   "cancelled_quantity")


class CustomerOut(BaseModel):
    id: uuid.UUID
    name: str
    phone: str | None
    email: str | None


class ShippingOut(BaseModel):
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None


class OrderOut(BaseModel):
    id: uuid.UUID
    number: str = Field(description=(
        "OL-000001...: unique and increasing per business; a gap is an order that was "
        "numbered and then rolled back (refused), never a lost order"))
    status: OrderStatus
    channel: str
    customer: CustomerOut
    payment_method: str
    note: str
    currency: str
    subtotal: int
    discount_total: int
    shipping_total: int = Field(description="shipping after its discount")
    shipping_discount: int
    tax_total: int
    total: int
    prices_include_tax: bool
    lines: list[LineOut]
    pricing: dict[str, Any] | None = Field(
        description="taxes by rate and coupons as applied, from the pricing engine")
    shipping_method: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    checkout_id: uuid.UUID | None
    version: int
    payment_deadline: datetime
    paid_at: datetime | None
    payment_reference: str | None
    invoice_number: str | None = Field(description=(
        "INV-000001...: gapless per business, given by the worker shortly after the money "
        "is in (paid, or cash collected on delivery); null until then. Order numbers may "
        "have gaps; invoice numbers never do"))
    invoiced_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    shipping: ShippingOut
    shipped_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


class BuyerContactOut(BaseModel):
    name: str
    phone: str | None
    email: str | None


class BuyerHistoryEntry(BaseModel):
    action: str
    from_status: str | None
    to_status: str | None
    at: datetime


class BuyerShipmentLineOut(BaseModel):
    sku: str
    quantity: int


class BuyerShipmentOut(BaseModel):
    number: int
    status: str = Field(description="shipped or delivered")
    carrier: str
    tracking_number: str
    tracking_url: str | None
    shipped_at: datetime
    delivered_at: datetime | None
    lines: list[BuyerShipmentLineOut]


class BuyerOrderOut(BaseModel):
    """What the order's buyer (its access token) sees: no merchant note, internal ids, pricing
    internals, or who did what."""

    id: uuid.UUID
    number: str
    status: OrderStatus
    channel: str
    payment_method: str
    currency: str
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_discount: int
    tax_total: int
    total: int
    prices_include_tax: bool
    customer: BuyerContactOut
    lines: list[LineOut]
    shipping_address: dict[str, Any] | None
    shipping: ShippingOut
    payment_deadline: datetime
    paid_at: datetime | None
    invoice_number: str | None = Field(description=(
        "the order's invoice number, once its money is in; null until then"))
    invoiced_at: datetime | None
    cancelled_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    payment_instructions: dict[str, Any] | None = Field(description=(
        "for a bank transfer or e-wallet: where to pay, the exact amount, the reference, the "
        "deadline and each proof's fate (as GET .../payment-instructions)"))
    history: list[BuyerHistoryEntry]
    shipments: list[BuyerShipmentOut] = Field(default_factory=list, description=(
        "the parcels the order left in, first one first, with their tracking"))
    created_at: datetime
    updated_at: datetime


class PlacedOrderOut(OrderOut):
    access_token: str = Field(description=(
        "The buyer's key to this order (live updates at /v1/orders/{id}/events?access_token=). "
        "Shown only now; give it to the buyer, not to anyone else."))
    manual_payment: dict[str, Any] | None = Field(default=None, description=(
        "When paid by one of the business's manual methods: where to pay, the exact amount, "
        "the payment reference and the proof deadline."))


class OrderView(OrderOut):
    """The order as its use cases show it after a change: with its customer's id."""

    customer_id: uuid.UUID


class OrderPage(BaseModel):
    data: list[OrderOut]
    next_cursor: str | None


class HistoryEntry(BaseModel):
    id: int
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    changes: dict[str, object]
    created_at: datetime


class ChannelConversion(BaseModel):
    checkouts_started: int = Field(description="carts of this channel that started a checkout "
                                               "in the period")
    orders_placed: int = Field(description="of those, the ones that became an order")
    conversion_rate: float | None = Field(description="orders_placed / checkouts_started; "
                                                      "null without checkouts")


class OrderStats(BaseModel):
    currency: str
    orders: int
    paid_orders: int
    revenue: int
    average_order_value: int
    by_status: dict[str, int]
    by_channel: dict[str, dict[str, int]]
    conversion_by_channel: dict[str, ChannelConversion] = Field(
        description="checkouts started against orders placed, by channel (orders typed in "
                    "by the merchant start no checkout)")


class CustomerSpent(BaseModel):
    currency: str
    amount: int = Field(description="money received for the customer's orders in this "
                                    "currency, in minor units")
    orders: int = Field(description="the orders whose money came in")


class StoredCustomer(BaseModel):
    """A customer's row as it is stored."""

    id: uuid.UUID
    business_id: uuid.UUID
    name: str
    phone: str | None
    email: str | None
    total_orders: int
    total_spent: int
    cod_trust_score: int = Field(description="cash on delivery trust: raised by delivered "
                                             "cash orders, lowered by refused ones")
    cod_delivered: int
    erased_at: datetime | None
    created_at: datetime


class CustomerRecord(StoredCustomer):
    """A customer with everything the merchant's console shows of them. ``total_orders`` and
    ``total_spent`` are kept by the worker as orders are paid (in the business's currency);
    ``orders_placed``, ``orders_paid``, ``spent`` and ``last_order_at`` are read from the
    orders as they are now."""

    orders_placed: int = Field(description="orders placed, whatever became of them")
    orders_paid: int = Field(description="orders whose money came in")
    spent: list[CustomerSpent] = Field(description="money received, per currency (only the "
                                                   "currencies with some)")
    last_order_at: datetime | None


class CustomerList(BaseModel):
    data: list[CustomerRecord]
    next_cursor: str | None

"""Return (RMA) request bodies and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from orderline.core.schemas import Body, Quantity, Sku
from orderline.orders.schemas import NOTE_MAX
from orderline.returns.rules import Condition, Receipt, ReturnReason, UnitsToReturn

Reason = Literal["damaged", "defective", "wrong_item", "not_as_described", "no_longer_needed",
                 "other"]


class UnitsIn(Body):
    sku: Sku = Field(description="the order line's SKU")
    quantity: Quantity = Field(description="units of that line to return")


class ReturnRequest(Body):
    """Units to return (shipped, not already returned), why, and the buyer's words."""

    lines: Annotated[list[UnitsIn], Field(min_length=1, max_length=100)]
    reason: Reason
    note: Annotated[str | None, Field(max_length=NOTE_MAX,
                                      description="in the buyer's words")] = None

    def units(self) -> list[UnitsToReturn]:
        return [UnitsToReturn(sku=line.sku, quantity=line.quantity) for line in self.lines]

    def return_reason(self) -> ReturnReason:
        return ReturnReason(self.reason)


class RejectionIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=NOTE_MAX,
                                 description="why the return is not accepted (the buyer is "
                                             "told)")]


class ReceiptIn(Body):
    sku: Sku
    condition: Literal["restock", "damaged"] = Field(
        description="restock: back on hand at a location; damaged: written off")
    location: Annotated[str | None, Field(
        max_length=50, description="the location code to restock at (none: where the units "
                                   "shipped from)")] = None


class ReceiveIn(Body):
    """What became of each line of the return, every line once."""

    lines: Annotated[list[ReceiptIn], Field(min_length=1, max_length=100)]

    def receipts(self) -> list[Receipt]:
        return [Receipt(sku=r.sku, condition=Condition(r.condition), location=r.location)
                for r in self.lines]


class ReturnLineOut(BaseModel):
    sku: str
    quantity: int
    condition: str | None = Field(description="on receipt: restock or damaged")
    location: str | None = Field(description="where the units went back (or were written "
                                             "off)")


class PhotoOut(BaseModel):
    id: uuid.UUID
    media_type: str
    size_bytes: int
    uploaded_at: datetime


class ReturnOut(BaseModel):
    """A return (RMA). ``actor`` is left out of the buyer's answers."""

    id: uuid.UUID
    order_id: uuid.UUID
    number: int
    code: str = Field(description="<order number>-R<n>, as the buyer and staff see it")
    status: str = Field(description="requested, approved, rejected, received, refunded or "
                                    "cancelled")
    reason: str
    note: str | None
    requested_by: str = Field(description="buyer or staff")
    rejection_reason: str | None
    currency: str
    restocking_fee: int = Field(description="minor units kept from the refund")
    refund_amount: int | None = Field(description="minor units given back (once refunded)")
    refund_method: str | None = Field(description="none, card or by_hand")
    created_at: datetime
    approved_at: datetime | None
    received_at: datetime | None
    refunded_at: datetime | None
    closed_at: datetime | None
    version: int
    lines: list[ReturnLineOut]
    photos: list[PhotoOut]
    exchange_id: uuid.UUID | None = Field(
        default=None, description="the exchange that made this return (its units were "
                                  "traded for a replacement order)")
    exchange_credit: int | None = Field(
        default=None, description="for an exchange's return: the part of the units' value "
                                  "that paid the replacement order (the refund gives back "
                                  "the rest)")
    actor: str | None = None


class ReturnList(BaseModel):
    data: list[ReturnOut]


class ReturnOptions(BaseModel):
    units: dict[str, int] = Field(description="units of each line that may be returned now")
    window_closes_at: datetime | None = Field(
        description="until when the buyer may ask (null: buyers may not ask online)")
    buyer_may_ask: bool
    restocking_fee_bp: int
    restocking_fee_fixed: int


class RefundPreview(BaseModel):
    return_id: uuid.UUID
    currency: str
    value: int = Field(description="the returned units' share of their lines (minor units)")
    restocking_fee: int
    refund_amount: int
    refund_method: str = Field(description="none, card or by_hand")

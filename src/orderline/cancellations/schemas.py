"""Partial cancellation request bodies and answers."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from orderline.cancellations.rules import UnitsToCancel
from orderline.core.schemas import Body, Quantity, Sku
from orderline.orders.rules import CancelReason
from orderline.orders.schemas import NOTE_MAX, OrderOut


class UnitsIn(Body):
    sku: Sku = Field(description="the order line's SKU (each SKU is one line of an order)")
    quantity: Quantity = Field(description="units of that line to cancel")


class CancellationRequest(Body):
    """Units to cancel; every unit left is the same as cancelling the whole order."""

    lines: Annotated[list[UnitsIn], Field(min_length=1, max_length=100)]
    # The reasons a merchant gives (a lapsed payment or a failed delivery is the system's).
    reason: Literal["merchant", "buyer", "out_of_stock", "fraud", "other"] = "merchant"
    note: Annotated[str | None, Field(
        max_length=NOTE_MAX, description="why, in the merchant's words: kept in the order's "
                                         "history, never shown to the buyer")] = None

    def cancel_reason(self) -> CancelReason:
        return CancelReason(self.reason)

    def units(self) -> list[UnitsToCancel]:
        return [UnitsToCancel(sku=line.sku, quantity=line.quantity) for line in self.lines]


class RefundOut(BaseModel):
    amount: int = Field(description="minor units given back to the buyer (0 when unpaid)")
    method: str = Field(description="none (unpaid: the total falls), card (through the "
                                    "payment provider) or by_hand (cash or a transfer, "
                                    "recorded as given back by the merchant)")
    provider: str | None = None


class Figures(BaseModel):
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_discount: int
    tax_total: int
    total: int


class PreviewLine(BaseModel):
    sku: str
    name: str
    quantity_before: int
    cancel: int
    quantity_after: int
    line_total_after: int
    discount_after: int
    tax_after: int


class CouponAmount(BaseModel):
    code: str
    kind: str
    amount: int = Field(description="what the coupon takes off, in minor units")


class CouponAmounts(BaseModel):
    before: list[CouponAmount]
    after: list[CouponAmount]


class CancellationPreview(BaseModel):
    """What the cancellation would do; nothing changed. Send ``version`` as If-Match with
    the cancellation to be sure the order is still as previewed."""

    order_id: uuid.UUID
    version: int
    status: str
    currency: str
    full_cancellation: bool = Field(description="every unit left goes: the whole order is "
                                                "cancelled")
    lines: list[PreviewLine]
    before: Figures
    after: Figures
    difference: Figures = Field(description="before minus after")
    coupons: CouponAmounts
    refund: RefundOut


class CancelledUnits(BaseModel):
    sku: str
    quantity: int


class CancellationOut(BaseModel):
    cancellation_id: uuid.UUID
    full_cancellation: bool
    lines: list[CancelledUnits]
    refund: RefundOut
    order: OrderOut

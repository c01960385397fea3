"""Order change request bodies and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, model_validator

from orderline.cancellations.schemas import CouponAmounts, Figures, RefundOut
from orderline.core.errors import ValidationFailed
from orderline.core.schemas import Body, Quantity, Sku
from orderline.order_changes.rules import (
    MAX_PAYMENT_HOURS,
    MIN_PAYMENT_HOURS,
    LineEdit,
)
from orderline.orders.schemas import NOTE_MAX


class UnitsIn(Body):
    sku: Sku = Field(description="the SKU (each SKU is one line of an order)")
    quantity: Quantity


class SkuIn(Body):
    sku: Sku = Field(description="the order line's SKU")


class ChangeLinesIn(Body):
    """The lines to add, change and remove; each SKU in one of the three lists only."""

    add: list[UnitsIn] = Field(default_factory=list, max_length=100, description=(
        "units to add: a SKU the order does not have becomes a new line at the catalog's "
        "price now; a SKU it has gets that many units more at its own price"))
    change: list[UnitsIn] = Field(default_factory=list, max_length=100, description=(
        "a line's new quantity (at the order's unit price)"))
    remove: list[SkuIn] = Field(default_factory=list, max_length=100,
                                description="lines to remove entirely")

    @model_validator(mode="after")
    def _some_line(self) -> ChangeLinesIn:
        if not (self.add or self.change or self.remove):
            raise ValueError("name at least one line to add, change or remove")
        return self

    def edits(self) -> list[LineEdit]:
        edits = ([LineEdit(sku=u.sku, quantity=u.quantity, add=True) for u in self.add]
                 + [LineEdit(sku=u.sku, quantity=u.quantity) for u in self.change]
                 + [LineEdit(sku=s.sku, quantity=0) for s in self.remove])
        skus = [e.sku for e in edits]
        if len(set(skus)) != len(skus):
            raise ValidationFailed("Each SKU may appear only once across add, change and "
                                   "remove.", details={"field": "lines"})
        return edits


class ChangeIn(ChangeLinesIn):
    expected_version: StrictInt | None = Field(default=None, ge=1, description=(
        "the order's version the preview showed (or send If-Match): a change made to the "
        "order since is refused with 412, so a stale preview is never confirmed"))
    note: Annotated[str | None, Field(max_length=NOTE_MAX, description=(
        "why, in the merchant's words: kept in the change and the order's history"))] = None
    pay_within_hours: StrictInt | None = Field(
        default=None, ge=MIN_PAYMENT_HOURS, le=MAX_PAYMENT_HOURS,
        description="when the buyer owes money: hours to pay before the change lapses "
                    "(default 48)")


class PayByCardIn(Body):
    payment_method: Annotated[str | None, Field(max_length=100, description=(
        "the provider's payment method (the sandbox's test cards: pm_card_visa, ...); "
        "omit it to let the provider ask the buyer"))] = None


class PreviewLine(BaseModel):
    sku: str
    name: str
    kind: str = Field(description="added, changed or removed")
    unit_price: int
    quantity_before: int
    quantity_after: int
    line_total_after: int
    discount_after: int
    tax_after: int


class RequestedAmount(BaseModel):
    amount: int = Field(description="what the buyer would be asked to pay, in minor units")


class ChangePreview(BaseModel):
    """What the change would do; nothing changed. Send ``version`` back as
    ``expected_version`` (or If-Match) with the change."""

    order_id: uuid.UUID
    version: int
    status: str
    currency: str
    lines: list[PreviewLine]
    before: Figures
    after: Figures
    difference: int = Field(description="the total after minus before: positive, the buyer "
                                        "owes it; negative, it is refunded")
    coupons: CouponAmounts
    refund: RefundOut
    payment_request: RequestedAmount | None
    applies: str = Field(description="at_once, or when_paid (the buyer owes the difference)")


class ChangeLineOut(BaseModel):
    sku: str
    name: str
    kind: str
    unit_price: int
    quantity_before: int
    quantity_after: int
    held: bool = Field(description="the added units are held for the buyer until the "
                                   "deadline")


class ChangeRefundOut(BaseModel):
    amount: int
    method: str | None


class PaymentRequestOut(BaseModel):
    id: uuid.UUID
    amount: int
    currency: str
    deadline: datetime
    status: str = Field(description="open, paid, lapsed or cancelled")
    paid_by: str | None = Field(description="card or by_hand, once paid")
    paid_at: datetime | None


class ChangeOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    number: int = Field(description="1, 2, 3... per order")
    status: str = Field(description="applied, awaiting_payment, lapsed or cancelled")
    currency: str
    lines: list[ChangeLineOut]
    before: Figures
    after: Figures
    difference: int
    refund: ChangeRefundOut | None
    payment_request: PaymentRequestOut | None
    note: str | None
    deadline: datetime | None
    order_version_before: int
    order_version_after: int | None
    created_by: str
    created_at: datetime
    applied_at: datetime | None
    closed_at: datetime | None


class ChangeList(BaseModel):
    items: list[ChangeOut]

"""Split and merge request bodies and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from orderline.cancellations.schemas import Figures
from orderline.core.schemas import Body, Quantity, Sku
from orderline.order_splits.rules import UnitsToMove
from orderline.orders.schemas import NOTE_MAX, OrderOut

Note = Annotated[str | None, Field(
    max_length=NOTE_MAX, description="why, in the merchant's words: kept in the orders' "
                                     "history, never shown to the buyer")]


class UnitsIn(Body):
    sku: Sku = Field(description="the order line's SKU")
    quantity: Quantity = Field(description="units of that line to move to the new order")


class SplitRequest(Body):
    """Units to move to a new order; at least one unit stays on this one."""

    lines: Annotated[list[UnitsIn], Field(min_length=1, max_length=100)]
    note: Note = None

    def units(self) -> list[UnitsToMove]:
        return [UnitsToMove(sku=line.sku, quantity=line.quantity) for line in self.lines]


class SplitPreviewLine(BaseModel):
    sku: str
    name: str
    quantity_before: int
    move: int
    quantity_kept: int
    line_total_moved: int
    discount_moved: int
    tax_moved: int


class SplitPreview(BaseModel):
    """What the split would do; nothing changed. Send ``version`` as If-Match with the split
    to be sure the order is still as previewed."""

    order_id: uuid.UUID
    number: str
    version: int
    status: str
    currency: str
    new_order_status: str
    lines: list[SplitPreviewLine]
    before: Figures
    kept: Figures = Field(description="this order's figures after the split")
    moved: Figures = Field(description="the new order's figures; kept + moved = before")
    money_moved: int = Field(description="of a paid order's payment, what now belongs to "
                                         "the new order (0 when unpaid)")


class MovedUnits(BaseModel):
    sku: str
    quantity: int


class SplitOut(BaseModel):
    split_id: uuid.UUID
    lines: list[MovedUnits]
    money_moved: int
    order: OrderOut = Field(description="this order, with what it kept")
    new_order: OrderOut = Field(description="the order split from it")
    new_order_access_token: str = Field(description=(
        "The buyer's key to the new order (its order page and live updates); shown once, "
        "as when an order is placed"))


class MergeRequest(Body):
    """The order whose lines join this one (and is then cancelled, reason ``merged``)."""

    other_order_id: uuid.UUID
    other_version: Annotated[int | None, Field(
        ge=1, description="the other order's version as shown; refused (412) if it changed "
                          "since")] = None
    note: Note = None


class MergePreviewRequest(Body):
    other_order_id: uuid.UUID


class MergePreviewLine(BaseModel):
    sku: str
    name: str
    quantity_here: int
    quantity_joining: int
    quantity_after: int
    line_total_after: int
    discount_after: int
    tax_after: int


class MergePreview(BaseModel):
    """What the merge would do; nothing changed."""

    order_id: uuid.UUID
    number: str
    version: int
    other_order_id: uuid.UUID
    other_number: str
    other_version: int
    currency: str
    lines: list[MergePreviewLine]
    before: Figures = Field(description="this order's figures now")
    other: Figures = Field(description="the other order's figures now")
    after: Figures = Field(description="this order's figures once merged, priced again")
    coupons: list[str] = Field(description="the coupon codes applied to the merged order, "
                                           "in order")
    payment_deadline: datetime = Field(description="the earlier of the two deadlines")


class MergeOut(BaseModel):
    merge_id: uuid.UUID
    lines: list[MovedUnits] = Field(description="the units that joined this order")
    order: OrderOut = Field(description="this order, merged")
    merged_order: OrderOut = Field(description="the other order, cancelled (reason merged)")


class OrderLinkOut(BaseModel):
    kind: str = Field(description="split_into, split_from, merged_from or merged_into")
    order_id: uuid.UUID = Field(description="the other order")
    number: str
    status: str
    change_id: uuid.UUID = Field(description="the split or merge that made the link")
    amount: int = Field(description="money of the original's payment that belongs to the "
                                    "order split from it")
    lines: list[MovedUnits]
    actor: str
    created_at: datetime


class OrderLinksOut(BaseModel):
    order_id: uuid.UUID
    data: list[OrderLinkOut]

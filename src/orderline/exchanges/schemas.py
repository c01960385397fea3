"""Exchange request bodies and answers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, Field

from orderline.core.schemas import Body, Quantity, Sku
from orderline.orders.rules import RequestedLine
from orderline.orders.schemas import NOTE_MAX, OrderOut
from orderline.returns.rules import ReturnReason, UnitsToReturn
from orderline.returns.schemas import Reason, ReturnOut, UnitsIn


class ReplacementIn(Body):
    sku: Sku = Field(description="a SKU of the catalog")
    quantity: Quantity = Field(description="units of it to send as the replacement")


class ExchangeRequest(Body):
    """Shipped units to send back (not already returned or refunded), why, and what to send
    instead."""

    lines: Annotated[list[UnitsIn], Field(min_length=1, max_length=100,
                                          description="the units coming back")]
    reason: Reason
    replacement: Annotated[list[ReplacementIn], Field(min_length=1, max_length=100,
                                                      description="the replacement lines")]
    note: Annotated[str | None, Field(max_length=NOTE_MAX,
                                      description="kept on the return")] = None

    def units(self) -> list[UnitsToReturn]:
        return [UnitsToReturn(sku=line.sku, quantity=line.quantity) for line in self.lines]

    def replacement_lines(self) -> list[RequestedLine]:
        return [RequestedLine(sku=line.sku, quantity=line.quantity)
                for line in self.replacement]

    def return_reason(self) -> ReturnReason:
        return ReturnReason(self.reason)


class SettlementOut(BaseModel):
    currency: str
    value: int = Field(description="the returned units' exact share of their lines (no "
                                   "restocking fee for an exchange)")
    price: int = Field(description="the replacement order's total")
    credit: int = Field(description="what of the value pays the replacement order")
    owed: int = Field(description="what the buyer still pays for the replacement")
    refund: int = Field(description="what the buyer gets back once the units are received")


class ReplacementLineOut(BaseModel):
    sku: str
    name: str
    unit_price: int
    quantity: int
    line_total: int
    discount: int
    tax: int


class ExchangePreview(BaseModel):
    """What the exchange would do; nothing changed. Send ``version`` as If-Match with the
    exchange to be sure the order is still as previewed."""

    order_id: uuid.UUID
    number: str
    version: int
    currency: str
    lines: list[dict[str, Any]] = Field(description="the units coming back")
    replacement: list[ReplacementLineOut]
    settlement: SettlementOut


class ExchangeOut(BaseModel):
    exchange_id: uuid.UUID
    order: OrderOut = Field(description="the original order as it now is")
    replacement_order: OrderOut
    access_token: str = Field(description="the replacement order's buyer token (shown once)")
    settlement: SettlementOut
    return_: ReturnOut = Field(alias="return", serialization_alias="return",
                               description="the return of the units, already approved")

    model_config = {"populate_by_name": True}

"""Shipment request bodies and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, Field, StrictInt

from orderline.core.limits import MAX_LINE_QUANTITY
from orderline.core.schemas import Body, Sku
from orderline.orders.fulfilment.service import Parcel
from orderline.orders.rules import MAX_LINES_PER_ORDER
from orderline.orders.schemas import OrderOut


class ShipmentLineIn(Body):
    sku: Sku
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_LINE_QUANTITY)]


class ShipmentCreate(Body):
    lines: Annotated[list[ShipmentLineIn], Field(
        default_factory=list, max_length=MAX_LINES_PER_ORDER,
        description="units per SKU; empty or left out: every unit not yet shipped")]
    location: Annotated[str | None, Field(
        max_length=40, description="the code of the location the units leave from; left "
                                   "out: from where the order's stock was taken")] = None
    carrier: Annotated[str, Field(min_length=1, max_length=100)]
    tracking_number: Annotated[str, Field(min_length=1, max_length=100)]
    tracking_url: AnyHttpUrl | None = None

    def to_parcel(self) -> Parcel:
        units: dict[str, int] = {}
        for line in self.lines:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
        return Parcel(carrier=self.carrier, tracking_number=self.tracking_number,
                      tracking_url=str(self.tracking_url) if self.tracking_url else None,
                      units=units or None, location=self.location)


class ShipmentLineOut(BaseModel):
    sku: str
    quantity: int
    location: str | None = Field(description="the code of the location the units left from")


class ShipmentOut(BaseModel):
    id: uuid.UUID
    number: int = Field(description="1, 2, ... per order")
    status: str = Field(description="shipped or delivered")
    location: str | None = Field(description="the location chosen to ship from; null when "
                                             "units left from where the order took them")
    carrier: str
    tracking_number: str
    tracking_url: str | None
    shipped_at: datetime
    delivered_at: datetime | None
    lines: list[ShipmentLineOut]


class ShipmentResult(BaseModel):
    order: OrderOut
    shipment: ShipmentOut


class ShipmentList(BaseModel):
    data: list[ShipmentOut]

"""Cart request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from orderline.core.schemas import Body, Quantity, Sku


class CartCreate(Body):
    channel: Annotated[str, Field(min_length=1, max_length=40,
                                  description="a channel set up for the business")] = "web"
    customer_id: Annotated[str | None, Field(max_length=100,
                                             description="a customer of this business")] = None


class CartLineAdd(Body):
    sku: Sku
    quantity: Quantity


class CartLineSet(Body):
    quantity: Quantity


class CartLineOut(BaseModel):
    sku: str
    name: str
    product_id: uuid.UUID
    quantity: int
    unit_price: int = Field(description="the variant's current price, in minor units")
    line_total: int
    available: int = Field(description="units on hand and not held for orders at the default "
                                       "location now; not a promise (checkout holds stock)")
    in_stock: bool = Field(description="available >= quantity")
    archived: bool = Field(description="the SKU or its product was archived since it was "
                                       "added: a checkout refuses it (variant_archived) until "
                                       "the line is removed")


class CartOut(BaseModel):
    id: uuid.UUID
    status: str = Field(description="open, converted (into order_id) or abandoned")
    version: int = Field(description="moves on with every change; send it back as If-Match")
    channel: str
    currency: str
    customer_id: uuid.UUID | None
    order_id: uuid.UUID | None
    lines: list[CartLineOut]
    subtotal: int
    preview: dict[str, Any] = Field(description="the pricing engine's quote for the lines "
                                                "alone: no coupons, shipping or tax yet")
    created_at: datetime
    updated_at: datetime


class CartCreated(CartOut):
    token: str = Field(description="The buyer's key to this cart, sent as 'X-Cart-Token'. "
                                   "Shown in this answer only: store it now.")

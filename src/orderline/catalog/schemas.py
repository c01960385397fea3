"""Catalog and inventory request bodies, and the catalog's answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from orderline.catalog.products import MAX_WEIGHT_GRAMS, NewVariant
from orderline.catalog.rules import MovementReason
from orderline.core.schemas import Body, MinorUnits, PatchBody, Sku

# For shipping priced by weight; 0 when not given.
WeightGrams = Annotated[StrictInt, Field(ge=0, le=MAX_WEIGHT_GRAMS, description="grams")]


class VariantIn(Body):
    sku: Sku
    name: Annotated[str, Field(min_length=1, max_length=300)]
    price: MinorUnits
    low_stock_threshold: Annotated[StrictInt | None, Field(ge=0, le=1_000_000_000)] = None
    initial_stock: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)] = 0
    weight_grams: WeightGrams = 0

    def to_new(self) -> NewVariant:
        return NewVariant(sku=self.sku, name=self.name, price=self.price,
                          low_stock_threshold=self.low_stock_threshold,
                          initial_stock=self.initial_stock, weight_grams=self.weight_grams)


class ProductCreate(Body):
    name: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[str, Field(max_length=10_000)] = ""
    variants: Annotated[list[VariantIn], Field(min_length=1, max_length=200)]


class VariantsAdd(Body):
    variants: Annotated[list[VariantIn], Field(min_length=1, max_length=200)]


class ProductUpdate(PatchBody):
    name: Annotated[str | None, Field(min_length=1, max_length=300)] = None
    description: Annotated[str | None, Field(max_length=10_000)] = None


class VariantUpdate(PatchBody):
    clearable = frozenset({"low_stock_threshold"})

    name: Annotated[str | None, Field(min_length=1, max_length=300)] = None
    price: MinorUnits | None = None
    # null clears the threshold
    low_stock_threshold: Annotated[StrictInt | None, Field(ge=0, le=1_000_000_000)] = None
    weight_grams: WeightGrams | None = None


class StockAdjustment(Body):
    sku: Sku
    location: Annotated[str | None, Field(max_length=40)] = None
    delta: StrictInt | None = Field(default=None, description="signed change of on_hand")
    set_on_hand: StrictInt | None = Field(default=None, description="stock-take count")
    reason: MovementReason
    note: Annotated[str, Field(max_length=1000)] = ""


class StockTransferIn(Body):
    sku: Sku
    from_location: Annotated[str, Field(min_length=1, max_length=40,
                                        description="the code of the location giving units")]
    to_location: Annotated[str, Field(min_length=1, max_length=40,
                                      description="the code of the location receiving them")]
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000_000)]
    note: Annotated[str, Field(max_length=1000)] = ""


class LocationCreate(Body):
    code: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=200)]


# --- answers ---------------------------------------------------------------------------------

class VariantOut(BaseModel):
    id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    name: str
    price_minor: int
    currency: str
    low_stock_threshold: int | None
    weight_grams: int
    archived_at: datetime | None = Field(
        description="set while the variant is archived: it cannot be ordered anew")
    created_at: datetime
    updated_at: datetime


class ProductOut(BaseModel):
    id: uuid.UUID
    business_id: uuid.UUID
    name: str
    description: str
    archived_at: datetime | None = Field(
        description="set while the product is archived: none of its variants can be ordered "
                    "anew")
    created_at: datetime
    updated_at: datetime
    variants: list[VariantOut]


class ProductPage(BaseModel):
    data: list[ProductOut]
    next_cursor: str | None


class LocationOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    is_default: bool
    created_at: datetime


class LocationList(BaseModel):
    data: list[LocationOut]


class StockRow(BaseModel):
    """One SKU at one location."""

    sku: str
    name: str
    low_stock_threshold: int | None
    location: str
    on_hand: int
    reserved: int
    available: int
    low_stock: bool
    archived: bool = Field(description="the SKU or its product is archived")


class StockPage(BaseModel):
    data: list[StockRow]
    next_after_sku: str | None


class LocationStock(BaseModel):
    location: str
    on_hand: int
    reserved: int
    available: int


class StockOut(BaseModel):
    """One SKU's stock, in total and per location."""

    sku: str
    on_hand: int
    reserved: int
    available: int
    locations: list[LocationStock]


class MovementOut(BaseModel):
    id: int
    sku: str
    location: str
    delta: int
    reason: str
    actor: str
    order_id: uuid.UUID | None
    note: str
    created_at: datetime


class MovementPage(BaseModel):
    data: list[MovementOut]
    next_before_id: int | None


class DriftOut(BaseModel):
    sku: str
    location: str
    on_hand: int
    ledger_sum: int
    reserved: int
    active_reservations: int


class Reconciliation(BaseModel):
    balanced: bool
    drift: list[DriftOut]


class StockTransferOut(BaseModel):
    id: uuid.UUID
    sku: str
    from_location: str
    to_location: str
    quantity: int
    note: str
    actor: str
    created_at: datetime
    stock: StockOut

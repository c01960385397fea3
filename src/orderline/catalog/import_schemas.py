"""What the CSV imports answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class StockImportChange(BaseModel):
    row: int = Field(description="the row in the file (the header is row 1)")
    sku: str
    location: str
    on_hand_before: int
    on_hand_after: int
    delta: int = Field(description="on_hand_after - on_hand_before; 0 writes no movement")
    reserved: int = Field(description="units held for orders at this level")


class StockImport(BaseModel):
    dry_run: bool = Field(description="true: nothing was changed; this is what would be")
    rows: int
    changed: int = Field(description="levels whose on_hand changed (one ledger movement each)")
    changes: list[StockImportChange]


class VariantImportChange(BaseModel):
    row: int = Field(description="the row in the file (the header is row 1)")
    sku: str
    action: Literal["created", "updated", "unchanged"]
    fields: list[str] = Field(description="the variant's fields the row set")


class VariantImport(BaseModel):
    dry_run: bool = Field(description="true: nothing was changed; this is what would be")
    rows: int
    changed: int
    changes: list[VariantImportChange]

"""SQL for products, variants and locations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog.tables import Product, StockLevel, Variant
from orderline.core.db.tables import table_of
from orderline.tenancy.tables import Location

products = table_of(Product)
variants = table_of(Variant)
locations = table_of(Location)
levels = table_of(StockLevel)

VARIANT_COLUMNS = (variants.c.id, variants.c.product_id, variants.c.sku, variants.c.name,
                   variants.c.price_minor, variants.c.currency, variants.c.low_stock_threshold,
                   variants.c.weight_grams, variants.c.created_at, variants.c.updated_at)


async def insert_product(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(products).values(**values))


async def insert_variant(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(variants).values(**values))


async def sku_taken(conn: AsyncConnection, business_id: uuid.UUID,
                    skus: Sequence[str]) -> list[str]:
    stmt = select(variants.c.sku).where(variants.c.business_id == business_id,
                                        variants.c.sku.in_(skus))
    return sorted(row.sku for row in await conn.execute(stmt))


async def get_product(conn: AsyncConnection, business_id: uuid.UUID,
                      product_id: uuid.UUID) -> RowMapping | None:
    stmt = select(products).where(products.c.id == product_id,
                                  products.c.business_id == business_id)
    return (await conn.execute(stmt)).mappings().first()


async def list_products(conn: AsyncConnection, business_id: uuid.UUID, *, limit: int,
                        after: tuple[datetime, uuid.UUID] | None) -> list[RowMapping]:
    stmt = (select(products).where(products.c.business_id == business_id)
            .order_by(products.c.created_at, products.c.id).limit(limit))
    if after is not None:
        stmt = stmt.where(tuple_(products.c.created_at, products.c.id) > after)
    return list((await conn.execute(stmt)).mappings())


async def variants_of(conn: AsyncConnection, product_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    stmt = (select(*VARIANT_COLUMNS).where(variants.c.product_id.in_(product_ids))
            .order_by(variants.c.created_at, variants.c.sku))
    return list((await conn.execute(stmt)).mappings())


async def get_variant_by_sku(conn: AsyncConnection, business_id: uuid.UUID,
                             sku: str) -> RowMapping | None:
    stmt = select(*VARIANT_COLUMNS).where(variants.c.business_id == business_id,
                                          variants.c.sku == sku)
    return (await conn.execute(stmt)).mappings().first()


async def update_variant(conn: AsyncConnection, business_id: uuid.UUID, sku: str,
                         values: dict[str, Any]) -> RowMapping | None:
    stmt = (update(variants).where(variants.c.business_id == business_id, variants.c.sku == sku)
            .values(**values).returning(*VARIANT_COLUMNS))
    return (await conn.execute(stmt)).mappings().first()


async def sellable_lines(conn: AsyncConnection, business_id: uuid.UUID, location_id: uuid.UUID,
                         skus: Sequence[str]) -> list[RowMapping]:
    """Variants by SKU with their stock level at ``location_id`` (None if never stocked)."""
    stmt = (select(variants.c.id, variants.c.sku, variants.c.name, variants.c.price_minor,
                   variants.c.currency, variants.c.low_stock_threshold,
                   levels.c.id.label("stock_level_id"))
            .outerjoin(levels, (levels.c.variant_id == variants.c.id)
                       & (levels.c.location_id == location_id))
            .where(variants.c.business_id == business_id, variants.c.sku.in_(skus)))
    return list((await conn.execute(stmt)).mappings())


async def insert_location(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(locations).values(**values))


async def list_locations(conn: AsyncConnection, business_id: uuid.UUID) -> list[RowMapping]:
    stmt = (select(locations.c.id, locations.c.code, locations.c.name, locations.c.is_default,
                   locations.c.created_at)
            .where(locations.c.business_id == business_id)
            .order_by(locations.c.is_default.desc(), locations.c.code))
    return list((await conn.execute(stmt)).mappings())


async def find_location(conn: AsyncConnection, business_id: uuid.UUID,
                        code: str | None) -> RowMapping | None:
    """The location with ``code``, or the business's default location when code is None."""
    stmt = select(locations.c.id, locations.c.code).where(locations.c.business_id == business_id)
    stmt = stmt.where(locations.c.code == code) if code else stmt.where(locations.c.is_default)
    return (await conn.execute(stmt)).mappings().first()

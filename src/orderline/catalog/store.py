"""SQL for products, variants and locations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog.stock_store import held_sum
from orderline.catalog.tables import Product, StockLevel, Variant
from orderline.core.db.tables import table_of
from orderline.tenancy.tables import Location

products = table_of(Product)
variants = table_of(Variant)
locations = table_of(Location)
levels = table_of(StockLevel)

VARIANT_COLUMNS = (variants.c.id, variants.c.product_id, variants.c.sku, variants.c.name,
                   variants.c.price_minor, variants.c.currency, variants.c.low_stock_threshold,
                   variants.c.weight_grams, variants.c.archived_at, variants.c.created_at,
                   variants.c.updated_at)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
                        after: tuple[datetime, uuid.UUID] | None, include_archived: bool = False,
                        search: str | None = None) -> list[RowMapping]:
    """Products by creation, archived ones only with ``include_archived``; ``search`` is part of
    the product's name or of one of its (shown) variants' SKUs, in any case."""
    stmt = (select(products).where(products.c.business_id == business_id)
            .order_by(products.c.created_at, products.c.id).limit(limit))
    if not include_archived:
        stmt = stmt.where(products.c.archived_at.is_(None))
    if search:
        pattern = f"%{escape_like(search.lower())}%"
        sku_match = exists().where(variants.c.product_id == products.c.id,
                                   func.lower(variants.c.sku).like(pattern, escape="\\"))
        if not include_archived:
            sku_match = sku_match.where(variants.c.archived_at.is_(None))
        stmt = stmt.where(or_(func.lower(products.c.name).like(pattern, escape="\\"),
                              sku_match))
    if after is not None:
        stmt = stmt.where(tuple_(products.c.created_at, products.c.id) > after)
    return list((await conn.execute(stmt)).mappings())


async def lock_product(conn: AsyncConnection, business_id: uuid.UUID,
                       product_id: uuid.UUID) -> RowMapping | None:
    """The product, locked until this transaction ends (SQLite: one writer at a time)."""
    stmt = (select(products).where(products.c.id == product_id,
                                   products.c.business_id == business_id).with_for_update())
    return (await conn.execute(stmt)).mappings().first()


async def update_product(conn: AsyncConnection, business_id: uuid.UUID, product_id: uuid.UUID,
                         values: dict[str, Any]) -> RowMapping | None:
    stmt = (update(products).where(products.c.id == product_id,
                                   products.c.business_id == business_id)
            .values(**values).returning(*products.c))
    return (await conn.execute(stmt)).mappings().first()


async def set_product_archived(conn: AsyncConnection, business_id: uuid.UUID,
                               product_id: uuid.UUID, *, archived: bool,
                               now: datetime) -> RowMapping | None:
    """Archive (or unarchive) the product in one conditional statement: the row comes back
    only if this statement changed it, so a repeat changes and records nothing."""
    state = products.c.archived_at.is_(None) if archived else products.c.archived_at.is_not(None)
    stmt = (update(products)
            .where(products.c.id == product_id, products.c.business_id == business_id, state)
            .values(archived_at=now if archived else None, updated_at=now)
            .returning(*products.c))
    return (await conn.execute(stmt)).mappings().first()


async def variants_of(conn: AsyncConnection, product_ids: Sequence[uuid.UUID], *,
                      include_archived: bool = True) -> list[RowMapping]:
    stmt = (select(*VARIANT_COLUMNS).where(variants.c.product_id.in_(product_ids))
            .order_by(variants.c.created_at, variants.c.sku))
    if not include_archived:
        stmt = stmt.where(variants.c.archived_at.is_(None))
    return list((await conn.execute(stmt)).mappings())


async def get_variant_by_sku(conn: AsyncConnection, business_id: uuid.UUID,
                             sku: str) -> RowMapping | None:
    stmt = select(*VARIANT_COLUMNS).where(variants.c.business_id == business_id,
                                          variants.c.sku == sku)
    return (await conn.execute(stmt)).mappings().first()


async def lock_variant_by_sku(conn: AsyncConnection, business_id: uuid.UUID,
                              sku: str) -> RowMapping | None:
    """The variant, locked until this transaction ends (SQLite: one writer at a time)."""
    stmt = select(*VARIANT_COLUMNS).where(variants.c.business_id == business_id,
                                          variants.c.sku == sku).with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def update_variant(conn: AsyncConnection, business_id: uuid.UUID, sku: str,
                         values: dict[str, Any]) -> RowMapping | None:
    stmt = (update(variants).where(variants.c.business_id == business_id, variants.c.sku == sku)
            .values(**values).returning(*VARIANT_COLUMNS))
    return (await conn.execute(stmt)).mappings().first()


async def set_variant_archived(conn: AsyncConnection, business_id: uuid.UUID, sku: str, *,
                               archived: bool, now: datetime) -> RowMapping | None:
    """As ``set_product_archived``, for one variant by SKU."""
    state = variants.c.archived_at.is_(None) if archived else variants.c.archived_at.is_not(None)
    stmt = (update(variants)
            .where(variants.c.business_id == business_id, variants.c.sku == sku, state)
            .values(archived_at=now if archived else None, updated_at=now)
            .returning(*VARIANT_COLUMNS))
    return (await conn.execute(stmt)).mappings().first()


_ARCHIVED_LOCKED = (select(variants.c.sku, variants.c.archived_at,
                           products.c.archived_at.label("product_archived_at"))
                    .join(products, products.c.id == variants.c.product_id)
                    .where(variants.c.business_id == bindparam("business_id"),
                           variants.c.id.in_(bindparam("variant_ids", expanding=True)))
                    .order_by(variants.c.id)
                    .with_for_update(read=True))


async def archived_skus_locked(conn: AsyncConnection, business_id: uuid.UUID,
                               variant_ids: Sequence[uuid.UUID]) -> list[str]:
    """The SKUs among ``variant_ids`` that are archived or whose product is, read under a share
    lock on every variant and product row named (PostgreSQL ``FOR SHARE``), so that an archive
    waits for this transaction and this transaction for an archive that went first."""
    if not variant_ids:
        return []
    found = await conn.execute(_ARCHIVED_LOCKED, {"business_id": business_id,
                                                  "variant_ids": list(set(variant_ids))})
    return sorted(r.sku for r in found
                  if r.archived_at is not None or r.product_archived_at is not None)


async def sellable_lines(conn: AsyncConnection, business_id: uuid.UUID, location_id: uuid.UUID,
                         skus: Sequence[str]) -> list[RowMapping]:
    """Variants by SKU with their stock level at ``location_id`` (None if never stocked) and
    the units its counters left free when read (``free_seen``: no lock, a snapshot)."""
    return list((await conn.execute(_SELLABLE, {
        "business_id": business_id, "location_id": location_id, "skus": list(skus)})).mappings())


_SELLABLE = (select(variants.c.id, variants.c.sku, variants.c.name, variants.c.price_minor,
                    variants.c.currency, variants.c.low_stock_threshold,
                    levels.c.id.label("stock_level_id"),
                    (levels.c.on_hand - levels.c.reserved).label("free_seen"))
             .outerjoin(levels, (levels.c.variant_id == variants.c.id)
                        & (levels.c.location_id == bindparam("location_id")))
             .where(variants.c.business_id == bindparam("business_id"),
                    variants.c.sku.in_(bindparam("skus", expanding=True))))


async def levels_of_variants(conn: AsyncConnection, business_id: uuid.UUID,
                             variant_ids: Sequence[uuid.UUID], now: datetime) -> list[RowMapping]:
    """Every stock level of these variants, with its location's code, whether it is the
    default, and its free units when read (no lock, a snapshot): on hand less the holds not
    past their deadline at ``now``, as ``stock_of`` shows them. A lapsed hold the counters
    still count is expired by the hold that takes its units (``take_units_counting_lapsed``),
    so it must not steer an order away from the location that has them."""
    stmt = (select(levels.c.id.label("stock_level_id"), levels.c.variant_id,
                   locations.c.code, locations.c.is_default,
                   (levels.c.on_hand - held_sum(now)).label("free"))
            .join(locations, locations.c.id == levels.c.location_id)
            .where(levels.c.business_id == business_id,
                   levels.c.variant_id.in_(list(set(variant_ids)))))
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
    if code:
        found = await conn.execute(_LOCATION_BY_CODE, {"business_id": business_id, "code": code})
    else:
        found = await conn.execute(_DEFAULT_LOCATION, {"business_id": business_id})
    return found.mappings().first()


_LOCATION = select(locations.c.id, locations.c.code).where(
    locations.c.business_id == bindparam("business_id"))
_LOCATION_BY_CODE = _LOCATION.where(locations.c.code == bindparam("code"))
_DEFAULT_LOCATION = _LOCATION.where(locations.c.is_default)


async def products_named(conn: AsyncConnection, business_id: uuid.UUID,
                         names: Sequence[str]) -> dict[str, list[uuid.UUID]]:
    """The business's products by exact name (a name may be on several products)."""
    found: dict[str, list[uuid.UUID]] = {}
    if not names:
        return found
    stmt = (select(products.c.id, products.c.name)
            .where(products.c.business_id == business_id, products.c.name.in_(names))
            .order_by(products.c.created_at, products.c.id))
    for row in await conn.execute(stmt):
        found.setdefault(row.name, []).append(row.id)
    return found


IMPORT_CHUNK = 500  # SKUs per IN (...) list: far below every database's bind-parameter limit


async def variants_by_sku(conn: AsyncConnection, business_id: uuid.UUID, skus: Sequence[str],
                          *, lock: bool = False) -> dict[str, RowMapping]:
    """The business's variants of these SKUs (those it has), locked with ``lock`` until the
    transaction ends; a few statements for thousands of SKUs (an import's)."""
    found: dict[str, RowMapping] = {}
    ordered = sorted(set(skus))
    for start in range(0, len(ordered), IMPORT_CHUNK):
        stmt = (select(*VARIANT_COLUMNS)
                .where(variants.c.business_id == business_id,
                       variants.c.sku.in_(ordered[start:start + IMPORT_CHUNK]))
                .order_by(variants.c.id))
        if lock:
            stmt = stmt.with_for_update()
        found.update((row["sku"], row) for row in (await conn.execute(stmt)).mappings())
    return found


async def insert_variants(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(variants), rows)


async def products_of_variants(conn: AsyncConnection,
                               variant_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """The product of each variant (what a coupon restricted to products looks at)."""
    stmt = select(variants.c.id, variants.c.product_id).where(variants.c.id.in_(variant_ids))
    return {row.id: row.product_id for row in await conn.execute(stmt)}

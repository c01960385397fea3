"""Products, variants and stock locations.

Every edit of a product or a variant (and every archive, see ``archiving``) writes an audit
entry with the fields before and after, in the edit's own transaction, so a merchant can see
which key changed a price and from what.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit import service as audit
from orderline.audit.rules import Action, EntityType
from orderline.catalog import stock_store, store
from orderline.catalog.rules import MovementReason
from orderline.core.errors import Conflict, NotFound, ValidationFailed
from orderline.core.runtime import Runtime
from orderline.tenancy.rules import Principal, Scope

_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,99}$")
_LOCATION_CODE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,39}$")
MAX_WEIGHT_GRAMS = 1_000_000_000  # a variant's weight (the column is a 32-bit integer)


@dataclass(frozen=True, slots=True)
class NewVariant:
    sku: str
    name: str
    price: int
    low_stock_threshold: int | None = None
    initial_stock: int = 0
    weight_grams: int = 0


def check_sku(sku: str) -> str:
    if not _SKU.match(sku):
        raise ValidationFailed(
            "A SKU is 1-100 letters, digits, '.', '_', '-' or '/', starting with a letter or "
            "digit.",
            details={"sku": sku})
    return sku


def _check_variants(new: list[NewVariant]) -> None:
    if not new:
        raise ValidationFailed("A product needs at least one variant.")
    skus = [check_sku(v.sku) for v in new]
    if len(set(skus)) != len(skus):
        raise ValidationFailed("Each variant needs its own SKU.", details={"skus": skus})
    for v in new:
        if v.initial_stock < 0:
            raise ValidationFailed("Initial stock cannot be negative.", details={"sku": v.sku})
        _check_weight(v.weight_grams)


def _check_weight(grams: int) -> int:
    if not 0 <= grams <= MAX_WEIGHT_GRAMS:
        raise ValidationFailed(f"A weight is 0 to {MAX_WEIGHT_GRAMS} grams.",
                               details={"weight_grams": grams})
    return grams


async def _add_variants(runtime: Runtime, conn: AsyncConnection, principal: Principal,
                        product_id: uuid.UUID, new: list[NewVariant], now: datetime) -> None:
    taken = await store.sku_taken(conn, principal.business_id, [v.sku for v in new])
    if taken:
        raise Conflict("These SKUs are already used in this business.",
                       details={"skus": taken})
    default = await store.find_location(conn, principal.business_id, None)
    assert default is not None, "every business has a default location"
    for v in new:
        variant_id = uuid.uuid4()
        await store.insert_variant(conn, {
            "id": variant_id, "business_id": principal.business_id, "product_id": product_id,
            "sku": v.sku, "name": v.name, "price_minor": v.price,
            "currency": principal.currency, "low_stock_threshold": v.low_stock_threshold,
            "weight_grams": v.weight_grams, "created_at": now, "updated_at": now})
        level_id = await stock_store.ensure_level(
            conn, business_id=principal.business_id, variant_id=variant_id,
            location_id=default["id"], now=now)
        if v.initial_stock:
            await stock_store.change_on_hand(
                conn, level=stock_store.LevelDelta(level_id, variant_id, default["id"],
                                                   v.initial_stock),
                business_id=principal.business_id, reason=MovementReason.RECEIPT,
                actor=principal.actor, note="initial stock", now=now)


async def create_product(runtime: Runtime, principal: Principal, *, name: str, description: str,
                         variants: list[NewVariant]) -> dict[str, Any]:
    principal.require(Scope.WRITE)
    _check_variants(variants)
    now = runtime.clock.now()
    product_id = uuid.uuid4()

    async def work(conn: AsyncConnection) -> None:
        await store.insert_product(conn, {
            "id": product_id, "business_id": principal.business_id, "name": name,
            "description": description, "created_at": now, "updated_at": now})
        await _add_variants(runtime, conn, principal, product_id, variants, now)

    await runtime.db.run(work)
    return await get_product(runtime, principal, product_id)


async def add_variants(runtime: Runtime, principal: Principal, product_id: uuid.UUID,
                       variants: list[NewVariant]) -> dict[str, Any]:
    principal.require(Scope.WRITE)
    _check_variants(variants)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> None:
        if await store.get_product(conn, principal.business_id, product_id) is None:
            raise NotFound("product", product_id)
        await _add_variants(runtime, conn, principal, product_id, variants, now)

    await runtime.db.run(work)
    return await get_product(runtime, principal, product_id)


async def get_product(runtime: Runtime, principal: Principal,
                      product_id: uuid.UUID) -> dict[str, Any]:
    """One product with all its variants, archived ones too (each says ``archived_at``)."""
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return await product_view(conn, principal.business_id, product_id)


async def product_view(conn: AsyncConnection, business_id: uuid.UUID,
                       product_id: uuid.UUID) -> dict[str, Any]:
    row = await store.get_product(conn, business_id, product_id)
    if row is None:
        raise NotFound("product", product_id)
    product = dict(row)
    product["variants"] = [dict(v) for v in await store.variants_of(conn, [product_id])]
    return product


async def list_products(runtime: Runtime, principal: Principal, *, limit: int,
                        after: tuple[datetime, uuid.UUID] | None, include_archived: bool = False,
                        search: str | None = None) -> list[dict[str, Any]]:
    """Products by creation. Archived products, and archived variants inside the products
    shown, appear only with ``include_archived``; ``search`` matches part of a product's name
    or of a SKU, in any case."""
    principal.require(Scope.READ)

    async def page(conn: AsyncConnection) -> list[dict[str, Any]]:
        rows = [dict(r) for r in await store.list_products(
            conn, principal.business_id, limit=limit, after=after,
            include_archived=include_archived, search=search)]
        by_product: dict[uuid.UUID, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
        if rows:
            for v in await store.variants_of(conn, list(by_product),
                                             include_archived=include_archived):
                by_product[v["product_id"]].append(dict(v))
        for r in rows:
            r["variants"] = by_product[r["id"]]
        return rows
    return await runtime.db.read_from_replica(principal.business_id, page)


PRODUCT_FIELDS = frozenset({"name", "description"})


async def update_product(runtime: Runtime, principal: Principal, product_id: uuid.UUID,
                         values: dict[str, Any]) -> dict[str, Any]:
    """Change a product's name or description; the audit log keeps what they were."""
    principal.require(Scope.WRITE)
    unknown = set(values) - PRODUCT_FIELDS
    if unknown:
        raise ValidationFailed("Only a product's name and description can be edited here.",
                               details={"fields": sorted(unknown)})
    if "name" in values and not str(values["name"]).strip():
        raise ValidationFailed("A product needs a name.", details={"field": "name"})
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        before = await store.lock_product(conn, principal.business_id, product_id)
        if before is None:
            raise NotFound("product", product_id)
        if values:
            after = await store.update_product(conn, principal.business_id, product_id,
                                               {**values, "updated_at": now})
            assert after is not None  # locked above
            await audit.record(conn, principal, business_id=principal.business_id,
                               entity_type=EntityType.PRODUCT, entity_id=product_id,
                               action=Action.UPDATED,
                               before={k: before[k] for k in values},
                               after={k: after[k] for k in values}, now=now)
        return await product_view(conn, principal.business_id, product_id)

    return await runtime.db.run(work)


VARIANT_FIELDS = frozenset({"name", "price_minor", "low_stock_threshold", "weight_grams"})


async def update_variant(runtime: Runtime, principal: Principal, sku: str,
                         values: dict[str, Any]) -> dict[str, Any]:
    """Change name, price, low-stock threshold or weight. Orders already placed keep their
    snapshot; the audit log keeps the values before and after (a price change, say)."""
    principal.require(Scope.WRITE)
    unknown = set(values) - VARIANT_FIELDS
    if unknown:
        raise ValidationFailed("Only a variant's name, price, low-stock threshold and weight "
                               "can be edited here.", details={"fields": sorted(unknown)})
    if "price_minor" in values and values["price_minor"] < 0:
        raise ValidationFailed("A price cannot be negative.")
    if "weight_grams" in values:
        _check_weight(values["weight_grams"])
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        before = await store.lock_variant_by_sku(conn, principal.business_id, sku)
        if before is None:
            raise NotFound("variant", sku)
        after = await store.update_variant(conn, principal.business_id, sku,
                                           {**values, "updated_at": now})
        assert after is not None  # locked above
        await audit.record(conn, principal, business_id=principal.business_id,
                           entity_type=EntityType.VARIANT, entity_id=after["id"],
                           action=Action.UPDATED,
                           before={k: before[k] for k in values},
                           after={k: after[k] for k in values}, now=now)
        return dict(after)

    return await runtime.db.run(work)


async def create_location(runtime: Runtime, principal: Principal, *, code: str,
                          name: str) -> dict[str, Any]:
    principal.require(Scope.ADMIN)
    if not _LOCATION_CODE.match(code):
        raise ValidationFailed("A location code is 1-40 lowercase letters, digits, '-' or '_'.",
                               details={"code": code})
    now = runtime.clock.now()
    location_id = uuid.uuid4()

    async def work(conn: AsyncConnection) -> None:
        if await store.find_location(conn, principal.business_id, code) is not None:
            raise Conflict(f"Location '{code}' already exists.", details={"code": code})
        await store.insert_location(conn, {
            "id": location_id, "business_id": principal.business_id, "code": code,
            "name": name, "is_default": False, "created_at": now})

    await runtime.db.run(work)
    return {"id": location_id, "code": code, "name": name, "is_default": False,
            "created_at": now}


async def list_locations(runtime: Runtime, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        return [dict(r) for r in await store.list_locations(conn, principal.business_id)]

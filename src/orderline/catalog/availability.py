"""What can be sold now, for a person typing an order in by hand: SKUs whose product name or
SKU matches what they typed, with their price and the units free at the default location (the
location a hand-typed order takes its stock from). One read, three statements: the matching
products, their live variants, and those variants' stock levels."""

from __future__ import annotations

from typing import Any

from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.core.runtime import Runtime
from orderline.tenancy.rules import Principal, Scope


async def sellable_skus(runtime: Runtime, principal: Principal, *, search: str,
                        limit: int = 10) -> list[dict[str, Any]]:
    """Up to ``limit`` SKUs matching ``search`` (part of a product's name or of a SKU), each
    ``{sku, name, price_minor, currency, available}``; archived ones never. ``available`` is
    what the default location has free now (0 when it keeps none of the SKU)."""
    principal.require(Scope.READ)
    cleaned = search.strip()
    if not cleaned:
        return []
    async with runtime.db.read() as conn:
        found = await catalog_store.list_products(conn, principal.business_id, limit=limit,
                                                  after=None, search=cleaned)
        names = {p["id"]: p["name"] for p in found}
        variants = await catalog_store.variants_of(conn, list(names), include_archived=False)
        wanted = cleaned.lower()
        variants = [v for v in variants
                    if wanted in str(v["sku"]).lower() or wanted in names[v["product_id"]].lower()
                    or wanted in str(v["name"]).lower()][:limit]
        location = await catalog_store.find_location(conn, principal.business_id, None)
        free: dict[str, int] = {}
        if variants and location is not None:
            for row in await stock_store.level_views(
                    conn, business_id=principal.business_id, now=runtime.clock.now(),
                    skus=[v["sku"] for v in variants], limit=len(variants),
                    where=stock_store.StockFilter(location_id=location["id"],
                                                  include_archived=False)):
                free[row["sku"]] = int(row["available"])
    return [{"sku": v["sku"], "name": _full_name(names[v["product_id"]], str(v["name"])),
             "price_minor": v["price_minor"], "currency": v["currency"],
             "available": max(free.get(v["sku"], 0), 0)} for v in variants]


def _full_name(product: str, variant: str) -> str:
    """The variant's own name when it already says the product's ("Batik Sarung M"), else
    both ("Mug, blue")."""
    if not variant or variant.startswith(product):
        return variant or product
    return f"{product}, {variant}"

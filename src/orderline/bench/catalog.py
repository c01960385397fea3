"""Stock the spread scenario's SKUs in bulk: the rows ``catalog.create_product`` would write.

This departs from "build data through the services" on purpose. Through the catalog service,
10,000 SKUs cost about 50,000 statements (the variant, its stock level, the on_hand change and
its ledger row, each a round trip with SQLAlchemy's overhead): 45 s on the 2-core machine the
bench was written on, more than every measured phase together. So the bench copies the same rows
in with ``COPY``: one product per ``VARIANTS_PER_PRODUCT`` variants, each variant with a stock
level at the default location holding ``units``, and one ``receipt`` movement per level so the
ledger sums to ``on_hand``. The hot SKU still goes through the service, and the reconciliation at
the end of the run checks these rows as it checks every other (ledger sum = on_hand).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from orderline.catalog.rules import MovementReason

VARIANTS_PER_PRODUCT = 500
PRICE = 1000


async def stock_spread_skus(conn: Any, *, business_id: uuid.UUID, location_id: uuid.UUID,
                            currency: str, actor: str, skus: Sequence[str],
                            units: int) -> None:
    """Create ``skus`` with ``units`` on hand each, in one transaction."""
    now = datetime.now(UTC)
    products: list[tuple[Any, ...]] = []
    variants: list[tuple[Any, ...]] = []
    levels: list[tuple[Any, ...]] = []
    movements: list[tuple[Any, ...]] = []
    for start in range(0, len(skus), VARIANTS_PER_PRODUCT):
        product_id = uuid.uuid4()
        products.append((product_id, business_id, f"Spread {skus[start]}", "", now, now))
        for sku in skus[start:start + VARIANTS_PER_PRODUCT]:
            variant_id, level_id = uuid.uuid4(), uuid.uuid4()
            variants.append((variant_id, business_id, product_id, sku, f"Variant {sku}", PRICE,
                             currency, None, now, now))
            levels.append((level_id, business_id, variant_id, location_id, units, 0, now))
            movements.append((business_id, level_id, variant_id, location_id, units,
                              MovementReason.RECEIPT.value, actor, None, "initial stock", now))
    async with conn.transaction():
        await conn.copy_records_to_table("products", records=products, columns=[
            "id", "business_id", "name", "description", "created_at", "updated_at"])
        await conn.copy_records_to_table("variants", records=variants, columns=[
            "id", "business_id", "product_id", "sku", "name", "price_minor", "currency",
            "low_stock_threshold", "created_at", "updated_at"])
        await conn.copy_records_to_table("stock_levels", records=levels, columns=[
            "id", "business_id", "variant_id", "location_id", "on_hand", "reserved",
            "updated_at"])
        await conn.copy_records_to_table("stock_movements", records=movements, columns=[
            "business_id", "stock_level_id", "variant_id", "location_id", "delta", "reason",
            "actor", "order_id", "note", "created_at"])

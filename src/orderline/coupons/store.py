"""SQL for coupons: the merchant's coupons, their uses (overall and per customer) and the
coupons applied to orders.

Uses are counted by single statements that check and write at once, so two buyers racing for
a coupon's last use never both get it: ``take_use`` (conditional UPDATE) and
``take_customer_use`` (conditional upsert). ``give_back_for_order`` marks an order's coupons
returned first and gives back only what that statement marked, so giving back twice (or from
two places at once) gives back once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, insert, select, true, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog.tables import Product
from orderline.core.db.tables import table_of
from orderline.coupons.rules import CouponRules
from orderline.coupons.tables import Coupon, CouponCustomerUse, OrderCoupon
from orderline.orders.tables import Order
from orderline.pricing.engine import CouponKind
from orderline.tenancy.tables import Business

coupons = table_of(Coupon)
customer_uses_table = table_of(CouponCustomerUse)
order_coupons = table_of(OrderCoupon)
orders = table_of(Order)
products = table_of(Product)
businesses = table_of(Business)

# What callers see of a coupon: everything but the business.
COUPON_VIEW = [c for c in coupons.c if c.name != "business_id"]
REDEMPTION_VIEW = [order_coupons.c.id, order_coupons.c.order_id, orders.c.number.label(
    "order_number"), order_coupons.c.customer_id, order_coupons.c.code, order_coupons.c.kind,
    order_coupons.c.discount, order_coupons.c.returned_at, orders.c.created_at]


# --- the merchant's coupons ------------------------------------------------------------------

async def insert_coupon(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping | None:
    """Insert a coupon; None when the business already has one with this code."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (dialect.insert(coupons).values(**values)
            .on_conflict_do_nothing(index_elements=[coupons.c.business_id, coupons.c.code])
            .returning(*COUPON_VIEW))
    return (await conn.execute(stmt)).mappings().first()


async def get_coupon(conn: AsyncConnection, business_id: uuid.UUID, coupon_id: uuid.UUID, *,
                     for_update: bool = False) -> RowMapping | None:
    stmt = select(*COUPON_VIEW).where(coupons.c.business_id == business_id,
                                      coupons.c.id == coupon_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def list_coupons(conn: AsyncConnection, business_id: uuid.UUID, *, active: bool | None,
                       limit: int, before: tuple[datetime, uuid.UUID] | None
                       ) -> list[RowMapping]:
    """Newest first; ``before`` is the (created_at, id) of the last row of the page before."""
    stmt = select(*COUPON_VIEW).where(coupons.c.business_id == business_id)
    if active is not None:
        stmt = stmt.where(coupons.c.active == active)
    if before is not None:
        stmt = stmt.where(tuple_(coupons.c.created_at, coupons.c.id) < before)
    stmt = stmt.order_by(coupons.c.created_at.desc(), coupons.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())


async def update_coupon(conn: AsyncConnection, business_id: uuid.UUID, coupon_id: uuid.UUID,
                        values: dict[str, Any]) -> RowMapping | None:
    stmt = (update(coupons)
            .where(coupons.c.business_id == business_id, coupons.c.id == coupon_id)
            .values(**values)
            .returning(*COUPON_VIEW))
    return (await conn.execute(stmt)).mappings().first()


async def unknown_products(conn: AsyncConnection, business_id: uuid.UUID,
                           product_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The ids among ``product_ids`` that name no product of this business."""
    if not product_ids:
        return []
    stmt = select(products.c.id).where(products.c.business_id == business_id,
                                       products.c.id.in_(product_ids))
    known = set((await conn.execute(stmt)).scalars())
    return [p for p in product_ids if p not in known]


async def list_redemptions(conn: AsyncConnection, business_id: uuid.UUID,
                           coupon_id: uuid.UUID, *, limit: int,
                           before: tuple[datetime, uuid.UUID] | None) -> list[RowMapping]:
    """The orders that used the coupon, newest order first (``created_at`` is the order's)."""
    stmt = (select(*REDEMPTION_VIEW)
            .join(orders, orders.c.id == order_coupons.c.order_id)
            .where(order_coupons.c.business_id == business_id,
                   order_coupons.c.coupon_id == coupon_id))
    if before is not None:
        stmt = stmt.where(tuple_(orders.c.created_at, order_coupons.c.id) < before)
    stmt = stmt.order_by(orders.c.created_at.desc(), order_coupons.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings())


# --- what the checkout calls -----------------------------------------------------------------

def _rules(row: RowMapping) -> CouponRules:
    return CouponRules(
        id=row["id"], code=row["code"], kind=CouponKind(row["kind"]),
        percent_off_bp=row["percent_off_bp"], amount_off=row["amount_off"],
        min_subtotal=row["min_subtotal"], starts_at=row["starts_at"], ends_at=row["ends_at"],
        usage_limit=row["usage_limit"], per_customer_limit=row["per_customer_limit"],
        used_count=row["used_count"], product_ids=frozenset(row["product_ids"] or ()),
        active=row["active"])


async def find_by_codes(conn: AsyncConnection, business_id: uuid.UUID,
                        codes: list[str]) -> list[CouponRules]:
    """The business's coupons with these (normalised) codes, active or not: the rules decide
    what an inactive or unknown one means. Order is not that of ``codes``."""
    if not codes:
        return []
    stmt = select(*COUPON_VIEW).where(coupons.c.business_id == business_id,
                                      coupons.c.code.in_(codes))
    return [_rules(r) for r in (await conn.execute(stmt)).mappings()]


async def customer_uses(conn: AsyncConnection, coupon_ids: list[uuid.UUID],
                        customer_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """How many times this customer used each coupon (coupons never used are absent)."""
    if not coupon_ids:
        return {}
    stmt = select(customer_uses_table.c.coupon_id, customer_uses_table.c.uses).where(
        customer_uses_table.c.coupon_id.in_(coupon_ids),
        customer_uses_table.c.customer_id == customer_id)
    return {r.coupon_id: int(r.uses) for r in await conn.execute(stmt)}


async def take_use(conn: AsyncConnection, coupon_id: uuid.UUID, now: datetime) -> bool:
    """Take one use of an active coupon within its dates and limit; False when none is left
    (or it is inactive, not started or ended). One statement: checks and counts at once."""
    stmt = (update(coupons)
            .where(coupons.c.id == coupon_id, coupons.c.active == true(),
                   coupons.c.usage_limit.is_(None)
                   | (coupons.c.used_count < coupons.c.usage_limit),
                   coupons.c.starts_at.is_(None) | (coupons.c.starts_at <= now),
                   coupons.c.ends_at.is_(None) | (coupons.c.ends_at > now))
            .values(used_count=coupons.c.used_count + 1, updated_at=now)
            .returning(coupons.c.id))
    return (await conn.execute(stmt)).first() is not None


async def take_customer_use(conn: AsyncConnection, coupon_id: uuid.UUID,
                            customer_id: uuid.UUID, limit: int) -> bool:
    """Count one use by this customer unless they already used it ``limit`` times (then
    False). One upsert: the first use inserts, later ones add one only below the limit."""
    if limit < 1:  # no use at all is allowed: not even the first
        return False
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(customer_uses_table).values(
        coupon_id=coupon_id, customer_id=customer_id, uses=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[customer_uses_table.c.coupon_id, customer_uses_table.c.customer_id],
        set_={"uses": customer_uses_table.c.uses + 1},
        where=customer_uses_table.c.uses < limit)
    return (await conn.execute(stmt.returning(customer_uses_table.c.uses))).first() is not None


async def record_order_coupons(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """The coupons applied to an order, as applied (id, business_id, order_id, coupon_id,
    customer_id, code, kind, discount)."""
    if rows:
        await conn.execute(insert(order_coupons), rows)


async def returns_on_cancel(conn: AsyncConnection, business_id: uuid.UUID) -> bool:
    """Whether the business gives coupon uses back when an order is cancelled."""
    return bool((await conn.execute(select(businesses.c.return_coupon_on_cancel).where(
        businesses.c.id == business_id))).scalar_one())


async def give_back_for_order(conn: AsyncConnection, order_id: uuid.UUID,
                              now: datetime) -> int:
    """Give back the uses of the order's coupons (cancelled or expired order): mark them
    returned, then take one off each coupon's count and off the customer's, never below 0.
    Only what this call marked is given back, so a second call gives back nothing.
    Returns how many were given back."""
    marked = (update(order_coupons)
              .where(order_coupons.c.order_id == order_id, order_coupons.c.returned_at.is_(None))
              .values(returned_at=now)
              .returning(order_coupons.c.coupon_id, order_coupons.c.customer_id))
    returned = [(r.coupon_id, r.customer_id) for r in await conn.execute(marked)]
    by_coupon = Counter(coupon_id for coupon_id, _ in returned)
    for coupon_id, n in sorted(by_coupon.items()):  # a fixed order: no deadlock between two
        await conn.execute(update(coupons).where(coupons.c.id == coupon_id).values(
            used_count=case((coupons.c.used_count > n, coupons.c.used_count - n), else_=0),
            updated_at=now))
    for (coupon_id, customer_id), n in sorted(Counter(returned).items()):
        uses = customer_uses_table.c.uses
        await conn.execute(update(customer_uses_table).where(
            customer_uses_table.c.coupon_id == coupon_id,
            customer_uses_table.c.customer_id == customer_id).values(
            uses=case((uses > n, uses - n), else_=0)))
    return len(returned)

"""SQL for checkouts: write one, lock it with its cart and its business's settings, move its
status with a conditional UPDATE, and find the lapsed ones."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.checkout.tables import Cart, Checkout
from orderline.core.db.tables import table_of
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.tables import Business

checkouts = table_of(Checkout)
carts = table_of(Cart)
businesses = table_of(Business)

OPEN = "open"
CONVERTED = "converted"
EXPIRED = "expired"
SUPERSEDED = "superseded"

async def insert_checkout(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(checkouts).values(**values))


async def load(conn: AsyncConnection, business_id: uuid.UUID, checkout_id: uuid.UUID, *,
               lock: bool = False) -> RowMapping | None:
    """The checkout with its cart's status, version and customer, and the business's checkout
    settings: one statement. ``lock`` takes the checkout's and the cart's row locks, which
    serialise every confirm of that cart."""
    stmt = (select(checkouts, carts.c.status.label("cart_status"),
                   carts.c.version.label("current_cart_version"),
                   carts.c.customer_id.label("cart_customer_id"),
                   carts.c.channel, *tenancy_store.SETTINGS)
            .join(carts, carts.c.id == checkouts.c.cart_id)
            .join(businesses, businesses.c.id == checkouts.c.business_id)
            .where(checkouts.c.business_id == business_id, checkouts.c.id == checkout_id))
    if lock:
        stmt = stmt.with_for_update(of=[checkouts, carts])
    return (await conn.execute(stmt)).mappings().first()


async def supersede_open(conn: AsyncConnection, cart_id: uuid.UUID,
                         now: datetime) -> list[uuid.UUID]:
    """Close the cart's open checkouts (a new one replaces them); returns their ids."""
    stmt = (update(checkouts)
            .where(checkouts.c.cart_id == cart_id, checkouts.c.status == OPEN)
            .values(status=SUPERSEDED, updated_at=now, version=checkouts.c.version + 1)
            .returning(checkouts.c.id))
    return list((await conn.execute(stmt)).scalars())


async def update_open(conn: AsyncConnection, checkout_id: uuid.UUID, values: dict[str, Any],
                      now: datetime) -> bool:
    stmt = (update(checkouts)
            .where(checkouts.c.id == checkout_id, checkouts.c.status == OPEN)
            .values(**values, updated_at=now, version=checkouts.c.version + 1)
            .returning(checkouts.c.id))
    return (await conn.execute(stmt)).first() is not None


async def convert(conn: AsyncConnection, checkout_id: uuid.UUID, *, order_id: uuid.UUID,
                  quote: dict[str, Any], total: int, now: datetime) -> None:
    """The checkout became this order (its row is locked by the confirm)."""
    await conn.execute(update(checkouts).where(checkouts.c.id == checkout_id).values(
        status=CONVERTED, order_id=order_id, quote=quote, total=total, prices_validated_at=now,
        updated_at=now, version=checkouts.c.version + 1))


async def lapsed_open(conn: AsyncConnection, now: datetime, limit: int) -> list[RowMapping]:
    stmt = (select(checkouts.c.id, checkouts.c.business_id)
            .where(checkouts.c.status == OPEN, checkouts.c.expires_at <= now)
            .order_by(checkouts.c.expires_at).limit(limit))
    return list((await conn.execute(stmt)).mappings())


async def expire_if_lapsed(conn: AsyncConnection, checkout_id: uuid.UUID,
                           now: datetime) -> bool:
    stmt = (update(checkouts)
            .where(checkouts.c.id == checkout_id, checkouts.c.status == OPEN,
                   checkouts.c.expires_at <= now)
            .values(status=EXPIRED, updated_at=now, version=checkouts.c.version + 1)
            .returning(checkouts.c.id))
    return (await conn.execute(stmt)).first() is not None

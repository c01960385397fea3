"""What coupons do inside an order's transaction (``orders.hooks``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.coupons import store
from orderline.orders.hooks import OrderChange


async def give_back_on_cancel(conn: AsyncConnection, change: OrderChange) -> None:
    """A cancelled order gives its coupon uses back, when the business says so."""
    order = change.order
    if (order.pricing or {}).get("coupons") and await store.returns_on_cancel(
            conn, order.business_id):
        await store.give_back_for_order(conn, order.id, change.now)

"""Events about stock, written in the transaction that moved it: a level falling to its
low-stock threshold, and reservations that expired."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog.stock_store import ExpiredReservation
from orderline.events.event_types import AggregateType, EventType, crossed_low_stock
from orderline.events.outbox import emit


async def announce_expired(conn: AsyncConnection, expired: Sequence[ExpiredReservation],
                           now: datetime) -> None:
    """One ``reservation.expired`` per reservation (each expires once: a stream of its own)."""
    for r in expired:
        await emit(conn, business_id=r.business_id, type=EventType.RESERVATION_EXPIRED,
                   aggregate_type=AggregateType.RESERVATION, aggregate_id=r.id,
                   payload={"reservation_id": r.id, "order_id": r.order_id,
                            "checkout_id": r.checkout_id,
                            "variant_id": r.variant_id, "stock_level_id": r.stock_level_id,
                            "quantity": r.quantity, "expires_at": r.expires_at},
                   now=now, new_aggregate=True)


async def announce_if_low(conn: AsyncConnection, *, business_id: uuid.UUID,
                          stock_level_id: uuid.UUID, variant_id: uuid.UUID, sku: str,
                          before: int, after: int, threshold: int | None,
                          now: datetime) -> None:
    """``stock.low`` when the units free at a level fall to or below the SKU's threshold."""
    if crossed_low_stock(before=before, after=after, threshold=threshold):
        await emit(conn, business_id=business_id, type=EventType.STOCK_LOW,
                   aggregate_type=AggregateType.STOCK_LEVEL, aggregate_id=stock_level_id,
                   payload={"sku": sku, "variant_id": variant_id,
                            "stock_level_id": stock_level_id, "available": after,
                            "threshold": threshold}, now=now)

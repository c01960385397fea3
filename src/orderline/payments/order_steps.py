"""What card payments do inside an order's transaction (``orders.hooks``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.orders.hooks import OrderChange
from orderline.orders.rules import OrderStatus
from orderline.payments import store as payment_store
from orderline.payments.rules import LIVE_INTENTS


async def cancel_live_payments(conn: AsyncConnection, change: OrderChange) -> None:
    """An order cancelled while it awaited payment will not be paid: its live payment attempts
    are to be cancelled at the provider (captured money refunded) by the worker, through the
    outbox, in this transaction."""
    if change.was != OrderStatus.PENDING_PAYMENT:
        return
    order = change.order
    live = [i.id for i in await payment_store.intents_of_order(
        conn, order.business_id, order.id) if i.status in LIVE_INTENTS]
    if live:
        await emit(conn, business_id=order.business_id,
                   type=EventType.PAYMENT_CANCEL_REQUESTED, aggregate_type=AggregateType.ORDER,
                   aggregate_id=order.id,
                   payload={"order_id": order.id, "intent_ids": live}, now=change.now)

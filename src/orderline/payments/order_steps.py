"""What card payments do inside an order's transaction (``orders.hooks``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import RefundFirst
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.orders.hooks import OrderChange
from orderline.orders.rules import OrderStatus
from orderline.payments import store as payment_store
from orderline.payments.rules import LIVE_INTENTS, OFFLINE_PROVIDERS
from orderline.payments.store import IntentRow


async def refuse_cancel_holding_money(conn: AsyncConnection, change: OrderChange) -> None:
    """A cancelled order keeps none of the buyer's money. An order that was paid is refused
    (``refund_first``) while it holds money not refunded, counting only refunds the provider
    agreed to (one still being asked may yet be refused): refund it first, then cancel. An
    order still awaiting payment is cancelled whatever its card attempts hold, since the saga
    gives that back (``cancel_live_payments``); money received by hand is not, so it is
    refused too."""
    order = change.order
    booked = await payment_store.booked_refunds_of_order(conn, order.id)
    intents = await payment_store.intents_of_order(conn, order.business_id, order.id)
    held = {i.id: _received(i) - booked.get(i.id, 0) for i in intents}
    if change.was == OrderStatus.PENDING_PAYMENT:
        held = {i.id: held[i.id] for i in intents if i.provider in OFFLINE_PROVIDERS}
    left = sum(amount for amount in held.values() if amount > 0)
    if left > 0:
        raise RefundFirst(
            f"This order holds {left} {order.currency} of the buyer's money "
            "that is not refunded. Refund it first (POST /v1/orders/{id}/refunds), then "
            "cancel the order.",
            details={"held": left, "currency": order.currency,
                     "refund": f"POST /v1/orders/{order.id}/refunds"})


async def cancel_live_payments(conn: AsyncConnection, change: OrderChange) -> None:
    """An order cancelled while it awaited payment will not be paid: its live payment attempts
    are to be cancelled at the provider, and card money it already holds (a partial capture, a
    capture that landed after its deadline) refunded, by the worker, through the outbox, in
    this transaction."""
    if change.was != OrderStatus.PENDING_PAYMENT:
        return
    order = change.order
    wanted = [i.id for i in await payment_store.intents_of_order(conn, order.business_id,
                                                                 order.id)
              if i.status in LIVE_INTENTS or (i.provider not in OFFLINE_PROVIDERS
                                              and _received(i) > i.amount_refunded)]
    if wanted:
        await emit(conn, business_id=order.business_id,
                   type=EventType.PAYMENT_CANCEL_REQUESTED, aggregate_type=AggregateType.ORDER,
                   aggregate_id=order.id,
                   payload={"order_id": order.id, "intent_ids": wanted}, now=change.now)


def _received(intent: IntentRow) -> int:
    return intent.amount_captured + intent.amount_collected

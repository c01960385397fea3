"""What an exchange's money does when its replacement order is cancelled unpaid
(``orders.hooks``).

A replacement that waits for the buyer's difference holds the credit the exchange moved from
the original's payment (a ``collect`` on its ``exchange`` credit payment). If it is cancelled
before it is paid (by the merchant, or its payment deadline lapsing), the credit goes back:
a ``refund`` of it on the replacement's credit payment and a ``collect`` on a credit payment of
the original (source ``exchange_back:<id>``), so each order's received less refunded stays
exact; the link pair's amount goes to 0, the return's credit to 0 (its refund then gives back
the units' whole value once they are received) and the original's history says so. Runs
before the payments' own cancelling steps, which then find nothing held.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.exchanges.rules import EXCHANGE_FROM, EXCHANGE_TO
from orderline.order_splits import store as link_store
from orderline.orders import store as order_store
from orderline.orders.hooks import OrderChange
from orderline.orders.rules import OrderStatus
from orderline.orders.service import note_change
from orderline.orders.store import OrderRow
from orderline.payments import store as payment_store
from orderline.payments.rules import CREDIT_PROVIDER, IntentStatus, MovementKind
from orderline.returns import store as return_store


async def give_credit_back_on_cancel(conn: AsyncConnection, change: OrderChange) -> None:
    order = change.order
    if change.was != OrderStatus.PENDING_PAYMENT:
        return
    for link in await link_store.links_of(conn, order.business_id, order.id):
        if link.kind != EXCHANGE_FROM or link.amount <= 0:
            continue
        credit = link.amount
        source = f"exchange_back:{link.change_id}"
        intents = await payment_store.intents_of_order(conn, order.business_id, order.id)
        carrier = next(i for i in intents if i.provider == CREDIT_PROVIDER
                       and i.provider_ref == f"exchange:{link.change_id}")
        taken = await payment_store.take_refund(conn, carrier.id, credit, change.now)
        assert taken is not None  # the replacement's lock is held; its credit is whole
        await payment_store.add_movement(conn, {
            "business_id": order.business_id, "order_id": order.id, "intent_id": carrier.id,
            "kind": MovementKind.REFUND.value, "amount": credit, "source": source,
            "actor": change.actor, "created_at": change.now})
        original = await order_store.load_order(conn, order.business_id, link.other_order_id,
                                                lock=True)
        assert original is not None  # the link's foreign key keeps it
        await _back_to_original(conn, original, credit, link.change_id, actor=change.actor,
                                now=change.now)
        await link_store.return_split_money(conn, change_id=link.change_id,
                                            kinds=(EXCHANGE_TO, EXCHANGE_FROM))
        await return_store.clear_exchange_credit(conn, link.change_id)
        await note_change(conn, original, actor=change.actor,
                          action="exchange_credit_returned",
                          changes={"amount": credit, "from_order": order.number,
                                   "exchange_id": str(link.change_id)}, now=change.now)


async def _back_to_original(conn: AsyncConnection, original: OrderRow, credit: int,
                            exchange_id: uuid.UUID, *, actor: str, now: datetime) -> None:
    """The credit's ``collect`` on a credit payment of the original, if it left the
    original's payment in the ledger (an order paid outside the ledger gave it from outside,
    and it goes back there: nothing to book on the original)."""
    moved = [m for m in await payment_store.movements_of_order(conn, original.id)
             if m.source == f"exchange:{exchange_id}"]
    if not moved:
        return
    source = f"exchange_back:{exchange_id}"
    intent_id = uuid.uuid4()
    await payment_store.insert_intent(conn, {
        "id": intent_id, "business_id": original.business_id, "order_id": original.id,
        "provider": CREDIT_PROVIDER, "provider_ref": source,
        "status": IntentStatus.CAPTURED.value, "capture_mode": "automatic",
        "currency": original.currency, "amount": credit, "amount_authorized": 0,
        "amount_captured": 0, "amount_voided": 0, "amount_refunded": 0,
        "amount_collected": credit, "version": 1, "created_at": now, "updated_at": now})
    await payment_store.add_movement(conn, {
        "business_id": original.business_id, "order_id": original.id, "intent_id": intent_id,
        "kind": MovementKind.COLLECT.value, "amount": credit, "source": source,
        "actor": actor, "created_at": now})

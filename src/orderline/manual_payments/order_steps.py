"""What manual payments do inside an order's transaction (``orders.hooks``): an order paid some
other way, or cancelled, takes its waiting proofs out of the queue; the lines of an order the
buyer was told to pay exactly cannot change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import OrderNotEditable
from orderline.manual_payments import method_store, proof_store
from orderline.manual_payments.methods import RESERVED_CODES, instructions_view
from orderline.manual_payments.proof_records import buyer_proof_view, close_pending_of_order
from orderline.orders.hooks import OrderChange
from orderline.orders.rules import OrderStatus
from orderline.orders.store import OrderRow


async def close_proofs_when_paid(conn: AsyncConnection, change: OrderChange) -> None:
    if change.order.payment_method not in RESERVED_CODES:  # a manual method's waiting proofs
        await close_pending_of_order(conn, change.order, actor=change.actor, now=change.now,
                                     paid=True)


async def close_proofs_when_cancelled(conn: AsyncConnection, change: OrderChange) -> None:
    if (change.was == OrderStatus.PENDING_PAYMENT
            and change.order.payment_method not in RESERVED_CODES):
        await close_pending_of_order(conn, change.order, actor=change.actor, now=change.now)


async def refuse_line_edits(conn: AsyncConnection, change: OrderChange) -> None:
    order = change.order
    if order.payment_method not in RESERVED_CODES and (
            await method_store.manual_payment_of_order(conn, order.business_id,
                                                       order.id)) is not None:
        # The buyer was told to transfer exactly the total, with its reference.
        raise OrderNotEditable(
            "The lines of an order paid by a manual method cannot change: the buyer was told "
            "to pay exactly its total. Cancel it and place a new order.",
            details={"payment_method": order.payment_method})


async def buyer_payment(conn: AsyncConnection, order: OrderRow) -> dict[str, Any] | None:
    """How the buyer pays this order by hand, and how each proof they sent fared; None for
    an order paid another way."""
    if order.payment_method in RESERVED_CODES:
        return None
    manual = await method_store.manual_payment_of_order(conn, order.business_id, order.id)
    if manual is None:
        return None
    sent = await proof_store.proofs_of_order(conn, order.business_id, order.id)
    return instructions_view(manual, proofs=[buyer_proof_view(row) for row in sent])

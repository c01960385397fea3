"""What a split's money does when one of its orders is cancelled (``orders.hooks``).

A paid original's payment stays on its intents; the ``split_into`` / ``split_from`` links say
how much of it belongs to the order split from it (``payments.shares``). So a cancellation
must not lose track of that share:

- Cancelling the order split off while it still owns a share of a payment that holds money
  is refused (``refund_first``), as any paid order holding the buyer's money is: refund it
  first (its own refunds, which come off the original's payment and off its share), or
  cancel all its units with ``POST /v1/orders/{id}/cancellations``, which does both. Its
  share is then 0. An original paid outside the ledger (confirmed by hand, no payment)
  holds nothing to refund: the share just goes back to it (``split_money_returned``).
- Cancelling the original while an order split from it still owns part of its payment is
  refused (``payment_shared_with_split``): that money is the other order's; cancel that order
  first, then refund and cancel this one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import PaymentSharedWithSplit, RefundFirst
from orderline.order_splits import store
from orderline.orders import store as order_store
from orderline.orders.hooks import OrderChange
from orderline.orders.service import note_change
from orderline.payments import shares


async def settle_split_money_on_cancel(conn: AsyncConnection, change: OrderChange) -> None:
    order = change.order
    links = await store.links_of(conn, order.business_id, order.id)
    owing = [link for link in links if link.kind == "split_into" and link.amount > 0
             and link.other_status != "cancelled"]
    if owing:
        first = owing[0]
        raise PaymentSharedWithSplit(
            f"{first.amount} {order.currency} of this order's payment belongs to order "
            f"{first.other_number}, split from it. Cancel that order first (its share comes "
            "back to this one), then refund and cancel this order.",
            details={"order_number": first.other_number, "order_id": str(first.other_order_id),
                     "amount": first.amount})
    for link in links:
        if link.kind != "split_from" or link.amount <= 0:
            continue
        purse = await shares.purse_of(conn, order)
        if any(i.amount_captured + i.amount_collected > 0 for i in purse.intents):
            raise RefundFirst(
                f"{link.amount} {order.currency} of order {link.other_number}'s payment is "
                "this order's and is not refunded. Refund it first (POST "
                "/v1/orders/{id}/refunds), or cancel every unit with POST "
                "/v1/orders/{id}/cancellations, which refunds it and cancels the order.",
                details={"held": link.amount, "currency": order.currency,
                         "refund": f"POST /v1/orders/{order.id}/refunds"})
        # Paid outside the ledger (confirmed by hand, no payment): nothing to give back
        # here; the share is the original's again, as its money is.
        original = await order_store.load_order(conn, order.business_id, link.other_order_id,
                                                lock=True)
        if original is None:  # pragma: no cover - the link's foreign key keeps it
            continue
        await store.return_split_money(conn, change_id=link.change_id)
        await note_change(conn, original, actor=change.actor, action="split_money_returned",
                          changes={"amount": link.amount, "from_order": order.number,
                                   "split_id": str(link.change_id)}, now=change.now)

"""What a split's money does when one of its orders is cancelled (``orders.hooks``).

A paid original's payment stays on its intents; the ``split_into`` / ``split_from`` links say
how much of it belongs to the order split from it (``service``). So a cancellation must not
lose track of that share:

- Cancelling the order split from it gives its share back to the original (both links' amount
  to 0, a ``split_money_returned`` entry in the original's history): the original then holds
  more than its total, which the merchant refunds there, where the payment is.
- Cancelling the original while an order split from it still owns part of its payment is
  refused (``payment_shared_with_split``): that money is the other order's; cancel that order
  first (its share comes back), then refund and cancel this one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import PaymentSharedWithSplit
from orderline.order_splits import store
from orderline.orders import store as order_store
from orderline.orders.hooks import OrderChange
from orderline.orders.service import note_change


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
        original = await order_store.load_order(conn, order.business_id, link.other_order_id,
                                                lock=True)
        if original is None:  # pragma: no cover - the link's foreign key keeps it
            continue
        await store.return_split_money(conn, change_id=link.change_id)
        await note_change(conn, original, actor=change.actor, action="split_money_returned",
                          changes={"amount": link.amount, "from_order": order.number,
                                   "split_id": str(link.change_id)}, now=change.now)

"""What a split's money does when one of its orders is cancelled (``orders.hooks``).

A paid original's payment stays on its intents; the ``split_into`` / ``split_from`` links say
how much of it belongs to the order split from it (``payments.shares``). So a cancellation
must not lose track of that share:

- Cancelling the order split off while it still owns a share is refused (``refund_first``),
  as any paid order holding the buyer's money is: refund it first (its own refunds, which
  come off the original's payment and off its share), or cancel all its units with
  ``POST /v1/orders/{id}/cancellations``, which does both. Its share is then 0.
- Cancelling the original while an order split from it still owns part of its payment is
  refused (``payment_shared_with_split``): that money is the other order's; cancel that order
  first, then refund and cancel this one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import PaymentSharedWithSplit, RefundFirst
from orderline.order_splits import store
from orderline.orders.hooks import OrderChange


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
        if link.kind == "split_from" and link.amount > 0:
            raise RefundFirst(
                f"{link.amount} {order.currency} of order {link.other_number}'s payment is "
                "this order's and is not refunded. Refund it first (POST "
                "/v1/orders/{id}/refunds), or cancel every unit with POST "
                "/v1/orders/{id}/cancellations, which refunds it and cancels the order.",
                details={"held": link.amount, "currency": order.currency,
                         "refund": f"POST /v1/orders/{order.id}/refunds"})

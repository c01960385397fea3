"""Invoice numbers: gapless per business, given by the worker once an order's money is in.

Order numbers (``OL-...``) come from a sequence and may have gaps (an order rolled back after
it was numbered keeps its number to itself), so they cannot serve where the law wants an
unbroken series. The invoice number (``INV-...``) is that series. It is not given on the
buyer's path: the relay's handler below gives it, in the transaction that handles the event,
from the business's counter row (``order_counters.last_invoice_number``), which that
transaction holds locked until it commits. If the transaction rolls back, so does the
counter, so no number is ever lost; and the lock only ever delays the worker, never a buyer.

When: once ``paid_at`` is set, that is on ``order.paid`` (a card, a transfer, or cash taken
before shipping) or ``order.delivered`` for cash on delivery collected at the door. A cash
order is not invoiced when it is confirmed: a parcel refused at the door would leave an
invoice to be cancelled by a credit note. An order cancelled or refunded after its money
came in keeps its invoice number (the refund is the books' credit, not a hole in the series).

The number is written to the order with a history entry (``invoiced``) and announced as
``order.updated``, so webhooks, NATS and live streams carry it; the order's version moves on.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.events.event_types import EventType, StoredEvent
from orderline.events.handler import Handler, HandlerContext
from orderline.orders import store as order_store
from orderline.orders.rules import format_invoice_number, needs_invoice_number
from orderline.orders.service import save_change

INVOICE_ACTOR = "worker:invoices"


async def invoice_paid_order(ctx: HandlerContext, conn: AsyncConnection,
                             event: StoredEvent) -> None:
    """Give the order of ``event`` its invoice number, if its money is in and it has none.
    The order row is locked first (as every change of an order does), then the counter row."""
    order = await order_store.load_order(conn, event.business_id,
                                         uuid.UUID(str(event.aggregate_id)), lock=True)
    if order is None or not needs_invoice_number(paid_at=order.paid_at,
                                                 invoice_number=order.invoice_number):
        return
    number = format_invoice_number(
        await order_store.next_invoice_sequence(conn, order.business_id))
    await save_change(conn, order, actor=INVOICE_ACTOR, action="invoiced",
                      values={"invoice_number": number, "invoiced_at": ctx.now},
                      changes={"invoice_number": number}, now=ctx.now)


INVOICE_NUMBERS = Handler("invoice_numbers",
                          frozenset({EventType.ORDER_PAID, EventType.ORDER_DELIVERED}),
                          invoice_paid_order)

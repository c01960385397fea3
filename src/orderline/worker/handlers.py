"""Which handlers run on events, in which order; and the customer totals handler.

The handlers themselves live with what they look after (notifications, webhooks, publishing);
``events/handler.py`` says what a handler is.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.config import Settings
from orderline.core.runtime import Runtime
from orderline.documents.service import INVOICE_DOCUMENTS
from orderline.events.event_types import EventType, StoredEvent
from orderline.events.handler import Handler, HandlerContext
from orderline.events.publishing import NATS_PUBLISHING
from orderline.events.relay import Relay
from orderline.manual_payments.change_proofs import CHANGE_PROOFS_CLOSED
from orderline.notifications.service import BUYER_NOTIFICATIONS, LOW_STOCK_ALERT
from orderline.orders import store as order_store
from orderline.orders.invoices import INVOICE_NUMBERS
from orderline.orders.rules import REVENUE_STATUSES, OrderStatus
from orderline.payments.service import PAYMENT_SAGA
from orderline.webhooks.service import WEBHOOKS

__all__ = ["CUSTOMER_TOTALS", "Handler", "HandlerContext", "default_handlers"]


async def update_customer_totals(ctx: HandlerContext, conn: AsyncConnection,
                                 event: StoredEvent) -> None:
    """A paid order counts for its customer (a cash order delivered with its cash collected,
    too); cancelling a paid order takes it back."""
    order = event.payload["order"]
    sign = 0
    if event.type == EventType.ORDER_PAID or (
            event.type == EventType.ORDER_DELIVERED and order["payment_method"] == "cod"
            and event.payload["previous_status"] == OrderStatus.SHIPPED):
        sign = 1
    elif (event.type == EventType.ORDER_CANCELLED and event.payload["previous_status"]
          and OrderStatus(event.payload["previous_status"]) in REVENUE_STATUSES):
        sign = -1
    if sign:
        await order_store.bump_customer_totals(conn, uuid.UUID(order["customer"]["id"]),
                                               orders_delta=sign, spent_delta=sign * order["total"])


CUSTOMER_TOTALS = Handler("customer_totals",
                          frozenset({EventType.ORDER_PAID, EventType.ORDER_DELIVERED,
                                     EventType.ORDER_CANCELLED}),
                          update_customer_totals)


def default_handlers(settings: Settings | None = None) -> list[Handler]:
    """Every handler, in the order they run for one event (some only when configured)."""
    handlers = [CUSTOMER_TOTALS, BUYER_NOTIFICATIONS, LOW_STOCK_ALERT, PAYMENT_SAGA, WEBHOOKS,
                INVOICE_DOCUMENTS, CHANGE_PROOFS_CLOSED]
    if settings is not None and settings.nats_url:
        handlers.append(NATS_PUBLISHING)
    # Last: the business's invoice counter row is locked from here to the event's COMMIT.
    handlers.append(INVOICE_NUMBERS)
    return handlers


def default_relay(runtime: Runtime) -> Relay:
    """A relay with every handler this runtime's settings turn on."""
    return Relay(runtime, handlers=default_handlers(runtime.settings))

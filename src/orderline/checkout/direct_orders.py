"""Placing an order directly (``POST /v1/orders``): a sale the merchant types in from a chat
or a counter, without a cart.

One transaction: read and price the lines and find the customer, choose the payment method's
terms (a manual method's proof deadline), then hold every line's stock with conditional
UPDATEs, number the order and write it through ``orders.placing`` (its history entry and
``order.created`` with it); the hot rows are locked only for the end. If any line is short,
the transaction rolls back and nothing stays held.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.core import metrics
from orderline.core.errors import NotFound, UnknownChannel
from orderline.core.runtime import Runtime
from orderline.manual_payments import methods as manual_methods
from orderline.orders import service as order_service
from orderline.orders import store as order_store
from orderline.orders.placing import write_new_order
from orderline.orders.rules import (
    OrderStatus,
    RequestedLine,
    check_order_total,
    check_requested_lines,
    format_order_number,
)
from orderline.orders.service import Contact
from orderline.orders.store import NewOrderRow
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import Principal, Scope


@dataclass(frozen=True, slots=True)
class NewOrder:
    customer: Contact
    channel: str
    lines: list[RequestedLine]
    payment_method: str
    note: str = ""
    location: str | None = None


async def create_order(runtime: Runtime, principal: Principal, new: NewOrder) -> dict[str, Any]:
    principal.require(Scope.WRITE)
    check_requested_lines(new.lines)
    contact = new.customer.check()
    order_service.check_payment_method(new.payment_method)
    now = runtime.clock.now()
    deadline = now + timedelta(seconds=principal.reservation_ttl_seconds)
    business_id = principal.business_id
    order_id = uuid.uuid4()
    access_token = order_service.new_order_access_token()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        if not await tenancy_store.channel_exists(conn, business_id, new.channel):
            raise UnknownChannel(f"Channel '{new.channel}' is not set up for this business; "
                                 "add it with POST /v1/channels.", details={"channel": new.channel})
        location = await catalog_store.find_location(conn, business_id, new.location)
        if location is None:
            raise NotFound("location", new.location)
        priced = await order_service.price_lines(conn, business_id, location["id"], new.lines)
        line_rows = order_service.new_line_rows(business_id, order_id, priced)
        subtotal = check_order_total(sum(r.line_total for r in line_rows))
        customer_id = await order_store.find_or_create_customer(
            conn, business_id=business_id, name=contact.name, phone=contact.phone,
            email=contact.email, now=now)
        manual = await manual_methods.choose(conn, business_id, new.payment_method,
                                             new.channel, now)
        held_to = manual.proof_deadline if manual is not None else deadline
        # Stock rows stay locked from here to COMMIT: only the writes that need them follow.
        held = await order_service.hold_all(runtime, conn, business_id=business_id,
                              holder={"order_id": order_id, "checkout_id": None}, priced=priced,
                              expires_at=held_to, now=now)
        sequence = await order_store.next_order_sequence(conn, business_id)
        placed = NewOrderRow(
            id=order_id, business_id=business_id, number=format_order_number(sequence),
            status=OrderStatus.PENDING_PAYMENT.value, channel=new.channel,
            customer_id=customer_id, customer_name=contact.name,
            customer_phone=contact.phone, customer_email=contact.email,
            payment_method=new.payment_method, note=new.note, currency=principal.currency,
            subtotal=subtotal, total=subtotal, location_id=location["id"],
            payment_deadline=held_to,
            access_token_hash=order_service.hash_access_token(access_token),
            created_at=now)
        changes = {"lines": [{"sku": p.sku, "quantity": p.quantity} for p in priced],
                   "total": subtotal}
        row, shown = await write_new_order(conn, placed, line_rows, actor=principal.actor,
                                           changes=changes)
        await stock_store.insert_reservations(conn, held)
        instructions = None if manual is None else await manual_methods.attach(
            conn, row, manual, now=now)
        return {**shown, "access_token": access_token, "manual_payment": instructions}

    placed = await order_service.run_counting_refusals(runtime, work)
    metrics.order_created(new.channel)  # committed: counted only now
    return placed

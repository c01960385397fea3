"""Placing an order directly (``POST /v1/orders``): a sale the merchant types in from a chat
or a counter, without a cart.

One transaction: read and price the lines and find the customer, choose the payment method's
terms (a manual method's proof deadline), refuse at once a line the stock was already short
of when priced (``orders.service.refuse_short``), number the order (a per-business sequence on
PostgreSQL, which holds no lock) and write it through ``orders.placing`` (its history entry,
its manual payment, the kept answer), and only then take every line's stock: one statement per
line, the conditional UPDATE and the reservation's INSERT together
(``orders.service.take_all``), followed by the order's ``order.created`` and COMMIT. So a SKU's
stock row, the row every buyer of a hot SKU waits for, is locked for one round trip and the
commit, not for the order's writes. If any line is short, the transaction rolls back, order and
all, and nothing stays held (an order refused after its number was taken leaves a gap in the
numbers). With an ``Idempotency-Key`` the answer is
kept under the key in the same transaction (``Claim.keep``), so a retry replays it.

Cash on delivery (``payment_method: "cod"``) is placed as the checkout places it: the
business's cash policy decides (zone of the ``shipping_address``, maximum total, open cash
orders and trust of the customer, with the customer's row locked), the order is ``confirmed``
at once and its stock sold, not held, so the payment-deadline sweep never touches it. The
buyer's one-time code is not asked: it proves a buyer's phone on a self-service checkout,
while here the merchant is talking to the buyer. The merchant may place a refused cash order
anyway with ``cod_override_reason``: the refusal codes and the reason go into the order's
``created`` history entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog.archiving import refuse_these_archived
from orderline.catalog.rules import ReservationStatus
from orderline.checkout.direct_order_reads import read_grounds
from orderline.cod import service as cod
from orderline.core import metrics
from orderline.core.errors import NotFound, UnknownChannel, ValidationFailed
from orderline.core.runtime import Runtime
from orderline.idempotency.service import NO_KEY, Claim
from orderline.manual_payments import methods as manual_methods
from orderline.orders import service as order_service
from orderline.orders import store as order_store
from orderline.orders.placing import write_unannounced_order
from orderline.orders.rules import (
    OrderStatus,
    RequestedLine,
    check_order_total,
    check_requested_lines,
    format_order_number,
)
from orderline.orders.service import Contact
from orderline.orders.store import NewOrderRow
from orderline.shipping import store as shipping_store
from orderline.shipping.rules import Address, check_address, match_zone
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import Principal, Scope

OPERATION = "orders.create"


@dataclass(frozen=True, slots=True)
class NewOrder:
    customer: Contact
    channel: str
    lines: list[RequestedLine]
    payment_method: str
    note: str = ""
    location: str | None = None
    shipping_address: Address | None = None
    cod_override_reason: str | None = None


def _override_reason(new: NewOrder) -> str | None:
    if new.cod_override_reason is None:
        return None
    reason = new.cod_override_reason.strip()
    if new.payment_method != cod.COD or not reason:
        raise ValidationFailed(
            "cod_override_reason is the merchant's reason for placing a cash-on-delivery "
            "order the cash policy refuses: send it, not blank, only with payment_method "
            "'cod'.", details={"field": "cod_override_reason"})
    return reason


async def create_order(runtime: Runtime, principal: Principal, new: NewOrder, *,
                       claim: Claim = NO_KEY) -> dict[str, Any]:
    principal.require(Scope.WRITE)
    check_requested_lines(new.lines)
    contact = new.customer.check()
    order_service.check_payment_method(new.payment_method)
    override = _override_reason(new)
    address = None if new.shipping_address is None else check_address(new.shipping_address)
    cash = new.payment_method == cod.COD
    now = runtime.clock.now()
    deadline = now + timedelta(seconds=principal.reservation_ttl_seconds)
    business_id = principal.business_id
    order_id = uuid.uuid4()
    access_token = order_service.new_order_access_token()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        # One statement on PostgreSQL: channel, location, variants (share-locked against
        # archiving), the returning customer and the order's number.
        grounds = await read_grounds(conn, business_id=business_id, channel=new.channel,
                                     location=new.location, lines=new.lines,
                                     phone=contact.phone, email=contact.email)
        if not grounds.channel_known:
            raise UnknownChannel(f"Channel '{new.channel}' is not set up for this business; "
                                 "add it with POST /v1/channels.", details={"channel": new.channel})
        if grounds.location_id is None:
            raise NotFound("location", new.location)
        priced = order_service.priced_from(grounds.sellable, new.lines)
        if new.location is None:
            # No location named: each line from where stock is (docs/guides/
            # catalog-and-stock.md, "Which location an order takes from").
            priced = await order_service.allocate_lines(conn, business_id, priced, now)
        refuse_these_archived(grounds.archived)
        line_rows = order_service.new_line_rows(business_id, order_id, priced)
        subtotal = check_order_total(sum(r.line_total for r in line_rows))
        customer_id = grounds.customer_id or await order_store.create_customer(
            conn, business_id=business_id, name=contact.name, phone=contact.phone,
            email=contact.email, now=now)
        changes: dict[str, Any] = {
            "lines": [{"sku": p.sku, "quantity": p.quantity} for p in priced],
            "total": subtotal}
        if cash:
            overridden = await _admit_cash(conn, business_id=business_id,
                                           customer_id=customer_id, address=address,
                                           total=subtotal, override=override)
            if overridden:
                changes["cod_override"] = overridden
        manual = None if cash else await manual_methods.choose(
            conn, business_id, new.payment_method, new.channel, now)
        held_to = manual.proof_deadline if manual is not None else deadline
        await order_service.refuse_short(conn, priced, now)
        # The number locks nothing through the transaction (a sequence on PostgreSQL, taken
        # with the reads). An order refused after it leaves a gap in the numbers.
        sequence = grounds.number or await order_store.next_order_sequence(conn, business_id)
        placed = NewOrderRow(
            id=order_id, business_id=business_id, number=format_order_number(sequence),
            status=(OrderStatus.CONFIRMED if cash else OrderStatus.PENDING_PAYMENT).value,
            channel=new.channel,
            customer_id=customer_id, customer_name=contact.name,
            customer_phone=contact.phone, customer_email=contact.email,
            payment_method=new.payment_method, note=new.note, currency=principal.currency,
            subtotal=subtotal, total=subtotal, location_id=grounds.location_id,
            payment_deadline=held_to,
            access_token_hash=order_service.hash_access_token(access_token),
            created_at=now, shipping_address=None if address is None else address.as_dict())
        written = await write_unannounced_order(conn, placed, line_rows, actor=principal.actor,
                                                changes=changes)
        instructions = None if manual is None else await manual_methods.attach(
            conn, written.row, manual, now=now)
        answer = await claim.keep(conn, {**written.shown, "access_token": access_token,
                                         "manual_payment": instructions})
        # The stock rows are taken last: locked from here to COMMIT, for one statement per
        # line (with its reservation) and the order's event. A short line rolls all back.
        announced = await order_service.take_all(
            runtime, conn, business_id=business_id,
            holder={"order_id": order_id, "checkout_id": None}, priced=priced,
            expires_at=held_to, now=now, announcing=written.events)
        if not announced:  # after the stock's own events, as it always was
            await written.announce(conn)
        if cash:
            await _sell(conn, business_id=business_id, order_id=order_id,
                        actor=principal.actor, now=now)
        return answer

    placed = await order_service.run_counting_refusals(runtime, work)
    metrics.order_created(new.channel)  # committed: counted only now
    return placed


async def _admit_cash(conn: AsyncConnection, *, business_id: uuid.UUID,
                      customer_id: uuid.UUID, address: Address | None, total: int,
                      override: str | None) -> dict[str, Any] | None:
    """The cash policy's verdict: nothing when it accepts, the first refusal raised when it
    refuses and the merchant gave no reason, else what the history keeps of the override."""
    settings = await tenancy_store.business_settings(conn, business_id)
    zone = None if address is None else match_zone(
        await shipping_store.zone_terms(conn, business_id), address)
    refused = await cod.refusals(conn, settings, business_id=business_id,
                                 customer_id=customer_id,
                                 zone_id=None if zone is None else zone.id, total=total)
    if not refused:
        return None
    if override is None:
        raise refused[0]
    return {"refused": [r.code for r in refused], "reason": override}


async def _sell(conn: AsyncConnection, *, business_id: uuid.UUID, order_id: uuid.UUID,
                actor: str, now: datetime) -> None:
    """A cash order is confirmed at once: the units just held become a sale."""
    sold = await stock_store.close_order_reservations(
        conn, order_id=order_id, status=ReservationStatus.CONSUMED, now=now)
    await stock_store.ship_out(conn, sold, business_id=business_id, order_id=order_id,
                               actor=actor, now=now)

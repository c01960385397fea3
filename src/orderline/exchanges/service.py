"""Exchanges: shipped units come back, a replacement order goes out, the money settles.

One transaction under the original order's row lock (``lock_for_change``), so an exchange,
a return, a refund and another exchange of the same order run one after the other and each
sees what the one before did:

- **The return**: a return of the units (``returns``), created already ``approved`` (the
  merchant agreed to the exchange), which then goes through receipt as any return. Its units
  are counted as refunded on their lines now, with the conditional UPDATE a refund by lines
  uses (``claim_line_refund``): a unit is never traded and refunded both.
- **The replacement**: a new order (its own number, token and stock, placed through
  ``orders.placing``) for the same customer, channel, currency, address and location, priced
  by the pricing engine at today's catalog prices with the original's tax rates, no coupon and
  no shipping charge. Its stock is held with the conditional UPDATE a new order uses.
- **The money** (``rules.settle``): the credit (the units' value, at most the replacement's
  total) moves from the original's payment to the replacement in the money ledger, in this
  transaction: a ``refund`` movement on the original's payment (source ``exchange:<id>``,
  taken with the conditional UPDATE refunds use) and a ``collect`` movement on a credit
  payment of the replacement (provider ``exchange``). Per order, received less refunded stays
  exact, and over both it is what the buyer paid. A replacement the credit pays in full is
  ``paid`` at once (its held stock sold); otherwise it awaits payment of the difference by
  card (the payment's intent is for the difference only). What the credit leaves of the
  value is refunded by the return's refund step, after receipt.
- **Links and events**: ``exchange_to`` / ``exchange_from`` rows in ``order_links`` (the
  credit as their amount), history on both orders, ``order.created`` for the replacement,
  ``return.approved`` for the return (the buyer is told to send the items back) and
  ``exchange.created``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.cancellations.rules import tax_rates_of
from orderline.catalog import store as catalog_store
from orderline.catalog.archiving import refuse_archived
from orderline.core.errors import (
    ExchangeNotAllowed,
    NotFound,
    RefundExceedsCaptured,
)
from orderline.core.runtime import Runtime
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.exchanges.rules import (
    EXCHANGE_FROM,
    EXCHANGE_TO,
    Settlement,
    check_exchange,
    settle,
)
from orderline.order_splits import store as link_store
from orderline.order_splits.service import SplitOrderRow
from orderline.orders import service as order_service
from orderline.orders import store as order_store
from orderline.orders.fulfilment import store as shipment_store
from orderline.orders.placing import write_new_order
from orderline.orders.rules import OrderStatus, RequestedLine, format_order_number
from orderline.orders.service import (
    PricedLine,
    hash_access_token,
    lock_for_change,
    new_order_access_token,
    note_change,
)
from orderline.orders.status import mark_paid
from orderline.orders.store import NewOrderLine, OrderRow
from orderline.orders.views import shaped
from orderline.payments import store as payment_store
from orderline.payments.rules import CREDIT_PROVIDER, IntentStatus, MovementKind
from orderline.payments.shares import held
from orderline.payments.store import IntentRow
from orderline.pricing.engine import PriceLine, PricingInput, Quote, price
from orderline.returns import service as returns
from orderline.returns import store as return_store
from orderline.returns.rules import (
    LineShare,
    ReturnReason,
    UnitsToReturn,
    check_returnable,
    units_value,
)
from orderline.tenancy.rules import Principal, Scope


@dataclass(frozen=True, slots=True)
class _Grounds:
    value_lines: list[dict[str, Any]]
    priced: list[PricedLine]
    quote: Quote
    settlement: Settlement
    # The original's payment the credit comes from (None: paid outside the ledger).
    source: IntentRow | None


def _net(order: OrderRow, line: Any) -> int:
    return int(line.line_total - line.discount + (0 if order.prices_include_tax else line.tax))


async def _grounds(conn: AsyncConnection, order: OrderRow, wanted: list[UnitsToReturn],
                   replacement: list[RequestedLine], *, now: datetime) -> _Grounds:
    if order.paid_at is None:
        raise ExchangeNotAllowed(
            f"Order {order.number} was never paid; only a paid order's units can be "
            "exchanged.", details={"reason": "not_paid", "current_status": order.status})
    shipped = await shipment_store.shipped_by_sku(conn, order.id)
    check_returnable(wanted, shipped, await return_store.returned_by_sku(conn, order.id))
    rows = {r.sku: r for r in await order_store.load_lines(conn, [order.id])}
    for want in wanted:
        line = rows[want.sku]
        if want.quantity > line.quantity - line.refunded_quantity:
            raise RefundExceedsCaptured(
                f"{want.quantity} units of {want.sku} cannot be exchanged: some were refunded "
                "already.", details={"sku": want.sku, "quantity": want.quantity})
    value = units_value([LineShare(sku=r.sku, net=_net(order, r), quantity=r.quantity,
                                   refunded_before=r.refunded_quantity)
                         for r in rows.values()], {w.sku: w.quantity for w in wanted})
    priced = await order_service.price_lines(conn, order.business_id, order.location_id,
                                             replacement)
    await refuse_archived(conn, order.business_id, [p.variant_id for p in priced])
    priced = await order_service.allocate_lines(conn, order.business_id, priced, now)
    await order_service.refuse_short(conn, priced, now)
    product_of = await catalog_store.products_of_variants(conn, [p.variant_id for p in priced])
    quote = price(PricingInput(
        currency=order.currency,
        lines=tuple(PriceLine(sku=p.sku, product_id=str(product_of.get(p.variant_id, "")),
                              unit_price=p.unit_price, quantity=p.quantity) for p in priced),
        tax_rates=tax_rates_of(order.pricing), prices_include_tax=order.prices_include_tax))
    settlement = settle(value=value, price=quote.total)
    source = None
    if settlement.credit > 0:
        intents = await payment_store.intents_of_order(conn, order.business_id, order.id)
        source = next((i for i in intents if held(i) >= settlement.credit), None)
        if source is None and any(held(i) for i in intents):
            raise ExchangeNotAllowed(
                f"No payment of order {order.number} has {settlement.credit} left to give as "
                "credit (part of it was refunded).",
                details={"reason": "no_payment", "credit": settlement.credit})
        # No payment holds anything: the order was paid outside the ledger (confirmed by
        # hand), and its credit comes from outside it too.
    return _Grounds(value_lines=[{"sku": w.sku, "quantity": w.quantity} for w in wanted],
                    priced=priced, quote=quote, settlement=settlement, source=source)


def _replacement_lines(grounds: _Grounds) -> list[dict[str, Any]]:
    return [{"sku": p.sku, "name": p.name, "unit_price": q.unit_price,
             "quantity": q.quantity, "line_total": q.subtotal, "discount": q.discount,
             "tax": q.tax}
            for p, q in zip(grounds.priced, grounds.quote.lines, strict=True)]


def _settlement_view(order: OrderRow, s: Settlement) -> dict[str, Any]:
    return {"currency": order.currency, **s.as_dict()}


async def preview_exchange(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                           wanted: list[UnitsToReturn],
                           replacement: list[RequestedLine]) -> dict[str, Any]:
    """What the exchange would do, changing nothing."""
    principal.require(Scope.WRITE)
    check_exchange(wanted, replacement)
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, principal.business_id, order_id)
        if order is None:
            raise NotFound("order", order_id)
        grounds = await _grounds(conn, order, wanted, replacement, now=now)
    return {"order_id": order.id, "number": order.number, "version": order.version,
            "currency": order.currency, "lines": grounds.value_lines,
            "replacement": _replacement_lines(grounds),
            "settlement": _settlement_view(order, grounds.settlement)}


async def make_exchange(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                        wanted: list[UnitsToReturn], replacement: list[RequestedLine], *,
                        reason: ReturnReason, note: str | None,
                        expected_version: int | None) -> dict[str, Any]:
    """The exchange (module docstring), in one transaction. Answers both orders as they now
    are, the return, the settlement and the replacement's buyer token (shown once)."""
    principal.require(Scope.WRITE)
    check_exchange(wanted, replacement)
    now = runtime.clock.now()
    exchange_id = uuid.uuid4()
    token = new_order_access_token()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "exchange")
        grounds = await _grounds(conn, order, wanted, replacement, now=now)
        await runtime.checkpoints.reach("exchange.planned")
        s = grounds.settlement
        source = f"exchange:{exchange_id}"
        # The units going back count as refunded now: never traded and refunded both.
        for want in wanted:
            if await order_store.claim_line_refund(conn, order.id, want.sku,
                                                   want.quantity) is None:
                raise RefundExceedsCaptured(  # only if the row lock was not honoured
                    f"{want.quantity} units of {want.sku} cannot be exchanged: some were "
                    "refunded already.", details={"sku": want.sku, "quantity": want.quantity})
        if s.credit > 0 and grounds.source is not None:
            if await payment_store.take_refund(conn, grounds.source.id, s.credit,
                                               now) is None:
                raise ExchangeNotAllowed(  # only if the row lock was not honoured
                    "The payment has less left than the credit.",
                    details={"reason": "no_payment", "credit": s.credit})
            await payment_store.add_movement(conn, {
                "business_id": order.business_id, "order_id": order.id,
                "intent_id": grounds.source.id, "kind": MovementKind.REFUND.value,
                "amount": s.credit, "source": source, "actor": principal.actor,
                "created_at": now})
        new_row, new_shown = await _place_replacement(runtime, conn, principal, order,
                                                      grounds, exchange_id, token, now=now)
        if s.credit > 0:
            intent_id = uuid.uuid4()
            await payment_store.insert_intent(conn, {
                "id": intent_id, "business_id": order.business_id, "order_id": new_row.id,
                "provider": CREDIT_PROVIDER, "provider_ref": source,
                "status": IntentStatus.CAPTURED.value, "capture_mode": "automatic",
                "currency": order.currency, "amount": s.credit, "amount_authorized": 0,
                "amount_captured": 0, "amount_voided": 0, "amount_refunded": 0,
                "amount_collected": s.credit, "version": 1, "created_at": now,
                "updated_at": now})
            await payment_store.add_movement(conn, {
                "business_id": order.business_id, "order_id": new_row.id,
                "intent_id": intent_id, "kind": MovementKind.COLLECT.value,
                "amount": s.credit, "source": source, "actor": principal.actor,
                "created_at": now})
        if s.owed == 0:
            new_shown = await mark_paid(runtime, conn, new_row, actor=principal.actor,
                                        reference=source, now=now,
                                        more_changes={"exchange_id": str(exchange_id),
                                                      "credit": s.credit})
        await link_store.add_link_pair(
            conn, business_id=order.business_id, change_id=exchange_id, first=order.id,
            first_kind=EXCHANGE_TO, second=new_row.id, second_kind=EXCHANGE_FROM,
            amount=s.credit, moved=grounds.value_lines, actor=principal.actor, now=now)
        order, return_view = await returns.open_exchange_return(
            conn, order, wanted, reason=reason, note=note, actor=principal.actor,
            exchange_id=exchange_id, value=s.value, credit=s.credit, now=now)
        order = await note_change(conn, order, actor=principal.actor, action="exchanged",
                                  changes={"exchange_id": str(exchange_id),
                                           "lines": grounds.value_lines,
                                           "return": return_view["code"],
                                           "replacement_order": {
                                               "order_id": str(new_row.id),
                                               "number": new_row.number},
                                           **s.as_dict()}, now=now)
        shown = (await shaped(conn, [order]))[0]
        settlement = _settlement_view(order, s)
        await emit(conn, business_id=order.business_id, type=EventType.EXCHANGE_CREATED,
                   aggregate_type=AggregateType.ORDER, aggregate_id=order.id,
                   payload={"exchange_id": exchange_id, "order_id": order.id,
                            "order_number": order.number, "replacement_order_id": new_row.id,
                            "replacement_order_number": new_row.number,
                            "return_id": return_view["id"], "return": return_view["code"],
                            "lines": grounds.value_lines, "settlement": settlement},
                   now=now)
        return {"exchange_id": exchange_id, "order": shown, "replacement_order": new_shown,
                "access_token": token, "settlement": settlement, "return": return_view}

    return await order_service.run_counting_refusals(runtime, work)


async def _place_replacement(runtime: Runtime, conn: AsyncConnection, principal: Principal,
                             order: OrderRow, grounds: _Grounds, exchange_id: uuid.UUID,
                             token: str, *, now: datetime) -> tuple[OrderRow, dict[str, Any]]:
    """The replacement order, written and its stock held (sold by ``mark_paid`` when the
    credit pays it)."""
    quote, s = grounds.quote, grounds.settlement
    new_id = uuid.uuid4()
    deadline = now + timedelta(seconds=principal.reservation_ttl_seconds)
    sequence = await order_store.next_order_sequence(conn, order.business_id)
    snapshot = quote.as_dict()
    line_rows = [NewOrderLine(id=uuid.uuid4(), business_id=order.business_id,
                              order_id=new_id, position=i, variant_id=p.variant_id,
                              sku=p.sku, name=p.name, unit_price=q.unit_price,
                              quantity=q.quantity, line_total=q.subtotal,
                              discount=q.discount, tax=q.tax)
                 for i, (p, q) in enumerate(zip(grounds.priced, quote.lines, strict=True))]
    new = SplitOrderRow(
        id=new_id, business_id=order.business_id, number=format_order_number(sequence),
        status=OrderStatus.PENDING_PAYMENT.value, channel=order.channel,
        customer_id=order.customer_id, customer_name=order.customer_name,
        customer_phone=order.customer_phone, customer_email=order.customer_email,
        payment_method="card" if s.owed > 0 else order.payment_method, note="",
        currency=order.currency, subtotal=quote.subtotal, total=quote.total,
        location_id=order.location_id, payment_deadline=deadline,
        access_token_hash=hash_access_token(token), created_at=now,
        shipping_address=order.shipping_address,
        more={"discount_total": quote.discount_total, "shipping_total": 0,
              "shipping_discount": 0, "tax_total": quote.tax_total,
              "prices_include_tax": quote.prices_include_tax,
              "pricing": {"taxes": snapshot["taxes"], "coupons": []},
              "shipping_method": order.shipping_method})
    row, shown = await write_new_order(
        conn, new, line_rows, actor=principal.actor,
        changes={"exchange_from": {"order_id": str(order.id), "number": order.number,
                                   "exchange_id": str(exchange_id)},
                 "lines": [{"sku": r.sku, "quantity": r.quantity} for r in line_rows],
                 "total": quote.total, **s.as_dict()})
    await order_service.take_all(runtime, conn, business_id=order.business_id,
                                 holder={"order_id": new_id, "checkout_id": None},
                                 priced=grounds.priced, expires_at=deadline, now=now)
    return row, shown

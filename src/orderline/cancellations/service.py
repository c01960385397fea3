"""Cancelling some units of an order before it ships, and previewing what that would do.

One change is one transaction under the order's row lock (``lock_for_change``), so two
cancellations of one order run one after the other and the second sees the units the first
took; each line's units are taken with one conditional UPDATE besides. In that transaction:
the lines shrink, their stock goes back (an unpaid order's reservation shrinks; units a paid
or cash-on-delivery order already took go back on hand with a ``cancellation`` movement),
the remaining lines are re-priced (``rules.plan_cancellation``), the order's figures fall,
the history gets the lines and totals before and after, and ``order.updated`` (action
``lines_cancelled``) goes to the outbox.

Money: an unpaid order's total just falls (a cash-on-delivery courier collects less). A paid
order gets the difference refunded: money received by hand (cash, verified transfers) is
booked as refunded in the same transaction, as ``refund_payment`` books it; a card payment's
amount is taken on its intent in the transaction (so no other refund can spend it), then the
provider is asked outside it (idempotency key ``refund:<cancellation id>``) and the refund
booked in a second transaction; if the provider refuses, the amount is given back to the
intent, the history says ``refund_failed`` and the caller is told (503) that the units are
cancelled and the refund is owed (``POST /v1/orders/{id}/refunds``).

Cancelling every unit left is a full cancellation: ``orders.status.cancel_locked`` in the same
transaction, or, for an order that holds the buyer's money, ``refund_payment`` of all of it
and then ``cancel_order``, the two steps the full cancellation already asks for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.cancellations.rules import (
    CancellationPlan,
    LineNow,
    OrderFigures,
    UnitsToCancel,
    check_units,
    coupon_terms_of,
    plan_cancellation,
)
from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.catalog.rules import MovementReason
from orderline.catalog.stock_store import LevelDelta
from orderline.core import metrics
from orderline.core.errors import (
    CancelExceedsRemaining,
    InvalidTransition,
    NotFound,
    PaymentDeadlinePassed,
    PaymentInProgress,
    PaymentProviderUnavailable,
    PaymentSharedWithSplit,
    RefundExceedsCaptured,
)
from orderline.core.runtime import Runtime
from orderline.coupons import store as coupon_store
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.orders import hooks
from orderline.orders import store as order_store
from orderline.orders.hooks import OrderChange, hooks_of
from orderline.orders.rules import CancelReason, OrderStatus
from orderline.orders.service import lock_for_change, note_change, save_and_show, stale_version
from orderline.orders.status import cancel_locked, cancel_order
from orderline.orders.store import OrderRow
from orderline.orders.views import shaped
from orderline.payments import service as payments
from orderline.payments import shares
from orderline.payments import store as payment_store
from orderline.payments.providers.base import ProviderError
from orderline.payments.rules import LIVE_INTENTS, MovementKind, RefundMethod
from orderline.payments.shares import Purse
from orderline.payments.store import IntentRow
from orderline.pricing.engine import CouponTerms
from orderline.tenancy.rules import Principal, Scope

# Before shipment: what may lose units.
CANCELLABLE = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED, OrderStatus.PAID,
                         OrderStatus.PROCESSING})


@dataclass(frozen=True, slots=True)
class RefundPlan:
    amount: int
    method: RefundMethod
    intent_id: uuid.UUID | None = None
    provider: str | None = None
    # An order split off: the split links its refund also comes off (``payments.shares``).
    chain: tuple[uuid.UUID, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "method": self.method.value,
                "provider": self.provider}


async def lines_now(conn: AsyncConnection, order: OrderRow) -> list[LineNow]:
    rows = await order_store.load_lines(conn, [order.id])
    product_of = await catalog_store.products_of_variants(conn, [r.variant_id for r in rows])
    return [LineNow(sku=r.sku, name=r.name, product_id=str(product_of.get(r.variant_id, "")),
                    unit_price=r.unit_price, quantity=r.quantity,
                    refunded_quantity=r.refunded_quantity,
                    cancelled_quantity=r.cancelled_quantity, line_total=r.line_total,
                    discount=r.discount, tax=r.tax) for r in rows]


def figures_of(order: OrderRow) -> OrderFigures:
    return OrderFigures(currency=order.currency, subtotal=order.subtotal,
                        discount_total=order.discount_total,
                        shipping_total=order.shipping_total,
                        shipping_discount=order.shipping_discount, tax_total=order.tax_total,
                        total=order.total, prices_include_tax=order.prices_include_tax,
                        pricing=order.pricing)


async def coupons_of(conn: AsyncConnection, order: OrderRow) -> tuple[CouponTerms, ...]:
    """The order's coupons with their terms, in the order they were applied."""
    codes = [str(c["code"]) for c in (order.pricing or {}).get("coupons", ())]
    found = ({c.code: c.terms() for c in await coupon_store.find_by_codes(
        conn, order.business_id, codes)} if codes else {})
    return coupon_terms_of(order.pricing, found)


async def _plan(conn: AsyncConnection, order: OrderRow,
                wanted: list[UnitsToCancel]) -> CancellationPlan:
    return plan_cancellation(figures_of(order), await lines_now(conn, order), wanted,
                             coupons=await coupons_of(conn, order))


def held_money(purse: Purse) -> int:
    """The buyer's money the order's payments hold for it and have not given back: its own
    share (``payments.shares``: less what orders split from it own; an order split off, its
    share of its original's payment)."""
    return purse.own


def _refund_plan(order: OrderRow, plan: CancellationPlan, purse: Purse) -> RefundPlan:
    """How much goes back and how: nothing while the money is not in (the total falls);
    the difference, or (every unit cancelled) all the money held, once it is. Never more
    than the order's payments still hold for it: money already refunded (a refund of an
    amount, before) is not given back twice."""
    if order.paid_at is None:
        return RefundPlan(amount=0, method=RefundMethod.NONE)
    return refund_for(held_money(purse) if plan.everything else plan.difference, purse)


def refund_for(amount: int, purse: Purse) -> RefundPlan:
    """Giving ``amount`` back to the buyer of a paid order, from the payment
    ``payments.shares.refund_source`` picks (a card through its provider, cash or a transfer
    by hand). Never more than the payments still hold for this order, when the money came
    through them: money already refunded is not given back twice, nor the share of an order
    split from this one. Money spread over payments none of which holds the amount is given
    back by hand, outside the ledger (``spread_by_hand``)."""
    if purse.borrowed or shares.through_ledger(purse):
        amount = min(amount, purse.own)
    source = shares.refund_source(purse, amount, spread_by_hand=True)
    if source.method == RefundMethod.NONE:
        return RefundPlan(amount=0, method=RefundMethod.NONE)
    intent = source.intent
    return RefundPlan(amount=amount, method=source.method,
                      intent_id=None if intent is None else intent.id,
                      provider=None if intent is None else intent.provider,
                      chain=source.chain)


async def _check_cancellable(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                             plan: CancellationPlan, purse: Purse, *,
                             actor: str, now: datetime) -> None:
    intents = purse.intents
    status = OrderStatus(order.status)
    if status not in CANCELLABLE:
        raise InvalidTransition(
            f"Units can be cancelled only before the order ships; it is '{status}'.",
            details={"current_status": str(status), "requested_status": "cancelled"})
    if plan.everything and purse.moved_out > 0:
        # Checked before any refund, which would otherwise be made and the cancel refused.
        raise PaymentSharedWithSplit(
            f"{purse.moved_out} {order.currency} of this order's payment belongs to orders "
            "split from it. Cancel those first, then cancel this order.",
            details={"amount": purse.moved_out})
    if plan.everything or status != OrderStatus.PENDING_PAYMENT:
        return
    if order.payment_deadline <= now:
        raise PaymentDeadlinePassed("The payment deadline has passed; the stock is no longer "
                                    "held and the order will be cancelled.",
                                    details={"payment_deadline": order.payment_deadline})
    if any(i.status in LIVE_INTENTS for i in intents):
        raise PaymentInProgress(
            "A card payment of this order's total is under way; cancel the whole order or "
            "wait until it is paid, then cancel the units.",
            details={"statuses": sorted({i.status for i in intents})})
    # A manual payment's buyer was told the exact total: the same refusal as a line edit.
    await hooks.run(hooks_of(runtime).editing_lines, conn,
                    OrderChange(order=order, actor=actor, now=now))


def preview_view(order: OrderRow, plan: CancellationPlan, refund: RefundPlan) -> dict[str, Any]:
    before, after = plan.before.as_dict(), plan.after.as_dict()
    return {
        "order_id": order.id, "version": order.version, "status": order.status,
        "currency": order.currency, "full_cancellation": plan.everything,
        "lines": [{"sku": line.sku, "name": line.name, "quantity_before": line.quantity_before,
                   "cancel": line.cancelled, "quantity_after": line.quantity,
                   "line_total_after": line.line_total, "discount_after": line.discount,
                   "tax_after": line.tax} for line in plan.lines],
        "before": before, "after": after,
        "difference": {k: before[k] - after[k] for k in before},
        "coupons": {"before": list((plan.before.pricing or {}).get("coupons", ())),
                    "after": ([] if plan.everything
                              else list((plan.after.pricing or {}).get("coupons", ())))},
        "refund": refund.as_dict(),
    }


async def preview_cancellation(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                               wanted: list[UnitsToCancel]) -> dict[str, Any]:
    """What cancelling ``wanted`` would do, changing nothing: lines and figures before and
    after, the coupons' new amounts, and the refund (how much, and how)."""
    principal.require(Scope.WRITE)
    check_units(wanted)
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, principal.business_id, order_id)
        if order is None:
            raise NotFound("order", order_id)
        plan = await _plan(conn, order, wanted)
        purse = await shares.purse_of(conn, order)
        await _check_cancellable(runtime, conn, order, plan, purse, actor=principal.actor,
                                 now=now)
    return preview_view(order, plan, _refund_plan(order, plan, purse))


@dataclass(frozen=True, slots=True)
class _RefundFirst:
    """Every unit is to go from an order holding the buyer's money: refund it, then cancel."""

    version: int


async def cancel_units(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                       wanted: list[UnitsToCancel], *, reason: CancelReason,
                       note: str | None, expected_version: int | None) -> dict[str, Any]:
    """Cancel ``wanted`` (module docstring); returns the order as it now is, the cancellation
    (id, lines, reason) and its refund."""
    principal.require(Scope.WRITE)
    check_units(wanted)
    now = runtime.clock.now()
    cancellation_id = uuid.uuid4()
    refund_box: list[RefundPlan] = []

    async def work(conn: AsyncConnection) -> dict[str, Any] | _RefundFirst:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "cancel_units")
        plan = await _plan(conn, order, wanted)
        purse = await shares.purse_of(conn, order, lock=True)
        await _check_cancellable(runtime, conn, order, plan, purse, actor=principal.actor,
                                 now=now)
        refund = _refund_plan(order, plan, purse)
        refund_box.append(refund)
        extra = {"cancellation_id": str(cancellation_id), "lines": plan.cancelled_lines()}
        if plan.everything:
            if held_money(purse) > 0:
                return _RefundFirst(version=order.version)
            return await cancel_locked(runtime, conn, order, actor=principal.actor,
                                       reason=reason, note=note, now=now, more_changes=extra)
        return await _cancel_part(runtime, conn, order, plan, refund, cancellation_id,
                                  actor=principal.actor, reason=reason, note=note, now=now)

    done = await runtime.db.run(work)
    refund = refund_box[-1]
    if isinstance(done, _RefundFirst):
        return await _refund_then_cancel(runtime, principal, order_id, refund, done.version,
                                         reason=reason, note=note,
                                         cancellation_id=cancellation_id, wanted=wanted)
    if done["status"] == OrderStatus.CANCELLED:
        metrics.order_cancelled(reason.value)
        return _answer(done, cancellation_id, wanted, refund, full=True)
    if refund.method == RefundMethod.CARD and refund.amount > 0:
        done = await refund_at_provider(runtime, principal, order_id, refund,
                                         cancellation_id, now=now)
    return _answer(done, cancellation_id, wanted, refund, full=False)


def _answer(order: dict[str, Any], cancellation_id: uuid.UUID, wanted: list[UnitsToCancel],
            refund: RefundPlan, *, full: bool) -> dict[str, Any]:
    return {"order": order, "cancellation_id": cancellation_id, "full_cancellation": full,
            "lines": [{"sku": w.sku, "quantity": w.quantity} for w in wanted],
            "refund": refund.as_dict()}


async def _cancel_part(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                       plan: CancellationPlan, refund: RefundPlan, cancellation_id: uuid.UUID,
                       *, actor: str, reason: CancelReason, note: str | None,
                       now: datetime) -> dict[str, Any]:
    await runtime.checkpoints.reach("cancel_units.planned")
    taken: list[tuple[uuid.UUID, int]] = []
    for line in plan.lines:
        if line.cancelled:
            row = await order_store.cancel_line_units(conn, order.id, line.sku, line.cancelled)
            if row is None:  # only if the row lock was not honoured
                raise CancelExceedsRemaining(
                    f"Fewer than {line.cancelled} units of {line.sku} are left to cancel.",
                    details={"sku": line.sku, "quantity": line.cancelled})
            taken.append((row.variant_id, line.cancelled))
        await order_store.set_line_shares(conn, order.id, line.sku, discount=line.discount,
                                          tax=line.tax)
    await give_back_stock(conn, order, taken, actor=actor, now=now)
    refund_changes = await take_refund(conn, order, refund, cancellation_id, actor=actor,
                                        now=now)
    after = plan.after
    changes: dict[str, Any] = {
        "cancellation_id": str(cancellation_id), "reason": reason.value,
        "lines": plan.cancelled_lines(),
        "lines_before": plan.lines_before(), "lines_after": plan.lines_after(),
        "totals": {"from": plan.before.as_dict(), "to": after.as_dict()},
        "refund": refund_changes}
    cleaned = (note or "").strip()
    if cleaned:
        changes["note"] = cleaned
    return await save_and_show(conn, order, actor=actor, action="lines_cancelled",
                               values={"subtotal": after.subtotal, "total": after.total,
                                       "discount_total": after.discount_total,
                                       "tax_total": after.tax_total,
                                       "pricing": after.pricing},
                               changes=changes, now=now)


async def give_back_stock(conn: AsyncConnection, order: OrderRow,
                           taken: list[tuple[uuid.UUID, int]], *, actor: str,
                           now: datetime) -> None:
    """An unpaid order holds fewer units; units an order already took go back on hand."""
    if order.status == OrderStatus.PENDING_PAYMENT:
        let_go: list[LevelDelta] = []
        for variant_id, units in taken:
            delta = await stock_store.shrink_order_reservation(
                conn, order_id=order.id, variant_id=variant_id, units=units, now=now)
            if delta is None:
                raise PaymentDeadlinePassed("The stock held for this order was released at "
                                            "its deadline; nothing was cancelled.")
            let_go.append(delta)
        await stock_store.unhold(conn, let_go, now)
        return
    sold = {d.variant_id: d for d in await stock_store.still_sold_of_order(conn, order.id)}
    back = [LevelDelta(sold[v].stock_level_id, v, sold[v].location_id, units)
            for v, units in taken if v in sold]
    note = f"order {order.number}: units cancelled before shipment"
    await stock_store.put_back(conn, back, business_id=order.business_id, order_id=order.id,
                               actor=actor, now=now, note=note,
                               reason=MovementReason.CANCELLATION)


async def take_refund(conn: AsyncConnection, order: OrderRow, refund: RefundPlan,
                       cancellation_id: uuid.UUID, *, actor: str,
                       now: datetime) -> dict[str, Any]:
    """The refund taken on its intent (by hand: booked too); what the history says of it."""
    changes: dict[str, Any] = {**refund.as_dict(), "booked": False}
    if refund.amount <= 0 or refund.intent_id is None:
        return changes
    intent = await shares.take_refund(conn, refund.intent_id, refund.amount, now,
                                      chain=refund.chain)
    if intent is None:  # only if the row lock was not honoured
        raise RefundExceedsCaptured(
            f"A refund of {refund.amount} is more than this payment has left to refund.",
            details={"amount": refund.amount})
    changes["refund_id"] = str(cancellation_id)
    if refund.method == RefundMethod.BY_HAND:
        await _book_refund(conn, order, intent, refund.amount, cancellation_id, actor=actor,
                           now=now)
        changes["booked"] = True
    return changes


async def _book_refund(conn: AsyncConnection, order: OrderRow, intent: IntentRow, amount: int,
                       cancellation_id: uuid.UUID, *, actor: str, now: datetime) -> None:
    await payment_store.add_movement(conn, {
        "business_id": intent.business_id, "order_id": order.id,
        "intent_id": intent.id, "kind": MovementKind.REFUND.value, "amount": amount,
        "source": f"refund:{cancellation_id}", "actor": actor, "created_at": now})
    after = await payment_store.load_intent(conn, intent.id)
    assert after is not None
    await emit(conn, business_id=order.business_id, type=EventType.ORDER_PARTIALLY_REFUNDED,
               aggregate_type=AggregateType.ORDER, aggregate_id=order.id,
               payload={"order_id": order.id, "amount": amount,
                        "refunded_total": after.amount_refunded,
                        "reason": "units cancelled", "refund_id": cancellation_id,
                        "lines": [], "restocked": True},
               now=now)


async def refund_at_provider(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                              refund: RefundPlan, cancellation_id: uuid.UUID, *,
                              now: datetime, done: str = "The units are cancelled",
                              done_key: str = "units_cancelled") -> dict[str, Any]:
    """Ask the provider for the refund the cancellation took; book it, or give it back."""
    assert refund.intent_id is not None
    async with runtime.db.read() as conn:
        intent = await payment_store.load_intent(conn, refund.intent_id)
    assert intent is not None and intent.provider_ref is not None
    try:
        gateway = payments.provider_named(runtime, intent.provider)
        await gateway.refund(intent.provider_ref, amount=refund.amount,
                             idempotency_key=f"refund:{cancellation_id}")
    except ProviderError as error:
        async def give_back(conn: AsyncConnection) -> None:
            order = await _locked(conn, principal, order_id)
            if intent.order_id != order_id:  # an order split off: its original's too
                await _locked(conn, principal, intent.order_id)
            await payment_store.give_back_refund(conn, intent.id, refund.amount, now)
            await shares.give_back_to_chain(conn, refund.chain, refund.amount)
            await note_change(conn, order, actor=principal.actor, action="refund_failed",
                              changes={"refund_id": str(cancellation_id),
                                       "amount": refund.amount, "owed": True}, now=now)

        await runtime.db.run(give_back)
        raise PaymentProviderUnavailable(
            f"{done}, but the provider did not refund ({error}): "
            f"{refund.amount} is owed to the buyer; refund it with POST "
            "/v1/orders/{id}/refunds.",
            details={"provider_code": error.code, "refund_owed": refund.amount,
                     done_key: True}) from error

    async def book(conn: AsyncConnection) -> dict[str, Any]:
        order = await _locked(conn, principal, order_id)
        await _book_refund(conn, order, intent, refund.amount, cancellation_id,
                           actor=principal.actor, now=now)
        return await _shown(conn, order)

    return await runtime.db.run(book)


async def _locked(conn: AsyncConnection, principal: Principal,
                  order_id: uuid.UUID) -> OrderRow:
    order = await order_store.load_order(conn, principal.business_id, order_id, lock=True)
    if order is None:
        raise NotFound("order", order_id)
    return order


async def _shown(conn: AsyncConnection, order: OrderRow) -> dict[str, Any]:
    return (await shaped(conn, [order]))[0]


async def _refund_then_cancel(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                              refund: RefundPlan, version: int, *, reason: CancelReason,
                              note: str | None, cancellation_id: uuid.UUID,
                              wanted: list[UnitsToCancel]) -> dict[str, Any]:
    """Every unit of an order holding the buyer's money: refund all of it, then cancel."""
    if refund.amount > 0:
        await payments.refund_payment(runtime, principal, order_id, amount=refund.amount,
                                      reason="every unit cancelled",
                                      expected_version=version)
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, principal.business_id, order_id)
        if order is None:
            raise NotFound("order", order_id)
        if refund.amount == 0 and order.version != version:
            raise await stale_version(conn, order, version)
    cancelled = await cancel_order(runtime, principal, order_id, reason=reason, note=note)
    return _answer(cancelled, cancellation_id, wanted, refund, full=True)

"""Moving orders through their status machine: payment, processing, shipping, delivery,
cancellation, and the sweeper that cancels unpaid orders past their deadline.

Every change locks the order row first (``SELECT ... FOR UPDATE``), so two changes of one order
run one after the other and the second sees what the first did; the domain's transition table
then decides. Stock moves in the same transaction, through conditional updates.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import stock_store
from orderline.catalog.rules import ReservationStatus
from orderline.catalog.stock_events import announce_expired
from orderline.core import metrics
from orderline.core.errors import (
    AmountMismatch,
    InvalidTransition,
    PaymentDeadlinePassed,
    ValidationFailed,
)
from orderline.core.runtime import Runtime
from orderline.orders import hooks
from orderline.orders import store as order_store
from orderline.orders.fulfilment import service as shipments
from orderline.orders.fulfilment import store as shipment_store
from orderline.orders.hooks import OrderChange, hooks_of
from orderline.orders.rules import CancelReason, OrderStatus, ensure_transition
from orderline.orders.service import lock_for_change, save_and_show, save_change
from orderline.orders.store import OrderRow
from orderline.tenancy.rules import Principal, Scope

log = logging.getLogger(__name__)
SWEEPER_ACTOR = "worker:payment_deadline"


async def _pay(runtime: Runtime, conn: AsyncConnection, order: OrderRow, *, actor: str,
               reference: str | None, amount: int | None, now: datetime) -> None:
    if order.payment_method == "cod" and order.status == OrderStatus.CONFIRMED:
        raise InvalidTransition("A cash-on-delivery order is paid when its cash is collected: "
                                "POST /v1/orders/{id}/cod/collect with the amount.",
                                details={"current_status": order.status})
    ensure_transition(OrderStatus(order.status), OrderStatus.PAID)
    if amount is not None and amount != order.total:
        raise AmountMismatch(
            f"Payment of {amount} does not match the order total {order.total} "
            f"{order.currency}.", details={"amount": amount, "total": order.total})
    if now >= order.payment_deadline:
        raise PaymentDeadlinePassed(
            "The payment deadline has passed and the stock was released; the order will be "
            "cancelled. Refund the buyer or place a new order.",
            details={"payment_deadline": order.payment_deadline.isoformat()})
    await runtime.checkpoints.reach("payment.checked")
    consumed = await stock_store.close_order_reservations(
        conn, order_id=order.id, status=ReservationStatus.CONSUMED, now=now,
        unexpired_only=True)
    wanted = Counter({line.variant_id: line.quantity
                      for line in await order_store.load_lines(conn, [order.id])})
    got: Counter[uuid.UUID] = Counter()
    for d in consumed:
        got[d.variant_id] += d.quantity
    if got != wanted:
        # A reservation lapsed (and was freed for someone else) at this very instant.
        raise PaymentDeadlinePassed("The stock held for this order was released at its "
                                    "deadline; nothing was charged to stock.")
    await stock_store.ship_out(conn, consumed, business_id=order.business_id,
                               order_id=order.id, actor=actor, now=now)
    await hooks.run(hooks_of(runtime).paid, conn, OrderChange(order=order, actor=actor, now=now))


async def _cancel(runtime: Runtime, conn: AsyncConnection, order: OrderRow, *, actor: str,
                  reason: CancelReason, now: datetime) -> None:
    current = OrderStatus(order.status)
    ensure_transition(current, OrderStatus.CANCELLED)
    # Coupons given back, live card payments to be cancelled, waiting proofs out of the queue.
    await hooks.run(hooks_of(runtime).cancelling, conn,
                    OrderChange(order=order, actor=actor, now=now, reason=reason))
    if current == OrderStatus.PENDING_PAYMENT and reason == CancelReason.PAYMENT_TIMEOUT:
        expired = await stock_store.expire_order_reservations(conn, order.id, now)
        await announce_expired(conn, expired, now)
        return
    if current == OrderStatus.PENDING_PAYMENT:
        released = await stock_store.close_order_reservations(
            conn, order_id=order.id, status=ReservationStatus.RELEASED, now=now)
        await stock_store.unhold(conn, released, now)
        return
    # Only what is still out: a refund that restocked some lines has put those back already.
    sold = await stock_store.still_sold_of_order(conn, order.id)
    await stock_store.put_back(conn, sold, business_id=order.business_id,
                               order_id=order.id, actor=actor, now=now,
                               note=f"order {order.number} cancelled ({reason})")


async def mark_paid(runtime: Runtime, conn: AsyncConnection, order: OrderRow, *, actor: str,
                    reference: str | None, now: datetime, action: str = "payment_confirmed",
                    more_changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The order's money is in (a provider captured it, a transfer was confirmed): in the
    caller's transaction, with the order row locked, held stock becomes a sale and the order
    is ``paid``; ``more_changes`` add to its history entry (a note, how it was confirmed)."""
    await _pay(runtime, conn, order, actor=actor, reference=reference, amount=None, now=now)
    return await save_and_show(conn, order, actor=actor, action=action,
                               values={"status": OrderStatus.PAID.value, "paid_at": now,
                                       "payment_reference": reference},
                               changes={"payment_reference": reference,
                                        "amount": order.total, **(more_changes or {})},
                               now=now)


async def confirm_payment(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                          reference: str | None = None, amount: int | None = None,
                          note: str | None = None,
                          expected_version: int | None = None) -> dict[str, Any]:
    """The buyer paid: held stock becomes a sale (on_hand goes down), the order is ``paid``;
    ``note`` (the merchant's, never shown to the buyer) is kept in the history."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "payment")
        await _pay(runtime, conn, order, actor=principal.actor, reference=reference,
                   amount=amount, now=now)
        return await save_and_show(conn, order, actor=principal.actor, action="payment_confirmed",
                          values={"status": OrderStatus.PAID.value, "paid_at": now,
                                  "payment_reference": reference},
                          changes=_with_note({"payment_reference": reference,
                                              "amount": order.total}, note),
                          now=now)

    return await runtime.db.run(work)


def _with_note(changes: dict[str, Any], note: str | None) -> dict[str, Any]:
    """A history entry's changes with the merchant's note, when one was given (the buyer's
    view of the history shows no changes, so a note stays internal)."""
    cleaned = (note or "").strip()
    return {**changes, "note": cleaned} if cleaned else changes


async def cancel_order(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                       reason: CancelReason = CancelReason.MERCHANT, note: str | None = None,
                       expected_version: int | None = None) -> dict[str, Any]:
    """Cancel before shipping: held stock is released, sold stock is put back on hand. The
    reason (a code) is kept on the order, the merchant's ``note`` (why, in words) in its
    history."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "cancel")
        return await cancel_locked(runtime, conn, order, actor=principal.actor, reason=reason,
                                   note=note, now=now)

    cancelled = await runtime.db.run(work)
    metrics.order_cancelled(reason.value)  # committed: counted only now
    return cancelled


async def cancel_locked(runtime: Runtime, conn: AsyncConnection, order: OrderRow, *,
                        actor: str, reason: CancelReason, note: str | None,
                        now: datetime, more_changes: dict[str, Any] | None = None,
                        ) -> dict[str, Any]:
    """``cancel_order``'s work on an order the caller has locked: the same steps (coupons,
    payments, proofs, stock) whichever way the whole order is cancelled (a partial
    cancellation that takes every unit left comes here too). Counted once committed."""
    await _cancel(runtime, conn, order, actor=actor, reason=reason, now=now)
    return await save_and_show(conn, order, actor=actor, action="cancelled",
                               values={"status": OrderStatus.CANCELLED.value,
                                       "cancelled_at": now, "cancel_reason": reason.value},
                               changes=_with_note({"reason": reason.value,
                                                   **(more_changes or {})}, note), now=now)


async def set_shipping(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                       carrier: str, tracking_number: str, tracking_url: str | None,
                       expected_version: int | None = None) -> dict[str, Any]:
    """Record carrier and tracking and move the order to ``shipped``: one shipment of every
    unit not yet shipped, each from where it was taken (or correct the tracking of an order
    already shipped, and of its latest shipment)."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "shipping")
        values: dict[str, Any] = {"carrier": carrier, "tracking_number": tracking_number,
                                  "tracking_url": tracking_url}
        sent = None
        if order.status != OrderStatus.SHIPPED:
            ensure_transition(OrderStatus(order.status), OrderStatus.SHIPPED)
            values.update(status=OrderStatus.SHIPPED.value, shipped_at=now)
            # The whole order in one go: one shipment of every unit not yet shipped.
            sent = await shipments.ship_rest(runtime, conn, order, carrier=carrier,
                                             tracking_number=tracking_number,
                                             tracking_url=tracking_url, actor=principal.actor,
                                             now=now)
        else:
            await shipment_store.retrack_latest(conn, order.id, dict(values))
        shipping = {"carrier": order.carrier, "tracking_number": order.tracking_number,
                    "tracking_url": order.tracking_url}
        changes: dict[str, Any] = {k: {"from": shipping[k], "to": v} for k, v in values.items()
                                   if k in shipping and shipping[k] != v}
        if sent is not None:
            changes["shipment"] = sent.shipment.number
        shown = await save_and_show(conn, order, actor=principal.actor,
                                    action="shipping_updated", values=values, changes=changes,
                                    now=now)
        if sent is not None:
            await shipments.announce_shipment(conn, shown, sent, now)
        return shown

    return await runtime.db.run(work)


async def change_status(runtime: Runtime, principal: Principal, order_id: uuid.UUID, *,
                        status: OrderStatus, reason: CancelReason | None = None,
                        note: str | None = None,
                        expected_version: int | None = None) -> dict[str, Any]:
    """Generic transition. ``paid`` and ``cancelled`` do what their own endpoints do, so stock
    always follows the status; ``shipped`` needs tracking and goes through set_shipping."""
    if status == OrderStatus.PAID:
        return await confirm_payment(runtime, principal, order_id, note=note,
                                     expected_version=expected_version)
    if status == OrderStatus.CANCELLED:
        return await cancel_order(runtime, principal, order_id,
                                  reason=reason or CancelReason.MERCHANT, note=note,
                                  expected_version=expected_version)
    if status == OrderStatus.SHIPPED:
        raise ValidationFailed("Ship an order with PATCH /v1/orders/{id}/shipping, giving the "
                               "carrier and tracking number.", details={"status": str(status)})
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "status")
        ensure_transition(OrderStatus(order.status), status)
        if order.payment_method == "cod" and order.paid_at is None and status in (
                OrderStatus.DELIVERED, OrderStatus.RETURNED):
            raise InvalidTransition(
                "A cash-on-delivery order is delivered by collecting its cash (POST "
                "/v1/orders/{id}/cod/collect) and returned by POST /v1/orders/{id}/cod/failed, "
                "which also move the money and the stock.",
                details={"current_status": order.status, "requested_status": str(status)})
        values: dict[str, Any] = {"status": status.value}
        if status == OrderStatus.DELIVERED:
            values["delivered_at"] = now
            # The order arrived as a whole: so did each of its parcels.
            await shipment_store.mark_delivered(conn, order.id, None, now)
        return await save_and_show(conn, order, actor=principal.actor, action="status_changed",
                          values=values, changes=_with_note({}, note), now=now)

    return await runtime.db.run(work)


async def cancel_lapsed_orders(runtime: Runtime, *, batch: int = 200) -> int:
    """Cancel unpaid orders past their deadline, one transaction each; returns how many.

    Safe with several sweepers and against a payment at the same instant: each order is
    re-checked under its row lock (locked rows are skipped: someone else is on them).
    """
    async with runtime.db.read() as conn:
        candidates = await order_store.lapsed_unpaid_orders(conn, runtime.clock.now(), batch)
    cancelled = 0
    for candidate in candidates:
        async def work(conn: AsyncConnection, order_id: uuid.UUID = candidate.id) -> bool:
            now = runtime.clock.now()
            order = await order_store.lock_lapsed_unpaid_order(conn, order_id, now)
            if order is None:
                return False
            await runtime.checkpoints.reach("sweeper.order_chosen")
            await _cancel(runtime, conn, order, actor=SWEEPER_ACTOR,
                          reason=CancelReason.PAYMENT_TIMEOUT, now=now)
            await save_change(conn, order, actor=SWEEPER_ACTOR, action="cancelled",
                              values={"status": OrderStatus.CANCELLED.value, "cancelled_at": now,
                                      "cancel_reason": CancelReason.PAYMENT_TIMEOUT.value},
                              changes={"reason": CancelReason.PAYMENT_TIMEOUT.value}, now=now)
            return True

        if await runtime.db.run(work):
            cancelled += 1
            metrics.order_cancelled(CancelReason.PAYMENT_TIMEOUT.value)
            log.info("order cancelled: payment deadline passed",
                     extra={"order_id": str(candidate.id),
                            "business_id": str(candidate.business_id)})
    return cancelled

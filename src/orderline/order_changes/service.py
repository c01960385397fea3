"""Edits after payment: previewing, making, paying, cancelling and lapsing order changes.

Every step is one transaction under the order's row lock, so a change, its payment request,
a payment of the order and a cancel of the change run one after the other and each sees what
the one before did; stock moves with conditional UPDATEs besides.

- **Preview** (``preview_change``) plans the change (``rules.plan_change``) and says what the
  money would do; nothing is written.
- **Make** (``make_change``): when the buyer owes nothing (the difference is 0 or less, or the
  order is not paid yet: cash on delivery collects the new total), the change applies at
  once: lines resized or added, removed units back on hand (a ``cancellation`` movement),
  added units taken (held and sold in the same transaction), the order re-priced, the
  difference refunded (a card's through the provider after COMMIT, as the cancellations do;
  cash or a transfer booked as given back by hand), the history entry ``lines_changed`` with
  the lines and totals before and after, ``order.updated`` and ``order_change.created`` +
  ``order_change.applied``. When the buyer owes money, the change waits
  (``awaiting_payment``): a payment request for the difference with a deadline, the added
  units held by reservations until then, the history entry ``change_requested``; the order's
  lines and totals do not move yet. **The change applies as a whole when paid**: its removed
  units too (a buyer who does not pay keeps the order as it was).
- **Pay** (``paying.py``; ``pay_by_card``: the buyer through the order page, or the
  merchant's key;
  ``record_paid_by_hand``: money received in cash or by transfer, confirmed by someone with
  the ``verify`` scope). A card payment is a payment intent of the order for the request's
  amount, created at the provider outside the transaction; the change applies in the
  transaction that finds its money in (``paying._settle``). That transaction plans the change again
  against the order as it now is: if the order moved (shipped, refunded, cancelled, lines
  changed) or the request is no longer open (cancelled, lapsed), nothing applies and the
  payment is handed to the payment saga (``payment.cancel_requested``), which refunds it: no
  money stays on a change that did not apply.
- **Cancel** (``cancel_change``) and **lapse** (``lapse_due_requests``, the worker's sweep):
  the request closes (one conditional UPDATE: only an open request closes, so a payment and a
  cancel never both win), the held units are let go, the history says so.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.cancellations.service import (
    RefundPlan,
    coupons_of,
    figures_of,
    give_back_stock,
    lines_now,
    refund_at_provider,
    refund_for,
    take_refund,
)
from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.catalog.archiving import refuse_archived
from orderline.catalog.rules import ReservationStatus
from orderline.core.errors import (
    NotFound,
    OrderChangeClosed,
    OrderChangeOpen,
    PaymentDeadlinePassed,
    PaymentInProgress,
    VersionConflict,
)
from orderline.core.runtime import Runtime
from orderline.events.event_types import AggregateType, EventType
from orderline.events.outbox import emit
from orderline.order_changes import store
from orderline.order_changes.reading import get_change
from orderline.order_changes.rules import (
    CatalogLine,
    ChangePlan,
    ChangeStatus,
    LineEdit,
    RequestStatus,
    check_changeable,
    check_edits,
    payment_deadline,
    plan_change,
)
from orderline.order_changes.store import ChangeLineRow, ChangeRow, RequestRow
from orderline.orders import hooks
from orderline.orders import store as order_store
from orderline.orders.fulfilment import store as shipment_store
from orderline.orders.rules import RequestedLine
from orderline.orders.service import (
    PricedLine,
    hold_all,
    lock_for_change,
    note_change,
    price_lines,
    save_and_show,
)
from orderline.orders.store import NewOrderLine, OrderRow
from orderline.payments import shares
from orderline.payments import store as payment_store
from orderline.payments.rules import LIVE_INTENTS, RefundMethod
from orderline.payments.shares import Purse
from orderline.payments.store import IntentRow
from orderline.tenancy.rules import Principal, Scope

log = logging.getLogger(__name__)
SWEEPER_ACTOR = "worker:order_change_deadline"


@dataclass(frozen=True, slots=True)
class Planned:
    """A plan with what it needs from the catalog: each SKU's variant and stock level at the
    order's location (for SKUs that gain units)."""

    plan: ChangePlan
    priced: dict[str, PricedLine]
    variants: dict[str, uuid.UUID]


# --- planning ------------------------------------------------------------------------------

async def plan_against(conn: AsyncConnection, order: OrderRow, edits: list[LineEdit], *,
                kept_prices: dict[str, int] | None = None) -> Planned:
    """The change planned against the order as it is. SKUs that gain units are priced at the
    order's location (a SKU the order has keeps its unit price; ``kept_prices`` keeps the
    price a waiting change was made at)."""
    lines = await lines_now(conn, order)
    variants = {r.sku: r.variant_id for r in await order_store.load_lines(conn, [order.id])}
    have = {line.sku: line for line in lines}
    growing = [e for e in edits if e.add or e.quantity > (have[e.sku].quantity
                                                          if e.sku in have else 0)]
    priced: dict[str, PricedLine] = {}
    if growing:
        kept = {**(kept_prices or {}), **{s: line.unit_price for s, line in have.items()}}
        found = await price_lines(conn, order.business_id, order.location_id,
                                  [RequestedLine(sku=e.sku, quantity=e.quantity)
                                   for e in growing], kept_prices=kept)
        priced = {p.sku: p for p in found}
        new_variants = [p.variant_id for p in found if p.sku not in have]
        if new_variants and kept_prices is None:
            await refuse_archived(conn, order.business_id, new_variants)
    product_of = await catalog_store.products_of_variants(
        conn, [p.variant_id for p in priced.values() if p.sku not in have])
    catalog = {sku: CatalogLine(sku=sku, name=p.name,
                                product_id=str(product_of.get(p.variant_id, "")),
                                unit_price=p.unit_price)
               for sku, p in priced.items() if sku not in have}
    plan = plan_change(figures_of(order), lines, edits, catalog=catalog,
                       coupons=await coupons_of(conn, order))
    return Planned(plan=plan, priced=priced,
                   variants={**variants, **{s: p.variant_id for s, p in priced.items()}})


async def check_open(conn: AsyncConnection, order: OrderRow, intents: list[IntentRow]) -> None:
    shipped = sum((await shipment_store.shipped_by_sku(conn, order.id)).values())
    check_changeable(order.status, shipped_units=shipped)
    waiting = await store.open_change_of(conn, order.id)
    if waiting is not None:
        raise OrderChangeOpen(
            f"Change {waiting.number} of this order is waiting for the buyer's payment; "
            "cancel it (or let it be paid) before making another.",
            details={"change_id": str(waiting.id), "number": waiting.number})
    live = [i for i in intents if i.status in LIVE_INTENTS]
    if live:
        raise PaymentInProgress(
            "A payment of this order is under way (authorised, not captured, or waiting for "
            "the buyer); capture or cancel it before changing the lines.",
            details={"intent_id": str(live[0].id), "status": live[0].status})


def _money(order: OrderRow, plan: ChangePlan, purse: Purse) -> tuple[
        RefundPlan, int]:
    """The refund (the buyer gets money back) and the amount to request (the buyer owes)."""
    if order.paid_at is None:  # not paid yet (cash on delivery): the total just moves
        return RefundPlan(amount=0, method=RefundMethod.NONE), 0
    if plan.difference <= 0:
        return refund_for(-plan.difference, purse), 0
    return RefundPlan(amount=0, method=RefundMethod.NONE), plan.difference


def _plan_view(order: OrderRow, plan: ChangePlan, refund: RefundPlan,
               requested: int) -> dict[str, Any]:
    before, after = plan.before.as_dict(), plan.after.as_dict()
    return {
        "order_id": order.id, "version": order.version, "status": order.status,
        "currency": order.currency,
        "lines": [{"sku": c.sku, "name": c.name, "kind": c.kind.value,
                   "unit_price": c.unit_price, "quantity_before": c.quantity_before,
                   "quantity_after": c.quantity_after, "line_total_after": c.line_total_after,
                   "discount_after": c.discount_after, "tax_after": c.tax_after}
                  for c in plan.changed],
        "before": before, "after": after,
        "difference": plan.difference,
        "coupons": {"before": list((plan.before.pricing or {}).get("coupons", ())),
                    "after": list((plan.after.pricing or {}).get("coupons", ()))},
        "refund": refund.as_dict(),
        "payment_request": {"amount": requested} if requested else None,
        "applies": "at_once" if requested == 0 else "when_paid",
    }


async def preview_change(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                         edits: list[LineEdit]) -> dict[str, Any]:
    """What the change would do, changing nothing: the touched lines, the figures before and
    after, the difference, and whether it is refunded or asked of the buyer."""
    principal.require(Scope.WRITE)
    check_edits(edits)
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, principal.business_id, order_id)
        if order is None:
            raise NotFound("order", order_id)
        purse = await shares.purse_of(conn, order)
        await check_open(conn, order, purse.intents)
        planned = await plan_against(conn, order, edits)
    refund, requested = _money(order, planned.plan, purse)
    return _plan_view(order, planned.plan, refund, requested)


# --- making a change -----------------------------------------------------------------------

async def make_change(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                      edits: list[LineEdit], *, note: str | None, expected_version: int | None,
                      pay_within_hours: int | None = None) -> dict[str, Any]:
    """Make the change (module docstring); returns the change as stored and the order."""
    principal.require(Scope.WRITE)
    check_edits(edits)
    now = runtime.clock.now()
    deadline = payment_deadline(now, pay_within_hours)
    change_id = uuid.uuid4()
    refund_box: list[RefundPlan] = []

    async def work(conn: AsyncConnection) -> None:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "order_change")
        purse = await shares.purse_of(conn, order, lock=True)
        await check_open(conn, order, purse.intents)
        planned = await plan_against(conn, order, edits)
        refund, requested = _money(order, planned.plan, purse)
        refund_box.append(refund)
        await runtime.checkpoints.reach("order_change.planned")
        number = await store.next_number(conn, order.id)
        # Held until the deadline; a change applied at once consumes them in this transaction.
        held = await _hold_added(runtime, conn, order, planned,
                                 expires_at=deadline if requested else now + _AT_ONCE)
        change = _change_row(change_id, order, planned.plan, number=number, refund=refund,
                             deadline=deadline if requested else None, note=note,
                             actor=principal.actor, now=now)
        await store.insert_change(conn, change, _line_rows(change, planned, held))
        await _announce(conn, order, change, EventType.ORDER_CHANGE_CREATED,
                        requested=requested, now=now)
        if requested:
            request = RequestRow(
                id=uuid.uuid4(), business_id=order.business_id, order_id=order.id,
                change_id=change.id, amount=requested, currency=order.currency,
                deadline=deadline, status=RequestStatus.OPEN.value, paid_by=None,
                intent_id=None, paid_at=None, created_at=now, updated_at=now)
            await store.insert_request(conn, request)
            await note_change(conn, order, actor=principal.actor, action="change_requested",
                              changes={**_history(change, planned.plan),
                                       "payment_request": {"id": str(request.id),
                                                           "amount": requested,
                                                           "deadline": deadline.isoformat()}},
                              now=now)
            return
        await apply_change(runtime, conn, order, change, planned.plan, refund,
                     actor=principal.actor, now=now)

    await runtime.db.run(work)
    refund = refund_box[-1]
    if refund.method == RefundMethod.CARD and refund.amount > 0:
        await refund_at_provider(runtime, principal, order_id, refund, change_id, now=now,
                                 done="The change is applied", done_key="change_applied")
    return await get_change(runtime, principal, order_id, change_id)


async def _hold_added(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                      planned: Planned, *, expires_at: datetime) -> dict[str, uuid.UUID]:
    """Hold the units the change adds (all or nothing, ``OutOfStock`` naming each short
    line); returns each SKU's reservation."""
    growing = [PricedLine(variant_id=p.variant_id, stock_level_id=p.stock_level_id,
                          sku=c.sku, name=c.name, unit_price=c.unit_price, quantity=c.delta,
                          low_stock_threshold=p.low_stock_threshold)
               for c in planned.plan.changed if c.delta > 0
               for p in (planned.priced[c.sku],)]
    if not growing:
        return {}
    now = runtime.clock.now()
    rows = await hold_all(runtime, conn, business_id=order.business_id,
                          holder={"order_id": order.id, "checkout_id": None}, priced=growing,
                          expires_at=expires_at, now=now)
    await stock_store.insert_reservations(conn, rows)
    sku_of = {p.variant_id: p.sku for p in growing}
    held: dict[str, uuid.UUID] = {}
    for row in rows:
        variant_id, reservation_id = row["variant_id"], row["id"]
        assert isinstance(variant_id, uuid.UUID) and isinstance(reservation_id, uuid.UUID)
        held[sku_of[variant_id]] = reservation_id
    return held


def _change_row(change_id: uuid.UUID, order: OrderRow, plan: ChangePlan, *, number: int,
                refund: RefundPlan, deadline: datetime | None, note: str | None, actor: str,
                now: datetime) -> ChangeRow:
    cleaned = (note or "").strip() or None
    return ChangeRow(
        id=change_id, business_id=order.business_id, order_id=order.id, number=number,
        status=(ChangeStatus.AWAITING_PAYMENT if deadline else ChangeStatus.APPLIED).value,
        currency=order.currency, totals_before=plan.before.as_dict(),
        totals_after=plan.after.as_dict(),
        pricing_after=None if plan.after.pricing is None else dict(plan.after.pricing),
        difference=plan.difference, refund_amount=refund.amount,
        refund_method=refund.method.value if refund.amount else None,
        order_version_before=order.version, order_version_after=None, note=cleaned,
        deadline=deadline, created_by=actor, created_at=now, updated_at=now,
        applied_at=None, closed_at=None)


def _line_rows(change: ChangeRow, planned: Planned,
               held: dict[str, uuid.UUID]) -> list[ChangeLineRow]:
    rows = []
    for c in planned.plan.changed:
        rows.append(ChangeLineRow(
            id=uuid.uuid4(), business_id=change.business_id, change_id=change.id,
            kind=c.kind.value, variant_id=planned.variants[c.sku], sku=c.sku, name=c.name,
            unit_price=c.unit_price, quantity_before=c.quantity_before,
            quantity_after=c.quantity_after, reservation_id=held.get(c.sku)))
    return rows


def _history(change: ChangeRow, plan: ChangePlan) -> dict[str, Any]:
    return {"change_id": str(change.id), "change_number": change.number,
            "lines_before": plan.lines_before(), "lines_after": plan.lines_after(),
            "totals": {"from": plan.before.as_dict(), "to": plan.after.as_dict()},
            "difference": plan.difference}


async def _announce(conn: AsyncConnection, order: OrderRow, change: ChangeRow,
                    type: EventType, *, now: datetime, requested: int = 0,
                    reason: str | None = None) -> None:
    payload: dict[str, Any] = {"order_id": order.id, "change_id": change.id,
                               "number": change.number, "difference": change.difference,
                               "currency": change.currency}
    if type == EventType.ORDER_CHANGE_CREATED:
        payload.update(status=change.status, payment_requested=requested,
                       deadline=change.deadline)
    if reason:
        payload["reason"] = reason
    await emit(conn, business_id=order.business_id, type=type,
               aggregate_type=AggregateType.ORDER, aggregate_id=order.id, payload=payload,
               now=now)


# --- applying ------------------------------------------------------------------------------

async def apply_change(runtime: Runtime, conn: AsyncConnection, order: OrderRow, change: ChangeRow,
                 plan: ChangePlan, refund: RefundPlan, *, actor: str,
                 now: datetime) -> dict[str, Any]:
    """Apply a planned change under the order's lock: lines, stock, refund, figures, history,
    events. Raises (and so rolls back) if a held unit lapsed meanwhile."""
    lines = {line.sku: line for line in await order_store.load_lines(conn, [order.id])}
    stored = {line.sku: line for line in await store.lines_of(conn, [change.id])}
    gone: list[tuple[uuid.UUID, int]] = []
    for c in plan.changed:
        discount, tax = plan.shares.get(c.sku, (0, 0))
        if c.sku in lines:
            row = await order_store.resize_line(conn, order.id, c.sku,
                                                quantity_before=c.quantity_before,
                                                quantity_after=c.quantity_after,
                                                discount=discount, tax=tax)
            if row is None:  # only if the row lock was not honoured
                raise VersionConflict("The order's lines changed meanwhile; retry.")
            if c.delta < 0:
                gone.append((row.variant_id, -c.delta))
        else:
            await order_store.add_line(conn, NewOrderLine(
                id=uuid.uuid4(), business_id=order.business_id, order_id=order.id,
                position=0, variant_id=stored[c.sku].variant_id, sku=c.sku, name=c.name,
                unit_price=c.unit_price, quantity=c.quantity_after,
                line_total=c.line_total_after, discount=discount, tax=tax))
    touched = {c.sku for c in plan.changed}
    for sku in lines:
        if sku not in touched:
            discount, tax = plan.shares.get(sku, (0, 0))
            await order_store.set_line_shares(conn, order.id, sku, discount=discount, tax=tax)
    await _take_held(conn, order, plan, stored, actor=actor, now=now)
    await give_back_stock(conn, order, gone, actor=actor, now=now)
    refund_changes = await take_refund(conn, order, refund, change.id, actor=actor, now=now)
    after = plan.after
    shown = await save_and_show(
        conn, order, actor=actor, action="lines_changed",
        values={"subtotal": after.subtotal, "total": after.total,
                "discount_total": after.discount_total, "tax_total": after.tax_total,
                "pricing": after.pricing},
        changes={**_history(change, plan), "refund": refund_changes,
                 **({"note": change.note} if change.note else {})},
        now=now)
    await store.close_change(conn, change.id, status=ChangeStatus.APPLIED, now=now,
                             order_version_after=int(shown["version"]))
    await _announce(conn, order, change, EventType.ORDER_CHANGE_APPLIED, now=now)
    return shown


async def _take_held(conn: AsyncConnection, order: OrderRow, plan: ChangePlan,
                     stored: dict[str, ChangeLineRow], *, actor: str, now: datetime) -> None:
    """The held units become sales: every reservation of the change, still live, consumed."""
    ids = [line.reservation_id for line in stored.values() if line.reservation_id]
    consumed = await stock_store.close_reservations(
        conn, ids, status=ReservationStatus.CONSUMED, now=now, unexpired_only=True)
    wanted = Counter({stored[c.sku].variant_id: c.delta for c in plan.changed if c.delta > 0})
    got: Counter[uuid.UUID] = Counter()
    for d in consumed:
        got[d.variant_id] += d.quantity
    if got != wanted:
        raise PaymentDeadlinePassed("The stock held for this change was released at its "
                                    "deadline; nothing was changed.")
    await stock_store.ship_out(conn, consumed, business_id=order.business_id,
                               order_id=order.id, actor=actor, now=now)


# --- cancelling and lapsing ----------------------------------------------------------------

async def close_waiting(conn: AsyncConnection, order: OrderRow, change: ChangeRow,
                 request: RequestRow, *, status: RequestStatus, actor: str, reason: str,
                 now: datetime, history: bool = True) -> bool:
    """Close an open request and its change; the held units go back, and a card payment of
    the request (under way, or with money in but not yet settled) goes to the payment saga,
    which cancels or refunds it. False if it was not open. ``history``: note it in the
    order's history (not when the order's own cancellation writes the order)."""
    closed = await store.close_request(conn, request.id, status=status, now=now)
    if closed is None:
        return False
    lapsed = status == RequestStatus.LAPSED
    stored = await store.lines_of(conn, [change.id])
    let_go = await stock_store.close_reservations(
        conn, [line.reservation_id for line in stored if line.reservation_id],
        status=ReservationStatus.EXPIRED if lapsed else ReservationStatus.RELEASED, now=now)
    await stock_store.unhold(conn, let_go, now)
    await store.close_change(conn, change.id, now=now,
                             status=ChangeStatus.LAPSED if lapsed else ChangeStatus.CANCELLED)
    if request.intent_id is not None:
        intent = await payment_store.load_intent(conn, request.intent_id)
        if intent is not None and (intent.status in LIVE_INTENTS
                                   or intent.amount_captured > intent.amount_refunded):
            await emit(conn, business_id=order.business_id,
                       type=EventType.PAYMENT_CANCEL_REQUESTED,
                       aggregate_type=AggregateType.ORDER, aggregate_id=order.id,
                       payload={"order_id": order.id, "intent_ids": [intent.id]}, now=now)
    if history:
        await note_change(conn, order, actor=actor,
                          action="change_lapsed" if lapsed else "change_cancelled",
                          changes={"change_id": str(change.id),
                                   "change_number": change.number,
                                   "payment_request": {"id": str(request.id),
                                                       "amount": request.amount},
                                   "reason": reason}, now=now)
    await _announce(conn, order, change, EventType.ORDER_CHANGE_LAPSED if lapsed
                    else EventType.ORDER_CHANGE_CANCELLED, reason=reason, now=now)
    return True


async def close_when_order_cancelled(conn: AsyncConnection, cancelling: hooks.OrderChange
                                     ) -> None:
    """The orders' ``cancelling`` hook: an order cancelled with a change waiting for payment
    cancels the change in the same transaction (its held units go back at once, not at the
    deadline; a card payment of it is cancelled or refunded by the saga)."""
    order = cancelling.order
    waiting = await store.open_change_of(conn, order.id)
    request = None if waiting is None else await store.request_of_change(conn, waiting.id)
    if waiting is None or request is None:
        return
    await close_waiting(conn, order, waiting, request, status=RequestStatus.CANCELLED,
                        actor=cancelling.actor, reason="the order was cancelled",
                        now=cancelling.now, history=False)


async def cancel_change(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                        change_id: uuid.UUID) -> dict[str, Any]:
    """Cancel a change waiting for payment: its request closes, its held units go back, the
    order stays as it was. A card payment under way is cancelled (or refunded) by the saga."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()

    async def work(conn: AsyncConnection) -> None:
        order = await lock_for_change(runtime, conn, principal, order_id, None,
                                      "order_change_cancel")
        change = await store.load_change(conn, principal.business_id, order_id, change_id)
        request = None if change is None else await store.request_of_change(conn, change_id)
        if change is None:
            raise NotFound("order change", change_id)
        if request is None or not await close_waiting(conn, order, change, request,
                                               status=RequestStatus.CANCELLED,
                                               actor=principal.actor,
                                               reason="cancelled by the merchant", now=now):
            raise OrderChangeClosed(f"Change {change.number} is {change.status}; only a "
                                    "change waiting for payment can be cancelled.",
                                    details={"status": change.status})

    await runtime.db.run(work)
    return await get_change(runtime, principal, order_id, change_id)

async def lapse_due_requests(runtime: Runtime, *, batch: int = 200) -> int:
    """Lapse open payment requests past their deadline, one transaction each (the order row
    locked, the request re-checked), so a payment at the same instant and the sweeper never
    both win; returns how many lapsed."""
    async with runtime.db.read() as conn:
        due = await store.due_requests(conn, runtime.clock.now(), batch)
    lapsed = 0
    for candidate in due:
        async def work(conn: AsyncConnection, c: store.DueRequest = candidate) -> bool:
            now = runtime.clock.now()
            order = await order_store.load_order(conn, c.business_id, c.order_id, lock=True)
            request = await store.load_request(conn, c.id)
            if order is None or request is None or request.deadline > now:
                return False
            change = await store.load_change(conn, c.business_id, c.order_id,
                                             request.change_id)
            assert change is not None
            return await close_waiting(conn, order, change, request, status=RequestStatus.LAPSED,
                                actor=SWEEPER_ACTOR, reason="not paid by the deadline",
                                now=now)

        if await runtime.db.run(work):
            lapsed += 1
    return lapsed

_AT_ONCE = timedelta(hours=1)

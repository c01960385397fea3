"""Splitting an order in two and merging two unpaid orders of one buyer: preview and do.

Each change is one transaction under the orders' row locks (``lock_for_change``; a merge
locks its two orders in id order, so two merges of the same pair never dead-lock), and each
line's units are taken with one conditional UPDATE besides. So a split racing a payment, a
shipment, a cancellation or another split of the same order runs before or after it, never
between, and the second sees what the first did.

Split: a new order with its own number (the business's order sequence), the same customer,
channel, currency, payment method, addresses and payment deadline, and the status of the
original (a partly shipped original's new part is ``paid``, or ``confirmed`` if its cash is
still to collect). The moved lines take their exact shares (``rules.plan_split``). Stock:
an unpaid order's hold of those units changes hands (its reservation shrinks, the new order
gets one at the same level, ``reserved`` never moves, so nobody else can take them in
between); units a paid or cash order already took move with a ``split`` ledger pair (+ on
the original, - on the new order; on_hand unchanged). Money: a paid original's payment
stays on its intents; the ``split_into`` link records how much of it (the new order's
total) now belongs to the new order, so each order's share is exact and both sum to what was
paid. Refused while a payment is under way, for an unpaid manual-payment order (its buyer
was told the exact total), and for a paid order whose money was partly refunded.

Merge: the other order's lines join (re-priced, ``rules.plan_merge``), its live holds join
the survivor's (``reserved`` never moves), it is cancelled with reason ``merged`` (its coupon
uses stay counted: their discount is now the survivor's), and the survivor's payment
deadline becomes the earlier of the two.

Events: ``order.updated`` (action ``split`` / ``merged``) for the orders that stay,
``order.created`` for a split's new order, ``order.cancelled`` (reason ``merged``) for the
order merged away; each has its history entry, and ``order_links`` ties them together.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.cancellations.rules import LineNow, OrderFigures, coupon_terms_of
from orderline.catalog import stock_store
from orderline.catalog import store as catalog_store
from orderline.catalog.stock_store import LevelDelta
from orderline.core import metrics
from orderline.core.errors import (
    NotFound,
    OrdersNotMergeable,
    PaymentDeadlinePassed,
    PaymentInProgress,
    SplitExceedsRemaining,
    SplitNotAllowed,
)
from orderline.core.runtime import Runtime
from orderline.coupons import store as coupon_store
from orderline.order_splits import store
from orderline.order_splits.rules import (
    SPLITTABLE,
    MergePlan,
    SplitPlan,
    UnitsToMove,
    check_units,
    merged_coupons,
    plan_merge,
    plan_split,
)
from orderline.orders import hooks
from orderline.orders import store as order_store
from orderline.orders.fulfilment import store as shipment_store
from orderline.orders.hooks import OrderChange, hooks_of
from orderline.orders.placing import write_new_order
from orderline.orders.rules import CancelReason, OrderStatus, format_order_number
from orderline.orders.service import (
    hash_access_token,
    lock_for_change,
    new_order_access_token,
    save_and_show,
)
from orderline.orders.store import NewOrderLine, NewOrderRow, OrderLineRow, OrderRow
from orderline.payments import store as payment_store
from orderline.payments.rules import LIVE_INTENTS
from orderline.payments.shares import held_by
from orderline.payments.store import IntentRow
from orderline.pricing.engine import CouponKind, CouponTerms
from orderline.tenancy.rules import Principal, Scope


@dataclass(frozen=True, slots=True)
class SplitOrderRow(NewOrderRow):
    """A split's new order: a new order row with the original's price snapshot columns and
    payment (``more``), which a placed order only gets from a checkout or a payment."""

    more: Mapping[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        values = NewOrderRow.values(self)
        values.update(self.more)
        return values


def _figures(order: OrderRow) -> OrderFigures:
    return OrderFigures(currency=order.currency, subtotal=order.subtotal,
                        discount_total=order.discount_total,
                        shipping_total=order.shipping_total,
                        shipping_discount=order.shipping_discount, tax_total=order.tax_total,
                        total=order.total, prices_include_tax=order.prices_include_tax,
                        pricing=order.pricing)


async def _lines_now(conn: AsyncConnection,
                     rows: list[OrderLineRow]) -> list[LineNow]:
    product_of = await catalog_store.products_of_variants(conn, [r.variant_id for r in rows])
    return [LineNow(sku=r.sku, name=r.name, product_id=str(product_of.get(r.variant_id, "")),
                    unit_price=r.unit_price, quantity=r.quantity,
                    refunded_quantity=r.refunded_quantity,
                    cancelled_quantity=r.cancelled_quantity, line_total=r.line_total,
                    discount=r.discount, tax=r.tax) for r in rows]


async def _unpaid_and_quiet(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                            intents: list[IntentRow], *, actor: str, now: datetime) -> None:
    """An unpaid order's hold is live, no payment is under way, and no manual payment's
    buyer was told its exact total (the line-edit refusal)."""
    if order.payment_deadline <= now:
        raise PaymentDeadlinePassed("The payment deadline has passed; the stock is no longer "
                                    "held and the order will be cancelled.",
                                    details={"order_number": order.number,
                                             "payment_deadline": order.payment_deadline})
    if any(i.status in LIVE_INTENTS for i in intents):
        raise PaymentInProgress(
            f"A card payment of order {order.number} is under way; wait until it is paid or "
            "cancel it first.", details={"order_number": order.number,
                                          "statuses": sorted({i.status for i in intents})})
    await hooks.run(hooks_of(runtime).editing_lines, conn,
                    OrderChange(order=order, actor=actor, now=now))


@dataclass(frozen=True, slots=True)
class _SplitGrounds:
    plan: SplitPlan
    rows: list[OrderLineRow]
    money_moved: int


async def _split_grounds(runtime: Runtime, conn: AsyncConnection, order: OrderRow,
                         wanted: list[UnitsToMove], *, actor: str,
                         now: datetime) -> _SplitGrounds:
    status = OrderStatus(order.status)
    if status not in SPLITTABLE:
        raise SplitNotAllowed(f"An order can be split only before all of it ships; order "
                              f"{order.number} is '{status}'.",
                              details={"current_status": str(status)})
    rows = await order_store.load_lines(conn, [order.id])
    shipped = await shipment_store.shipped_by_sku(conn, order.id)
    plan = plan_split(_figures(order), await _lines_now(conn, rows), wanted, shipped=shipped)
    intents = await payment_store.intents_of_order(conn, order.business_id, order.id)
    if status == OrderStatus.PENDING_PAYMENT:
        await _unpaid_and_quiet(runtime, conn, order, intents, actor=actor, now=now)
    if any(i.status in LIVE_INTENTS for i in intents):
        raise PaymentInProgress("A payment of this order is under way; split it once it is "
                                "settled.", details={"statuses": sorted(
                                    {i.status for i in intents})})
    if order.paid_at is None:
        return _SplitGrounds(plan=plan, rows=rows, money_moved=0)
    held = held_by(intents) - await store.moved_out_amount(conn, order.id)
    if intents and held != order.total:
        raise SplitNotAllowed(
            f"Order {order.number} holds {held} of its total {order.total} (part of its money "
            "was refunded or is not in); refund or settle it before splitting.",
            details={"held": held, "total": order.total})
    return _SplitGrounds(plan=plan, rows=rows, money_moved=plan.moved.total)


def _new_status(order: OrderRow) -> OrderStatus:
    status = OrderStatus(order.status)
    if status != OrderStatus.PARTIALLY_SHIPPED:
        return status
    return OrderStatus.PAID if order.paid_at is not None else OrderStatus.CONFIRMED


def split_preview_view(order: OrderRow, grounds: _SplitGrounds) -> dict[str, Any]:
    plan = grounds.plan
    return {
        "order_id": order.id, "number": order.number, "version": order.version,
        "status": order.status, "currency": order.currency,
        "new_order_status": _new_status(order).value,
        "lines": [{"sku": line.sku, "name": line.name, "quantity_before": line.quantity_before,
                   "move": line.moved, "quantity_kept": line.kept,
                   "line_total_moved": line.line_total_moved,
                   "discount_moved": line.discount_moved, "tax_moved": line.tax_moved}
                  for line in plan.lines],
        "before": _figure_dict(plan.before), "kept": _figure_dict(plan.kept),
        "moved": _figure_dict(plan.moved), "money_moved": grounds.money_moved,
    }


def _figure_dict(f: OrderFigures) -> dict[str, int]:
    return f.as_dict()


async def preview_split(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                        wanted: list[UnitsToMove]) -> dict[str, Any]:
    """What moving ``wanted`` to a new order would do, changing nothing."""
    principal.require(Scope.WRITE)
    check_units(wanted)
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        order = await order_store.load_order(conn, principal.business_id, order_id)
        if order is None:
            raise NotFound("order", order_id)
        grounds = await _split_grounds(runtime, conn, order, wanted, actor=principal.actor,
                                       now=now)
    return split_preview_view(order, grounds)


async def split_order(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                      wanted: list[UnitsToMove], *, note: str | None,
                      expected_version: int | None) -> dict[str, Any]:
    """Move ``wanted`` to a new order (module docstring). Returns both orders as they now
    are, the split's id and money moved, and the new order's buyer access token (shown
    once)."""
    principal.require(Scope.WRITE)
    check_units(wanted)
    now = runtime.clock.now()
    split_id = uuid.uuid4()
    token = new_order_access_token()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        order = await lock_for_change(runtime, conn, principal, order_id, expected_version,
                                      "split")
        grounds = await _split_grounds(runtime, conn, order, wanted, actor=principal.actor,
                                       now=now)
        await runtime.checkpoints.reach("split.planned")
        plan = grounds.plan
        moved = plan.moved_lines()
        sequence = await order_store.next_order_sequence(conn, order.business_id)
        new_id = uuid.uuid4()
        status = _new_status(order)
        variant_of = {r.sku: r.variant_id for r in grounds.rows}
        line_rows = [NewOrderLine(id=uuid.uuid4(), business_id=order.business_id,
                                  order_id=new_id, position=i, variant_id=variant_of[line.sku],
                                  sku=line.sku, name=line.name, unit_price=line.unit_price,
                                  quantity=line.moved, line_total=line.line_total_moved,
                                  discount=line.discount_moved, tax=line.tax_moved)
                     for i, line in enumerate(x for x in plan.lines if x.moved)]
        new = SplitOrderRow(
            id=new_id, business_id=order.business_id, number=format_order_number(sequence),
            status=status.value, channel=order.channel, customer_id=order.customer_id,
            customer_name=order.customer_name, customer_phone=order.customer_phone,
            customer_email=order.customer_email, payment_method=order.payment_method,
            note=order.note, currency=order.currency, subtotal=plan.moved.subtotal,
            total=plan.moved.total, location_id=order.location_id,
            payment_deadline=order.payment_deadline,
            access_token_hash=hash_access_token(token), created_at=now,
            shipping_address=order.shipping_address,
            more={"discount_total": plan.moved.discount_total, "shipping_total": 0,
                  "shipping_discount": 0, "tax_total": plan.moved.tax_total,
                  "prices_include_tax": order.prices_include_tax,
                  "pricing": plan.moved.pricing, "shipping_method": order.shipping_method,
                  "paid_at": order.paid_at,
                  "payment_reference": order.payment_reference})
        split_from = {"order_id": str(order.id), "number": order.number,
                      "split_id": str(split_id)}
        _, new_shown = await write_new_order(
            conn, new, line_rows, actor=principal.actor,
            changes={"split_from": split_from, "lines": moved, "total": plan.moved.total,
                     "money_moved": grounds.money_moved})
        for line in plan.lines:
            if line.moved and not await store.take_line_units(
                    conn, order_id=order.id, sku=line.sku, units=line.moved,
                    line_total=line.line_total_moved, discount=line.discount_moved,
                    tax=line.tax_moved):
                raise SplitExceedsRemaining(  # only if the row lock was not honoured
                    f"Fewer than {line.moved} units of {line.sku} are left to move.",
                    details={"sku": line.sku, "quantity": line.moved})
        await _move_stock(conn, order, new_id, new.number, plan, variant_of,
                          actor=principal.actor, now=now)
        await store.add_link_pair(conn, business_id=order.business_id, change_id=split_id,
                                  first=order.id, first_kind="split_into", second=new_id,
                                  second_kind="split_from", amount=grounds.money_moved,
                                  moved=moved, actor=principal.actor, now=now)
        changes: dict[str, Any] = {
            "split_id": str(split_id), "lines": moved,
            "new_order": {"order_id": str(new_id), "number": new.number},
            "totals": {"from": plan.before.as_dict(), "to": plan.kept.as_dict()},
            "money_moved": grounds.money_moved}
        cleaned = (note or "").strip()
        if cleaned:
            changes["note"] = cleaned
        shown = await save_and_show(conn, order, actor=principal.actor, action="split",
                                    values={"subtotal": plan.kept.subtotal,
                                            "total": plan.kept.total,
                                            "discount_total": plan.kept.discount_total,
                                            "tax_total": plan.kept.tax_total,
                                            "pricing": plan.kept.pricing},
                                    changes=changes, now=now)
        return {"split_id": split_id, "order": shown, "new_order": new_shown,
                "lines": moved, "money_moved": grounds.money_moved,
                "new_order_access_token": token}

    done: dict[str, Any] = await runtime.db.run(work)
    metrics.order_created(done["new_order"]["channel"])
    return done


async def _move_stock(conn: AsyncConnection, order: OrderRow, new_id: uuid.UUID,
                      new_number: str, plan: SplitPlan, variant_of: dict[str, uuid.UUID], *,
                      actor: str, now: datetime) -> None:
    if order.status == OrderStatus.PENDING_PAYMENT:
        for line in plan.lines:
            if line.moved and not await store.hand_over_hold(
                    conn, business_id=order.business_id, from_order=order.id,
                    to_order=new_id, variant_id=variant_of[line.sku], units=line.moved,
                    expires_at=order.payment_deadline, now=now):
                raise PaymentDeadlinePassed("The stock held for this order was released at "
                                            "its deadline; nothing was split.")
        return
    sold = await stock_store.still_sold_of_order(conn, order.id)
    taken: list[LevelDelta] = []
    for line in plan.lines:
        want = line.moved
        for level in sorted((d for d in sold if d.variant_id == variant_of[line.sku]),
                            key=lambda d: str(d.stock_level_id)):
            if want <= 0:
                break
            units = min(want, level.quantity)
            taken.append(LevelDelta(level.stock_level_id, level.variant_id,
                                    level.location_id, units))
            want -= units
    await store.hand_over_sold(conn, business_id=order.business_id, from_order=order.id,
                               to_order=new_id, taken=taken, actor=actor,
                               note=f"order {order.number}: units moved to order {new_number}",
                               now=now)


# Merging -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MergeGrounds:
    survivor: OrderRow
    other: OrderRow
    plan: MergePlan
    deadline: datetime
    variant_of: dict[str, uuid.UUID]


async def _terms(conn: AsyncConnection, order: OrderRow) -> tuple[CouponTerms, ...]:
    codes = [str(c["code"]) for c in (order.pricing or {}).get("coupons", ())]
    found = ({c.code: c.terms() for c in await coupon_store.find_by_codes(
        conn, order.business_id, codes)} if codes else {})
    return coupon_terms_of(order.pricing, found)


async def _merge_grounds(runtime: Runtime, conn: AsyncConnection, survivor: OrderRow,
                         other: OrderRow, *, actor: str, now: datetime) -> _MergeGrounds:
    if survivor.id == other.id:
        raise OrdersNotMergeable("An order cannot be merged with itself.",
                                 details={"reason": "same_order"})
    for order in (survivor, other):
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise OrdersNotMergeable(
                f"Only orders awaiting payment can be merged; order {order.number} is "
                f"'{order.status}'.", details={"reason": "status", "order_number": order.number,
                                               "current_status": order.status})
    if survivor.customer_id != other.customer_id:
        raise OrdersNotMergeable("Only orders of the same customer can be merged.",
                                 details={"reason": "customer"})
    if survivor.currency != other.currency:
        raise OrdersNotMergeable("Orders in different currencies cannot be merged.",
                                 details={"reason": "currency"})
    for order in (survivor, other):
        intents = await payment_store.intents_of_order(conn, order.business_id, order.id)
        await _unpaid_and_quiet(runtime, conn, order, intents, actor=actor, now=now)
    rows = await order_store.load_lines(conn, [survivor.id, other.id])
    here = [r for r in rows if r.order_id == survivor.id]
    joining = [r for r in rows if r.order_id == other.id]
    survivor_terms = await _terms(conn, survivor)
    coupons = merged_coupons(survivor_terms, await _terms(conn, other))
    plan = plan_merge(_figures(survivor), await _lines_now(conn, here), _figures(other),
                      await _lines_now(conn, joining), coupons=coupons,
                      survivor_coupons=tuple(c for c in survivor_terms
                                             if c.kind != CouponKind.FREE_SHIPPING))
    variant_of = {r.sku: r.variant_id for r in rows}
    return _MergeGrounds(survivor=survivor, other=other, plan=plan,
                         deadline=min(survivor.payment_deadline, other.payment_deadline),
                         variant_of=variant_of)


def merge_preview_view(grounds: _MergeGrounds) -> dict[str, Any]:
    plan = grounds.plan
    return {
        "order_id": grounds.survivor.id, "number": grounds.survivor.number,
        "version": grounds.survivor.version, "other_order_id": grounds.other.id,
        "other_number": grounds.other.number, "other_version": grounds.other.version,
        "currency": grounds.survivor.currency,
        "lines": [{"sku": line.sku, "name": line.name, "quantity_here": line.quantity_here,
                   "quantity_joining": line.quantity_joining, "quantity_after": line.quantity,
                   "line_total_after": line.line_total, "discount_after": line.discount,
                   "tax_after": line.tax} for line in plan.lines],
        "before": plan.survivor.as_dict(), "other": plan.other.as_dict(),
        "after": plan.after.as_dict(), "coupons": list(plan.coupons),
        "payment_deadline": grounds.deadline,
    }


async def _load(conn: AsyncConnection, principal: Principal, order_id: uuid.UUID) -> OrderRow:
    order = await order_store.load_order(conn, principal.business_id, order_id)
    if order is None:
        raise NotFound("order", order_id)
    return order


async def preview_merge(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                        other_id: uuid.UUID) -> dict[str, Any]:
    """What merging ``other_id`` into ``order_id`` would do, changing nothing."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()
    async with runtime.db.read() as conn:
        survivor = await _load(conn, principal, order_id)
        other = await _load(conn, principal, other_id)
        grounds = await _merge_grounds(runtime, conn, survivor, other, actor=principal.actor,
                                       now=now)
    return merge_preview_view(grounds)


async def merge_orders(runtime: Runtime, principal: Principal, order_id: uuid.UUID,
                       other_id: uuid.UUID, *, expected_version: int | None,
                       other_version: int | None, note: str | None) -> dict[str, Any]:
    """Merge ``other_id`` into ``order_id`` (module docstring); returns both as they now
    are."""
    principal.require(Scope.WRITE)
    now = runtime.clock.now()
    merge_id = uuid.uuid4()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        versions = {order_id: expected_version, other_id: other_version}
        locked: dict[uuid.UUID, OrderRow] = {}
        for oid in sorted({order_id, other_id}, key=str):
            locked[oid] = await lock_for_change(runtime, conn, principal, oid, versions[oid],
                                                "merge")
        grounds = await _merge_grounds(runtime, conn, locked[order_id], locked[other_id],
                                       actor=principal.actor, now=now)
        await runtime.checkpoints.reach("merge.planned")
        survivor, other, plan = grounds.survivor, grounds.other, grounds.plan
        joining = plan.joining_lines()
        await store.join_holds(conn, from_order=other.id, to_order=survivor.id,
                               expires_at=grounds.deadline, now=now)
        await store.set_merged_lines(conn, business_id=survivor.business_id,
                                     order_id=survivor.id, planned=plan.lines,
                                     variant_of=grounds.variant_of)
        await store.add_link_pair(conn, business_id=survivor.business_id, change_id=merge_id,
                                  first=survivor.id, first_kind="merged_from", second=other.id,
                                  second_kind="merged_into", amount=0, moved=joining,
                                  actor=principal.actor, now=now)
        into = {"order_id": str(survivor.id), "number": survivor.number,
                "merge_id": str(merge_id)}
        # Its holds joined the survivor's; nothing of it is given back (its coupons' uses
        # stay counted, their discount now the survivor's), so no cancelling hooks run.
        other_shown = await save_and_show(
            conn, other, actor=principal.actor, action="cancelled",
            values={"status": OrderStatus.CANCELLED.value, "cancelled_at": now,
                    "cancel_reason": CancelReason.MERGED.value},
            changes={"reason": CancelReason.MERGED.value, "merged_into": into,
                     "lines": joining}, now=now)
        changes: dict[str, Any] = {
            "merge_id": str(merge_id), "lines": joining,
            "merged_from": {"order_id": str(other.id), "number": other.number},
            "totals": {"from": plan.survivor.as_dict(), "to": plan.after.as_dict()},
            "coupons": list(plan.coupons)}
        if grounds.deadline != survivor.payment_deadline:
            changes["payment_deadline"] = {"from": survivor.payment_deadline.isoformat(),
                                           "to": grounds.deadline.isoformat()}
        cleaned = (note or "").strip()
        if cleaned:
            changes["note"] = cleaned
        after = plan.after
        shown = await save_and_show(conn, survivor, actor=principal.actor, action="merged",
                                    values={"subtotal": after.subtotal, "total": after.total,
                                            "discount_total": after.discount_total,
                                            "tax_total": after.tax_total,
                                            "pricing": after.pricing,
                                            "payment_deadline": grounds.deadline},
                                    changes=changes, now=now)
        return {"merge_id": merge_id, "order": shown, "merged_order": other_shown,
                "lines": joining}

    merged: dict[str, Any] = await runtime.db.run(work)
    metrics.order_cancelled(CancelReason.MERGED.value)
    return merged


async def order_links(runtime: Runtime, principal: Principal,
                      order_id: uuid.UUID) -> dict[str, Any]:
    """The orders this one was split from or into, merged from or into."""
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        await _load(conn, principal, order_id)
        rows = await store.links_of(conn, principal.business_id, order_id)
    return {"order_id": order_id, "data": [link_view(r) for r in rows]}


def link_view(row: store.LinkRow) -> dict[str, Any]:
    return {"kind": row.kind, "order_id": row.other_order_id, "number": row.other_number,
            "status": row.other_status, "change_id": row.change_id, "amount": row.amount,
            "lines": row.lines, "actor": row.actor, "created_at": row.created_at}


async def links_of_order(conn: AsyncConnection, business_id: uuid.UUID,
                         order_id: uuid.UUID) -> list[dict[str, Any]]:
    """For the pages: an order's links, read in the page's own connection."""
    return [link_view(r) for r in await store.links_of(conn, business_id, order_id)]



async def merge_candidates(runtime: Runtime, principal: Principal,
                           order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The buyer's other orders awaiting payment in the same currency (newest first, at most
    50): what the console offers to merge into ``order``. The merge itself checks again."""
    principal.require(Scope.WRITE)
    customer = order["customer"].get("id")
    if customer is None:
        return []
    async with runtime.db.read() as conn:
        rows = await order_store.list_orders(
            conn, principal.business_id,
            order_store.OrderFilter(status=OrderStatus.PENDING_PAYMENT.value,
                                    customer_id=uuid.UUID(str(customer))),
            limit=50, before=None)
    return [{"id": r.id, "number": r.number, "total": r.total, "currency": r.currency,
             "version": r.version, "created_at": r.created_at}
            for r in rows if r.id != order["id"] and r.currency == order["currency"]]


async def links_for_buyer(runtime: Runtime, business_id: uuid.UUID,
                          order_id: uuid.UUID) -> list[dict[str, Any]]:
    """What the buyer's order page says of the order's links: the kind, the other order's
    number only (its page needs its own token, which only its buyer has) and the money that
    moved with the link (an exchange's credit)."""
    async with runtime.db.read() as conn:
        rows = await store.links_of(conn, business_id, order_id)
    return [{"kind": r.kind, "number": r.other_number, "amount": r.amount} for r in rows]

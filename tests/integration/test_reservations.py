"""Reservations on a real database: all-or-nothing holds, expiry decided by the server clock,
line edits that move holds atomically, and sweepers that never double-cancel."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from orderline.catalog import inventory
from orderline.catalog.rules import MovementReason
from orderline.catalog.tables import Reservation
from orderline.core.checkpoints import Checkpoints
from orderline.core.clock import ManualClock
from orderline.core.db.tables import table_of
from orderline.core.errors import InsufficientStock, OutOfStock, PaymentDeadlinePassed
from orderline.core.runtime import Runtime
from orderline.orders.rules import RequestedLine
from orderline.orders.service import OrderEdit, edit_order, get_order
from orderline.orders.status import cancel_lapsed_orders, confirm_payment
from orderline.orders.tables import OrderEvent
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock, stock_sku


def with_clock(runtime: Runtime, clock: ManualClock) -> Runtime:
    return provide_parts(Runtime(settings=runtime.settings, db=runtime.db, clock=clock,
                   checkpoints=Checkpoints()))


async def reservation_states(runtime: Runtime, order_id: Any) -> list[str]:
    reservations = table_of(Reservation)
    async with runtime.db.read() as conn:
        rows = await conn.execute(select(reservations.c.status)
                                  .where(reservations.c.order_id == order_id))
        return sorted(r.status for r in rows)


async def test_a_short_line_reserves_nothing_and_every_short_sku_is_named(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "A", 5)
    await stock_sku(runtime, merchant, "B", 1)
    await stock_sku(runtime, merchant, "C", 0)
    with pytest.raises(OutOfStock) as refused:
        await place(runtime, merchant, ("A", 2), ("B", 3), ("C", 1))
    assert sorted(refused.value.details["lines"], key=lambda x: x["sku"]) == [
        {"sku": "B", "requested": 3, "available": 1},
        {"sku": "C", "requested": 1, "available": 0}]
    for sku, on_hand in (("A", 5), ("B", 1), ("C", 0)):
        level = await stock(runtime, merchant, sku)
        assert (level["on_hand"], level["reserved"]) == (on_hand, 0)


async def test_an_expired_reservation_frees_its_stock_before_any_sweeper_runs(
        runtime: Runtime) -> None:
    clock = ManualClock()
    rt = with_clock(runtime, clock)
    merchant = await new_merchant(rt, reservation_ttl_seconds=60)
    await stock_sku(rt, merchant, "ONE", 1)
    first = await place(rt, merchant, ("ONE", 1))
    assert (await stock(rt, merchant, "ONE"))["available"] == 0

    clock.advance(60)  # exactly at the deadline the hold is gone
    assert (await stock(rt, merchant, "ONE"))["available"] == 1
    second = await place(rt, merchant, ("ONE", 1), phone="+1 555 0199")

    assert await reservation_states(rt, first["id"]) == ["expired"]
    assert await reservation_states(rt, second["id"]) == ["active"]
    with pytest.raises(PaymentDeadlinePassed):
        await confirm_payment(rt, merchant.principal, first["id"])
    level = await stock(rt, merchant, "ONE")
    assert (level["on_hand"], level["reserved"], level["available"]) == (1, 1, 0)
    assert await inventory.reconcile(rt, merchant.principal.business_id) == []
    # The sweeper later cancels the first order without releasing anything twice.
    assert await cancel_lapsed_orders(rt) >= 1
    assert (await get_order(rt, merchant.principal, first["id"]))["status"] == "cancelled"
    assert (await stock(rt, merchant, "ONE"))["reserved"] == 1
    assert await inventory.reconcile(rt, merchant.principal.business_id) == []


async def test_editing_lines_moves_the_holds_or_changes_nothing(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "A", 3)
    await stock_sku(runtime, merchant, "B", 2)
    order = await place(runtime, merchant, ("A", 2))

    edited = await edit_order(runtime, merchant.principal, order["id"],
                              OrderEdit(lines=[RequestedLine("A", 1), RequestedLine("B", 2)]),
                              expected_version=1)
    assert [(line["sku"], line["quantity"]) for line in edited["lines"]] == [("A", 1), ("B", 2)]
    assert edited["version"] == 2
    assert (await stock(runtime, merchant, "A"))["reserved"] == 1
    assert (await stock(runtime, merchant, "B"))["reserved"] == 2

    with pytest.raises(OutOfStock):
        await edit_order(runtime, merchant.principal, order["id"],
                         OrderEdit(lines=[RequestedLine("A", 4)]), expected_version=2)
    unchanged = await get_order(runtime, merchant.principal, order["id"])
    assert unchanged["version"] == 2
    assert [(line["sku"], line["quantity"]) for line in unchanged["lines"]] == [("A", 1),
                                                                               ("B", 2)]
    assert (await stock(runtime, merchant, "A"))["reserved"] == 1
    assert (await stock(runtime, merchant, "B"))["reserved"] == 2
    assert await inventory.reconcile(runtime, merchant.principal.business_id) == []


async def test_stock_cannot_be_corrected_below_what_is_held_for_orders(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "A", 5)
    await place(runtime, merchant, ("A", 4))
    with pytest.raises(InsufficientStock):
        await inventory.adjust_stock(runtime, merchant.principal, sku="A", location=None,
                                     reason=MovementReason.DAMAGE, note="", delta=-2)
    with pytest.raises(InsufficientStock):
        await inventory.adjust_stock(runtime, merchant.principal, sku="A", location=None,
                                     reason=MovementReason.CORRECTION, note="", set_on_hand=3)
    after = await inventory.adjust_stock(runtime, merchant.principal, sku="A", location=None,
                                         reason=MovementReason.CORRECTION, note="count",
                                         set_on_hand=4)
    assert (after["on_hand"], after["reserved"], after["available"]) == (4, 4, 0)
    assert await inventory.reconcile(runtime, merchant.principal.business_id) == []


async def test_many_concurrent_orders_never_oversell_a_sku(runtime: Runtime,
                                                           merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "HOT", 7)
    results = await asyncio.gather(*(place(runtime, merchant, ("HOT", 1 + n % 2),
                                           phone=f"+1 555 {n:04d}") for n in range(30)),
                                   return_exceptions=True)
    placed = [r for r in results if isinstance(r, dict)]
    assert all(isinstance(r, dict | OutOfStock) for r in results)
    held = sum(o["lines"][0]["quantity"] for o in placed)
    level = await stock(runtime, merchant, "HOT")
    assert held <= 7 and level["reserved"] == held and level["available"] == 7 - held
    assert held >= 6  # only a 2-unit order can be refused for want of the last unit
    assert await inventory.reconcile(runtime, merchant.principal.business_id) == []


async def test_two_sweepers_at_once_cancel_each_lapsed_order_exactly_once(
        runtime: Runtime) -> None:
    clock = ManualClock()
    rt = with_clock(runtime, clock)
    merchant = await new_merchant(rt, reservation_ttl_seconds=30)
    await stock_sku(rt, merchant, "S", 40)
    placed = [await place(rt, merchant, ("S", 2), phone=f"+1 555 {n:04d}") for n in range(12)]
    clock.advance(31)

    counts = await asyncio.gather(cancel_lapsed_orders(rt), cancel_lapsed_orders(rt),
                                  cancel_lapsed_orders(rt))

    ids = [o["id"] for o in placed]
    events = table_of(OrderEvent)
    async with rt.db.read() as conn:
        cancels = await conn.scalar(select(func.count()).select_from(events).where(
            events.c.order_id.in_(ids), events.c.action == "cancelled"))
    assert cancels == 12
    assert sum(counts) >= 12  # other tests' lapsed orders may be swept too
    level = await stock(rt, merchant, "S")
    assert (level["on_hand"], level["reserved"], level["available"]) == (40, 0, 40)
    for order_id in ids:
        assert await reservation_states(rt, order_id) == ["expired"]
    assert await inventory.reconcile(rt, merchant.principal.business_id) == []

"""Deterministic interleavings: one transaction is held at a named checkpoint (after it has
decided, before it writes) while a competitor runs; each test asserts the one allowed outcome.

The two sides get their own clocks, so "the same instant" is exact: the payment's clock reads
just before the deadline and the sweeper's just after it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from orderline.catalog import inventory
from orderline.catalog.tables import StockMovement
from orderline.core.checkpoints import Checkpoints
from orderline.core.clock import ManualClock
from orderline.core.db.tables import table_of
from orderline.core.errors import InvalidTransition, OutOfStock
from orderline.core.runtime import Runtime
from orderline.orders.service import get_order, order_history
from orderline.orders.status import cancel_lapsed_orders, cancel_order, confirm_payment
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock, stock_sku
from tests.support.interleaving import until_blocked_or_done

TTL = 60


class Crash(Exception):
    """Stands for the process dying between two statements of a transaction."""


def at(runtime: Runtime, clock: ManualClock, checkpoints: Checkpoints) -> Runtime:
    return provide_parts(Runtime(settings=runtime.settings, db=runtime.db, clock=clock,
                                 checkpoints=checkpoints))


async def unpaid_order_for_last_unit(runtime: Runtime) -> tuple[Merchant, dict[str, Any]]:
    merchant = await new_merchant(runtime, reservation_ttl_seconds=TTL)
    await stock_sku(runtime, merchant, "LAST", 1)
    order = await place(runtime, merchant, ("LAST", 1))
    return merchant, order


def clocks_around(deadline_iso: Any) -> tuple[ManualClock, ManualClock]:
    deadline = deadline_iso
    return (ManualClock(deadline - timedelta(milliseconds=1)),
            ManualClock(deadline + timedelta(milliseconds=1)))


async def sale_movements(runtime: Runtime, order_id: Any) -> int:
    movements = table_of(StockMovement)
    async with runtime.db.read() as conn:
        return int(await conn.scalar(
            select(func.count()).select_from(movements)
            .where(movements.c.order_id == order_id, movements.c.reason == "sale")) or 0)


async def test_payment_that_checked_before_the_deadline_wins_over_the_sweeper(
        runtime: Runtime) -> None:
    merchant, order = await unpaid_order_for_last_unit(runtime)
    before, after = clocks_around(order["payment_deadline"])
    shared = Checkpoints()
    gate = shared.pause_at("payment.checked")
    paying = asyncio.create_task(confirm_payment(at(runtime, before, shared),
                                                 merchant.principal, order["id"]))
    await gate.reached.wait()
    sweeping = asyncio.create_task(cancel_lapsed_orders(at(runtime, after, shared)))
    await until_blocked_or_done(runtime, sweeping)
    gate.release()

    paid = await paying
    await sweeping  # it may cancel other tests' lapsed orders in the shared database, not this
    assert paid["status"] == "paid"
    final = await get_order(runtime, merchant.principal, order["id"])
    assert (final["status"], final["cancel_reason"]) == ("paid", None)
    level = await stock(runtime, merchant, "LAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (0, 0, 0)
    assert await sale_movements(runtime, order["id"]) == 1
    assert await inventory.reconcile(runtime, merchant.principal.business_id) == []


async def test_sweeper_that_chose_the_order_first_wins_and_the_payment_is_refused(
        runtime: Runtime) -> None:
    merchant, order = await unpaid_order_for_last_unit(runtime)
    before, after = clocks_around(order["payment_deadline"])
    shared = Checkpoints()
    gate = shared.pause_at("sweeper.order_chosen")
    sweeping = asyncio.create_task(cancel_lapsed_orders(at(runtime, after, shared)))
    await gate.reached.wait()
    paying = asyncio.create_task(confirm_payment(at(runtime, before, shared),
                                                 merchant.principal, order["id"]))
    assert await until_blocked_or_done(runtime, paying) == "blocked"
    gate.release()

    assert await sweeping >= 1  # this order, and perhaps other tests' lapsed ones
    with pytest.raises(InvalidTransition) as refused:
        await paying
    assert refused.value.details["current_status"] == "cancelled"
    final = await get_order(runtime, merchant.principal, order["id"])
    assert (final["status"], final["cancel_reason"]) == ("cancelled", "payment_timeout")
    level = await stock(runtime, merchant, "LAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (1, 0, 1)
    assert await sale_movements(runtime, order["id"]) == 0
    assert await inventory.reconcile(runtime, merchant.principal.business_id) == []


async def test_cancel_that_locked_first_wins_and_the_payment_is_refused(
        runtime: Runtime) -> None:
    merchant, order = await unpaid_order_for_last_unit(runtime)
    shared = Checkpoints()
    gate = shared.pause_at("cancel.locked")
    rt = at(runtime, ManualClock(), shared)
    cancelling = asyncio.create_task(cancel_order(rt, merchant.principal, order["id"]))
    await gate.reached.wait()
    paying = asyncio.create_task(confirm_payment(rt, merchant.principal, order["id"]))
    assert await until_blocked_or_done(runtime, paying) == "blocked"
    gate.release()

    assert (await cancelling)["status"] == "cancelled"
    with pytest.raises(InvalidTransition):
        await paying
    level = await stock(runtime, merchant, "LAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (1, 0, 1)
    assert await sale_movements(runtime, order["id"]) == 0


async def test_payment_that_locked_first_completes_then_the_cancel_puts_the_sold_unit_back(
        runtime: Runtime) -> None:
    merchant, order = await unpaid_order_for_last_unit(runtime)
    shared = Checkpoints()
    gate = shared.pause_at("payment.checked")
    rt = at(runtime, ManualClock(), shared)
    paying = asyncio.create_task(confirm_payment(rt, merchant.principal, order["id"]))
    await gate.reached.wait()
    cancelling = asyncio.create_task(cancel_order(rt, merchant.principal, order["id"]))
    assert await until_blocked_or_done(runtime, cancelling) == "blocked"
    gate.release()

    assert (await paying)["status"] == "paid"
    assert (await cancelling)["status"] == "cancelled"
    actions = [e["action"] for e in await order_history(runtime, merchant.principal,
                                                         order["id"])]
    assert actions == ["created", "payment_confirmed", "cancelled"]
    level = await stock(runtime, merchant, "LAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (1, 0, 1)
    assert await inventory.reconcile(runtime, merchant.principal.business_id) == []


async def test_two_buyers_of_the_last_unit_the_second_waits_and_is_refused(
        runtime: Runtime) -> None:
    merchant = await new_merchant(runtime, reservation_ttl_seconds=TTL)
    await stock_sku(runtime, merchant, "LAST", 1)
    shared = Checkpoints()
    gate = shared.pause_at("reserve.held")
    rt = at(runtime, ManualClock(), shared)
    first = asyncio.create_task(place(rt, merchant, ("LAST", 1), phone="+1 555 0001"))
    await gate.reached.wait()
    second = asyncio.create_task(place(rt, merchant, ("LAST", 1), phone="+1 555 0002"))
    assert await until_blocked_or_done(runtime, second) == "blocked"
    gate.release()

    assert (await first)["status"] == "pending_payment"
    with pytest.raises(OutOfStock) as refused:
        await second
    assert refused.value.details["lines"] == [{"sku": "LAST", "requested": 1, "available": 0}]
    level = await stock(runtime, merchant, "LAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (1, 1, 0)


async def test_a_buyer_whose_transaction_dies_after_holding_leaves_the_unit_to_the_next(
        runtime: Runtime) -> None:
    merchant = await new_merchant(runtime, reservation_ttl_seconds=TTL)
    await stock_sku(runtime, merchant, "LAST", 1)
    shared = Checkpoints()

    async def crash() -> None:
        shared.clear()
        raise Crash

    shared.install("reserve.held", crash)
    rt = at(runtime, ManualClock(), shared)
    with pytest.raises(Crash):
        await place(rt, merchant, ("LAST", 1))
    level = await stock(runtime, merchant, "LAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (1, 0, 1)
    assert (await place(rt, merchant, ("LAST", 1)))["status"] == "pending_payment"


async def test_a_payment_that_dies_midway_changes_nothing(runtime: Runtime) -> None:
    merchant, order = await unpaid_order_for_last_unit(runtime)
    shared = Checkpoints()

    async def crash() -> None:
        raise Crash

    shared.install("payment.checked", crash)
    with pytest.raises(Crash):
        await confirm_payment(at(runtime, ManualClock(), shared), merchant.principal,
                              order["id"])
    after = await get_order(runtime, merchant.principal, order["id"])
    assert (after["status"], after["version"]) == ("pending_payment", 1)
    level = await stock(runtime, merchant, "LAST")
    assert (level["on_hand"], level["reserved"]) == (1, 1)
    assert (await confirm_payment(runtime, merchant.principal, order["id"]))["status"] == "paid"

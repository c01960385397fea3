"""The transactional outbox and its relay, on each database.

Events exist exactly when their change does, each aggregate's events are numbered and handled
in order by any number of relays, and every handler applies an event once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from orderline.catalog import inventory
from orderline.catalog.tables import StockLevel
from orderline.core.checkpoints import Checkpoints
from orderline.core.clock import ManualClock
from orderline.core.db.tables import table_of
from orderline.core.errors import OutOfStock
from orderline.core.retry import RetrySchedule
from orderline.core.runtime import Runtime
from orderline.events import outbox_store
from orderline.events.event_types import EventType, StoredEvent
from orderline.events.relay import Relay
from orderline.events.tables import HandlerInbox, OutboxEvent
from orderline.orders import status as order_status
from orderline.orders.customers import get_customer
from orderline.orders.rules import OrderStatus
from orderline.wiring import provide_parts
from orderline.worker import outbox_admin
from orderline.worker.handlers import CUSTOMER_TOTALS, Handler, HandlerContext
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock_sku

outbox = table_of(OutboxEvent)
inbox = table_of(HandlerInbox)


class Crash(Exception):
    pass


def at(runtime: Runtime, clock: ManualClock) -> Runtime:
    return provide_parts(Runtime(settings=runtime.settings, db=runtime.db, clock=clock,
                   checkpoints=Checkpoints()))


async def events_of(runtime: Runtime, business_id: uuid.UUID) -> list[Any]:
    async with runtime.db.read() as conn:
        return list((await conn.execute(
            select(outbox).where(outbox.c.business_id == business_id)
            .order_by(outbox.c.id))).mappings())


async def pending_of(runtime: Runtime, business_id: uuid.UUID) -> int:
    async with runtime.db.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox).where(
            outbox.c.business_id == business_id, outbox.c.status == "pending")) or 0)


async def walk_to_delivered(runtime: Runtime, merchant: Merchant, order_id: Any) -> None:
    p = merchant.principal
    await order_status.confirm_payment(runtime, p, order_id)
    await order_status.change_status(runtime, p, order_id, status=OrderStatus.PROCESSING)
    await order_status.set_shipping(runtime, p, order_id, carrier="DHL", tracking_number="1Z",
                                    tracking_url=None)
    await order_status.change_status(runtime, p, order_id, status=OrderStatus.DELIVERED)


def recorder(name: str, seen: list[tuple[uuid.UUID, int]]) -> Handler:
    async def record(_ctx: HandlerContext, _conn: Any, event: StoredEvent) -> None:
        seen.append((event.aggregate_id, event.sequence))

    return Handler(name, frozenset(EventType), record)


async def test_each_order_change_writes_one_event_numbered_in_the_order_of_the_changes(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "MUG", 5)
    order = await place(runtime, merchant, ("MUG", 2))
    await walk_to_delivered(runtime, merchant, order["id"])

    events = [e for e in await events_of(runtime, merchant.principal.business_id)
              if e["aggregate_id"] == order["id"]]
    assert [(e["type"], e["sequence"]) for e in events] == [
        ("order.created", 1), ("order.paid", 2), ("order.updated", 3), ("order.shipped", 4),
        ("order.delivered", 5)]
    assert [e["payload"]["order"]["status"] for e in events] == [
        "pending_payment", "paid", "processing", "shipped", "delivered"]
    assert [e["payload"]["previous_status"] for e in events] == [
        None, "pending_payment", "paid", "processing", "shipped"]
    assert len({e["event_id"] for e in events}) == 5
    assert "access_token" not in str(events[0]["payload"])


async def test_an_order_that_rolls_back_after_writing_its_low_stock_event_leaves_no_event(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "LOW", 10, threshold=5)
    await stock_sku(runtime, merchant, "RARE", 1)
    with pytest.raises(OutOfStock):  # LOW is held (crossing 5) before RARE is found short
        await place(runtime, merchant, ("LOW", 6), ("RARE", 2))
    crashing = at(runtime, ManualClock())

    async def crash() -> None:
        raise Crash

    crashing.checkpoints.install("reserve.held", crash)
    with pytest.raises(Crash):
        await place(crashing, merchant, ("LOW", 6))
    assert [e["type"] for e in await events_of(runtime, merchant.principal.business_id)] == []

    placed = await place(runtime, merchant, ("LOW", 6))
    assert [(e["type"], e["payload"].get("available"))
            for e in await events_of(runtime, merchant.principal.business_id)] == [
        ("stock.low", 4), ("order.created", None)]
    assert placed["status"] == "pending_payment"


async def test_a_redelivered_event_changes_the_customer_totals_once(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "MUG", 5, price=1500)
    order = await place(runtime, merchant, ("MUG", 2))
    await order_status.confirm_payment(runtime, merchant.principal, order["id"])
    relay = Relay(runtime, handlers=[CUSTOMER_TOTALS])
    await relay.relay_until_idle()
    async with runtime.db.write() as conn:  # as if the worker died before marking it done
        await conn.execute(update(outbox).where(
            outbox.c.business_id == merchant.principal.business_id).values(status="pending"))
    await relay.relay_until_idle()

    customer = await get_customer(runtime, merchant.principal, order["customer"]["id"])
    assert (customer["total_orders"], customer["total_spent"]) == (1, 3000)
    assert await pending_of(runtime, merchant.principal.business_id) == 0


async def test_a_failing_handler_is_retried_alone_and_holds_back_later_events_of_its_order(
        runtime: Runtime, merchant: Merchant) -> None:
    clock = ManualClock()
    rt = at(runtime, clock)
    await stock_sku(rt, merchant, "MUG", 5, price=700)
    order = await place(rt, merchant, ("MUG", 1))
    await order_status.confirm_payment(rt, merchant.principal, order["id"])
    calls: list[tuple[str, int]] = []

    async def flaky(_ctx: HandlerContext, _conn: Any, event: StoredEvent) -> None:
        if event.aggregate_id != order["id"]:
            return  # other tests' events in the shared database
        calls.append((event.type, event.sequence))
        if event.type == "order.paid" and len(calls) < 4:
            raise RuntimeError("receiver down")

    relay = Relay(rt, handlers=[CUSTOMER_TOTALS, Handler("flaky", frozenset(EventType), flaky)],
                  retries=RetrySchedule(delays=(10, 10), jitter=0))
    await relay.relay_until_idle()
    customer_id = order["customer"]["id"]
    assert calls == [("order.created", 1), ("order.paid", 2)]
    totals = await get_customer(rt, merchant.principal, customer_id)
    assert totals["total_orders"] == 1  # the other handler's effect stays, applied once

    await order_status.change_status(rt, merchant.principal, order["id"],
                                     status=OrderStatus.PROCESSING)
    await relay.relay_until_idle()
    assert calls[-1] == ("order.paid", 2)  # not yet due; event 3 waits behind it

    clock.advance(11)
    await relay.relay_until_idle()
    clock.advance(11)
    await relay.relay_until_idle()
    assert calls[2:] == [("order.paid", 2), ("order.paid", 2), ("order.updated", 3)]
    totals = await get_customer(rt, merchant.principal, customer_id)
    assert (totals["total_orders"], totals["total_spent"]) == (1, 700)
    assert await pending_of(rt, merchant.principal.business_id) == 0


async def test_an_event_whose_handler_always_fails_goes_dead_and_can_be_retried(
        runtime: Runtime, merchant: Merchant) -> None:
    clock = ManualClock()
    rt = at(runtime, clock)
    await stock_sku(rt, merchant, "MUG", 5)
    order = await place(rt, merchant, ("MUG", 1))
    broken = True

    async def fragile(_ctx: HandlerContext, _conn: Any, event: StoredEvent) -> None:
        if broken and event.aggregate_id == order["id"]:
            raise RuntimeError("bug")

    relay = Relay(rt, handlers=[Handler("fragile", frozenset(EventType), fragile)],
                  retries=RetrySchedule(delays=(1,), jitter=0))
    await relay.relay_until_idle()
    clock.advance(2)
    await relay.relay_until_idle()
    [event] = await events_of(rt, merchant.principal.business_id)
    assert (event["status"], event["attempts"]) == ("dead", 2)
    assert "RuntimeError('bug')" in event["last_error"]

    broken = False
    assert await outbox_admin.retry_dead(rt, [event["event_id"]]) == 1
    await relay.relay_until_idle()
    [event] = await events_of(rt, merchant.principal.business_id)
    assert event["status"] == "done"


async def test_a_dead_relays_claim_is_taken_over_once_its_lease_runs_out(
        runtime: Runtime, merchant: Merchant) -> None:
    clock = ManualClock()
    rt = at(runtime, clock)
    await stock_sku(rt, merchant, "MUG", 5)
    order = await place(rt, merchant, ("MUG", 1))
    now = clock.now()
    async with rt.db.write() as conn:  # a relay claims everything, then dies
        claimed = await outbox_store.claim(conn, owner="dead-worker", now=now,
                                           lease_until=now + timedelta(seconds=30),
                                           max_aggregates=10_000)
    assert order["id"] in {row["aggregate_id"] for row in claimed}
    seen: list[tuple[uuid.UUID, int]] = []
    survivor = Relay(rt, handlers=[recorder("survivor", seen)])

    await survivor.relay_until_idle()
    assert (order["id"], 1) not in seen
    clock.advance(31)
    await survivor.relay_until_idle()
    assert (order["id"], 1) in seen
    assert await pending_of(rt, merchant.principal.business_id) == 0


async def test_four_relays_at_once_handle_each_orders_events_once_and_in_order(
        runtime: Runtime) -> None:
    merchant = await new_merchant(runtime, name="Busy shop")
    await stock_sku(runtime, merchant, "MUG", 1000)
    placed = [await place(runtime, merchant, ("MUG", 1), phone=f"+1 555 {n:04d}")
              for n in range(12)]
    seen: list[tuple[uuid.UUID, int]] = []
    handler = recorder(f"order-check-{uuid.uuid4().hex[:8]}", seen)
    relays = [Relay(runtime, handlers=[handler], max_aggregates=3, concurrency=2)
              for _ in range(4)]
    producing = True

    async def produce() -> None:
        nonlocal producing
        await asyncio.gather(*(walk_to_delivered(runtime, merchant, o["id"]) for o in placed))
        producing = False

    async def relay_loop(relay: Relay) -> None:
        while producing or await pending_of(runtime, merchant.principal.business_id):
            if not await relay.relay_once():
                await asyncio.sleep(0.01)

    await asyncio.gather(produce(), *(relay_loop(r) for r in relays))

    ours = {o["id"] for o in placed}
    by_order: dict[uuid.UUID, list[int]] = defaultdict(list)
    for aggregate_id, sequence in seen:
        if aggregate_id in ours:
            by_order[aggregate_id].append(sequence)
    assert by_order == {order_id: [1, 2, 3, 4, 5] for order_id in ours}


async def test_drift_is_announced_once_per_interval_however_many_workers_reconcile(
        runtime: Runtime, merchant: Merchant) -> None:
    clock = ManualClock()
    rt = at(runtime, clock)
    await stock_sku(rt, merchant, "DRIFTY", 5)
    levels = table_of(StockLevel)
    async with rt.db.write() as conn:  # a change behind the ledger's back
        await conn.execute(update(levels).where(
            levels.c.business_id == merchant.principal.business_id).values(on_hand=9))

    def drift_events() -> Any:
        return [e for e in events if e["type"] == "stock.reconciliation_drift"]

    await asyncio.gather(*(inventory.reconcile_and_announce(rt) for _ in range(3)))
    events = await events_of(rt, merchant.principal.business_id)
    assert [(e["payload"]["sku"], e["payload"]["on_hand"], e["payload"]["ledger_sum"])
            for e in drift_events()] == [("DRIFTY", 9, 5)]
    clock.advance(rt.settings.reconcile_interval_seconds)
    await inventory.reconcile_and_announce(rt)
    events = await events_of(rt, merchant.principal.business_id)
    assert len(drift_events()) == 2
    async with rt.db.write() as conn:  # put the books straight for the other tests
        await conn.execute(update(levels).where(
            levels.c.business_id == merchant.principal.business_id).values(on_hand=5))


async def test_pruning_forgets_old_relayed_events_and_their_inbox_rows_but_never_pending_ones(
        runtime: Runtime, merchant: Merchant) -> None:
    clock = ManualClock()
    rt = at(runtime, clock)
    await stock_sku(rt, merchant, "OLD", 5)
    relayed = await place(rt, merchant, ("OLD", 1))
    await order_status.confirm_payment(rt, merchant.principal, relayed["id"])
    await Relay(rt, handlers=[CUSTOMER_TOTALS]).relay_until_idle()
    waiting = await place(rt, merchant, ("OLD", 1))  # never relayed
    clock.advance(timedelta(days=rt.settings.outbox_retention_days, seconds=1).total_seconds())

    assert await outbox_admin.prune_relayed(rt) >= 3  # two events and one inbox row at least
    left = await events_of(rt, merchant.principal.business_id)
    assert [(e["aggregate_id"], e["type"]) for e in left] == [(waiting["id"], "order.created")]
    async with rt.db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(inbox).where(
            inbox.c.business_id == merchant.principal.business_id)) == 0


async def test_an_order_announces_itself_after_its_stock_events_taken_first_time_or_not(
        runtime: Runtime) -> None:
    # On PostgreSQL an order whose line is taken at the first try writes its order.created
    # in that line's statement; one whose unit comes free only by expiring a lapsed hold
    # writes the expiry first, then its order.created. The same outbox either way, and on
    # SQLite.
    clock = ManualClock()
    rt = at(runtime, clock)
    merchant = await new_merchant(rt, reservation_ttl_seconds=60)
    await stock_sku(rt, merchant, "ONE", 1)
    first = await place(rt, merchant, ("ONE", 1))
    clock.advance(61)  # the first order's hold has lapsed; no sweeper has run
    second = await place(rt, merchant, ("ONE", 1), phone="+1 555 0199")

    events = await events_of(rt, merchant.principal.business_id)
    assert [(e["type"], e["aggregate_id"] if e["type"] == "order.created"
             else e["payload"]["order_id"]) for e in events] == [
        ("order.created", first["id"]), ("reservation.expired", str(first["id"])),
        ("order.created", second["id"])]
    assert [e["sequence"] for e in events] == [1, 1, 1]
    assert await pending_of(rt, merchant.principal.business_id) == 3

"""A worker killed with SIGKILL in the middle of a batch loses nothing and doubles nothing.

Real worker processes on PostgreSQL (where several workers share the outbox): the first is
killed while it holds claims; the claims run out and two others finish the work.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import func, select, text

from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.events.tables import HandlerInbox, OutboxEvent
from orderline.orders import status as order_status
from orderline.orders.tables import Customer, Order
from tests.conftest import new_merchant
from tests.support.catalog import place, stock_sku
from tests.support.servers import running_worker

outbox = table_of(OutboxEvent)
inbox = table_of(HandlerInbox)
customers = table_of(Customer)
orders = table_of(Order)

FAST_RELAY = {"ORDERLINE_RELAY_BATCH_SIZE": "3", "ORDERLINE_RELAY_CONCURRENCY": "2",
              "ORDERLINE_RELAY_LEASE_SECONDS": "3", "ORDERLINE_RELAY_INTERVAL_SECONDS": "0.05",
              "ORDERLINE_LOG_LEVEL": "ERROR"}


async def counts(runtime: Runtime, business_id: uuid.UUID) -> dict[str, int]:
    async with runtime.db.read() as conn:
        rows = await conn.execute(select(outbox.c.status, func.count()).where(
            outbox.c.business_id == business_id).group_by(outbox.c.status))
        found = {status: int(n) for status, n in rows}
        found["leased"] = int(await conn.scalar(select(func.count()).select_from(outbox).where(
            outbox.c.business_id == business_id, outbox.c.status == "pending",
            outbox.c.lease_owner.is_not(None))) or 0)
    return found


async def wait_until(runtime: Runtime, business_id: uuid.UUID, done: Any,
                     timeout: float = 90) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = await counts(runtime, business_id)
        if done(seen):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"workers did not get there in {timeout}s: {seen}")


async def wait_until_stuck(runtime: Runtime, business_id: uuid.UUID,
                           blocker_pid: int) -> dict[str, int]:
    """Wait until the worker holds claims and one of its statements waits on the blocker's
    row locks (PostgreSQL says so in ``pg_blocking_pids``): it is then stuck mid-batch."""
    deadline = time.monotonic() + 90
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = await counts(runtime, business_id)
        async with runtime.db.read() as conn:
            waiting = int(await conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE :blocker = ANY(pg_blocking_pids(pid))"), {"blocker": blocker_pid}) or 0)
        if waiting and seen["leased"] > 0:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the worker never got stuck holding claims: {seen}")


async def test_a_worker_killed_mid_batch_leaves_every_event_handled_exactly_once(
        runtime: Runtime, database_url: str) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("several worker processes share one outbox on PostgreSQL only")
    merchant = await new_merchant(runtime, name="Crash-tested shop")
    p = merchant.principal
    await stock_sku(runtime, merchant, "MUG", 10_000, price=250)
    placed = [await place(runtime, merchant, ("MUG", 1 + n % 3), phone=f"+1 555 {n % 15:04d}")
              for n in range(150)]
    for n, order in enumerate(placed):
        await order_status.confirm_payment(runtime, p, order["id"])
        if n % 4 == 0:
            await order_status.cancel_order(runtime, p, order["id"])
    total = sum((await counts(runtime, p.business_id)).values())

    with running_worker(database_url, extra_env=FAST_RELAY) as first:
        await wait_until(runtime, p.business_id, lambda c: c.get("done", 0) >= total // 10)
        # Hold every customer row so the worker's next paid or cancelled event blocks inside
        # its batch: it then holds claims it cannot finish, whatever the timing of the kill.
        async with runtime.db.engine.connect() as blocker:
            await blocker.execute(select(customers.c.id).where(
                customers.c.business_id == p.business_id).with_for_update())
            blocker_pid = int(await blocker.scalar(text("SELECT pg_backend_pid()")) or 0)
            at_kill = await wait_until_stuck(runtime, p.business_id, blocker_pid)
            first.kill()  # SIGKILL: no clean-up, its claims stay in the table
            first.wait()
            await blocker.rollback()
    after_kill = await counts(runtime, p.business_id)
    assert 0 < after_kill.get("done", 0) < total, (at_kill, after_kill)
    assert after_kill["leased"] > 0, "the killed worker held claims"

    with running_worker(database_url, extra_env=FAST_RELAY), \
            running_worker(database_url, extra_env=FAST_RELAY):
        # Every event relayed, including those the relay's own handlers write meanwhile (a
        # paid order's invoicing announces itself with an order.updated): nothing pending.
        final = await wait_until(runtime, p.business_id,
                                 lambda c: c.get("done", 0) >= total and not c.get("pending"))
    assert final.get("dead", 0) == 0

    expected: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    for n, order in enumerate(placed):
        if n % 4:  # paid and kept
            expected[order["customer"]["id"]][0] += 1
            expected[order["customer"]["id"]][1] += order["total"]
    async with runtime.db.read() as conn:
        got = {r.id: [r.total_orders, r.total_spent] for r in await conn.execute(
            select(customers).where(customers.c.business_id == p.business_id))}
        applied = list(await conn.execute(
            select(inbox.c.aggregate_id, inbox.c.sequence)
            .where(inbox.c.business_id == p.business_id, inbox.c.handler == "customer_totals")
            .order_by(inbox.c.id)))
    assert got == {customer_id: expected.get(customer_id, [0, 0]) for customer_id in got}
    assert len(applied) == len(placed) + len(placed[::4])  # every paid and cancelled, once
    by_order: dict[uuid.UUID, list[int]] = defaultdict(list)
    for aggregate_id, sequence in applied:
        by_order[aggregate_id].append(sequence)
    assert all(seqs == sorted(seqs) for seqs in by_order.values())

"""Order numbers on a real database: unique and increasing per business whatever runs at once,
taken on PostgreSQL from the business's own sequence, which no order holds locked (so one
shop's orders do not queue on a counter row); a rolled-back order leaves a gap there.

The sequence is made with the business, by migration 0018 for businesses that existed before
it (continuing after their last number), and on first use if it is missing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.config import Settings
from orderline.core.errors import OutOfStock
from orderline.core.runtime import Runtime
from orderline.orders.store import next_order_sequence
from orderline.schema.migrate import alembic_config
from orderline.tenancy import store as tenancy_store
from orderline.tenancy.rules import order_number_sequence_name
from tests.conftest import IN_CI, Merchant, new_merchant
from tests.support import postgres
from tests.support.catalog import place, stock_sku

WAIT = 60  # seconds before a paused step counts as stuck (a hang guard, not a measurement)


def postgres_only(runtime: Runtime) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite keeps the counter row: its write transactions run one at a time")


def sequence_of(order: dict[str, Any]) -> int:
    number: str = order["number"]
    assert number.startswith("OL-"), number
    return int(number.removeprefix("OL-"))


async def sequence_value(runtime: Runtime, business_id: uuid.UUID) -> int | None:
    """The last number the business's sequence gave, 0 if none yet (null if it has no
    sequence). Read from another connection: ``nextval`` is seen at once, committed or not."""
    name = order_number_sequence_name(business_id)
    async with runtime.db.read() as conn:
        if await conn.scalar(text("SELECT to_regclass(:n)"), {"n": name}) is None:
            return None
        return int(await conn.scalar(text(
            f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {name}")))


async def test_orders_of_one_shop_placed_at_once_get_unique_increasing_numbers(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "TEE", 100)
    before = await place(runtime, merchant, ("TEE", 1))
    burst = await asyncio.gather(*(place(runtime, merchant, ("TEE", 1), phone=f"+1 555 {n:04d}")
                                   for n in range(20)))
    after = await place(runtime, merchant, ("TEE", 1))
    numbers = sorted(sequence_of(o) for o in burst)
    assert len(set(numbers)) == 20
    assert sequence_of(before) < numbers[0] and numbers[-1] < sequence_of(after)


async def test_a_refusal_before_numbering_leaves_no_gap_one_after_leaves_one_on_postgresql(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "LAST", 1)
    await stock_sku(runtime, merchant, "MORE", 5)
    first = await place(runtime, merchant, ("LAST", 1))
    with pytest.raises(OutOfStock):  # short when priced: refused before it is numbered
        await place(runtime, merchant, ("LAST", 1))
    second = await place(runtime, merchant, ("MORE", 1))
    assert sequence_of(second) - sequence_of(first) == 1

    async def numbered_then_refused(conn: AsyncConnection) -> None:
        # As an order whose stock ran out between its pricing and its hold: numbered, then
        # refused, and its transaction rolled back.
        await next_order_sequence(conn, merchant.principal.business_id)
        raise OutOfStock("LAST ran out meanwhile")
    with pytest.raises(OutOfStock):
        await runtime.db.run(numbered_then_refused)
    third = await place(runtime, merchant, ("MORE", 1))
    # PostgreSQL's sequence does not give a number back; SQLite's counter row rolls back.
    assert sequence_of(third) - sequence_of(second) == (1 if runtime.db.is_sqlite else 2)


async def test_a_new_business_gets_its_own_sequence_and_starts_at_one(
        runtime: Runtime) -> None:
    postgres_only(runtime)
    m = await new_merchant(runtime, name="Fresh shop")
    assert await sequence_value(runtime, m.principal.business_id) == 0  # made, not yet used
    await stock_sku(runtime, m, "A", 3)
    assert (await place(runtime, m, ("A", 1)))["number"] == "OL-000001"
    assert (await place(runtime, m, ("A", 1)))["number"] == "OL-000002"


async def test_taking_a_number_holds_no_lock_the_shops_next_order_would_wait_on(
        runtime: Runtime, merchant: Merchant) -> None:
    postgres_only(runtime)
    business = merchant.principal.business_id
    async with runtime.db.engine.connect() as first, runtime.db.engine.connect() as second, \
            first.begin():
        taken = await next_order_sequence(first, business)
        held = await first.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() "
            "AND relation = 'order_counters'::regclass"))
        assert held == 0
        async with second.begin():
            # NOWAIT: refused at once if the first transaction had the row locked.
            await second.execute(select(tenancy_store.counters.c.business_id).where(
                tenancy_store.counters.c.business_id == business).with_for_update(nowait=True))
            assert await next_order_sequence(second, business) == taken + 1
        # The second committed while the first is still open.


async def test_an_order_paused_after_its_number_does_not_hold_up_the_shops_next_order(
        runtime: Runtime, merchant: Merchant) -> None:
    postgres_only(runtime)
    business = merchant.principal.business_id
    await stock_sku(runtime, merchant, "A", 5)
    await stock_sku(runtime, merchant, "B", 5)
    gate = runtime.checkpoints.pause_at("reserve.held")  # numbered and its stock held
    first = asyncio.create_task(place(runtime, merchant, ("A", 1)))
    try:
        await asyncio.wait_for(gate.reached.wait(), WAIT)
        taken = await sequence_value(runtime, business)
        assert taken is not None
        # Another buyer (the same new buyer's row would be the first order's to commit).
        second = await asyncio.wait_for(place(runtime, merchant, ("B", 1), phone="+1 555 0199"),
                                        WAIT)
    finally:
        gate.release()
    placed_first = await asyncio.wait_for(first, WAIT)
    assert sequence_of(placed_first) == taken
    assert sequence_of(second) == taken + 1


async def test_a_shop_whose_sequence_went_missing_gets_one_after_its_highest_number(
        runtime: Runtime, merchant: Merchant) -> None:
    postgres_only(runtime)
    business = merchant.principal.business_id
    await stock_sku(runtime, merchant, "A", 50)
    placed = [await place(runtime, merchant, ("A", 1)) for _ in range(3)]

    async def drop(conn: AsyncConnection) -> None:
        await conn.execute(text(f"DROP SEQUENCE {order_number_sequence_name(business)}"))

    await runtime.db.run(drop)
    healed = await asyncio.gather(*(place(runtime, merchant, ("A", 1), phone=f"+1 555 {n:04d}")
                                    for n in range(5)))
    numbers = sorted(sequence_of(o) for o in healed)
    assert numbers == list(range(sequence_of(placed[-1]) + 1, sequence_of(placed[-1]) + 6))
    assert await sequence_value(runtime, business) == numbers[-1]


# --- migration 0018 ---------------------------------------------------------------------------

@pytest.fixture
def own_postgres() -> Iterator[str]:
    with postgres.own_database(in_ci=IN_CI) as url:
        yield url


@pytest.fixture
async def migrated(own_postgres: str) -> AsyncIterator[Runtime]:
    async with postgres.migrated_runtime(Settings(database_url=own_postgres)) as (rt, _):
        yield rt


async def migrate(runtime: Runtime, to: str) -> None:
    def run(sync_conn: Connection) -> None:
        if to == "head":
            command.upgrade(alembic_config(sync_conn), to)
        else:
            command.downgrade(alembic_config(sync_conn), to)

    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(run)
    await runtime.db.engine.dispose()  # no statement prepared against the old tables


async def test_migration_0018_continues_each_shop_after_its_last_number_and_downgrades(
        migrated: Runtime) -> None:
    rt = migrated
    m = await new_merchant(rt, name="Shop from before")
    business = m.principal.business_id
    await stock_sku(rt, m, "A", 50)
    assert [(await place(rt, m, ("A", 1)))["number"] for _ in range(2)] == [
        "OL-000001", "OL-000002"]

    await migrate(rt, "0017")
    async with rt.db.read() as conn:
        assert await conn.scalar(text(
            "SELECT count(*) FROM pg_class WHERE relkind = 'S' "
            "AND relname LIKE 'order\\_numbers\\_%'")) == 0
        # The counter row carries on after the sequence's last number.
        assert await conn.scalar(text(
            "SELECT last_number FROM order_counters WHERE business_id = :b"),
            {"b": business}) == 2
        assert await conn.scalar(text(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' "
            "AND column_name = 'invoice_number'")) == 0

    async def as_the_previous_version_numbers(conn: AsyncConnection) -> None:
        await conn.execute(text("UPDATE order_counters SET last_number = 41 "
                                "WHERE business_id = :b"), {"b": business})

    await rt.db.run(as_the_previous_version_numbers)
    await migrate(rt, "head")
    assert await sequence_value(rt, business) == 41
    assert (await place(rt, m, ("A", 1)))["number"] == "OL-000042"
    assert (await place(rt, m, ("A", 1)))["number"] == "OL-000043"

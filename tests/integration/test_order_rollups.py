"""The overview's daily rollups give the figures a live sum gives: after random orders placed
and changed across days (paid, shipped, delivered, cancelled, cash collected, lapsed), with the
clock in several time zones and, on PostgreSQL, the session in another, the overview's sales
(rollup rows for the clean closed days, live sums for the rest) equal one live sum of every
period, before and after each round of the worker; and a change to an order of a rolled-up
day marks the day stale until the worker sums it again."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from orderline.checkout import direct_orders
from orderline.checkout.direct_orders import NewOrder
from orderline.cod import service as cod
from orderline.core.clock import ManualClock
from orderline.core.config import Settings
from orderline.core.db.engine import Database
from orderline.core.errors import DomainError
from orderline.core.runtime import Runtime
from orderline.orders import figures, figures_store, rollup_store, rollups
from orderline.orders import status as order_status
from orderline.orders.figures_store import SalesBucket
from orderline.orders.rollup_rules import DayRange
from orderline.orders.rules import OrderStatus, RequestedLine
from orderline.orders.service import Contact
from orderline.overview.rules import Period, window
from orderline.shipping.rules import Address
from orderline.wiring import provide_parts
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import stock_sku

CHANNELS = ("web", "whatsapp", "pos")
METHODS = ("card", "bank_transfer", "cod")
ADDRESS = Address(name="Buyer", line1="1 Road", city="Jakarta", country="ID")


@pytest.fixture(params=["Asia/Jakarta", "America/Los_Angeles"])
async def zoned(request: pytest.FixtureRequest, shared_db: Database,
                database_url: str) -> AsyncIterator[Runtime]:
    """A runtime whose clock answers in a time zone other than UTC, starting at 20:00 UTC;
    on PostgreSQL its sessions' time zone is that zone too."""
    zone = str(request.param)
    start = datetime(2026, 3, 1, 20, 0, tzinfo=UTC).astimezone(ZoneInfo(zone))
    db = shared_db
    if not shared_db.is_sqlite:
        db = Database(shared_db.url, pool_size=4)

        @event.listens_for(db.engine.sync_engine, "connect")
        def _zone(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.run_async(lambda c: c.execute(f"SET TIME ZONE '{zone}'"))

    runtime = provide_parts(Runtime(settings=Settings(database_url=database_url), db=db,
                                    clock=ManualClock(start)))
    yield runtime
    if db is not shared_db:
        await db.dispose()


def _key(buckets: list[SalesBucket]) -> list[tuple[Any, ...]]:
    return sorted((b.day, b.channel, b.currency, b.orders, b.paid_orders, b.revenue)
                  for b in buckets)


async def _assert_rollups_equal_live(runtime: Runtime, merchant: Merchant) -> None:
    now = runtime.clock.now()
    for period in Period:
        span = window(now, period)
        served = await figures.sales(runtime, merchant.principal, created_from=span.starts_at,
                                     today_from=span.today_starts_at, created_to=span.ends_at)
        async with runtime.db.read() as conn:
            live = await figures_store.sales_buckets(
                conn, merchant.principal.business_id, created_from=span.starts_at,
                created_to=span.ends_at)
        assert _key(served.buckets) == _key(live), (period, now)


async def _place(runtime: Runtime, merchant: Merchant, rng: random.Random) -> dict[str, Any]:
    method = rng.choice(METHODS)
    return await direct_orders.create_order(runtime, merchant.principal, NewOrder(
        customer=Contact(name="Buyer", phone=f"+1 555 {rng.randrange(100, 999)}"),
        channel=rng.choice(CHANNELS), payment_method=method,
        lines=[RequestedLine(rng.choice(["MUG", "CUP"]), rng.randint(1, 3))],
        shipping_address=ADDRESS if method == "cod" else None,
        cod_override_reason="regular buyer" if method == "cod" else None))


async def _change(runtime: Runtime, merchant: Merchant, order: dict[str, Any],
                  rng: random.Random) -> None:
    """One random change; a change the order's status refuses is simply not made."""
    principal, order_id = merchant.principal, order["id"]
    steps = [
        lambda: order_status.confirm_payment(runtime, principal, order_id),
        lambda: order_status.cancel_order(runtime, principal, order_id),
        lambda: order_status.set_shipping(runtime, principal, order_id, carrier="JNE",
                                          tracking_number="T1", tracking_url=None),
        lambda: order_status.change_status(runtime, principal, order_id,
                                           status=OrderStatus.DELIVERED),
        lambda: cod.collect(runtime, principal, order_id, amount=order["total"]),
    ]
    with contextlib.suppress(DomainError):
        await rng.choice(steps)()


@pytest.mark.parametrize("seed", [1, 2])
async def test_rollups_equal_a_live_sum_after_random_orders_and_changes(
        zoned: Runtime, seed: int) -> None:
    runtime, rng = zoned, random.Random(seed)
    clock = runtime.clock
    assert isinstance(clock, ManualClock)
    merchant = await new_merchant(runtime, name=f"Rollups {seed}",
                                  reservation_ttl_seconds=6 * 3600)
    await stock_sku(runtime, merchant, "MUG", 10_000, price=1250)
    await stock_sku(runtime, merchant, "CUP", 10_000, price=799)
    placed: list[dict[str, Any]] = []
    rounds = 0
    for _ in range(120):
        # Small steps and jumps of a day or more; now and then to just before midnight UTC.
        if rng.random() < 0.1:
            utc = clock.now().astimezone(UTC)
            clock.advance((datetime(utc.year, utc.month, utc.day, 23, 59, 50, tzinfo=UTC)
                           - utc).total_seconds() % 86400)
        else:
            clock.advance(rng.choice([60, 1800, 3 * 3600, 9 * 3600, 26 * 3600]))
        roll = rng.random()
        if roll < 0.4 or not placed:
            placed.append(await _place(runtime, merchant, rng))
        elif roll < 0.85:
            # Old orders too: most changes of closed days come from them.
            await _change(runtime, merchant, rng.choice(placed), rng)
        elif roll < 0.9:
            await order_status.cancel_lapsed_orders(runtime)
        else:
            rounds += await rollups.roll_up(runtime) > 0
            await _assert_rollups_equal_live(runtime, merchant)
    await _assert_rollups_equal_live(runtime, merchant)  # stale days left unsummed
    await rollups.roll_up(runtime)
    await _assert_rollups_equal_live(runtime, merchant)
    assert rounds > 0
    async with runtime.db.read() as conn:
        summed = (await conn.execute(
            select(func.count()).select_from(rollup_store.rollups)
            .where(rollup_store.rollups.c.business_id == merchant.principal.business_id))
        ).scalar_one()
    assert summed > 0  # the rollups were read, not only live sums


async def test_a_change_to_an_order_of_a_rolled_up_day_is_read_live_until_summed_again(
        zoned: Runtime) -> None:
    runtime = zoned
    clock = runtime.clock
    assert isinstance(clock, ManualClock)
    merchant = await new_merchant(runtime, name="Rollups stale",
                                  reservation_ttl_seconds=7 * 86400)
    business_id = merchant.principal.business_id
    await stock_sku(runtime, merchant, "MUG", 100, price=1000)
    order = await direct_orders.create_order(runtime, merchant.principal, NewOrder(
        customer=Contact(name="Buyer", phone="+1 555 0101"), channel="web",
        lines=[RequestedLine("MUG", 2)], payment_method="card"))
    day = datetime.fromisoformat(str(order["created_at"])).astimezone(UTC).date()
    clock.advance(2 * 86400)
    await rollups.roll_up(runtime)
    async with runtime.db.read() as conn:
        assert await rollup_store.rolled_through(conn, business_id) == \
            clock.now().astimezone(UTC).date() - timedelta(days=1)
        assert await rollup_store.stale_days(conn, business_id, first=day, last=day) == set()
    await _assert_rollups_equal_live(runtime, merchant)

    await order_status.confirm_payment(runtime, merchant.principal, order["id"])

    async with runtime.db.read() as conn:
        assert await rollup_store.stale_days(conn, business_id, first=day, last=day) == {day}
        rolled = _key(await rollup_store.rolled_buckets(
            conn, business_id, DayRange(day, day), leaving_out=()))
    assert rolled == [(day, "web", "USD", 1, 0, 0)]  # the rollup itself is stale
    await _assert_rollups_equal_live(runtime, merchant)  # ... and is not read

    await rollups.roll_up(runtime)
    async with runtime.db.read() as conn:
        assert await rollup_store.stale_days(conn, business_id, first=day, last=day) == set()
        rolled = _key(await rollup_store.rolled_buckets(
            conn, business_id, DayRange(day, day), leaving_out=()))
    assert rolled == [(day, "web", "USD", 1, 1, 2000)]
    await _assert_rollups_equal_live(runtime, merchant)


@pytest.mark.parametrize("when", ["before the marks are read", "after the marks are read"])
async def test_a_change_committing_during_the_workers_round_is_never_lost(
        zoned: Runtime, when: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a change of an old order may commit while the worker sums its day: seen
    with its mark, it is summed and the mark deleted; committed after the marks were read, its
    mark stays (the day is read live) whether or not the sum saw it."""
    runtime = zoned
    if runtime.db.is_sqlite:
        pytest.skip("SQLite has one writer: nothing commits during the worker's transaction")
    clock = runtime.clock
    assert isinstance(clock, ManualClock)
    merchant = await new_merchant(runtime, name=f"Rollups race {when}",
                                  reservation_ttl_seconds=7 * 86400)
    business_id = merchant.principal.business_id
    await stock_sku(runtime, merchant, "MUG", 100, price=1000)
    first = await direct_orders.create_order(runtime, merchant.principal, NewOrder(
        customer=Contact(name="Buyer", phone="+1 555 0102"), channel="web",
        lines=[RequestedLine("MUG", 1)], payment_method="card"))
    day = datetime.fromisoformat(str(first["created_at"])).astimezone(UTC).date()
    clock.advance(2 * 86400)
    await rollups.roll_up(runtime)
    read_marks = rollup_store.stale_marks

    async def paying_meanwhile(conn: Any, business: Any) -> list[rollup_store.StaleMark]:
        if business != business_id:
            return await read_marks(conn, business)
        if when == "before the marks are read":
            await order_status.confirm_payment(runtime, merchant.principal, first["id"])
            return await read_marks(conn, business)
        marks = await read_marks(conn, business)
        await order_status.confirm_payment(runtime, merchant.principal, first["id"])
        return marks

    async with runtime.db.write() as conn:  # a stale mark, so the worker has the day to do
        await rollup_store.mark_stale(conn, business_id, day, now=clock.now())
    monkeypatch.setattr(rollup_store, "stale_marks", paying_meanwhile)
    await rollups.roll_up(runtime)
    monkeypatch.setattr(rollup_store, "stale_marks", read_marks)

    async with runtime.db.read() as conn:
        left = await rollup_store.stale_days(conn, business_id, first=day, last=day)
    assert left == (set() if when == "before the marks are read" else {day})
    await _assert_rollups_equal_live(runtime, merchant)
    await rollups.roll_up(runtime)
    async with runtime.db.read() as conn:
        assert await rollup_store.stale_days(conn, business_id, first=day, last=day) == set()
        rolled = _key(await rollup_store.rolled_buckets(
            conn, business_id, DayRange(day, day), leaving_out=()))
    assert rolled == [(day, "web", "USD", 1, 1, 1000)]
    await _assert_rollups_equal_live(runtime, merchant)

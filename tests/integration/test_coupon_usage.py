"""Counting coupon uses on each database: the overall usage limit, the per-customer limit,
giving uses back when an order goes away, and (on PostgreSQL) many buyers racing for the
last uses of one coupon."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import products as catalog
from orderline.core.runtime import Runtime
from orderline.coupons import service as coupons
from orderline.coupons import store as coupon_store
from orderline.pricing.engine import CouponKind
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock_sku

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
RACERS = 50


async def new_coupon(runtime: Runtime, merchant: Merchant, code: str,
                     **terms: Any) -> dict[str, Any]:
    terms.setdefault("kind", CouponKind.FIXED_AMOUNT)
    if terms["kind"] == CouponKind.FIXED_AMOUNT:
        terms.setdefault("amount_off", 500)
    return await coupons.create_coupon(runtime, merchant.principal, code=code, **terms)


async def used_count(runtime: Runtime, merchant: Merchant, coupon_id: uuid.UUID) -> int:
    coupon = await coupons.get_coupon(runtime, merchant.principal, coupon_id)
    return int(coupon["used_count"])


async def take_use(runtime: Runtime, coupon_id: uuid.UUID, now: datetime = NOW) -> bool:
    return await runtime.db.run(lambda conn: coupon_store.take_use(conn, coupon_id, now))


async def take_customer_use(runtime: Runtime, coupon_id: uuid.UUID, customer_id: uuid.UUID,
                            limit: int) -> bool:
    return await runtime.db.run(lambda conn: coupon_store.take_customer_use(
        conn, coupon_id, customer_id, limit))


async def uses_of(runtime: Runtime, coupon_id: uuid.UUID, customer_id: uuid.UUID) -> int:
    async with runtime.db.read() as conn:
        found = await coupon_store.customer_uses(conn, [coupon_id], customer_id)
    return found.get(coupon_id, 0)


async def customer(runtime: Runtime, merchant: Merchant, phone: str) -> uuid.UUID:
    """A customer of the business (made by placing an order, as a buyer would)."""
    return uuid.UUID(str((await order_of(runtime, merchant, phone))["customer"]["id"]))


async def order_of(runtime: Runtime, merchant: Merchant, phone: str) -> dict[str, Any]:
    return await place(runtime, merchant, ("COUPON-SKU", 1), phone=phone)


@pytest.fixture
async def shop(runtime: Runtime, merchant: Merchant) -> Merchant:
    await stock_sku(runtime, merchant, "COUPON-SKU", 100)
    return merchant


async def test_a_coupon_limited_to_three_uses_gives_exactly_three(
        runtime: Runtime, shop: Merchant) -> None:
    coupon = await new_coupon(runtime, shop, "THREE", usage_limit=3)
    taken = [await take_use(runtime, coupon["id"]) for _ in range(4)]
    assert taken == [True, True, True, False]
    assert await used_count(runtime, shop, coupon["id"]) == 3
    assert (await coupons.get_coupon(runtime, shop.principal, coupon["id"]))["remaining"] == 0


async def test_a_coupon_without_a_limit_counts_every_use(
        runtime: Runtime, shop: Merchant) -> None:
    coupon = await new_coupon(runtime, shop, "UNLIMITED")
    assert all([await take_use(runtime, coupon["id"]) for _ in range(5)])
    assert await used_count(runtime, shop, coupon["id"]) == 5


async def test_an_inactive_expired_or_not_started_coupon_gives_no_use(
        runtime: Runtime, shop: Merchant) -> None:
    inactive = await new_coupon(runtime, shop, "OFF", active=False)
    ended = await new_coupon(runtime, shop, "ENDED", starts_at=NOW - 2 * HOUR, ends_at=NOW)
    later = await new_coupon(runtime, shop, "LATER", starts_at=NOW + HOUR)
    for coupon in (inactive, ended, later):
        assert await take_use(runtime, coupon["id"]) is False
        assert await used_count(runtime, shop, coupon["id"]) == 0
    assert await take_use(runtime, ended["id"], NOW - timedelta(seconds=1)) is True
    assert await take_use(runtime, later["id"], NOW + HOUR) is True  # from its first moment


async def test_a_deactivated_coupon_gives_no_more_uses(
        runtime: Runtime, shop: Merchant) -> None:
    coupon = await new_coupon(runtime, shop, "STOPPED")
    assert await take_use(runtime, coupon["id"]) is True
    await coupons.deactivate_coupon(runtime, shop.principal, coupon["id"])
    assert await take_use(runtime, coupon["id"]) is False
    assert await used_count(runtime, shop, coupon["id"]) == 1


async def test_each_customer_may_use_a_coupon_up_to_its_per_customer_limit(
        runtime: Runtime, shop: Merchant) -> None:
    coupon = await new_coupon(runtime, shop, "TWICE", per_customer_limit=2)
    ada = await customer(runtime, shop, "+1 555 1001")
    bob = await customer(runtime, shop, "+1 555 1002")
    assert [await take_customer_use(runtime, coupon["id"], ada, 2) for _ in range(3)] == [
        True, True, False]
    assert await take_customer_use(runtime, coupon["id"], bob, 2) is True
    assert await uses_of(runtime, coupon["id"], ada) == 2
    assert await uses_of(runtime, coupon["id"], bob) == 1
    other = await new_coupon(runtime, shop, "OTHER")
    assert await take_customer_use(runtime, other["id"], ada, 1) is True  # per coupon too
    async with runtime.db.read() as conn:
        assert await coupon_store.customer_uses(conn, [coupon["id"], other["id"]], ada) == {
            coupon["id"]: 2, other["id"]: 1}


async def test_find_by_codes_returns_the_rules_of_this_business_only(
        runtime: Runtime, shop: Merchant) -> None:
    rival = await new_merchant(runtime, name="Rival shop")
    found_product = await _a_product_id(runtime, shop)
    pct = await new_coupon(runtime, shop, "PCT", kind=CouponKind.PERCENTAGE,
                           percent_off=Decimal("12.5"), product_ids=[found_product], usage_limit=9,
                           per_customer_limit=1, min_subtotal=1500, ends_at=NOW + HOUR)
    await new_coupon(runtime, shop, "SHIP", kind=CouponKind.FREE_SHIPPING, active=False)
    await new_coupon(runtime, rival, "PCT")
    async with runtime.db.read() as conn:
        found = await coupon_store.find_by_codes(conn, shop.principal.business_id,
                                                 ["PCT", "SHIP", "NOPE"])
        assert await coupon_store.find_by_codes(conn, shop.principal.business_id, []) == []
    by_code = {c.code: c for c in found}
    assert set(by_code) == {"PCT", "SHIP"}
    rules = by_code["PCT"]
    assert (rules.id, rules.kind, rules.percent_off_bp, rules.amount_off, rules.min_subtotal,
            rules.usage_limit, rules.per_customer_limit, rules.used_count, rules.active,
            rules.ends_at, rules.starts_at) == (
        pct["id"], CouponKind.PERCENTAGE, 1250, 0, 1500, 9, 1, 0, True, NOW + HOUR, None)
    assert rules.product_ids == frozenset({str(found_product)})
    assert by_code["SHIP"].kind == CouponKind.FREE_SHIPPING and not by_code["SHIP"].active


async def _a_product_id(runtime: Runtime, merchant: Merchant) -> uuid.UUID:
    products = await catalog.list_products(runtime, merchant.principal, limit=1, after=None)
    return uuid.UUID(str(products[0]["id"]))


async def _redeem(runtime: Runtime, merchant: Merchant, coupon: dict[str, Any],
                  order: dict[str, Any]) -> None:
    """What the checkout does when an order uses a coupon, in one transaction."""
    customer_id = uuid.UUID(str(order["customer"]["id"]))

    async def work(conn: AsyncConnection) -> None:
        assert await coupon_store.take_use(conn, coupon["id"], NOW)
        assert await coupon_store.take_customer_use(conn, coupon["id"], customer_id, 1)
        await coupon_store.record_order_coupons(conn, [{
            "id": uuid.uuid4(), "business_id": merchant.principal.business_id,
            "order_id": uuid.UUID(str(order["id"])), "coupon_id": coupon["id"],
            "customer_id": customer_id, "code": coupon["code"], "kind": coupon["kind"],
            "discount": 500}])

    await runtime.db.run(work)


async def test_giving_back_an_orders_coupon_twice_gives_its_use_back_once(
        runtime: Runtime, shop: Merchant) -> None:
    coupon = await new_coupon(runtime, shop, "ONCE", usage_limit=2, per_customer_limit=1)
    order = await order_of(runtime, shop, "+1 555 2001")
    other = await order_of(runtime, shop, "+1 555 2002")
    await _redeem(runtime, shop, coupon, order)
    await _redeem(runtime, shop, coupon, other)
    buyer = uuid.UUID(str(order["customer"]["id"]))
    assert await used_count(runtime, shop, coupon["id"]) == 2
    assert await take_use(runtime, coupon["id"]) is False

    later = NOW + HOUR
    order_id = uuid.UUID(str(order["id"]))
    given = [await runtime.db.run(lambda conn: coupon_store.give_back_for_order(
        conn, order_id, later)) for _ in range(2)]
    assert given == [1, 0]
    assert await used_count(runtime, shop, coupon["id"]) == 1  # the other order keeps its use
    assert await uses_of(runtime, coupon["id"], buyer) == 0
    assert await uses_of(runtime, coupon["id"], uuid.UUID(str(other["customer"]["id"]))) == 1
    redemptions = await coupons.list_redemptions(runtime, shop.principal, coupon["id"],
                                                 limit=10)
    returned = {str(r["order_id"]): r["returned_at"] for r in redemptions}
    assert returned == {str(order["id"]): later, str(other["id"]): None}
    # The use is free again: the same buyer and anyone else may take it.
    assert await take_use(runtime, coupon["id"]) is True
    assert await take_customer_use(runtime, coupon["id"], buyer, 1) is True


async def test_giving_back_an_order_without_coupons_gives_back_nothing(
        runtime: Runtime, shop: Merchant) -> None:
    coupon = await new_coupon(runtime, shop, "UNTOUCHED")
    assert await take_use(runtime, coupon["id"])
    order = await order_of(runtime, shop, "+1 555 3001")
    order_id = uuid.UUID(str(order["id"]))
    assert await runtime.db.run(
        lambda conn: coupon_store.give_back_for_order(conn, order_id, NOW)) == 0
    assert await used_count(runtime, shop, coupon["id"]) == 1


@pytest.fixture
def pg_runtime(runtime: Runtime) -> Runtime:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite runs one writer at a time: there is no race to lose")
    return runtime


async def race(runtime: Runtime, take: Any) -> list[bool]:
    """``RACERS`` transactions at once, each on its own pooled connection. The first ones
    wait for each other inside their transactions, so their statements really overlap."""
    arrived = 0
    everyone_in = asyncio.Event()
    gate = 20  # below the pool's size, so the gate never waits for a connection

    async def one() -> bool:
        async def work(conn: AsyncConnection) -> bool:
            nonlocal arrived
            await conn.exec_driver_sql("SELECT 1")  # the transaction and its connection are open
            arrived += 1
            if arrived >= gate:
                everyone_in.set()
            await everyone_in.wait()
            result: bool = await take(conn)
            return result

        return await runtime.db.run(work)

    return list(await asyncio.gather(*(one() for _ in range(RACERS))))


@pytest.mark.postgres
async def test_fifty_buyers_at_once_take_exactly_the_ten_uses_of_a_coupon(
        pg_runtime: Runtime, shop: Merchant) -> None:
    coupon = await new_coupon(pg_runtime, shop, "RACE10", usage_limit=10)
    results = await race(pg_runtime, lambda conn: coupon_store.take_use(conn, coupon["id"], NOW))
    assert results.count(True) == 10
    assert await used_count(pg_runtime, shop, coupon["id"]) == 10


@pytest.mark.postgres
async def test_one_customer_racing_fifty_times_gets_exactly_their_two_uses(
        pg_runtime: Runtime, shop: Merchant) -> None:
    coupon = await new_coupon(pg_runtime, shop, "RACE2", per_customer_limit=2)
    buyer = await customer(pg_runtime, shop, "+1 555 4001")
    results = await race(pg_runtime, lambda conn: coupon_store.take_customer_use(
        conn, coupon["id"], buyer, 2))
    assert results.count(True) == 2
    assert await uses_of(pg_runtime, coupon["id"], buyer) == 2

"""The cart SQL that checkout builds on, on a real database: the priced lines of a cart in
one statement, locking a cart of one business only, and converting a cart exactly once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import update

from orderline.catalog import store as catalog_store
from orderline.catalog.tables import Variant
from orderline.checkout import cart_store, carts
from orderline.checkout.carts import CartCaller
from orderline.core.db.tables import table_of
from orderline.core.errors import CartClosed
from orderline.core.runtime import Runtime
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import stock_sku


async def cart_with(runtime: Runtime, merchant: Merchant,
                    *lines: tuple[str, int]) -> dict[str, Any]:
    cart = await carts.create_cart(runtime, merchant.principal, channel="web")
    caller = CartCaller.merchant(merchant.principal)
    for sku, quantity in lines:
        cart = await carts.add_line(runtime, caller, cart["id"], sku=sku, quantity=quantity)
    return cart


async def default_location(runtime: Runtime, merchant: Merchant) -> uuid.UUID:
    async with runtime.db.read() as conn:
        location = await catalog_store.find_location(conn, merchant.principal.business_id, None)
    assert location is not None
    found: uuid.UUID = location["id"]
    return found


async def test_priced_lines_are_the_lines_in_the_order_added_with_current_prices(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "TEE", 5, price=1250, threshold=2)
    await stock_sku(runtime, merchant, "MUG", 5, price=999)
    business_id = merchant.principal.business_id
    async with runtime.db.read() as conn:
        mug = await catalog_store.get_variant_by_sku(conn, business_id, "MUG")
    assert mug is not None
    cart = await cart_with(runtime, merchant, ("MUG", 3), ("TEE", 2))
    variants = table_of(Variant)
    await runtime.db.run(lambda conn: conn.execute(
        update(variants).where(variants.c.business_id == business_id, variants.c.sku == "TEE")
        .values(price_minor=1300, weight_grams=250)))
    location_id = await default_location(runtime, merchant)

    async with runtime.db.read() as conn:
        rows = await cart_store.priced_lines(conn, business_id, cart["id"], location_id)
    assert [(r.sku, r.quantity, r.price_minor, r.weight_grams, r.position,
             r.low_stock_threshold) for r in rows] == [
        ("MUG", 3, 999, 0, 0, None), ("TEE", 2, 1300, 250, 1, 2)]
    assert rows[0].variant_id == mug["id"]
    assert rows[0].product_id == mug["product_id"]
    assert all(r.stock_level_id is not None for r in rows)
    assert [r.name for r in rows] == ["Variant MUG", "Variant TEE"]

    # At a location where nothing was ever stocked, each line has no stock level.
    elsewhere = uuid.uuid4()
    async with runtime.db.read() as conn:
        rows = await cart_store.priced_lines(conn, business_id, cart["id"], elsewhere)
    assert [(r.sku, r.stock_level_id) for r in rows] == [("MUG", None), ("TEE", None)]


async def test_priced_lines_and_lock_cart_see_nothing_of_another_business(
        runtime: Runtime, merchant: Merchant) -> None:
    rival = await new_merchant(runtime, name="Rival shop")
    await stock_sku(runtime, merchant, "TEE", 5)
    cart = await cart_with(runtime, merchant, ("TEE", 1))
    location_id = await default_location(runtime, merchant)

    async def both(conn: Any) -> tuple[Any, Any, list[Any], list[Any]]:
        mine = await cart_store.lock_cart(conn, merchant.principal.business_id, cart["id"])
        theirs = await cart_store.lock_cart(conn, rival.principal.business_id, cart["id"])
        lines_mine = await cart_store.priced_lines(conn, merchant.principal.business_id,
                                                   cart["id"], location_id)
        lines_theirs = await cart_store.priced_lines(conn, rival.principal.business_id,
                                                     cart["id"], location_id)
        return mine, theirs, lines_mine, lines_theirs

    mine, theirs, lines_mine, lines_theirs = await runtime.db.run(both)
    assert mine is not None and mine.id == cart["id"]
    assert (mine.status, mine.version) == ("open", 2)
    assert "token_hash" not in mine.as_dict()
    assert theirs is None
    assert len(lines_mine) == 1 and lines_theirs == []


async def test_a_cart_is_converted_exactly_once(runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "TEE", 5)
    cart = await cart_with(runtime, merchant, ("TEE", 1))
    now = runtime.clock.now()
    first, second = uuid.uuid4(), uuid.uuid4()

    results = await asyncio.gather(
        runtime.db.run(lambda conn: cart_store.close_cart(conn, cart["id"], first, now)),
        runtime.db.run(lambda conn: cart_store.close_cart(conn, cart["id"], second, now)))
    assert sorted(results) == [False, True]
    winner = first if results[0] else second
    async with runtime.db.read() as conn:
        row = await cart_store.get_cart(conn, merchant.principal.business_id, cart["id"])
    assert row is not None
    assert (row.status, row.order_id, row.version) == ("converted", winner, 3)


async def test_a_change_racing_a_conversion_either_lands_before_it_or_is_refused(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "TEE", 50)
    cart = await cart_with(runtime, merchant, ("TEE", 1))
    caller = CartCaller.merchant(merchant.principal)
    order_id = uuid.uuid4()

    async def add() -> str:
        try:
            await carts.add_line(runtime, caller, cart["id"], sku="TEE", quantity=1)
        except CartClosed:
            return "refused"
        return "added"

    results = await asyncio.gather(
        *(add() for _ in range(5)),
        runtime.db.run(lambda conn: cart_store.close_cart(conn, cart["id"], order_id,
                                                          runtime.clock.now())))
    added = results[:5].count("added")
    assert results[5] is True
    shown = await carts.get_cart(runtime, caller, cart["id"])
    # Every change that landed moved the version once, and so did the conversion.
    assert shown["lines"][0]["quantity"] == 1 + added
    assert (shown["status"], shown["version"]) == ("converted", 2 + added + 1)

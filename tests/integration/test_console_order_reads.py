"""The reads the console's order pages add, on each database: one search box over number,
name and phone; the payment-method filter; a page back (and what arrived since) with an
``after`` cursor; and the SKUs a hand-typed order can take, with the units free now."""

from __future__ import annotations

from orderline.catalog.availability import sellable_skus
from orderline.core.runtime import Runtime
from orderline.orders import service as orders
from orderline.orders.store import OrderFilter
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock_sku


async def test_one_search_box_finds_an_order_by_number_name_or_phone(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "MUG", 10)
    first = await place(runtime, merchant, ("MUG", 1), phone="+62 811 1111")
    second = await place(runtime, merchant, ("MUG", 1), phone="+62 822 2222")

    async def found(text: str) -> list[str]:
        rows = await orders.list_orders(runtime, merchant.principal, OrderFilter(search=text),
                                        limit=10, before=None)
        return [r["number"] for r in rows]

    assert await found(second["number"].lower()) == [second["number"]]
    assert await found("822 2222") == [second["number"]]
    assert await found("buyer") == [second["number"], first["number"]]
    assert await found("nobody") == []
    by_card = await orders.list_orders(runtime, merchant.principal,
                                       OrderFilter(payment_method="card"), limit=10, before=None)
    assert len(by_card) == 2
    assert await orders.list_orders(runtime, merchant.principal, OrderFilter(
        payment_method="cod"), limit=10, before=None) == []


async def test_an_after_cursor_answers_the_orders_just_newer_newest_first(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "CUP", 10)
    for _ in range(4):
        await place(runtime, merchant, ("CUP", 1))
    listed = [r["number"] for r in await orders.list_orders(
        runtime, merchant.principal, OrderFilter(), limit=10, before=None)]  # newest first
    oldest = (await orders.list_orders(runtime, merchant.principal,
                                       OrderFilter(search=listed[-1]), limit=1, before=None))[0]
    since = (oldest["created_at"], oldest["id"])
    newer = await orders.list_orders(runtime, merchant.principal, OrderFilter(), limit=2,
                                     before=None, after=since)
    assert [r["number"] for r in newer] == listed[1:3]
    everything_since = await orders.list_orders(runtime, merchant.principal, OrderFilter(),
                                                limit=10, before=None, after=since)
    assert [r["number"] for r in everything_since] == listed[:3]


async def test_sellable_skus_show_the_units_free_now_and_never_another_business_s(
        runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "TEA-GREEN", 5, price=2500)
    await stock_sku(runtime, merchant, "TEA-BLACK", 3)
    await place(runtime, merchant, ("TEA-GREEN", 2))
    other = await new_merchant(runtime, "Other shop")
    await stock_sku(runtime, other, "TEA-WHITE", 9)

    found = await sellable_skus(runtime, merchant.principal, search="tea")
    assert {s["sku"]: s["available"] for s in found} == {"TEA-GREEN": 3, "TEA-BLACK": 3}
    green = next(s for s in found if s["sku"] == "TEA-GREEN")
    assert (green["price_minor"], green["currency"]) == (2500, "USD")
    assert await sellable_skus(runtime, merchant.principal, search="white") == []
    assert await sellable_skus(runtime, merchant.principal, search="  ") == []

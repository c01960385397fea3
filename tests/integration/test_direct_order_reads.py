"""The one statement that reads what a direct order needs on PostgreSQL
(``checkout/direct_order_reads.py``) finds what the separate statements find, case by case,
and takes the order's number only when nothing it read refuses the order."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.catalog import archiving
from orderline.catalog import products as catalog
from orderline.checkout import direct_order_reads, direct_orders
from orderline.checkout.direct_order_reads import OrderGrounds
from orderline.checkout.direct_orders import NewOrder
from orderline.core.runtime import Runtime
from orderline.orders.rules import RequestedLine
from orderline.orders.service import Contact
from tests.conftest import Merchant
from tests.support.catalog import place, stock_sku

PHONE, EMAIL = "+1 555 0100", "e@example.com"
CASES: dict[str, dict[str, Any]] = {
    "returning customer by phone": {"lines": [("TEE", 2), ("MUG", 1)]},
    "unknown channel": {"lines": [("TEE", 1)], "channel": "fax"},
    "unknown location": {"lines": [("TEE", 1)], "location": "nowhere"},
    "unknown SKU": {"lines": [("TEE", 1), ("NOPE", 1)]},
    "archived product": {"lines": [("OLD", 1), ("TEE", 1)]},
    "short when read": {"lines": [("MUG", 4)]},
    "the same SKU twice, short together": {"lines": [("MUG", 2), ("MUG", 2)]},
    "never stocked at that location": {"lines": [("TEE", 1)], "location": "kiosk"},
    "new customer": {"lines": [("TEE", 1)], "phone": "+1 555 0999"},
    "customer by email only": {"lines": [("TEE", 1)], "phone": None, "email": EMAIL},
    "phone wins over email": {"lines": [("TEE", 1)], "email": EMAIL},
}
# The cases in which the one statement takes the order's number.
NUMBERED = {"returning customer by phone", "new customer", "customer by email only",
            "phone wins over email"}


async def shop(runtime: Runtime, merchant: Merchant) -> None:
    await stock_sku(runtime, merchant, "TEE", 10)
    await stock_sku(runtime, merchant, "MUG", 3)
    await stock_sku(runtime, merchant, "OLD", 5)
    await archiving.set_variant_archived(runtime, merchant.principal, "OLD", archived=True)
    await catalog.create_location(runtime, merchant.principal, code="kiosk", name="Kiosk")
    await place(runtime, merchant, ("TEE", 1), phone=PHONE)
    await direct_orders.create_order(runtime, merchant.principal, NewOrder(
        customer=Contact(name="Mail buyer", email=EMAIL), channel="web",
        lines=[RequestedLine("TEE", 1)], payment_method="card"))


async def grounds(conn: AsyncConnection, merchant: Merchant, case: dict[str, Any], *,
                  at_once: bool) -> OrderGrounds:
    lines = [RequestedLine(sku, qty) for sku, qty in case["lines"]]
    asked: dict[str, Any] = {
        "business_id": merchant.principal.business_id, "channel": case.get("channel", "web"),
        "location": case.get("location"), "phone": case.get("phone", PHONE),
        "email": case.get("email")}
    if at_once:
        return await direct_order_reads.read_grounds(conn, lines=lines, **asked)
    return await direct_order_reads._read_one_by_one(  # the reference
        conn, skus=[line.sku for line in lines], **asked)


@pytest.mark.parametrize("name", list(CASES))
async def test_the_one_statement_reads_what_the_separate_statements_read(
        runtime: Runtime, merchant: Merchant, name: str) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite runs the separate statements themselves")
    await shop(runtime, merchant)
    async with runtime.db.write() as conn:
        at_once = await grounds(conn, merchant, CASES[name], at_once=True)
        one_by_one = await grounds(conn, merchant, CASES[name], at_once=False)
        by_phone = await grounds(conn, merchant, {"lines": [("TEE", 1)]}, at_once=False)
        await conn.rollback()

    def by_sku(g: OrderGrounds) -> OrderGrounds:  # the order of the rows means nothing
        return replace(g, number=None, sellable=sorted(g.sellable, key=lambda r: r["sku"]))

    assert by_sku(at_once) == by_sku(one_by_one)
    assert (at_once.number is not None) == (name in NUMBERED)
    assert one_by_one.channel_known == ("channel" not in CASES[name])
    if name == "archived product":
        assert at_once.archived == ["OLD"]
    if name == "unknown SKU":
        assert sorted(r["sku"] for r in at_once.sellable) == ["TEE"]
    if name == "never stocked at that location":
        assert [r["stock_level_id"] for r in at_once.sellable] == [None]
    if name in ("new customer",):
        assert at_once.customer_id is None
    if name == "phone wins over email":
        assert at_once.customer_id is not None and at_once.customer_id == by_phone.customer_id
    if name == "customer by email only":
        assert at_once.customer_id is not None and at_once.customer_id != by_phone.customer_id

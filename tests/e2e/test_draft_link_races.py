"""A draft order's link opened at once from many tabs, through four server processes on
PostgreSQL: exactly one cart and one checkout, holding the stock once, and every opening
lands on that checkout."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from orderline.checkout.tables import Cart, Checkout
from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from tests.conftest import new_merchant
from tests.e2e.conftest import api_client, levels, ok
from tests.support.checkout import ADDRESS, BUYER, open_shop
from tests.support.servers import running_server

pytestmark = pytest.mark.slow

OPENINGS = 20


async def test_a_link_opened_twenty_times_at_once_makes_exactly_one_checkout(
        runtime: Runtime, database_url: str) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("several server processes share one database on PostgreSQL only")
    merchant = await new_merchant(runtime, name="Chat shop")
    async with api_client(runtime) as client:
        await open_shop(client, merchant, products={"SCARF": (2500, 3)}, shipping=500)
        draft = ok(await client.post("/v1/draft-orders", headers=merchant.headers, json={
            "lines": [{"sku": "SCARF", "quantity": 2}], "customer": BUYER,
            "address": ADDRESS, "payment_method": "card"}), 201)
        token = ok(await client.post(f"/v1/draft-orders/{draft['id']}/send",
                                     headers=merchant.headers, json={}))["link_token"]

    with running_server(database_url, workers=4) as base:
        limits = httpx.Limits(max_connections=OPENINGS, max_keepalive_connections=OPENINGS)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
            answers = await asyncio.gather(*(http.post(f"/d/{token}/open")
                                             for _ in range(OPENINGS)))
    assert Counter(a.status_code for a in answers) == {303: OPENINGS}
    assert len({a.headers["location"] for a in answers}) == 1
    carts, checkouts = table_of(Cart), table_of(Checkout)
    business = merchant.principal.business_id
    async with runtime.db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(carts).where(
            carts.c.business_id == business)) == 1
        assert await conn.scalar(select(func.count()).select_from(checkouts).where(
            checkouts.c.business_id == business)) == 1
    async with api_client(runtime) as client:
        assert await levels(client, merchant, "SCARF") == (3, 2, 1)
        opened = ok(await client.get(f"/v1/draft-orders/{draft['id']}",
                                     headers=merchant.headers))
    assert opened["status"] == "open"
    assert answers[0].headers["location"].endswith(f"/review/{opened['checkout_id']}")

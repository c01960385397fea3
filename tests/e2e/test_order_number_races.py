"""One shop's buyers racing through four server processes on PostgreSQL: every order gets a
number of its own, and those refused for stock only leave gaps (the business's sequence never
gives a number twice, and no order waits on another for its number)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.conftest import new_merchant
from tests.e2e.conftest import add_product, api_client, ok, order_body
from tests.support.servers import running_server

pytestmark = pytest.mark.slow

BUYERS = 60
UNITS = 40


async def test_sixty_buyers_of_one_shop_through_four_processes_get_distinct_numbers(
        runtime: Runtime, database_url: str) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("several server processes share one database on PostgreSQL only")
    merchant = await new_merchant(runtime, name="Flash sale shop")
    async with api_client(runtime) as client:
        await add_product(client, merchant, "DROP", UNITS)
        await add_product(client, merchant, "SPARE", 1)

    with running_server(database_url, workers=4) as base:
        limits = httpx.Limits(max_connections=BUYERS, max_keepalive_connections=BUYERS)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
            answers = await asyncio.gather(*(
                http.post("/v1/orders", headers=merchant.headers, json=order_body(
                    ("DROP", 1), name=f"Buyer {n}", phone=f"+1 555 {n:04d}"))
                for n in range(BUYERS)))
            later = ok(await http.post("/v1/orders", headers=merchant.headers,
                                       json=order_body(("SPARE", 1), phone="+1 555 9999")), 201)
    outcomes = Counter(a.status_code if a.status_code == 201 else a.json()["error"]["code"]
                       for a in answers)
    assert outcomes == {201: UNITS, "out_of_stock": BUYERS - UNITS}, outcomes
    numbers = [int(a.json()["number"].removeprefix("OL-")) for a in answers
               if a.status_code == 201]
    assert len(set(numbers)) == UNITS
    # Each attempt took at most one number: the refused ones are the gaps.
    assert min(numbers) >= 1 and max(numbers) <= BUYERS
    assert int(later["number"].removeprefix("OL-")) > max(numbers)  # still increasing

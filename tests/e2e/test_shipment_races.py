"""Shipments and transfers racing through four server processes on PostgreSQL: two transfers
draining one location, and two shipments of the same units."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orderline.core.runtime import Runtime
from tests.conftest import Merchant, new_merchant
from tests.e2e.conftest import add_product, api_client, ok, order_body
from tests.support.servers import running_server

pytestmark = pytest.mark.slow
ROUNDS = 6


@pytest.fixture(scope="module")
def server(database_url: str, shared_db: Any) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        pytest.skip("several server processes share one database on PostgreSQL only")
    with running_server(database_url, workers=4) as base:
        yield base


async def _shop(runtime: Runtime, *skus: tuple[str, int]) -> Merchant:
    merchant = await new_merchant(runtime, name="Two warehouses")
    async with api_client(runtime) as client:
        for sku, units in skus:
            await add_product(client, merchant, sku, units)
        ok(await client.post("/v1/locations", headers=merchant.headers,
                             json={"code": "north", "name": "North"}), 201)
    return merchant


async def _outcomes(answers: list[httpx.Response]) -> Counter[Any]:
    return Counter(a.status_code if a.status_code < 400 else a.json()["error"]["code"]
                   for a in answers)


async def test_two_transfers_draining_one_location_never_leave_it_negative(
        runtime: Runtime, server: str) -> None:
    skus = [(f"BOX-{n}", 5) for n in range(ROUNDS)]
    merchant = await _shop(runtime, *skus)
    async with httpx.AsyncClient(base_url=server, headers=merchant.headers,
                                 timeout=60) as http:
        for sku, _ in skus:
            # 5 units at main; each transfer wants 3: both cannot be served.
            answers = list(await asyncio.gather(*(http.post("/v1/inventory/transfers", json={
                "sku": sku, "from_location": "main", "to_location": "north", "quantity": 3})
                for _ in range(2))))
            assert await _outcomes(answers) == {201: 1, "insufficient_stock": 1}
            stock = ok(await http.get(f"/v1/inventory/{sku}"))
            assert {loc["location"]: loc["on_hand"] for loc in stock["locations"]} == {
                "main": 2, "north": 3}
        report = ok(await http.get("/v1/inventory/reconciliation"))
        assert report["balanced"], report


async def test_two_shipments_of_the_same_units_ship_them_once(
        runtime: Runtime, server: str) -> None:
    merchant = await _shop(runtime, ("MUG", 10 * ROUNDS))
    async with httpx.AsyncClient(base_url=server, headers=merchant.headers,
                                 timeout=60) as http:
        for n in range(ROUNDS):
            placed = ok(await http.post("/v1/orders", json=order_body(
                ("MUG", 3), phone=f"+1 555 {n:04d}")), 201)
            ok(await http.patch(f"/v1/orders/{placed['id']}/payment",
                                json={"amount": placed["total"]}))
            url = f"/v1/orders/{placed['id']}/shipments"
            # Each wants 2 of the line's 3 units: only one of them can have them.
            answers = list(await asyncio.gather(*(http.post(url, json={
                "lines": [{"sku": "MUG", "quantity": 2}], "carrier": "DHL",
                "tracking_number": f"T{n}-{k}"}) for k in range(2))))
            assert await _outcomes(answers) == {201: 1, "shipment_exceeds_order": 1}
            shipments = ok(await http.get(url))["data"]
            assert sum(line["quantity"] for s in shipments for line in s["lines"]) == 2
            assert ok(await http.get(f"/v1/orders/{placed['id']}"))["status"] == (
                "partially_shipped")
        report = ok(await http.get("/v1/inventory/reconciliation"))
        assert report["balanced"], report

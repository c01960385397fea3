"""Confirms racing each other through real HTTP against four server processes on PostgreSQL
(the production database; SQLite's single process serialises every writer anyway)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from orderline.core.db.tables import table_of
from orderline.core.runtime import Runtime
from orderline.coupons.tables import Coupon
from orderline.orders.store import find_or_create_customer as new_customer
from orderline.orders.tables import Order
from tests.conftest import new_merchant
from tests.e2e.conftest import api_client, ok
from tests.support.checkout import Cart, open_shop, start_checkout
from tests.support.servers import running_server

pytestmark = pytest.mark.slow

BUYERS = 50
LIMIT = 10


async def test_fifty_concurrent_confirms_of_a_coupon_limited_to_ten_place_exactly_ten(
        runtime: Runtime, database_url: str) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("several server processes share one database on PostgreSQL only")
    merchant = await new_merchant(runtime, name="Coupon race shop")
    async with api_client(runtime) as client:
        await open_shop(client, merchant, products={"MUG": (1000, 1000)}, shipping=0,
                        tax_rate=None)
        coupon = ok(await client.post("/v1/coupons", headers=merchant.headers, json={
            "code": "FIRST10", "kind": "fixed_amount", "amount_off": 250,
            "usage_limit": LIMIT}), 201)
        checkouts: list[tuple[Cart, dict[str, Any]]] = []
        for n in range(BUYERS):
            # Each buyer is a known customer, so the per-customer guard and rate limit of
            # one buyer never hold another back: only the coupon's limit decides.
            customer_id = await runtime.db.run(lambda conn, n=n: new_customer(
                conn, business_id=merchant.principal.business_id, name=f"Buyer {n}",
                phone=f"+1 555 {n:04d}", email=None, now=runtime.clock.now()))
            created = ok(await client.post("/v1/carts", headers=merchant.headers, json={
                "channel": "web", "customer_id": str(customer_id)}), 201)
            cart = Cart(created["id"], created["token"])
            ok(await client.post(f"/v1/carts/{cart.id}/lines", headers=cart.headers,
                                 json={"sku": "MUG", "quantity": 1}))
            checkout = await start_checkout(client, cart, coupons=("FIRST10",), buyer={
                "name": f"Buyer {n}", "phone": f"+1 555 {n:04d}"})
            assert checkout["totals"]["total"] == 750
            checkouts.append((cart, checkout))

    with running_server(database_url, workers=4) as base:
        limits = httpx.Limits(max_connections=BUYERS, max_keepalive_connections=BUYERS)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
            answers = await asyncio.gather(*(
                http.post(f"/v1/checkouts/{checkout['id']}/confirm",
                          headers={**cart.headers, "Idempotency-Key": str(uuid.uuid4())},
                          json={"totals": checkout["totals"]})
                for cart, checkout in checkouts))

    outcomes = Counter(a.status_code if a.status_code == 201 else a.json()["error"]["code"]
                       for a in answers)
    assert outcomes == {201: LIMIT, "coupon_exhausted": BUYERS - LIMIT}, outcomes
    coupons, orders = table_of(Coupon), table_of(Order)
    async with runtime.db.read() as conn:
        used = await conn.scalar(select(coupons.c.used_count).where(
            coupons.c.id == uuid.UUID(coupon["id"])))
        discounted = await conn.scalar(select(func.count()).select_from(orders).where(
            orders.c.business_id == merchant.principal.business_id,
            orders.c.discount_total == 250))
    assert used == LIMIT
    assert discounted == LIMIT

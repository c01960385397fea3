"""What one ``POST /v1/orders`` costs the serving process, counted rather than timed: Python
function calls (cProfile) and SQL statements per order, with the process's CPU time beside
them. Counts do not move with the machine's load, so two versions can be compared on a busy
machine, where CPU figures cannot.

The app runs in this process (``httpx.ASGITransport``, no server, no sockets to the client) on
a throw-away PostgreSQL database: one shop, 1,000 SKUs, 100 returning buyers, 16 orders in
flight, a warm-up of 200 orders, then ``ORDERS`` orders timed, then ``ORDERS`` more under
cProfile. Run:
``.venv/bin/python benchmarks/order_calls.py [server URL ending in /postgres] [orders]
[pstats file]``.
"""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]  # no type information shipped
import httpx

from in_process import Figures, arguments, measure, run
from orderline.bench import catalog as bench_catalog
from orderline.catalog import products as catalog
from orderline.core.config import Settings, driver_free_url
from orderline.schema.migrate import upgrade_to_head
from orderline.tenancy import service as tenancy
from orderline.wiring import build_runtime

SERVER, ORDERS, PSTATS = arguments(1000)
WARMUP = 200
IN_FLIGHT = 16
SKUS = 1000


async def place_all(client: httpx.AsyncClient, orders: range) -> None:
    pending = iter(orders)

    async def requester() -> None:
        for n in pending:
            answer = await client.post("/v1/orders", json={
                "customer": {"name": f"Buyer {n % 100}", "phone": f"+1 555 {n % 100:04d}"},
                "channel": "web", "payment_method": "card",
                "lines": [{"sku": f"SPREAD-{(n * 7919) % SKUS:06d}", "quantity": 1}]})
            assert answer.status_code == 201, answer.text

    await asyncio.gather(*(requester() for _ in range(IN_FLIGHT)))


async def set_up_and_measure(url: str) -> Figures:
    runtime = build_runtime(Settings(database_url=url))
    await upgrade_to_head(runtime.db)
    created = await tenancy.create_business(runtime, name="Calls shop", currency="USD")
    principal = await tenancy.authenticate(runtime, created.api_key.key)
    await catalog.create_product(runtime, principal, name="First", description="",
                                 variants=[catalog.NewVariant(sku="FIRST", name="First",
                                                              price=100, initial_stock=1)])
    async with runtime.db.read() as conn:
        location_id = (await conn.exec_driver_sql(
            "SELECT id FROM locations WHERE business_id = $1 AND is_default",
            (principal.business_id,))).scalar_one()
    monitor = await asyncpg.connect(driver_free_url(url))
    try:
        await bench_catalog.stock_spread_skus(
            monitor, business_id=principal.business_id, location_id=location_id,
            currency="USD", actor=principal.actor,
            skus=[f"SPREAD-{i:06d}" for i in range(SKUS)],
            units=10 * (WARMUP + 2 * ORDERS) // SKUS + 2)
    finally:
        await monitor.close()
    return await measure(runtime, place_all, warmup=WARMUP, count=ORDERS,
                         headers={"Authorization": f"Bearer {created.api_key.key}"},
                         pstats_file=PSTATS)


if __name__ == "__main__":
    run(SERVER, set_up_and_measure, what=f"POST /v1/orders in process, {IN_FLIGHT} in flight",
        unit="order")

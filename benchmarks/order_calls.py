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
import cProfile
import logging
import pstats
import sys
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no type information shipped
import httpx

from orderline.api.app import create_app
from orderline.bench import catalog as bench_catalog
from orderline.bench.orders import DEFAULT_SERVER_URL, throwaway_database
from orderline.bench.statements import counting
from orderline.catalog import products as catalog
from orderline.core.config import Settings, driver_free_url
from orderline.schema.migrate import upgrade_to_head
from orderline.tenancy import service as tenancy
from orderline.tenancy.key_cache import KEY_CACHE, KeyCache
from orderline.wiring import build_runtime

SERVER = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SERVER_URL
ORDERS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
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


async def measure(url: str) -> dict[str, Any]:
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
    # As in a serving process whose LISTEN connection is up: the key is looked up once.
    runtime.put(KEY_CACHE, KeyCache(ttl=600, always_trusted=True))
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b",
                                 headers={"Authorization": f"Bearer {created.api_key.key}"}
                                 ) as client:
        await place_all(client, range(WARMUP))
        plain_cpu = time.process_time()
        await place_all(client, range(WARMUP, WARMUP + ORDERS))
        plain_cpu = time.process_time() - plain_cpu
        profile = cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        with counting(runtime.db.engine) as counted:
            profile.enable()
            await place_all(client, range(WARMUP + ORDERS, WARMUP + 2 * ORDERS))
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await runtime.close()
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    if len(sys.argv) > 3:  # a file for pstats (python -m pstats FILE)
        profile.dump_stats(sys.argv[3])
    return {"orders": ORDERS, "calls_per_order": calls / ORDERS,
            "statements_per_order": len(counted.statements) / ORDERS,
            "begins_per_order": counted.begins / ORDERS,
            "commits_per_order": counted.commits / ORDERS,
            "cpu_ms_per_order_profiled": cpu * 1000 / ORDERS,
            "cpu_ms_per_order": plain_cpu * 1000 / ORDERS, "wall_seconds": wall}


def main() -> None:
    logging.getLogger("orderline").setLevel(logging.WARNING)  # no access line per order
    with throwaway_database(SERVER, print) as (url, _name):
        figures = asyncio.run(measure(url))
    print(f"POST /v1/orders in process, {figures['orders']} orders, {IN_FLIGHT} in flight: "
          f"{figures['calls_per_order']:,.0f} Python function calls, "
          f"{figures['statements_per_order']:.2f} SQL statements "
          f"(+{figures['begins_per_order']:.2f} BEGIN, {figures['commits_per_order']:.2f} COMMIT)"
          f" per order; CPU {figures['cpu_ms_per_order']:.1f} ms per order without cProfile "
          f"({figures['cpu_ms_per_order_profiled']:.1f} with it), client included: a "
          "comparison only")


if __name__ == "__main__":
    main()

"""What one buyer path (cart, line, checkout, confirm) costs the serving process, counted
rather than timed: Python function calls (cProfile) and SQL statements per path, with the
process's CPU time beside them. Counts do not move with the machine's load, so two versions
can be compared on a busy machine, where CPU figures cannot.

The app runs in this process (``httpx.ASGITransport``, no server) on a throw-away PostgreSQL
database, with the shop of ``orderline bench checkout``: 100 SKUs, a US zone with a flat
method and 10% tax, 64 known customers (each made by one guest path through the services),
16 paths in flight, each path one customer at a time, sending the four requests the bench's
HTTP phase sends (``bench.checkout_paths.HttpBuyer``). A warm-up of 100 paths, then ``PATHS``
timed, then ``PATHS`` more under cProfile. Run:
``.venv/bin/python benchmarks/checkout_calls.py [server URL ending in /postgres] [paths]
[pstats file]``.
"""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]  # no type information shipped
import httpx

from in_process import Figures, arguments, measure, run
from orderline.bench import raw as bench_raw
from orderline.bench.checkout import _customer, _open_shop, buy_in_process
from orderline.bench.checkout_paths import CustomerPool, HttpBuyer, StepTimes, httpx_sender
from orderline.core.config import Settings, driver_free_url
from orderline.schema.migrate import upgrade_to_head
from orderline.tenancy import service as tenancy
from orderline.wiring import build_runtime

SERVER, PATHS, PSTATS = arguments(400)
WARMUP = 100
IN_FLIGHT = 16
SKUS = 100
CUSTOMERS = 64


async def set_up_and_measure(url: str) -> Figures:
    runtime = build_runtime(Settings(database_url=url))
    await upgrade_to_head(runtime.db)
    created = await tenancy.create_business(runtime, name="Calls shop", currency="USD")
    key = created.api_key.key
    principal = await tenancy.authenticate(runtime, key)
    skus = [f"CHK-{i:04d}" for i in range(SKUS)]
    await _open_shop(runtime, principal, skus, units=(WARMUP + 2 * PATHS) // SKUS * 2 + 80)
    for n in range(CUSTOMERS):  # each guest from an address of her own, as the bench does
        await buy_in_process(runtime, principal, key, skus[0], buyer=_customer(n),
                             client_ip=f"10.0.0.{n}")
    monitor = await asyncpg.connect(driver_free_url(url))
    try:
        buyers = sorted((await bench_raw.load_buyers(monitor, principal.business_id)).values(),
                        key=lambda c: c.phone)
    finally:
        await monitor.close()
    pool = CustomerPool(buyers)

    async def buy_all(client: httpx.AsyncClient, paths: range) -> None:
        buyer = HttpBuyer(httpx_sender(client), key, pool, StepTimes())
        pending = iter(paths)

        async def one_at_a_time() -> None:
            for n in pending:
                await buyer.buy(f"CHK-{(n * 37) % SKUS:04d}")

        await asyncio.gather(*(one_at_a_time() for _ in range(IN_FLIGHT)))

    return await measure(runtime, buy_all, warmup=WARMUP, count=PATHS, pstats_file=PSTATS)


if __name__ == "__main__":
    run(SERVER, set_up_and_measure,
        what=f"buyer path in process (4 requests), {IN_FLIGHT} in flight", unit="path")

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
import cProfile
import logging
import pstats
import sys
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no type information shipped
import httpx

from orderline.api.app import create_app
from orderline.bench import raw as bench_raw
from orderline.bench.checkout import _customer, _open_shop, buy_in_process
from orderline.bench.checkout_paths import CustomerPool, HttpBuyer, StepTimes, httpx_sender
from orderline.bench.orders import DEFAULT_SERVER_URL, throwaway_database
from orderline.bench.statements import counting
from orderline.core.config import Settings, driver_free_url
from orderline.schema.migrate import upgrade_to_head
from orderline.tenancy import service as tenancy
from orderline.tenancy.key_cache import KEY_CACHE, KeyCache
from orderline.wiring import build_runtime

SERVER = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SERVER_URL
PATHS = int(sys.argv[2]) if len(sys.argv) > 2 else 400
WARMUP = 100
IN_FLIGHT = 16
SKUS = 100
CUSTOMERS = 64


async def buy_all(buyer: HttpBuyer, paths: range) -> None:
    pending = iter(paths)

    async def one_at_a_time() -> None:
        for n in pending:
            await buyer.buy(f"CHK-{(n * 37) % SKUS:04d}")

    await asyncio.gather(*(one_at_a_time() for _ in range(IN_FLIGHT)))


async def measure(url: str) -> dict[str, Any]:
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
    # As in a serving process whose LISTEN connection is up: the key is looked up once.
    runtime.put(KEY_CACHE, KeyCache(ttl=600, always_trusted=True))
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://b") as client:
        buyer = HttpBuyer(httpx_sender(client), key, CustomerPool(buyers), StepTimes())
        await buy_all(buyer, range(WARMUP))
        plain_cpu = time.process_time()
        await buy_all(buyer, range(WARMUP, WARMUP + PATHS))
        plain_cpu = time.process_time() - plain_cpu
        profile = cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        with counting(runtime.db.engine) as counted:
            profile.enable()
            await buy_all(buyer, range(WARMUP + PATHS, WARMUP + 2 * PATHS))
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await runtime.close()
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    if len(sys.argv) > 3:  # a file for pstats (python -m pstats FILE)
        profile.dump_stats(sys.argv[3])
    return {"paths": PATHS, "calls_per_path": calls / PATHS,
            "statements_per_path": len(counted.statements) / PATHS,
            "begins_per_path": counted.begins / PATHS,
            "commits_per_path": counted.commits / PATHS,
            "cpu_ms_per_path_profiled": cpu * 1000 / PATHS,
            "cpu_ms_per_path": plain_cpu * 1000 / PATHS, "wall_seconds": wall}


def main() -> None:
    logging.getLogger("orderline").setLevel(logging.WARNING)  # no access line per request
    with throwaway_database(SERVER, print) as (url, _name):
        figures = asyncio.run(measure(url))
    print(f"buyer path in process (4 requests), {figures['paths']} paths, {IN_FLIGHT} in "
          f"flight: {figures['calls_per_path']:,.0f} Python function calls, "
          f"{figures['statements_per_path']:.2f} SQL statements "
          f"(+{figures['begins_per_path']:.2f} BEGIN, {figures['commits_per_path']:.2f} COMMIT)"
          f" per path; CPU {figures['cpu_ms_per_path']:.1f} ms per path without cProfile "
          f"({figures['cpu_ms_per_path_profiled']:.1f} with it), client included: a "
          "comparison only")


if __name__ == "__main__":
    main()

"""How many transactions of one shop can take an order number at once: the counter row (locked
to COMMIT, as before issue 15's item 3) against the business's sequence (``nextval``, as now).

Each transaction takes a number, stands for the rest of an order's statements with
``pg_sleep(REST)``, then commits; 16 connections, one shop, a throw-away database. Run:
``.venv/bin/python benchmarks/order_numbering.py [server URL ending in /]``.

asyncpg ships without type information, hence the ``type: ignore`` on its import.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

import asyncpg  # type: ignore[import-untyped]

URL = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/"
REST = 0.005
SECONDS = 5.0
CLIENTS = 16


async def rate_of(pool: Any, sql: str, arg: object) -> float:
    """Numbered transactions per second with CLIENTS connections for SECONDS."""
    done = 0
    stop = time.monotonic() + SECONDS

    async def client() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            while time.monotonic() < stop:
                async with conn.transaction():
                    await conn.fetchval(sql, arg)
                    await conn.execute(f"SELECT pg_sleep({REST})")
                done += 1

    begun = time.monotonic()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return done / (time.monotonic() - begun)


async def main() -> None:
    name = f"numbers_measure_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(URL + "postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        setup = await asyncpg.connect(URL + name)
        business = uuid.uuid4()
        seq = "order_numbers_" + business.hex
        await setup.execute("CREATE TABLE order_counters (business_id uuid PRIMARY KEY, "
                            "last_number bigint NOT NULL)")
        await setup.execute("INSERT INTO order_counters VALUES ($1, 0)", business)
        await setup.execute(f"CREATE SEQUENCE {seq}")
        await setup.close()
        pool = await asyncpg.create_pool(URL + name, min_size=CLIENTS, max_size=CLIENTS)
        shapes: dict[str, tuple[str, object]] = {
            "counter row": ("UPDATE order_counters SET last_number = last_number + 1 "
                            "WHERE business_id = $1 RETURNING last_number", business),
            "sequence": ("SELECT nextval(to_regclass($1::varchar))", seq),
        }
        for label, (sql, arg) in shapes.items():
            rate = await rate_of(pool, sql, arg)
            print(f"{label}: {rate:.0f} numbered transactions/s ({CLIENTS} clients, "
                  f"{REST * 1000:.0f} ms of other work each)", flush=True)
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())

"""What the scripts counting one request's cost share (``order_calls.py``,
``checkout_calls.py``): the app served in this process (``httpx.ASGITransport``, no server,
no sockets to the client) on a throw-away PostgreSQL database, a warm-up, then ``count`` units
of work timed, then ``count`` more under cProfile with the SQL counted, and one report line.

Counts (Python calls, statements, BEGINs, COMMITs) do not move with the machine's load, so two
versions can be compared on a busy machine, where CPU figures cannot.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx

from orderline.api.app import create_app
from orderline.bench.orders import DEFAULT_SERVER_URL, throwaway_database
from orderline.bench.statements import counting
from orderline.core.runtime import Runtime
from orderline.tenancy.key_cache import KEY_CACHE, KeyCache

# Runs ``range`` units of work (orders, buyer paths) through the client.
Drive = Callable[[httpx.AsyncClient, range], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Figures:
    count: int
    calls: float  # per unit, as every figure below
    statements: float
    begins: float
    commits: float
    cpu_ms: float
    cpu_ms_profiled: float


def arguments(default_count: int) -> tuple[str, int, str | None]:
    """The command line: [server URL ending in /postgres] [count] [pstats file]."""
    return (sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SERVER_URL,
            int(sys.argv[2]) if len(sys.argv) > 2 else default_count,
            sys.argv[3] if len(sys.argv) > 3 else None)


async def measure(runtime: Runtime, drive: Drive, *, warmup: int, count: int,
                  headers: dict[str, str] | None = None,
                  pstats_file: str | None = None) -> Figures:
    """Serve the app of ``runtime`` in process and drive it: ``warmup`` units, ``count``
    timed, ``count`` more profiled and counted. Closes the runtime."""
    # As in a serving process whose LISTEN connection is up: the key is looked up once.
    runtime.put(KEY_CACHE, KeyCache(ttl=600, always_trusted=True))
    app = create_app(runtime=runtime)
    app.state.runtime = runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b",
                                 headers=headers) as client:
        await drive(client, range(warmup))
        plain_cpu = time.process_time()
        await drive(client, range(warmup, warmup + count))
        plain_cpu = time.process_time() - plain_cpu
        profile = cProfile.Profile()
        cpu = time.process_time()
        with counting(runtime.db.engine) as counted:
            profile.enable()
            await drive(client, range(warmup + count, warmup + 2 * count))
            profile.disable()
        cpu = time.process_time() - cpu
    await runtime.close()
    if pstats_file:  # read with: python -m pstats FILE
        profile.dump_stats(pstats_file)
    return Figures(count=count,
                   calls=pstats.Stats(profile).total_calls / count,  # type: ignore[attr-defined]
                   statements=len(counted.statements) / count, begins=counted.begins / count,
                   commits=counted.commits / count, cpu_ms=plain_cpu * 1000 / count,
                   cpu_ms_profiled=cpu * 1000 / count)


def run(server: str, set_up_and_measure: Callable[[str], Coroutine[Any, Any, Figures]], *,
        what: str, unit: str) -> None:
    """On a throw-away database of ``server``: measure, and print one line."""
    logging.getLogger("orderline").setLevel(logging.WARNING)  # no access line per request
    with throwaway_database(server, print) as (url, _name):
        figures = asyncio.run(set_up_and_measure(url))
    print(f"{what}, {figures.count} {unit}s: {figures.calls:,.0f} Python function calls, "
          f"{figures.statements:.2f} SQL statements (+{figures.begins:.2f} BEGIN, "
          f"{figures.commits:.2f} COMMIT) per {unit}; CPU {figures.cpu_ms:.1f} ms per {unit} "
          f"without cProfile ({figures.cpu_ms_profiled:.1f} with it), client included: a "
          "comparison only")

"""``orderline bench scale``: the scale-out curve, order throughput by server and worker count.

On one throw-away PostgreSQL database (created and dropped like every bench), a business with
``skus`` SKUs (stocked in bulk, ``bench_catalog``) and ``BUYERS`` returning customers, then for
each cell of the grid ``server_counts`` x ``worker_counts``:

1. ``orderline serve --workers S`` (kept for every cell of that row) and W ``orderline worker``
   processes (started for the cell) run on the same database; the outbox is first drained of
   what earlier cells and the set-up left;
2. ``warmup`` orders, not measured, then ``orders`` orders through ``POST /v1/orders`` with
   ``connections`` in flight, each one unit of a SKU picked at random (seeded) for one of the
   returning customers: orders/s, p50/p95/p99, and the CPU per order of the server processes
   and of this database's PostgreSQL backends (``bench_cpu``), as ``bench orders`` measures;
3. once the load stops, the workers drain the outbox: the **outbox lag** of each event the
   cell's orders wrote (their ``order.created``) runs from the moment the order's 201 was read
   (it had committed) to ``relayed_at``, when a worker took the event to run its handlers
   (customer totals, buyer notifications, webhook fan-out); reported as p50/p95/p99 (the JSON
   also has it from the event's ``created_at``, taken early in the order's transaction, which
   adds the order's own wait, for the shop's order counter row among others),
   with the time the backlog took to empty after the load and the workers' CPU per event
   (from the load's start to the drain's end, idle polling included).

Each cell also counts what it made: the orders the business gained, the events written after
the warm-up and how many of them were relayed (none may be left pending or dead), so that a
run shows every order was created and every event delivered.

The load generator, the servers, the workers and PostgreSQL share this machine's cores: on a
2-core machine the curve shows where the cores run out, not what separate machines would do.
The 1-minute load average is read at each cell's end (the machine may be shared).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no type information shipped
import httpx
import typer

from orderline.bench import catalog as bench_catalog
from orderline.bench import cpu as bench_cpu
from orderline.bench import http as bench_http
from orderline.bench.load import drive
from orderline.bench.orders import (
    BUYERS,
    BenchRefused,
    CpuMeter,
    LoadOptions,
    buyer,
    check_sizes,
    drive_metered,
    place_in_process,
    run_bench,
)
from orderline.bench.report import HTTP
from orderline.bench.scale_report import Cell, ScaleReport, as_json, render
from orderline.bench.workers import WorkerProcesses, running_workers
from orderline.core.config import Settings, driver_free_url
from orderline.core.runtime import Runtime
from orderline.schema.migrate import upgrade_to_head
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal
from orderline.wiring import build_runtime

__all__ = ["ScaleOptions", "run"]

DRAIN_TIMEOUT_SECONDS = 120.0
READY_TIMEOUT_SECONDS = 600.0  # 4 server processes starting on 2 cores other jobs share
MAX_COUNT = 16


@dataclass(frozen=True, slots=True)
class ScaleOptions(LoadOptions):
    orders: int = 1000
    warmup: int = 100
    server_counts: tuple[int, ...] = (1, 2, 4)
    worker_counts: tuple[int, ...] = (1, 2, 4)
    skus: int = 1000
    seed: int = 1

    @property
    def settings(self) -> dict[str, Any]:
        return {"orders": self.orders, "warmup_orders": self.warmup,
                "connections": self.connections, "servers": list(self.server_counts),
                "workers": list(self.worker_counts), "skus": self.skus, "buyers": BUYERS,
                "seed": self.seed, "max_seconds": self.max_seconds, "cpus": os.cpu_count()}

    def check(self) -> None:
        check_sizes((("--orders", self.orders, 1_000_000),
                     ("--connections", self.connections, 64),
                     ("--skus", self.skus, 100_000)), self.max_seconds)
        if not 0 <= self.warmup <= 100_000:
            raise BenchRefused(f"--warmup must be between 0 and 100000, not {self.warmup}.")
        for name, counts in (("--servers", self.server_counts),
                             ("--workers", self.worker_counts)):
            if not counts or not all(1 <= c <= MAX_COUNT for c in counts):
                raise BenchRefused(f"{name} takes counts between 1 and {MAX_COUNT} separated "
                                   "by commas, e.g. 1,2,4.")

    @property
    def cells(self) -> list[tuple[int, int]]:
        return [(s, w) for s in self.server_counts for w in self.worker_counts]


def run(options: ScaleOptions, say: Callable[[str], None] = typer.echo) -> ScaleReport:
    """Run the whole grid, print its tables, and drop its database whatever happens."""
    return run_bench(options, say, ScaleReport,
                     lambda url, report: _bench(options, url, report, say), render, as_json)


@dataclass(frozen=True, slots=True)
class Shop:
    """The business every cell orders from."""

    business_id: uuid.UUID
    api_key: str


async def _open_shop(runtime: Runtime, monitor: Any, options: ScaleOptions) -> Shop:
    """The business, its SKUs (each stocked for every order of the run) and its returning
    customers (one in-process order each)."""
    created = await tenancy.create_business(runtime, name="Scale bench shop", currency="USD")
    principal: Principal = await tenancy.authenticate(runtime, created.api_key.key)
    location_id = await monitor.fetchval(
        "SELECT id FROM locations WHERE business_id = $1 AND is_default", principal.business_id)
    skus = _skus(options.skus)
    await bench_catalog.stock_spread_skus(
        monitor, business_id=principal.business_id, location_id=location_id,
        currency=principal.currency, actor=principal.actor, skus=skus,
        units=len(options.cells) * (options.warmup + options.orders) + BUYERS)
    for i in range(BUYERS):
        await place_in_process(runtime, principal, i, skus[i % len(skus)])
    return Shop(business_id=principal.business_id, api_key=created.api_key.key)


def _skus(count: int) -> list[str]:
    return [f"SPREAD-{i:06d}" for i in range(count)]


def plan(options: ScaleOptions) -> list[list[bench_http.HttpOrder]]:
    """Each cell's orders (warm-up first): a seeded random SKU, the buyers in turn."""
    rng = random.Random(options.seed)
    skus = _skus(options.skus)
    per_cell = options.warmup + options.orders
    return [[bench_http.HttpOrder(skus[rng.randrange(len(skus))], *buyer(i))
             for i in range(per_cell)] for _ in options.cells]


async def _bench(options: ScaleOptions, url: str, report: ScaleReport,
                 say: Callable[[str], None]) -> None:
    runtime = build_runtime(Settings(database_url=url))
    monitor: Any = None
    try:
        await upgrade_to_head(runtime.db)
        monitor = await asyncpg.connect(driver_free_url(url))
        report.server_version = str(await monitor.fetchval("SHOW server_version"))
        started = time.perf_counter()
        shop = await _open_shop(runtime, monitor, options)
        say(f"setup: {options.skus} SKUs (bulk COPY), {BUYERS} customers "
            f"({time.perf_counter() - started:.1f}s); grid servers "
            f"{','.join(map(str, options.server_counts))} x workers "
            f"{','.join(map(str, options.worker_counts))}")
        planned = iter(plan(options))
        for servers in options.server_counts:
            server = bench_http.ApiServer(database_url=url, workers=servers)
            try:
                await server.wait_ready(READY_TIMEOUT_SECONDS)
                async with bench_http.api_client(server.base_url, shop.api_key,
                                                 connections=options.connections) as client:
                    for workers in options.worker_counts:
                        report.cells.append(await _cell(
                            options, url=url, database=report.database, monitor=monitor,
                            shop=shop, server=server, client=client, servers=servers,
                            workers=workers, planned=next(planned), say=say))
            finally:
                server.stop()
    finally:
        if monitor is not None:
            await monitor.close()
        await runtime.close()


async def _pending(monitor: Any) -> tuple[int, int]:
    """Pending and dead events of the whole database."""
    row = await monitor.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, "
        "count(*) FILTER (WHERE status = 'dead') AS dead FROM outbox_events")
    return int(row["pending"]), int(row["dead"])


async def _drain(monitor: Any, running: WorkerProcesses) -> float:
    """Wait until no event is pending (at most ``DRAIN_TIMEOUT_SECONDS``); the seconds it
    took."""
    started = time.perf_counter()
    while time.perf_counter() - started < DRAIN_TIMEOUT_SECONDS:
        running.check()
        pending, _dead = await _pending(monitor)
        if not pending:
            break
        await asyncio.sleep(0.02)
    return time.perf_counter() - started


async def _cell(options: ScaleOptions, *, url: str, database: str, monitor: Any, shop: Shop,
                server: bench_http.ApiServer, client: httpx.AsyncClient, servers: int,
                workers: int, planned: Sequence[bench_http.HttpOrder],
                say: Callable[[str], None]) -> Cell:
    label = f"{servers} server{'s' if servers > 1 else ''} x {workers} " \
            f"worker{'s' if workers > 1 else ''}"
    placer = AnsweredOrders(client)
    place = placer.place
    warming, measured = planned[:options.warmup], planned[options.warmup:]
    with running_workers(url, workers) as running:
        await _drain(monitor, running)
        await drive(warming, scenario=label, path=HTTP, concurrency=options.connections,
                    place=place)
        await _drain(monitor, running)
        first_event = int(await monitor.fetchval(
            "SELECT coalesce(max(id), 0) FROM outbox_events"))
        orders_before = await _orders(monitor, shop)
        say(f"{label}: warm-up {len(warming)} orders, then {len(measured)} orders with "
            f"{options.connections} in flight ...")
        workers_before = bench_cpu.cpu_by_pid(running.pids)
        placer.answered.clear()  # the warm-up's orders are not the cell's
        result = await drive_metered(
            measured, scenario=label, path=HTTP, concurrency=options.connections, place=place,
            meter=CpuMeter(monitor, database, server.process.pid),
            max_seconds=options.max_seconds, servers=True)
        drain_seconds = await _drain(monitor, running)
        workers_after = bench_cpu.cpu_by_pid(running.pids)
    # The events the measured orders wrote: their order.created (returning customers write no
    # other); the workers' own jobs (a payment-deadline sweep cancelling the unpaid orders of
    # earlier cells) write events too, which are not the cell's.
    events = await monitor.fetch(
        "SELECT aggregate_id, status, extract(epoch FROM relayed_at) AS relayed, "
        "extract(epoch FROM relayed_at - created_at) * 1000 AS write_lag_ms "
        "FROM outbox_events WHERE id > $1 AND business_id = $2 AND type = 'order.created'",
        first_event, shop.business_id)
    lag_ms = [(float(e["relayed"]) - placer.answered[str(e["aggregate_id"])]) * 1000
              for e in events if e["relayed"] is not None
              and str(e["aggregate_id"]) in placer.answered]
    cell = Cell(
        servers=servers, workers=workers, result=result,
        orders_created=await _orders(monitor, shop) - orders_before,
        events=len(events), events_relayed=sum(e["status"] == "done" for e in events),
        lag_ms=tuple(sorted(lag_ms)),
        write_lag_ms=tuple(sorted(float(e["write_lag_ms"]) for e in events
                                  if e["write_lag_ms"] is not None)),
        drain_seconds=drain_seconds,
        worker_cpu_seconds=bench_cpu.spent(workers_before, workers_after),
        load_average=os.getloadavg()[0])
    say(f"{label}: {result.completed} orders in {result.wall_seconds:.2f}s = "
        f"{result.orders_per_second:.0f} orders/s, {result.failed} failed; "
        f"{cell.events_relayed} of {cell.events} events relayed, "
        f"outbox emptied {drain_seconds:.2f}s after the load")
    if result.first_failure:
        say(f"{label}: first failure: {result.first_failure}")
    return cell


class AnsweredOrders:
    """Places orders like ``bench_http.HttpOrderPlacer`` and notes when each 201 was read
    (wall clock, as the workers stamp ``relayed_at``): the order had committed by then."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.answered: dict[str, float] = {}

    async def place(self, order: bench_http.HttpOrder) -> None:
        response = await self.client.post("/v1/orders", json=order.body())
        if response.status_code != 201:
            raise bench_http.OrderRefused(f"HTTP {response.status_code}: "
                                          f"{response.text[:200]}")
        self.answered[response.json()["id"]] = time.time()


async def _orders(monitor: Any, shop: Shop) -> int:
    return int(await monitor.fetchval("SELECT count(*) FROM orders WHERE business_id = $1",
                                      shop.business_id))

"""``orderline bench events``: how fast the outbox is relayed, and how far it lags under load.

On a throw-away PostgreSQL database (created and dropped like ``bench orders``):

1. Relay throughput, for each worker count (1 and 4 by default): ``events`` outbox events
   are written first by placing and paying orders through the services (two events per
   order) with no worker running; then ``orderline worker`` processes are started and the
   clock runs from the first event they finish to the last. Worker start-up is not counted.
   Every default handler runs on each event (customer totals, webhook fan-out, buyer
   notifications, ...); the business has no webhook endpoint, so no HTTP is sent.
2. Outbox lag under load: one worker runs while ``POST /v1/orders`` is driven through
   ``orderline serve`` for ``seconds``; the age of the oldest pending event is sampled every
   0.2 s and reported as p50 / p95 / max.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import typer

from orderline.bench import http as bench_http
from orderline.bench.load import drive, percentile
from orderline.bench.orders import BenchRefused, _admin, _database_url, server_url
from orderline.bench.workers import running_workers
from orderline.catalog import products as catalog
from orderline.checkout import direct_orders
from orderline.core.config import Settings
from orderline.core.runtime import Runtime
from orderline.orders import service as orders
from orderline.orders import status as order_status
from orderline.orders.rules import RequestedLine
from orderline.schema.migrate import upgrade_to_head
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal
from orderline.wiring import build_runtime
from orderline.worker import outbox_admin

SKU = "EVT-1"


@dataclass(frozen=True, slots=True)
class EventBenchOptions:
    database_url: str | None = None
    events: int = 4000
    worker_counts: tuple[int, ...] = (1, 4)
    load_seconds: float = 15.0
    connections: int = 16
    servers: int = 2

    def check(self) -> None:
        if not 100 <= self.events <= 1_000_000:
            raise BenchRefused("--events must be between 100 and 1000000.")
        if not self.worker_counts or not all(1 <= w <= 16 for w in self.worker_counts):
            raise BenchRefused("--workers takes counts between 1 and 16, e.g. 1,4.")
        if not 1 <= self.load_seconds <= 600:
            raise BenchRefused("--load-seconds must be between 1 and 600.")


@dataclass
class EventBenchReport:
    relay: dict[int, dict[str, float]] = field(default_factory=dict)
    lag: dict[str, float | None] = field(default_factory=dict)

    def render(self) -> str:
        lines = ["relay throughput (all default handlers, PostgreSQL):",
                 "  workers   events   seconds   events/s"]
        for workers, r in sorted(self.relay.items()):
            lines.append(f"  {workers:>7}   {int(r['events']):>6}   {r['seconds']:>7.2f}   "
                         f"{r['events_per_second']:>8.0f}")
        if self.lag:
            lines += ["", f"outbox lag while placing orders over HTTP "
                          f"({self.lag['orders_per_second']:.0f} orders/s, 1 worker):",
                      f"  p50 {_s(self.lag['p50'])}   p95 {_s(self.lag['p95'])}   "
                      f"max {_s(self.lag['max'])}   left after load {_s(self.lag['drain'])}"]
        return "\n".join(lines)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def run(options: EventBenchOptions, say: Callable[[str], None] = typer.echo) -> EventBenchReport:
    options.check()
    server = server_url(options.database_url)
    name = f"orderline_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    report = EventBenchReport()
    try:
        say(f"database {name} created")
        asyncio.run(_bench(options, _database_url(server, name), report, say))
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        say(f"database {name} dropped")
    say("")
    say(report.render())
    return report


async def _write_events(runtime: Runtime, principal: Principal, count: int) -> None:
    """``count`` events: each order makes two (created, paid); 16 writers at once."""
    queue = iter(range(count // 2))

    async def writer() -> None:
        for i in queue:
            order = await direct_orders.create_order(runtime, principal, direct_orders.NewOrder(
                customer=orders.Contact(name=f"Buyer {i % 200}", phone=f"+1 555 {i % 200:04d}"),
                channel="web", lines=[RequestedLine(SKU, 1)], payment_method="card"))
            await order_status.confirm_payment(runtime, principal, order["id"])

    await asyncio.gather(*(writer() for _ in range(16)))


async def _relay_phase(runtime: Runtime, url: str, workers: int,
                       total: int) -> dict[str, float]:
    started_at: float | None = None
    done_at_start = 0
    with running_workers(url, workers) as running:
        while True:
            running.check()
            pending = (await outbox_admin.backlog(runtime))["pending"]
            now = time.perf_counter()
            if started_at is None and pending < total:
                started_at, done_at_start = now, total - pending
            if pending == 0:
                break
            await asyncio.sleep(0.02)
    assert started_at is not None
    seconds = max(time.perf_counter() - started_at, 1e-6)
    relayed = total - done_at_start
    return {"events": relayed, "seconds": seconds, "events_per_second": relayed / seconds}


async def _bench(options: EventBenchOptions, url: str, report: EventBenchReport,
                 say: Callable[[str], None]) -> None:
    runtime = build_runtime(Settings(database_url=url))
    try:
        await upgrade_to_head(runtime.db)
        created = await tenancy.create_business(runtime, name="Event bench shop",
                                                currency="USD")
        principal = await tenancy.authenticate(runtime, created.api_key.key)
        await catalog.create_product(runtime, principal, name="Bench product", description="",
                                     variants=[catalog.NewVariant(
                                         sku=SKU, name="Bench variant", price=1000,
                                         initial_stock=10_000_000)])
        for workers in options.worker_counts:
            started = time.perf_counter()
            await _write_events(runtime, principal, options.events)
            total = (await outbox_admin.backlog(runtime))["pending"]
            say(f"{total} events written in {time.perf_counter() - started:.1f}s; relaying "
                f"with {workers} worker(s)")
            report.relay[workers] = await _relay_phase(runtime, url, workers, total)
            say(f"  {report.relay[workers]['events_per_second']:.0f} events/s")
        report.lag = await _lag_phase(options, runtime, url, created.api_key.key, say)
    finally:
        await runtime.close()


async def _lag_phase(options: EventBenchOptions, runtime: Runtime, url: str, key: str,
                     say: Callable[[str], None]) -> dict[str, float | None]:
    server = bench_http.ApiServer(database_url=url, workers=options.servers)
    samples: list[float] = []
    try:
        await server.wait_ready()
        with running_workers(url, 1) as running:
            planned = [bench_http.HttpOrder(SKU, f"Buyer {i % 200}", f"+1 555 {i % 200:04d}")
                       for i in range(1_000_000)]
            sampling = True

            async def sample() -> None:
                while sampling:
                    samples.append((await outbox_admin.backlog(runtime))["lag_seconds"])
                    await asyncio.sleep(0.2)

            sampler = asyncio.create_task(sample())
            say(f"placing orders over HTTP for {options.load_seconds:.0f}s with 1 worker")
            async with bench_http.api_client(server.base_url, key,
                                             connections=options.connections) as client:
                result = await drive(planned, scenario="lag", path="http",
                                     concurrency=options.connections,
                                     place=bench_http.HttpOrderPlacer(client).place,
                                     max_seconds=options.load_seconds)
            sampling = False
            await sampler
            drain_started = time.perf_counter()
            while (await outbox_admin.backlog(runtime))["pending"]:
                running.check()
                await asyncio.sleep(0.05)
            drain = time.perf_counter() - drain_started
    finally:
        server.stop()
    ordered = sorted(samples)
    return {"orders_per_second": result.orders_per_second, "p50": percentile(ordered, 50),
            "p95": percentile(ordered, 95), "max": ordered[-1] if ordered else None,
            "drain": drain}

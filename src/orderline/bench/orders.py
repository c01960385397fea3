"""``orderline bench orders``: how fast orders are placed on PostgreSQL, against the ceiling.

One run creates a throw-away database on the given server, migrates it, stocks one hot SKU
(through the catalog service) and ``skus`` spread SKUs (in bulk, see ``bench_catalog``), and
then, for each scenario (every order takes the hot SKU; each order takes a random spread SKU,
seeded), places the same orders twice:

- raw SQL: the order transaction's writes through asyncpg with a pool of ``connections``
  (``bench_raw``, "asyncpg replay" in the report);
- HTTP: ``POST /v1/orders`` to ``orderline serve --workers W`` with ``connections`` requests in
  flight (``bench_http``);

and then measures the database ceiling of the scenario: ``pgbench`` with ``connections``
clients running the minimal order transaction for ``ceiling_seconds`` (``bench_ceiling``), on
SKUs of a business of its own. HTTP throughput is reported as a share of that ceiling first,
and of the asyncpg replay second.

Each order is one line of one unit for one of ``BUYERS`` returning customers (a new customer
costs two statements more, and one shared customer row would be a contention no shop has).
A warm-up of ``WARMUP_ORDERS`` per phase is not measured, and a measured phase stops taking new
orders after ``max_seconds`` so that the run ends in a couple of minutes on a small machine. The
run also counts the SQL statements one ``create_order`` sends (``bench_statements``), checks
that the stock books still balance, and drops the database at the end, also after a failure or
Ctrl-C.

The load generator runs in this process, on the same machine as the servers and PostgreSQL: its
CPU share is printed beside each figure, because on a small machine it competes with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]  # no type information shipped
import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from orderline.bench import catalog as bench_catalog
from orderline.bench import ceiling as bench_ceiling
from orderline.bench import cpu as bench_cpu
from orderline.bench import http as bench_http
from orderline.bench import profile as bench_profile
from orderline.bench import raw as bench_raw
from orderline.bench.http import ServerFailed
from orderline.bench.load import PhaseResult, drive, drive_paced
from orderline.bench.report import HTTP, PACED, RAW, Report, as_json, render
from orderline.bench.statements import counting
from orderline.catalog import inventory
from orderline.catalog import products as catalog
from orderline.checkout import direct_orders
from orderline.core.config import Settings, driver_free_url
from orderline.core.runtime import Runtime
from orderline.orders import service as orders
from orderline.orders.rules import RequestedLine
from orderline.schema.migrate import upgrade_to_head
from orderline.tenancy import service as tenancy
from orderline.tenancy.key_cache import KEY_CACHE, KeyCache
from orderline.tenancy.rules import Principal
from orderline.wiring import build_runtime

__all__ = ["BenchOptions", "BenchRefused", "ServerFailed", "run"]

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
WARMUP_ORDERS = 100
DEFAULT_MAX_SECONDS = 20.0
DEFAULT_PACED_SECONDS = 10.0
BUYERS = 100
HOT_SKU = "HOT-1"
SCENARIOS = ("hot-sku", "spread")
T = TypeVar("T")
R = TypeVar("R")


class BenchRefused(Exception):
    """The bench cannot run with these options or this server; the message says why."""


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What every bench with HTTP phases takes: the server, the load, where figures go."""

    database_url: str | None = None
    connections: int = 16
    workers: int = 4
    max_seconds: float | None = DEFAULT_MAX_SECONDS
    json_path: Path | None = None
    verbose: bool = False
    profile_dir: Path | None = None  # --profile: py-spy records one HTTP phase (bench.profile)

    def check(self) -> None:
        """Refuse sizes out of range, with ``BenchRefused``."""
        raise NotImplementedError

    @property
    def settings(self) -> dict[str, Any]:
        """The options as the report shows them."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class BenchOptions(LoadOptions):
    orders: int = 2000
    skus: int = 10_000
    seed: int = 1
    ceiling_seconds: float = bench_ceiling.DEFAULT_SECONDS
    # After the closed-loop phases: spread orders arriving at half of the HTTP spread phase's
    # rate for this long (an open loop, ``load.drive_paced``); 0 leaves the phase out.
    paced_seconds: float = DEFAULT_PACED_SECONDS

    @property
    def settings(self) -> dict[str, Any]:
        return {"orders": self.orders, "warmup_orders": WARMUP_ORDERS,
                "connections": self.connections, "workers": self.workers,
                "skus": self.skus, "buyers": BUYERS, "seed": self.seed,
                "max_seconds": self.max_seconds, "ceiling_seconds": self.ceiling_seconds,
                "paced_seconds": self.paced_seconds}

    def check(self) -> None:
        check_sizes((("--orders", self.orders, 1_000_000),
                     ("--connections", self.connections, 64),
                     ("--workers", self.workers, 16),
                     ("--skus", self.skus, 100_000)), self.max_seconds)
        check_ceiling_seconds(self.ceiling_seconds)
        if not 0 <= self.paced_seconds <= 600:
            raise BenchRefused("--paced-seconds is how long orders arrive at half of the peak "
                               "rate: give 0 (no such phase) to 600 seconds.")


def check_ceiling_seconds(seconds: float) -> None:
    if not 1 <= seconds <= 600:
        raise BenchRefused(f"--ceiling-seconds must be between 1 and 600, not {seconds:g}.")


def check_sizes(sizes: Sequence[tuple[str, int, int]], max_seconds: float | None) -> None:
    """Each (option, value, highest) within 1..highest, and a positive time limit if any."""
    for name, value, high in sizes:
        if not 1 <= value <= high:
            raise BenchRefused(f"{name} must be between 1 and {high}, not {value}.")
    if max_seconds is not None and max_seconds <= 0:
        raise BenchRefused("--duration must be a positive number of seconds (or 0 in the "
                           "command for no limit).")


def server_url(given: str | None) -> str:
    """The PostgreSQL server to bench on; SQLite and other databases are refused."""
    url = given or os.environ.get("ORDERLINE_DATABASE_URL") or DEFAULT_SERVER_URL
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise BenchRefused(f"Not a database URL: {url!r}.") from None
    if backend == "sqlite":
        raise BenchRefused("orderline bench measures PostgreSQL: SQLite is the single-process "
                           "embedded database. Pass --database-url postgresql://user@host/db "
                           "(the bench creates and drops its own database on that server).")
    if backend != "postgresql":
        raise BenchRefused(f"orderline bench needs a postgresql:// URL, not {backend!r}.")
    return url


def _database_url(server: str, name: str) -> str:
    url = make_url(driver_free_url(server)).set(database=name)
    return url.render_as_string(hide_password=False)


async def _admin(server: str, sql: str) -> None:
    """Run one statement on the server's maintenance connection (CREATE/DROP DATABASE)."""
    try:
        conn = await asyncpg.connect(driver_free_url(server), timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        where = make_url(server).render_as_string(hide_password=True)
        raise BenchRefused(f"Cannot reach PostgreSQL at {where}: {error}") from None
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def throwaway_database(server: str, say: Callable[[str], None]) -> Iterator[tuple[str, str]]:
    """Create a database of its own on ``server``; yields its URL and name, and drops it on
    the way out whatever happens (a failure, Ctrl-C)."""
    name = f"orderline_bench_{uuid.uuid4().hex[:12]}"
    parsed = make_url(server)
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        say(f"database {name} created on the PostgreSQL server at {where}")
        yield _database_url(server, name), name
    finally:
        try:
            asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except BenchRefused as error:
            raise BenchRefused(f"{error}\nThe database {name} is left on that server; drop "
                               "it when the server answers again.") from None
        say(f"database {name} dropped")


def write_json(path: Path | None, figures: dict[str, Any], say: Callable[[str], None]) -> None:
    if path is not None:
        path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        say(f"figures written to {path}")


def run_bench(options: LoadOptions, say: Callable[[str], None], new_report: Callable[..., R],
              bench: Callable[[str, R], Coroutine[Any, Any, None]], text: Callable[..., str],
              figures: Callable[[R], dict[str, Any]]) -> R:
    """A bench from start to end: check ``options``; make ``new_report(database=...,
    settings=...)`` for a database of its own on the server and fill it in with ``bench(url,
    report)``, dropping the database afterwards whatever happens; print ``text(report,
    verbose=...)``, and write ``figures(report)`` as JSON when asked."""
    options.check()
    with throwaway_database(server_url(options.database_url), say) as (url, name):
        report = new_report(database=name, settings=options.settings)
        asyncio.run(bench(url, report))
    say("")
    say(text(report, verbose=options.verbose))
    write_json(options.json_path, figures(report), say)
    return report


def run(options: BenchOptions, say: Callable[[str], None] = typer.echo) -> Report:
    """Run the whole bench, print its table, and drop its database whatever happens."""
    return run_bench(options, say, Report, lambda url, report: _bench(options, url, report, say),
                     render, as_json)


@dataclass(frozen=True, slots=True)
class Plan:
    """The SKU of every order of each scenario (warm-up first), the same for both paths."""

    skus: dict[str, list[str]]
    spread_skus: list[str]
    hot_units: int
    spread_units: int


def plan(options: BenchOptions) -> Plan:
    per_path = WARMUP_ORDERS + options.orders
    rng = random.Random(options.seed)
    spread_skus = [f"SPREAD-{i:06d}" for i in range(options.skus)]
    spread = [spread_skus[rng.randrange(options.skus)] for _ in range(per_path)]
    # The paced phase arrives at half the spread rate, so it never needs more orders than
    # the spread phase measured.
    paced = ([spread_skus[rng.randrange(options.skus)] for _ in range(options.orders)]
             if options.paced_seconds else [])
    # Both paths place the same orders; the hot SKU also serves the customer-making orders.
    return Plan(skus={"hot-sku": [HOT_SKU] * per_path, "spread": spread, PACED: paced},
                spread_skus=spread_skus, hot_units=2 * per_path + 2 * BUYERS,
                spread_units=2 * max(Counter(spread).values()) + max(
                    Counter(paced).values(), default=0))


def buyer(i: int) -> tuple[str, str]:
    """The name and phone of the ``i``-th order's buyer, one of ``BUYERS``."""
    n = i % BUYERS
    return f"Bench buyer {n}", f"+1 555 {n:04d}"


async def place_in_process(runtime: Runtime, principal: Principal, i: int,
                           sku: str = HOT_SKU) -> dict[str, Any]:
    """The ``i``-th order (one unit of ``sku`` for ``buyer(i)``), through the service."""
    name, phone = buyer(i)
    return await direct_orders.create_order(runtime, principal, direct_orders.NewOrder(
        customer=orders.Contact(name=name, phone=phone), channel="web",
        lines=[RequestedLine(sku, 1)], payment_method="card"))


async def _count_statements(runtime: Runtime, key: str, principal: Principal,
                            report: Report) -> None:
    """Buyer 0's first order (a new customer), then the other buyers' first orders (not
    counted), then buyer 0's second order: the steady state the load phases run in."""
    with counting(runtime.db.engine) as report.new_customer:
        await place_in_process(runtime, principal, 0)
    for i in range(1, BUYERS):
        await place_in_process(runtime, principal, i)
    with counting(runtime.db.engine) as report.returning:
        await place_in_process(runtime, principal, 0)
    # A server process keeps the keys it looked up (trusted while it listens for their
    # revocation): its first request with the key costs the lookup, the rest nothing.
    mine = runtime.get(KEY_CACHE)
    runtime.put(KEY_CACHE, KeyCache(ttl=60, always_trusted=True))
    with counting(runtime.db.engine) as report.first_authenticate:
        await tenancy.authenticate(runtime, key)
    with counting(runtime.db.engine) as report.authenticate:
        await tenancy.authenticate(runtime, key)
    runtime.put(KEY_CACHE, mine)


class CpuMeter:
    """Reads the CPU time of the server processes and of this database's PostgreSQL backends."""

    def __init__(self, conn: Any, database: str, server_pid: int) -> None:
        self.conn = conn  # a connection of its own, left out of the backends it reads
        self.database = database
        self.server_pid = server_pid

    async def read(self) -> tuple[dict[int, float], dict[int, float]]:
        rows = await self.conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1 "
                                     "AND pid <> pg_backend_pid()", self.database)
        backends = [r["pid"] for r in rows if bench_cpu.is_postgres(r["pid"])]
        return (bench_cpu.cpu_by_pid(bench_cpu.process_tree(self.server_pid)),
                bench_cpu.cpu_by_pid(backends))


@dataclass(frozen=True, slots=True)
class Stage:
    """What a bench's phases run on (see ``staged``)."""

    runtime: Runtime
    server: bench_http.ApiServer
    monitor: Any  # an asyncpg connection to the bench's database, for the bench's own reads
    meter: CpuMeter
    server_version: str


@contextlib.asynccontextmanager
async def staged(url: str, database: str, *, workers: int) -> AsyncIterator[Stage]:
    """A runtime on the migrated database, ``orderline serve --workers`` starting up (ready
    after ``server.wait_ready()``: the caller sets up meanwhile), and a monitor connection
    with its CPU meter; all stopped and closed on the way out, whatever happens."""
    runtime = build_runtime(Settings(database_url=url))
    server: bench_http.ApiServer | None = None
    monitor: Any = None
    try:
        await upgrade_to_head(runtime.db)
        server = bench_http.ApiServer(database_url=url, workers=workers)
        monitor = await asyncpg.connect(driver_free_url(url))
        yield Stage(runtime=runtime, server=server, monitor=monitor,
                    meter=CpuMeter(monitor, database, server.process.pid),
                    server_version=str(await monitor.fetchval("SHOW server_version")))
    finally:
        if server is not None:
            server.stop()
        if monitor is not None:
            await monitor.close()
        await runtime.close()


async def drive_metered(planned: Sequence[T], *, scenario: str, path: str, concurrency: int,
                        place: Callable[[T], Awaitable[None]], meter: CpuMeter,
                        max_seconds: float | None, servers: bool) -> PhaseResult:
    """``drive``, with the CPU this database's backends spent meanwhile, and the server
    processes' when ``servers`` (the phase went through them)."""
    server_before, db_before = await meter.read()
    result = await drive(planned, scenario=scenario, path=path, concurrency=concurrency,
                         place=place, max_seconds=max_seconds)
    server_after, db_after = await meter.read()
    return replace(result, db_cpu_seconds=bench_cpu.spent(db_before, db_after),
                   server_cpu_seconds=(bench_cpu.spent(server_before, server_after)
                                       if servers else None))


async def _bench(options: BenchOptions, url: str, report: Report,
                 say: Callable[[str], None]) -> None:
    p = plan(options)
    started = time.perf_counter()
    # The servers start up while the catalog is stocked, and are ready before any phase.
    async with staged(url, report.database, workers=options.workers) as stage:
        runtime, server, monitor, meter = stage.runtime, stage.server, stage.monitor, stage.meter
        report.server_version = stage.server_version
        created = await tenancy.create_business(runtime, name="Bench shop", currency="USD")
        principal = await tenancy.authenticate(runtime, created.api_key.key)
        await catalog.create_product(runtime, principal, name="Hot product", description="",
                                     variants=[catalog.NewVariant(
                                         sku=HOT_SKU, name="Hot variant", price=1000,
                                         initial_stock=p.hot_units)])
        seller = bench_raw.Seller(
            business_id=principal.business_id, location_id=await monitor.fetchval(
                "SELECT id FROM locations WHERE business_id = $1 AND is_default",
                principal.business_id),
            currency=principal.currency, actor=principal.actor,
            reservation_ttl_seconds=principal.reservation_ttl_seconds)
        await bench_catalog.stock_spread_skus(
            monitor, business_id=seller.business_id, location_id=seller.location_id,
            currency=seller.currency, actor=seller.actor, skus=p.spread_skus,
            units=p.spread_units)
        await _count_statements(runtime, created.api_key.key, principal, report)
        ceiling_shop = await open_ceiling_shop(runtime, monitor, skus=options.skus,
                                               clients=options.connections)
        await server.wait_ready()
        say(f"setup: 1 hot SKU ({p.hot_units} units, catalog service), {options.skus} spread "
            f"SKUs ({p.spread_units} units each, bulk COPY), {BUYERS} customers; "
            f"{options.skus} SKUs of another business for the database ceiling; "
            f"{options.workers} server processes ready ({time.perf_counter() - started:.1f}s)")
        say(f"statements: create_order sends {len(report.returning.statements)} SQL "
            "statements for a returning customer")
        await _raw_phases(options, url, seller, p, report, meter, say)
        await _http_phases(options, server.base_url, created.api_key.key, p, report, meter,
                           say)
        for scenario in SCENARIOS:
            # The hot SKU is DB-1; the spread scenario picks among all of them.
            report.results.append(await ceiling_phase(
                url=url, database=report.database, monitor=monitor, shop=ceiling_shop,
                scenario=scenario, clients=options.connections,
                seconds=options.ceiling_seconds,
                last=1 if scenario == "hot-sku" else options.skus, say=say))
        report.drifting_levels = len(await inventory.reconcile(runtime, principal.business_id))


@dataclass(frozen=True, slots=True)
class CeilingShop:
    """The business whose SKUs the database-ceiling phases take (``bench_ceiling``)."""

    business_id: uuid.UUID
    location_id: uuid.UUID


async def open_ceiling_shop(runtime: Runtime, monitor: Any, *, skus: int,
                            clients: int) -> CeilingShop:
    """A business of its own with ``skus`` SKUs stocked for ``bench_ceiling``, so that the
    ceiling's holds leave the measured business's stock books alone."""
    created = await tenancy.create_business(runtime, name="Database ceiling", currency="USD")
    principal = await tenancy.authenticate(runtime, created.api_key.key)
    location_id = await monitor.fetchval(
        "SELECT id FROM locations WHERE business_id = $1 AND is_default",
        principal.business_id)
    await bench_ceiling.stock_ceiling_skus(monitor, business_id=principal.business_id,
                                           location_id=location_id, actor=principal.actor,
                                           count=skus, clients=clients)
    return CeilingShop(business_id=principal.business_id, location_id=location_id)


async def ceiling_phase(*, url: str, database: str, monitor: Any, shop: CeilingShop,
                        scenario: str, clients: int, seconds: float, last: int,
                        say: Callable[[str], None]) -> PhaseResult:
    """The minimal order transaction run by pgbench on SKUs DB-1 .. DB-``last``."""
    say(f"database alone {scenario}: pgbench -M prepared, {clients} clients, {seconds:g}s, "
        f"{'1 SKU' if last == 1 else f'{last} SKUs'} ...")
    try:
        result = await bench_ceiling.run_ceiling(
            url=url, database=database, monitor=monitor, scenario=scenario, clients=clients,
            seconds=seconds, business_id=shop.business_id, location_id=shop.location_id,
            first=1, last=last)
    except (FileNotFoundError, RuntimeError) as error:
        raise BenchRefused(f"The database ceiling could not be measured: {error}") from None
    say(f"database alone {scenario}: {result.completed} transactions = "
        f"{result.orders_per_second:.0f} tx/s, {result.failed} failed")
    if result.first_failure:
        say(f"database alone {scenario}: first failure: {result.first_failure}")
    return result


async def _raw_phases(options: BenchOptions, url: str, seller: bench_raw.Seller, p: Plan,
                      report: Report, meter: CpuMeter, say: Callable[[str], None]) -> None:
    pool = await bench_raw.open_pool(url, connections=options.connections)
    try:
        targets = await bench_raw.load_targets(pool, seller.business_id)
        buyers = await bench_raw.load_buyers(pool, seller.business_id)
        writer = bench_raw.RawOrderWriter(pool, seller)
        for scenario in SCENARIOS:
            planned = [bench_raw.RawOrder(target=targets[sku], buyer=buyers[buyer(i)[1]])
                       for i, sku in enumerate(p.skus[scenario])]
            await _phase(options, scenario, RAW, planned, writer.place, report, meter, say)
    finally:
        await pool.close()


async def _http_phases(options: BenchOptions, base_url: str, key: str, p: Plan,
                       report: Report, meter: CpuMeter, say: Callable[[str], None]) -> None:
    async with bench_http.light_api_client(base_url, key,
                                           connections=options.connections) as client:
        placer = bench_http.LightOrderPlacer(client)
        for scenario in SCENARIOS:
            planned = [bench_http.HttpOrder(sku, *buyer(i))
                       for i, sku in enumerate(p.skus[scenario])]
            await _phase(options, scenario, HTTP, planned, placer.place, report, meter, say,
                         profiled=scenario == "spread")
        peak = report.result("spread", HTTP)
        if options.paced_seconds and peak is not None and peak.orders_per_second > 0:
            rate = peak.orders_per_second / 2
            planned = [bench_http.HttpOrder(sku, *buyer(i)) for i, sku in enumerate(
                p.skus[PACED][:max(1, round(rate * options.paced_seconds))])]
            say(f"http {PACED}: {len(planned)} orders arriving at {rate:.1f}/s (half of the "
                "spread phase's rate), each timed from its arrival ...")
            server_before, db_before = await meter.read()
            result = await drive_paced(planned, scenario=PACED, path=HTTP, rate=rate,
                                       place=placer.place)
            server_after, db_after = await meter.read()
            report.results.append(replace(
                result, db_cpu_seconds=bench_cpu.spent(db_before, db_after),
                server_cpu_seconds=bench_cpu.spent(server_before, server_after)))
            say(f"http {PACED}: {result.completed} orders, {result.failed} failed; p99 "
                f"{result.latency_ms(99) or 0:.0f} ms")


async def _phase(options: BenchOptions, scenario: str, path: str, planned: Sequence[T],
                 place: Callable[[T], Awaitable[None]], report: Report, meter: CpuMeter,
                 say: Callable[[str], None], *, profiled: bool = False) -> None:
    label = f"{'raw' if path == RAW else 'http'} {scenario}"
    report.results.append(await measured_phase(
        label=label, noun="orders", scenario=scenario, path=path, planned=planned,
        warmup=WARMUP_ORDERS, warm=place, place=place, connections=options.connections,
        max_seconds=options.max_seconds, meter=meter, say=say,
        during=profiling(options, meter, f"the {label} phase", report, say) if profiled
        else None))


def profiling(options: LoadOptions, meter: CpuMeter, phase: str, report: bench_profile.Profiled,
              say: Callable[[str], None]) -> Callable[[], AbstractAsyncContextManager[None]] | None:
    """With ``--profile``, what records ``phase`` with py-spy into ``report.profile``."""
    return bench_profile.profiler(options.profile_dir, meter.server_pid, phase=phase,
                                  max_seconds=options.max_seconds, report=report, say=say)


async def measured_phase(*, label: str, noun: str, scenario: str, path: str,
                         planned: Sequence[T], warmup: int, warm: Callable[[T], Awaitable[None]],
                         place: Callable[[T], Awaitable[None]], connections: int,
                         max_seconds: float | None, meter: CpuMeter,
                         say: Callable[[str], None], servers: bool | None = None,
                         during: Callable[[], AbstractAsyncContextManager[None]] | None = None,
                         ) -> PhaseResult:
    """A warm-up of ``warmup`` items (not measured), then the rest measured, with progress.
    The server processes' CPU is read when ``servers`` (by default: on the HTTP path).
    ``during`` (a profiler, see ``profiling``) is entered after the warm-up and left when the
    measured items are done."""
    warming, measured = planned[:warmup], planned[warmup:]
    say(f"{label}: warm-up {len(warming)} {noun}, then {len(measured)} {noun} with "
        f"{connections} in flight ...")
    await drive(warming, scenario=scenario, path=path, concurrency=connections, place=warm)
    async with (during or contextlib.nullcontext)():
        result = await drive_metered(measured, scenario=scenario, path=path,
                                     concurrency=connections, place=place, meter=meter,
                                     max_seconds=max_seconds,
                                     servers=path == HTTP if servers is None else servers)
    cut = (f", stopped by --duration {max_seconds:g}s"
           if result.completed + result.failed < len(measured) else "")
    say(f"{label}: {result.completed} {noun} in {result.wall_seconds:.2f}s = "
        f"{result.orders_per_second:.0f} {noun}/s, {result.failed} failed{cut}")
    if result.first_failure:
        say(f"{label}: first failure: {result.first_failure}")
    return result

"""``orderline bench checkout``: how fast buyers check out on PostgreSQL, against the ceiling.

One run creates a throw-away database on the given server (``bench.throwaway_database``),
migrates it and opens a shop through the services: ``skus`` SKUs of one product (catalog
service), a US shipping zone with a flat method and a 10% tax rate (shipping service), and
``confirms_per_minute`` at its maximum, since the bench confirms far more often per buyer than
a person does. It then places the same buyer paths twice (cart, line, checkout, confirm; see
``bench_checkout_paths``), each taking one unit of a SKU picked at random (seeded):

- raw SQL: the path's writes through asyncpg with a pool of ``connections``, the ceiling;
- HTTP: the path's four requests to ``orderline serve --workers W``, ``connections`` paths in
  flight;

then the database ceiling: ``pgbench`` with ``connections`` clients running the minimal order
transaction (``bench_ceiling``: stock hold, order, line, outbox event) over ``skus`` SKUs of a
business of its own, for ``ceiling_seconds``. A path writes more than that (its cart, line,
checkout, reservation, key), so it is a floor no path reaches, against which the HTTP path's
share says how far the whole buyer path is from what the database does alone.

Every path runs as one of ``CUSTOMERS_PER_CONNECTION * connections`` known customers (carts
created with ``customer_id``), lent to one path at a time: a guest is keyed by IP, and the load
generator is one IP, so guests would be refused with ``confirm_in_flight`` as soon as two paths
overlap. The customers are made up front by one guest path each, run in-process through the
services (a guest's checkout makes her a customer). A warm-up of ``WARMUP_PATHS`` per phase
(fewer if fewer paths are measured) is not measured; a measured phase stops taking new paths
after ``max_seconds``.

It also counts the SQL statements of each step (``bench_statements``) by running one path
in-process: as a guest (the first path of customer 0, which creates her) and as a known
customer (her next path, the one the phases run). The confirm's count covers both of its
transactions: the idempotency-key claim and the conversion. At the end it checks that the
stock books still balance, and drops the database, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import typer
from pydantic_core import to_jsonable_python

from orderline.bench import ceiling as bench_ceiling
from orderline.bench import http as bench_http
from orderline.bench import raw as bench_raw
from orderline.bench.checkout_paths import (
    ADDRESS,
    CustomerPool,
    HttpBuyer,
    RawBuyer,
    RawShop,
    Sample,
    StepTimes,
    aiohttp_sender,
)
from orderline.bench.checkout_report import HTTP, CheckoutReport, as_json, render
from orderline.bench.load import drive
from orderline.bench.orders import (
    BenchRefused,
    CpuMeter,
    LoadOptions,
    ceiling_phase,
    check_ceiling_seconds,
    check_sizes,
    measured_phase,
    open_ceiling_shop,
    profiling,
    run_bench,
    staged,
)
from orderline.bench.report import RAW
from orderline.bench.statements import StatementCount, counting
from orderline.catalog import inventory
from orderline.catalog import products as catalog
from orderline.checkout import carts, checkouts, confirm
from orderline.core.runtime import Runtime
from orderline.orders import customers
from orderline.orders.service import Contact
from orderline.shipping import service as shipping
from orderline.shipping.rules import Address
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal

__all__ = ["CheckoutBenchOptions", "CheckoutReport", "run"]

SCENARIO = "checkout"
WARMUP_PATHS = 50
CUSTOMERS_PER_CONNECTION = 4
SETUP_CONCURRENCY = 8
CONFIRMS_PER_MINUTE = 1000  # the highest the business settings allow
PRICE = 1000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CheckoutBenchOptions(LoadOptions):
    paths: int = 1000
    skus: int = 100
    seed: int = 1
    ceiling_seconds: float = bench_ceiling.DEFAULT_SECONDS

    def check(self) -> None:
        check_sizes((("--paths", self.paths, 1_000_000),
                     ("--connections", self.connections, 64),
                     ("--workers", self.workers, 16),
                     ("--skus", self.skus, 1000)), self.max_seconds)
        check_ceiling_seconds(self.ceiling_seconds)

    @property
    def customers(self) -> int:
        return self.connections * CUSTOMERS_PER_CONNECTION

    @property
    def warmup_paths(self) -> int:
        return min(WARMUP_PATHS, self.paths)

    @property
    def settings(self) -> dict[str, Any]:
        return {"paths": self.paths, "warmup_paths": self.warmup_paths,
                "connections": self.connections, "workers": self.workers, "skus": self.skus,
                "customers": self.customers, "seed": self.seed,
                "max_seconds": self.max_seconds, "ceiling_seconds": self.ceiling_seconds}


def run(options: CheckoutBenchOptions,
        say: Callable[[str], None] = typer.echo) -> CheckoutReport:
    """Run the whole bench, print its report, and drop its database whatever happens."""
    return run_bench(options, say, CheckoutReport,
                     lambda url, report: _bench(options, url, report, say), render, as_json)


# --- the shop, its customers, and the statement counts ----------------------------------------

def _customer(n: int) -> Contact:
    return Contact(name=f"Checkout buyer {n}", phone=f"+1 555 {n:04d}")


@contextlib.contextmanager
def _counted(runtime: Runtime, counts: dict[str, StatementCount] | None,
             step: str) -> Iterator[None]:
    if counts is None:
        yield
        return
    with counting(runtime.db.engine) as counts[step]:
        yield


async def buy_in_process(runtime: Runtime, principal: Principal, key: str, sku: str, *,
                          buyer: Contact, customer_id: uuid.UUID | None = None,
                          client_ip: str = "127.0.0.1",
                          counts: dict[str, StatementCount] | None = None) -> dict[str, Any]:
    """One buyer path through the services, as the four requests run them; returns the
    confirm's answer. ``counts`` receives the statements of each step and of each way in."""
    with _counted(runtime, counts, "authenticate"):
        await tenancy.authenticate(runtime, key)
    with _counted(runtime, counts, "cart"):
        cart = await carts.create_cart(runtime, principal, channel="web",
                                       customer_id=customer_id)
    with _counted(runtime, counts, "cart_token"):
        caller = await carts.caller_for_token(runtime, cart["token"])
    with _counted(runtime, counts, "line"):
        await carts.add_line(runtime, caller, cart["id"], sku=sku, quantity=1)
    with _counted(runtime, counts, "checkout"):
        checkout = await checkouts.start_checkout(runtime, caller, checkouts.NewCheckout(
            cart_id=cart["id"], address=Address(**ADDRESS), shipping_method_id=None,
            payment_method="card", coupon_codes=[], customer=buyer))
    with _counted(runtime, counts, "confirm"):
        done = await confirm.confirm_checkout(runtime, caller, confirm.ConfirmRequest(
            checkout_id=checkout["id"], idempotency_key=str(uuid.uuid4()),
            totals=checkout["totals"], client_ip=client_ip))
    answer: dict[str, Any] = to_jsonable_python(done.body)
    return answer


async def _open_shop(runtime: Runtime, principal: Principal, skus: list[str],
                     units: int) -> tuple[uuid.UUID, uuid.UUID]:
    """The catalog, shipping and tax of the shop; returns its zone and method ids."""
    await tenancy.update_settings(runtime, principal, confirms_per_minute=CONFIRMS_PER_MINUTE)
    await catalog.create_product(runtime, principal, name="Checkout bench product",
                                 description="", variants=[
                                     catalog.NewVariant(sku=sku, name=f"Variant {sku}",
                                                        price=PRICE, initial_stock=units)
                                     for sku in skus])
    zone = await shipping.create_zone(runtime, principal, name="United States",
                                      countries=["US"])
    method = await shipping.add_method(runtime, principal, zone["id"], name="Standard",
                                       kind="flat", price=500)
    await shipping.add_tax_rate(runtime, principal, zone["id"], name="Sales tax", rate="10")
    return zone["id"], method["id"]


async def _make_customers(options: CheckoutBenchOptions, runtime: Runtime,
                          principal: Principal, key: str, sku: str,
                          report: CheckoutReport) -> Sample:
    """Customer 0's guest path (counted), every other customer's guest path, then customer
    0's path as a known customer (counted): its answer is the raw path's template."""
    await buy_in_process(runtime, principal, key, sku, buyer=_customer(0),
                          counts=report.guest)

    async def first_path(n: int) -> None:
        # Guests are guarded per IP: each setup buyer comes from an address of her own.
        await buy_in_process(runtime, principal, key, sku, buyer=_customer(n),
                              client_ip=f"10.0.{n // 256}.{n % 256}")

    made = await drive(range(1, options.customers), scenario="setup", path="in-process",
                       concurrency=SETUP_CONCURRENCY, place=first_path)
    if made.failed:
        raise BenchRefused(f"Could not make the bench's customers: {made.first_failure}")
    found = await customers.find_customers(runtime, principal, phone=_customer(0).phone,
                                           email=None, limit=1)
    if not found:
        raise BenchRefused("The bench's first customer was not created.")
    answer = await buy_in_process(runtime, principal, key, sku, buyer=_customer(0),
                                   customer_id=found[0]["id"], counts=report.known)
    return Sample(answer)


# --- the run ---------------------------------------------------------------------------------

def _plan(options: CheckoutBenchOptions, skus: list[str]) -> list[str]:
    """The SKU of every path (warm-up first); both phases take the same."""
    rng = random.Random(options.seed)
    return [skus[rng.randrange(len(skus))]
            for _ in range(options.warmup_paths + options.paths)]


async def _bench(options: CheckoutBenchOptions, url: str, report: CheckoutReport,
                 say: Callable[[str], None]) -> None:
    started = time.perf_counter()
    skus = [f"CHK-{i:04d}" for i in range(options.skus)]
    planned = _plan(options, skus)
    # Two phases take the plan; the setup paths and the counted ones take skus[0].
    units = 2 * max(Counter(planned).values()) + options.customers + 2
    # The servers start up while the shop is set up, and are ready before any phase.
    async with staged(url, report.database, workers=options.workers) as stage:
        runtime, server, monitor, meter = stage.runtime, stage.server, stage.monitor, stage.meter
        report.server_version = stage.server_version
        created = await tenancy.create_business(runtime, name="Checkout bench shop",
                                                currency="USD")
        key = created.api_key.key
        principal = await tenancy.authenticate(runtime, key)
        zone_id, method_id = await _open_shop(runtime, principal, skus, units)
        sample = await _make_customers(options, runtime, principal, key, skus[0], report)
        shop = RawShop(
            seller=bench_raw.Seller(
                business_id=principal.business_id, location_id=await monitor.fetchval(
                    "SELECT id FROM locations WHERE business_id = $1 AND is_default",
                    principal.business_id),
                currency=principal.currency, actor=principal.actor,
                reservation_ttl_seconds=principal.reservation_ttl_seconds),
            zone_id=zone_id, method_id=method_id, sample=sample,
            idempotency_lock=timedelta(seconds=runtime.settings.idempotency_lock_seconds),
            idempotency_keep=timedelta(hours=runtime.settings.idempotency_ttl_hours))
        buyers = sorted((await bench_raw.load_buyers(monitor, shop.seller.business_id)
                         ).values(), key=lambda c: c.phone)
        ceiling_shop = await open_ceiling_shop(runtime, monitor, skus=options.skus,
                                               clients=options.connections)
        await server.wait_ready()
        say(f"setup: {options.skus} SKUs ({units} units each), US zone with a flat method and "
            f"10% tax, {len(buyers)} customers (one guest path each, in-process), "
            f"{options.workers} server processes ready ({time.perf_counter() - started:.1f}s)")
        say(f"statements: the confirm sends {len(report.known['confirm'].statements)} SQL "
            f"statements in {report.known['confirm'].checkouts} transactions for a known "
            "customer")
        await _raw_phase(options, url, shop, buyers, planned, report, meter, say)
        await _http_phase(options, server.base_url, key, buyers, planned, report, meter, say)
        # The minimal order transaction over as many SKUs as the paths pick from.
        report.results.append(await ceiling_phase(
            url=url, database=report.database, monitor=monitor, shop=ceiling_shop,
            scenario=SCENARIO, clients=options.connections, seconds=options.ceiling_seconds,
            last=options.skus, say=say))
        report.drifting_levels = len(await inventory.reconcile(runtime, principal.business_id))


async def _raw_phase(options: CheckoutBenchOptions, url: str, shop: RawShop,
                     buyers: list[bench_raw.Buyer], planned: list[str],
                     report: CheckoutReport, meter: CpuMeter,
                     say: Callable[[str], None]) -> None:
    pool = await bench_raw.open_pool(url, connections=options.connections)
    try:
        targets = await bench_raw.load_targets(pool, shop.seller.business_id)
        lent = CustomerPool(buyers)
        warmup = RawBuyer(pool, shop, lent, StepTimes())
        measured = RawBuyer(pool, shop, lent, StepTimes())
        await _phase(options, RAW, [targets[sku] for sku in planned], warmup.buy,
                     measured.buy, report, meter, say)
        report.steps[RAW] = measured.times
    finally:
        await pool.close()


async def _http_phase(options: CheckoutBenchOptions, base_url: str, key: str,
                      buyers: list[bench_raw.Buyer], planned: list[str],
                      report: CheckoutReport, meter: CpuMeter,
                      say: Callable[[str], None]) -> None:
    async with bench_http.light_api_client(base_url, None,
                                           connections=options.connections) as session:
        lent = CustomerPool(buyers)
        send = aiohttp_sender(session)
        warmup = HttpBuyer(send, key, lent, StepTimes())
        measured = HttpBuyer(send, key, lent, StepTimes())
        await _phase(options, HTTP, planned, warmup.buy, measured.buy, report, meter, say,
                     profiled=True)
        report.steps[HTTP] = measured.times


async def _phase(options: CheckoutBenchOptions, path: str, planned: Sequence[T],
                 warm: Callable[[T], Awaitable[None]], place: Callable[[T], Awaitable[None]],
                 report: CheckoutReport, meter: CpuMeter, say: Callable[[str], None], *,
                 profiled: bool = False) -> None:
    label = f"{'raw' if path == RAW else 'http'} checkout"
    report.results.append(await measured_phase(
        label=label, noun="paths", scenario=SCENARIO, path=path, planned=planned,
        warmup=options.warmup_paths, warm=warm, place=place, connections=options.connections,
        max_seconds=options.max_seconds, meter=meter, say=say, servers=path != RAW,
        during=profiling(options, meter, f"the {label} phase", report, say) if profiled
        else None))

"""The ``orderline`` command."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from orderline.cli.staff import staff_app
from orderline.core.config import Settings
from orderline.core.logs import configure_logging
from orderline.core.runtime import Runtime
from orderline.schema.migrate import upgrade_to_head
from orderline.wiring import build_runtime

T = TypeVar("T")
app = typer.Typer(help="Orderline: orders, inventory and reservations that never oversell.",
                  no_args_is_help=True, add_completion=False)
business_app = typer.Typer(help="Manage businesses (merchants).", no_args_is_help=True)
app.add_typer(business_app, name="business")
bench_app = typer.Typer(help="Benchmarks against a real database.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
outbox_app = typer.Typer(help="Inspect the event outbox and requeue dead events.",
                         no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
payments_app = typer.Typer(help="Check card and cash payments against their ledger.",
                           no_args_is_help=True)
app.add_typer(payments_app, name="payments")
proofs_app = typer.Typer(help="Payment proof files: master key rotation and retention.",
                         no_args_is_help=True)
app.add_typer(proofs_app, name="proofs")
app.add_typer(staff_app, name="staff")

DatabaseOpt = Annotated[str | None, typer.Option(
    "--database-url", envvar="ORDERLINE_DATABASE_URL",
    help="postgresql://... or sqlite:///file; default: a SQLite file under ./data")]

# The options every ``orderline bench`` with HTTP phases takes.
BenchServerOpt = Annotated[str | None, typer.Option(
    "--database-url", envvar="ORDERLINE_DATABASE_URL",
    help="a PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/postgres); the "
         "bench creates its own database there and drops it at the end")]
DurationOpt = Annotated[float, typer.Option(
    help="stop each measured phase after this many seconds (0: no limit)")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="also write the figures here as "
                                              "JSON")]
VerboseOpt = Annotated[bool, typer.Option(help="list the SQL statements counted")]
CeilingSecondsOpt = Annotated[float, typer.Option(
    help="how long pgbench runs the minimal order transaction, per scenario (the database "
         "ceiling)")]
ProfileOpt = Annotated[Path | None, typer.Option(
    "--profile", help="record the server processes with py-spy during the measured HTTP phase "
                      "and write the raw stacks and profile.txt (where the CPU goes) here")]


def _settings(database_url: str | None) -> Settings:
    if database_url:
        os.environ["ORDERLINE_DATABASE_URL"] = database_url  # server processes inherit it
    try:
        settings = Settings()
    except ValidationError as refused:
        _fail("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in refused.errors()))
    configure_logging(settings.log_level)
    return settings


def _with_runtime(settings: Settings, job: Callable[[Runtime], Awaitable[T]]) -> T:
    async def main() -> T:
        runtime = build_runtime(settings)
        try:
            return await job(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main())


def _fail(message: str) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command()
def migrate(database_url: DatabaseOpt = None) -> None:
    """Bring the database schema to the newest migration."""
    settings = _settings(database_url)
    _with_runtime(settings, lambda rt: upgrade_to_head(rt.db))
    typer.echo(f"database migrated: {settings.resolved_database_url().split('@')[-1]}")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000,
          workers: Annotated[int, typer.Option(help="server processes (PostgreSQL only)")] = 1,
          migrate_first: Annotated[bool, typer.Option(
              "--migrate/--no-migrate", help="migrate before serving (always on SQLite)")] = False,
          with_worker: Annotated[bool, typer.Option(
              help="also run the deadline sweeper in this process")] = False,
          database_url: DatabaseOpt = None) -> None:
    """Run the HTTP API."""
    settings = _settings(database_url)
    _serve(settings, host=host, port=port, workers=workers, migrate_first=migrate_first,
           with_worker=with_worker)


WORKER_START_SECONDS = 120


def _serve(settings: Settings, *, host: str, port: int, workers: int, migrate_first: bool,
           with_worker: bool) -> None:
    import uvicorn

    is_sqlite = settings.resolved_database_url().startswith("sqlite")
    if workers > 1 and is_sqlite:
        _fail("SQLite is the single-process embedded database: use --workers 1, or set "
              "ORDERLINE_DATABASE_URL=postgresql://... for several server processes.")
    if workers < 1:
        _fail("--workers must be at least 1.")
    if migrate_first or is_sqlite:
        _with_runtime(settings, lambda rt: upgrade_to_head(rt.db))
    if with_worker:
        os.environ["ORDERLINE_EMBEDDED_WORKER"] = "true"
    own_metrics_dir = _prepare_metrics_dir(workers)
    try:
        # uvicorn kills and restarts a worker that has not started within
        # timeout_worker_healthcheck (5 s by default): on a busy small machine, importing the
        # app takes longer than that, and the workers were restarted forever.
        uvicorn.run("orderline.api.app:app_factory", factory=True, host=host,
                    port=port, workers=workers, log_level="warning", access_log=False,
                    timeout_worker_healthcheck=WORKER_START_SECONDS)
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def _prepare_metrics_dir(workers: int) -> Path | None:
    """Several server processes count into files under ``PROMETHEUS_MULTIPROC_DIR`` that each
    scrape sums. prometheus_client reads the variable when it is first imported, so it is set
    here, before uvicorn spawns the processes (fresh interpreters that inherit it). An
    operator's directory is emptied of an earlier run's files; one made here is returned, to
    remove at exit. A single process without the variable keeps its own registry."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return None
    if workers == 1:
        return None
    made = Path(tempfile.mkdtemp(prefix="orderline-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(made)
    return made


@app.command()
def worker(interval: Annotated[float | None, typer.Option(
               help="seconds between payment-deadline sweeps")] = None,
           once: Annotated[bool, typer.Option(
               help="one round of every job (relaying until nothing is due), then exit")]
           = False,
           database_url: DatabaseOpt = None) -> None:
    """Relay events to handlers and webhooks, cancel unpaid orders past their deadline, and
    reconcile the stock ledger. Run several on PostgreSQL to share the work."""
    from orderline.worker import loop as worker_loop

    settings = _settings(database_url)
    if once:
        done = _with_runtime(settings, worker_loop.run_once)
        typer.echo(f"cancelled {done['cancelled']} unpaid orders past their deadline; "
                   f"{done['drifting_levels']} stock levels drifting; relayed "
                   f"{done['relayed']} events; sent {done['notified']} notifications and "
                   f"{done['webhooks_sent']} webhooks; pruned {done['pruned']} old events; drew "
                   f"{done['documents_drawn']} invoices")
        raise typer.Exit(1 if done["drifting_levels"] else 0)
    _with_runtime(settings, lambda rt: worker_loop.run_until_signalled(rt, interval=interval))


@app.command()
def reconcile(business: Annotated[str | None, typer.Option(help="one business id")] = None,
              database_url: DatabaseOpt = None) -> None:
    """Check that the stock ledger sums to on_hand for every SKU; exit 1 on any drift."""
    from orderline.catalog import inventory

    settings = _settings(database_url)
    business_id = uuid.UUID(business) if business else None
    drift = _with_runtime(settings, lambda rt: inventory.reconcile(rt, business_id))
    if not drift:
        typer.echo("ledger balanced: every stock level matches its movements and reservations")
        return
    for d in drift:
        typer.echo(f"DRIFT {d.sku}@{d.location}: on_hand={d.on_hand} ledger={d.ledger_sum} "
                   f"reserved={d.reserved} active_reservations={d.active_reservations}")
    raise typer.Exit(1)


@payments_app.command("reconcile")
def payments_reconcile(business: Annotated[str | None, typer.Option(help="one business id")]
                       = None, database_url: DatabaseOpt = None) -> None:
    """Check every payment's amounts against its ledger rows and the ledger's rules (captured
    <= authorised, refunded <= received), and every order's money against its status
    (cancelled or returned orders keep none unless a refund is on its way, paid orders
    received their total); print each problem with what to do, exit 1 on any."""
    from orderline.payments.reconcile import reconcile_payments

    settings = _settings(database_url)
    business_id = uuid.UUID(business) if business else None
    found = _with_runtime(settings, lambda rt: reconcile_payments(rt, business_id))
    if not found:
        typer.echo("payments balanced: every intent matches its ledger, every paid order "
                   "received its total, and no cancelled or returned order keeps money")
        return
    for p in found:
        where = f" intent {p.intent_id}" if p.intent_id else ""
        typer.echo(f"PROBLEM order {p.order_number}{where}: {p.problem}")
        typer.echo(f"  what to do: {p.todo}")
    raise typer.Exit(1)


@business_app.command("create")
def business_create(name: str, currency: str = "USD",
                    reservation_ttl: Annotated[int | None, typer.Option(
                        help="seconds an unpaid order holds its stock")] = None,
                    database_url: DatabaseOpt = None) -> None:
    """Create a business and print its first API key (shown this once only)."""
    from orderline.core.errors import DomainError
    from orderline.tenancy import service as tenancy

    settings = _settings(database_url)

    async def job(rt: Runtime) -> tenancy.NewBusiness:
        if rt.db.is_sqlite:
            await upgrade_to_head(rt.db)
        return await tenancy.create_business(rt, name=name, currency=currency,
                                             reservation_ttl_seconds=reservation_ttl)

    try:
        created = _with_runtime(settings, job)
    except DomainError as error:
        _fail(f"{error.code}: {error.message}")
        return
    typer.echo(f"business: {created.id} ({created.name}, {created.currency})")
    typer.echo(f"api key:  {created.api_key.key}")
    typer.echo("Keep this key now: it is stored hashed and cannot be shown again.")


@app.command()
def demo(host: str = "127.0.0.1", port: int = 8000, database_url: DatabaseOpt = None) -> None:
    """Load a demo business (once) and serve the API with the deadline sweeper."""
    from orderline.demo.shop import DemoShop, load_demo

    settings = _settings(database_url)

    async def job(rt: Runtime) -> DemoShop:
        await upgrade_to_head(rt.db)
        return await load_demo(rt)

    shop = _with_runtime(settings, job)
    business_id, key = shop.business_id, shop.api_key
    base = f"http://{host}:{port}"
    typer.echo(f"""
Orderline demo is starting (database: {settings.resolved_database_url()})
  Base URL:      {base}
  API docs:      {base}/docs
  Console:       {base}/console
    log in as    {shop.owner_email}
    password     {shop.owner_password}   (new at every start of the demo)
  A buyer's checkout (open it on a phone; it ends on the order's own page):
                 {base}/c/{shop.cart_token}
  Demo business: {business_id}
  Demo API key:  {key}
Try:
  curl -H 'Authorization: Bearer {key}' {base}/v1/inventory
A first order, a checkout and a payment: README.md, "A five-minute tour".
""", err=False)
    sys.stdout.flush()
    _serve(settings, host=host, port=port, workers=1, migrate_first=False, with_worker=True)


@bench_app.command("orders")
def bench_orders(
    database_url: BenchServerOpt = None,
    orders: Annotated[int, typer.Option(help="measured orders per scenario and path")] = 2000,
    connections: Annotated[int, typer.Option(
        help="raw SQL pool size, and HTTP requests in flight")] = 16,
    workers: Annotated[int, typer.Option(help="orderline serve processes")] = 4,
    skus: Annotated[int, typer.Option(help="SKUs the spread scenario picks from")] = 10_000,
    duration: DurationOpt = 20.0,
    seed: Annotated[int, typer.Option(help="seed of the spread scenario's SKU picks")] = 1,
    ceiling_seconds: CeilingSecondsOpt = 10.0,
    paced_seconds: Annotated[float, typer.Option(
        help="then spread orders arriving at half of the HTTP spread rate for this long, each "
             "timed from its arrival (p99 at half of peak); 0 leaves it out")] = 10.0,
    json_path: JsonOpt = None,
    verbose: VerboseOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Orders/s and p50/p95/p99 of order creation: POST /v1/orders beside the database alone
    (pgbench) and the asyncpg replay of its writes, then p99 at half of the peak rate (an
    open loop). --profile records the spread-SKU HTTP phase's server processes with
    py-spy."""
    from orderline.bench import orders as bench

    try:
        bench.run(bench.BenchOptions(database_url=database_url, orders=orders,
                                     connections=connections, workers=workers, skus=skus,
                                     max_seconds=duration or None, json_path=json_path,
                                     verbose=verbose, seed=seed,
                                     ceiling_seconds=ceiling_seconds,
                                     paced_seconds=paced_seconds, profile_dir=profile))
    except (bench.BenchRefused, bench.ServerFailed) as error:
        _fail(str(error))


@bench_app.command("flash-sale")
def bench_flash_sale(
    database_url: BenchServerOpt = None,
    buyers: Annotated[int, typer.Option(
        help="buyers, each on a connection of its own, released together")] = 1000,
    units: Annotated[int, typer.Option(help="units of the one SKU on sale")] = 500,
    workers: Annotated[int, typer.Option(help="orderline serve processes")] = 4,
    json_path: JsonOpt = None,
) -> None:
    """A flash sale: BUYERS at once over real connections for one SKU with UNITS units.
    Reports orders, oversold units, 5xx, refusals by code, p50/p95/p99, the time to sell out
    and server CPU per order; exits 1 unless exactly min(BUYERS, UNITS) orders were created,
    nothing was oversold, no answer was a 5xx and every refusal was out_of_stock."""
    from orderline.bench import flash_sale
    from orderline.bench.orders import BenchRefused, ServerFailed

    try:
        report = flash_sale.run(flash_sale.FlashSaleOptions(
            database_url=database_url, buyers=buyers, units=units, workers=workers,
            json_path=json_path))
    except (BenchRefused, ServerFailed) as error:
        _fail(str(error))
    raise typer.Exit(1 if report.broken() else 0)


@outbox_app.command("status")
def outbox_status(database_url: DatabaseOpt = None) -> None:
    """Pending and dead events and the outbox lag; exit 1 if any event is dead."""
    from orderline.worker import outbox_admin

    figures = _with_runtime(_settings(database_url), outbox_admin.backlog)
    typer.echo(f"pending {figures['pending']}  dead {figures['dead']}  "
               f"lag {figures['lag_seconds']:.1f}s")
    if figures["dead"]:
        typer.echo("Dead events failed every retry of a handler; fix the cause (see the "
                   "worker log), then requeue them with: orderline outbox retry")
    raise typer.Exit(1 if figures["dead"] else 0)


@outbox_app.command("retry")
def outbox_retry(event_ids: Annotated[list[str] | None, typer.Argument(
                     help="event ids to requeue; none means every dead event")] = None,
                 database_url: DatabaseOpt = None) -> None:
    """Put dead events back in the queue; the worker relays them again."""
    import uuid as uuid_module

    from orderline.worker import outbox_admin

    try:
        ids = [uuid_module.UUID(e) for e in event_ids] if event_ids else None
    except ValueError:
        _fail("Event ids are UUIDs, as `orderline outbox status` and the worker log show.")
        return
    count = _with_runtime(_settings(database_url),
                          lambda rt: outbox_admin.retry_dead(rt, ids))
    typer.echo(f"requeued {count} dead events")


@bench_app.command("events")
def bench_events(
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="ORDERLINE_DATABASE_URL",
        help="a PostgreSQL server; the bench creates its own database there and drops it")]
        = None,
    events: Annotated[int, typer.Option(help="outbox events relayed per worker count")] = 4000,
    workers: Annotated[str, typer.Option(help="worker counts to measure, comma-separated")]
        = "1,4",
    load_seconds: Annotated[float, typer.Option(
        help="seconds of HTTP order load while the outbox lag is sampled")] = 15.0,
) -> None:
    """Events relayed per second with 1 and 4 workers, and the outbox lag under order load."""
    from orderline.bench import events as bench_events
    from orderline.bench.orders import BenchRefused, ServerFailed

    try:
        counts = tuple(int(w) for w in workers.split(",") if w.strip())
    except ValueError:
        _fail("--workers takes worker counts separated by commas, e.g. 1,4.")
        return
    try:
        bench_events.run(bench_events.EventBenchOptions(
            database_url=database_url, events=events, worker_counts=counts,
            load_seconds=load_seconds))
    except (BenchRefused, ServerFailed) as error:
        _fail(str(error))


def _counts(option: str, given: str) -> tuple[int, ...]:
    """A comma-separated list of process counts, such as ``1,2,4``."""
    try:
        return tuple(int(c) for c in given.split(",") if c.strip())
    except ValueError:
        _fail(f"{option} takes counts separated by commas, e.g. 1,2,4.")


@bench_app.command("scale")
def bench_scale(
    database_url: BenchServerOpt = None,
    servers: Annotated[str, typer.Option(
        help="orderline serve process counts of the grid, comma-separated")] = "1,2,4",
    workers: Annotated[str, typer.Option(
        help="orderline worker process counts of the grid, comma-separated")] = "1,2,4",
    orders: Annotated[int, typer.Option(help="measured orders per cell")] = 1000,
    warmup: Annotated[int, typer.Option(help="orders per cell before the measured ones")]
        = 100,
    connections: Annotated[int, typer.Option(help="HTTP requests in flight")] = 16,
    skus: Annotated[int, typer.Option(help="SKUs the orders pick from")] = 1000,
    duration: DurationOpt = 20.0,
    seed: Annotated[int, typer.Option(help="seed of the SKU picks")] = 1,
    json_path: JsonOpt = None,
) -> None:
    """The scale-out curve: orders/s, server CPU per order, p50/p95/p99 and the outbox lag
    for every count of server processes x worker processes."""
    from orderline.bench import scale as bench_scale_module
    from orderline.bench.orders import BenchRefused, ServerFailed

    try:
        bench_scale_module.run(bench_scale_module.ScaleOptions(
            database_url=database_url, server_counts=_counts("--servers", servers),
            worker_counts=_counts("--workers", workers), orders=orders, warmup=warmup,
            connections=connections, skus=skus, max_seconds=duration or None, seed=seed,
            json_path=json_path))
    except (BenchRefused, ServerFailed) as error:
        _fail(str(error))


@bench_app.command("live")
def bench_live(
    database_url: BenchServerOpt = None,
    writes: Annotated[int, typer.Option(
        help="new orders (each then paid) per phase, one at a time")] = 200,
    subscribers: Annotated[int, typer.Option(
        help="business streams (GET /v1/stream) held open on the other server")] = 4,
    background: Annotated[int, typer.Option(
        help="other orders in flight during the second phase (0: no such phase)")] = 8,
    json_path: JsonOpt = None,
) -> None:
    """How soon a new order or a status change written through one server process reaches
    SSE subscribers on another (p50/p95/p99), quiet and under order load."""
    from orderline.bench import live as bench_live_module
    from orderline.bench.orders import BenchRefused, ServerFailed

    try:
        bench_live_module.run(bench_live_module.LiveBenchOptions(
            database_url=database_url, writes=writes, subscribers=subscribers,
            background=background, json_path=json_path))
    except (BenchRefused, ServerFailed) as error:
        _fail(str(error))


@bench_app.command("checkout")
def bench_checkout(
    database_url: BenchServerOpt = None,
    paths: Annotated[int, typer.Option(
        help="measured buyer paths (cart, line, checkout, confirm: one order) per phase")]
        = 1000,
    connections: Annotated[int, typer.Option(
        help="raw SQL pool size, and buyer paths in flight over HTTP")] = 16,
    workers: Annotated[int, typer.Option(help="orderline serve processes")] = 4,
    skus: Annotated[int, typer.Option(help="SKUs each path picks one from")] = 100,
    duration: DurationOpt = 20.0,
    seed: Annotated[int, typer.Option(help="seed of the SKU picks")] = 1,
    ceiling_seconds: CeilingSecondsOpt = 10.0,
    json_path: JsonOpt = None,
    verbose: VerboseOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Buyer paths (= orders) per second through cart, checkout and confirm over HTTP, beside
    the database alone (pgbench) and the same writes as raw SQL; latency and SQL statements
    per step. --profile records the HTTP phase's server processes with py-spy."""
    from orderline.bench import checkout as bench_checkout
    from orderline.bench.orders import BenchRefused, ServerFailed

    try:
        bench_checkout.run(bench_checkout.CheckoutBenchOptions(
            database_url=database_url, paths=paths, connections=connections, workers=workers,
            skus=skus, max_seconds=duration or None, json_path=json_path, verbose=verbose,
            seed=seed, ceiling_seconds=ceiling_seconds, profile_dir=profile))
    except (BenchRefused, ServerFailed) as error:
        _fail(str(error))


@bench_app.command("payments")
def bench_payments(
    database_url: BenchServerOpt = None,
    paths: Annotated[int, typer.Option(
        help="measured card paths (place an order, pay it by card over HTTP)")] = 1000,
    webhooks: Annotated[int, typer.Option(
        help="measured capture webhooks POSTed, then POSTed again")] = 1000,
    connections: Annotated[int, typer.Option(help="card paths or webhooks in flight")] = 16,
    workers: Annotated[int, typer.Option(help="orderline serve processes")] = 4,
    skus: Annotated[int, typer.Option(help="SKUs the orders take in turn")] = 100,
    duration: DurationOpt = 20.0,
    json_path: JsonOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Card paths per second (order, then a sandbox card payment) over HTTP, webhooks applied
    per second first and redelivered, and the SQL statements of each payment call."""
    from orderline.bench import payments as bench_payments
    from orderline.bench.orders import BenchRefused, ServerFailed

    try:
        bench_payments.run(bench_payments.PaymentBenchOptions(
            database_url=database_url, paths=paths, webhooks=webhooks, connections=connections,
            workers=workers, skus=skus, max_seconds=duration or None, json_path=json_path,
            verbose=verbose))
    except (BenchRefused, ServerFailed) as error:
        _fail(str(error))


@bench_app.command("proofs")
def bench_proofs(
    database_url: BenchServerOpt = None,
    small: Annotated[int, typer.Option(help="measured uploads of ~200 KB receipts")] = 200,
    large: Annotated[int, typer.Option(help="measured uploads of ~10 MB photos")] = 30,
    ocr: Annotated[int, typer.Option(help="receipts read by the worker's OCR job")] = 20,
    connections: Annotated[int, typer.Option(help="uploads in flight")] = 8,
    workers: Annotated[int, typer.Option(help="orderline serve processes")] = 4,
    duration: DurationOpt = 20.0,
    json_path: JsonOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Payment proof uploads per second over HTTP (~200 KB and ~10 MB files) and the time
    to read one proof (OCR) in the worker."""
    from orderline.bench import proofs as bench_proofs
    from orderline.bench.orders import BenchRefused, ServerFailed

    try:
        bench_proofs.run(bench_proofs.ProofBenchOptions(
            database_url=database_url, small=small, large=large, ocr=ocr,
            connections=connections, workers=workers, max_seconds=duration or None,
            json_path=json_path, verbose=verbose))
    except (BenchRefused, ServerFailed) as error:
        _fail(str(error))


@bench_app.command("console")
def bench_console(
    database_url: BenchServerOpt = None,
    orders: Annotated[int, typer.Option(help="orders in the business (a year of them)")]
        = 100_000,
    samples: Annotated[int, typer.Option(help="requests per page, one at a time")] = 100,
    live: Annotated[int, typer.Option(
        help="orders placed while consoles are open (0: skip the live part)")] = 100,
    consoles: Annotated[int, typer.Option(help="consoles open during the live part")] = 4,
    workers: Annotated[int, typer.Option(help="orderline serve processes of the pages")] = 4,
    rollups: Annotated[bool, typer.Option(
        help="sum the year's closed days into the dashboard's daily rollups first, as the "
             "worker would have (--no-rollups: every day summed live)")] = True,
    json_path: JsonOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Server time (p50/p95) and CPU per request of the console's pages with a year of
    orders, beside the database alone (pgbench); and how soon a new order reaches an open
    console across server processes."""
    from orderline.bench import console as bench_console_module
    from orderline.bench.orders import BenchRefused, ServerFailed

    try:
        bench_console_module.run(bench_console_module.ConsoleBenchOptions(
            database_url=database_url, orders=orders, samples=samples, live=live,
            consoles=consoles, workers=workers, rollups=rollups, json_path=json_path,
            verbose=verbose))
    except (BenchRefused, ServerFailed) as error:
        _fail(str(error))


@bench_app.command("verifications")
def bench_verifications(
    database_url: BenchServerOpt = None,
    proofs: Annotated[int, typer.Option(help="payment proofs waiting in the queue")] = 10_000,
    sessions: Annotated[int, typer.Option(
        help="verifier sessions holding the queue's live stream")] = 100,
    samples: Annotated[int, typer.Option(help="requests per queue page, one at a time")] = 100,
    decisions: Annotated[int, typer.Option(
        help="proofs approved through another server process")] = 100,
    uploads: Annotated[int, typer.Option(help="proof uploads measured, one at a time")] = 10,
    upload_mb: Annotated[float, typer.Option(help="size of each uploaded photo, in MB")] = 10.0,
    workers: Annotated[int, typer.Option(help="orderline serve processes of the pages")] = 4,
    json_path: JsonOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """The verification workspace's targets: the queue page with 10,000 proofs waiting and
    100 verifiers' streams open (p95 < 2 s), a decision reaching the other queues and the
    buyer across server processes (p95 < 100 ms), a 10 MB proof upload (p95 < 5 s)."""
    from orderline.bench import verifications as bench_verifications_module
    from orderline.bench.orders import BenchRefused, ServerFailed

    try:
        bench_verifications_module.run(bench_verifications_module.VerificationBenchOptions(
            database_url=database_url, proofs=proofs, sessions=sessions, samples=samples,
            decisions=decisions, uploads=uploads, upload_mb=upload_mb, workers=workers,
            json_path=json_path, verbose=verbose))
    except (BenchRefused, ServerFailed) as error:
        _fail(str(error))


@proofs_app.command("rotate-keys")
def proofs_rotate_keys(business: Annotated[str | None, typer.Option(
        help="one business id (default: every business)")] = None,
        database_url: DatabaseOpt = None) -> None:
    """Re-wrap every stored proof with the first (current) key of
    ORDERLINE_PROOF_MASTER_KEYS; keep the old keys configured until this succeeds."""
    from orderline.manual_payments.retention import Rotation, rotate_master_keys

    try:
        business_id = uuid.UUID(business) if business else None
    except ValueError:
        _fail("--business takes a business id (a UUID).")
        return

    def show(done: Rotation) -> None:
        typer.echo(f"  {done.rewrapped} re-wrapped, {done.already_current} already current, "
                   f"{done.missing} missing, {done.unreadable} unreadable", err=True)

    settings = _settings(database_url)
    done = _with_runtime(settings, lambda rt: rotate_master_keys(rt, show,
                                                                 business_id=business_id))
    typer.echo(f"rotated proof files to master key '{_current_key_id(settings)}': "
               f"{done.rewrapped} re-wrapped, "
               f"{done.already_current} already current, {done.missing} missing, "
               f"{done.unreadable} unreadable")
    if done.missing or done.unreadable:
        typer.secho("Some proof files could not be rotated (see the log above): restore them, "
                    "or put back the master key they were sealed with, and run this again.",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


def _current_key_id(settings: Settings) -> str:
    from orderline.manual_payments.files.configured import master_keys

    return master_keys(settings).current_id


@proofs_app.command("retention")
def proofs_retention(database_url: DatabaseOpt = None) -> None:
    """Delete now the proof files past their business's retention (the worker does it every
    ORDERLINE_PROOF_RETENTION_INTERVAL_SECONDS)."""
    from orderline.manual_payments.retention import delete_expired_files

    count = _with_runtime(_settings(database_url), delete_expired_files)
    typer.echo(f"deleted {count} proof files past retention")


def main() -> None:
    app()

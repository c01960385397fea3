"""The ``orderline`` command."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from orderline.adapters.db.migrate import upgrade_to_head
from orderline.bootstrap import Runtime, build_runtime
from orderline.config import Settings
from orderline.entrypoints.logs import configure_logging

T = TypeVar("T")
app = typer.Typer(help="Orderline: orders, inventory and reservations that never oversell.",
                  no_args_is_help=True, add_completion=False)
business_app = typer.Typer(help="Manage businesses (merchants).", no_args_is_help=True)
app.add_typer(business_app, name="business")
bench_app = typer.Typer(help="Benchmarks against a real database.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

DatabaseOpt = Annotated[str | None, typer.Option(
    "--database-url", envvar="ORDERLINE_DATABASE_URL",
    help="postgresql://... or sqlite:///file; default: a SQLite file under ./data")]


def _settings(database_url: str | None) -> Settings:
    if database_url:
        os.environ["ORDERLINE_DATABASE_URL"] = database_url  # server processes inherit it
    settings = Settings()
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


def _fail(message: str) -> None:
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
    uvicorn.run("orderline.entrypoints.api.app:app_factory", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False)


@app.command()
def worker(interval: Annotated[float | None, typer.Option(
               help="seconds between payment-deadline sweeps")] = None,
           once: Annotated[bool, typer.Option(help="one sweep and reconciliation, then exit")]
           = False,
           database_url: DatabaseOpt = None) -> None:
    """Cancel unpaid orders past their deadline, and reconcile the stock ledger."""
    from orderline.entrypoints import worker as worker_loop

    settings = _settings(database_url)
    if once:
        async def one_round(rt: Runtime) -> tuple[int, int]:
            return await worker_loop.sweep_once(rt), await worker_loop.reconcile_once(rt)

        cancelled, drift = _with_runtime(settings, one_round)
        typer.echo(f"cancelled {cancelled} unpaid orders past their deadline; "
                   f"{drift} stock levels drifting")
        raise typer.Exit(1 if drift else 0)
    _with_runtime(settings, lambda rt: worker_loop.run_until_signalled(
        rt, interval=interval or settings.sweep_interval_seconds,
        reconcile_every=settings.reconcile_interval_seconds))


@app.command()
def reconcile(business: Annotated[str | None, typer.Option(help="one business id")] = None,
              database_url: DatabaseOpt = None) -> None:
    """Check that the stock ledger sums to on_hand for every SKU; exit 1 on any drift."""
    from orderline.services import inventory

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


@business_app.command("create")
def business_create(name: str, currency: str = "USD",
                    reservation_ttl: Annotated[int | None, typer.Option(
                        help="seconds an unpaid order holds its stock")] = None,
                    database_url: DatabaseOpt = None) -> None:
    """Create a business and print its first API key (shown this once only)."""
    from orderline.domain.errors import DomainError
    from orderline.services import tenancy

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
    from orderline.entrypoints.demo_data import load_demo

    settings = _settings(database_url)

    async def job(rt: Runtime) -> tuple[str, str]:
        await upgrade_to_head(rt.db)
        return await load_demo(rt)

    business_id, key = _with_runtime(settings, job)
    base = f"http://{host}:{port}"
    typer.echo(f"""
Orderline demo is starting (database: {settings.resolved_database_url()})
  Base URL:      {base}
  API docs:      {base}/docs
  Demo business: {business_id}
  Demo API key:  {key}
Try:
  curl -H 'Authorization: Bearer {key}' {base}/v1/inventory
""", err=False)
    sys.stdout.flush()
    _serve(settings, host=host, port=port, workers=1, migrate_first=False, with_worker=True)


@bench_app.command("orders")
def bench_orders(
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="ORDERLINE_DATABASE_URL",
        help="a PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/postgres); the "
             "bench creates its own database there and drops it at the end")] = None,
    orders: Annotated[int, typer.Option(help="measured orders per scenario and path")] = 2000,
    connections: Annotated[int, typer.Option(
        help="raw SQL pool size, and HTTP requests in flight")] = 16,
    workers: Annotated[int, typer.Option(help="orderline serve processes")] = 4,
    skus: Annotated[int, typer.Option(help="SKUs the spread scenario picks from")] = 10_000,
    duration: Annotated[float, typer.Option(
        help="stop each measured phase after this many seconds (0: no limit)")] = 20.0,
    seed: Annotated[int, typer.Option(help="seed of the spread scenario's SKU picks")] = 1,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the figures "
                                                   "here as JSON")] = None,
    verbose: Annotated[bool, typer.Option(help="list the SQL statements counted")] = False,
) -> None:
    """Orders/s and p50/p95/p99 of order creation: raw SQL ceiling beside POST /v1/orders."""
    from orderline.entrypoints import bench

    try:
        bench.run(bench.BenchOptions(database_url=database_url, orders=orders,
                                     connections=connections, workers=workers, skus=skus,
                                     max_seconds=duration or None, json_path=json_path,
                                     verbose=verbose, seed=seed))
    except (bench.BenchRefused, bench.ServerFailed) as error:
        _fail(str(error))


def main() -> None:
    app()

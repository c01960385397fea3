"""``orderline bench flash-sale``: many buyers at once for one SKU with fewer units than buyers.

One run creates a throw-away PostgreSQL database on the given server, migrates it, opens one
shop with one SKU holding ``units`` (through the catalog service), starts
``orderline serve --workers W``, and then releases ``buyers`` buyers together, each on a
connection of its own with one ``POST /v1/orders`` of one unit (``flash_buyers``). Each buyer
is a different customer, as in a real sale.

It reports the orders created, the units oversold, the 5xx answers, the refusals by error
code, p50/p95/p99 latency, the time to sell out (release to the answer of the order that took
the last unit), the server processes' CPU per order, and the stock row as the database holds
it afterwards. A sale must create exactly ``min(buyers, units)`` orders, oversell nothing,
answer no 5xx and refuse every other buyer with ``out_of_stock``, leaving the stock row and its
reservations in agreement; the command exits 1 when it did not (``FlashReport.broken``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import typer

from orderline.bench import cpu as bench_cpu
from orderline.bench.flash_buyers import release_buyers, request_bytes
from orderline.bench.flash_report import FlashReport, StockAfter, as_json, render
from orderline.bench.http import HttpOrder
from orderline.bench.orders import LoadOptions, check_sizes, run_bench, staged
from orderline.catalog import inventory
from orderline.catalog import products as catalog
from orderline.tenancy import service as tenancy

__all__ = ["FlashSaleOptions", "run"]

SKU = "FLASH-1"
MAX_BUYERS = 5000  # one socket each, on both ends, on this machine


@dataclass(frozen=True, slots=True)
class FlashSaleOptions(LoadOptions):
    buyers: int = 1000
    units: int = 500

    @property
    def settings(self) -> dict[str, Any]:
        return {"buyers": self.buyers, "units": self.units, "workers": self.workers}

    def check(self) -> None:
        check_sizes((("--buyers", self.buyers, MAX_BUYERS), ("--units", self.units, 1_000_000),
                     ("--workers", self.workers, 16)), None)


def run(options: FlashSaleOptions, say: Callable[[str], None] = typer.echo) -> FlashReport:
    """Run the sale, print its report, and drop its database whatever happens."""
    return run_bench(options, say, FlashReport,
                     lambda url, report: _sale(options, url, report, say),
                     lambda report, verbose: render(report), as_json)


def buyer_order(i: int) -> HttpOrder:
    """The ``i``-th buyer, a customer of their own, and their one unit."""
    return HttpOrder(SKU, f"Flash buyer {i}", f"+1 555 {i:06d}")


async def _sale(options: FlashSaleOptions, url: str, report: FlashReport,
                say: Callable[[str], None]) -> None:
    started = time.perf_counter()
    async with staged(url, report.database, workers=options.workers) as stage:
        runtime, server, monitor = stage.runtime, stage.server, stage.monitor
        report.server_version = stage.server_version
        created = await tenancy.create_business(runtime, name="Flash shop", currency="USD")
        principal = await tenancy.authenticate(runtime, created.api_key.key)
        await catalog.create_product(runtime, principal, name="Flash product", description="",
                                     variants=[catalog.NewVariant(
                                         sku=SKU, name="Flash variant", price=1000,
                                         initial_stock=options.units)])
        await server.wait_ready()
        say(f"setup: 1 SKU with {options.units} units; {options.workers} server processes "
            f"ready ({time.perf_counter() - started:.1f}s)")
        where = urlsplit(server.base_url)
        host, port = where.hostname or "127.0.0.1", where.port or 80
        requests = [request_bytes(host=host, port=port, api_key=created.api_key.key,
                                  body=buyer_order(i).body()) for i in range(options.buyers)]
        say(f"{options.buyers} buyers connecting, then released together ...")
        server_before, db_before = await stage.meter.read()
        report.take(await release_buyers(host=host, port=port, requests=requests))
        server_after, db_after = await stage.meter.read()
        report.server_cpu_seconds = bench_cpu.spent(server_before, server_after)
        report.db_cpu_seconds = bench_cpu.spent(db_before, db_after)
        say(f"sale over: {len(report.created)} orders, {report.wall_seconds:.2f}s")
        report.stock = await _stock_after(monitor, principal.business_id)
        report.drifting_levels = len(await inventory.reconcile(runtime, principal.business_id))


async def _stock_after(monitor: Any, business_id: Any) -> StockAfter:
    row = await monitor.fetchrow(
        "SELECT l.on_hand, l.reserved,"
        " (SELECT coalesce(sum(r.quantity), 0) FROM reservations r"
        "   WHERE r.stock_level_id = l.id AND r.status = 'active') AS active,"
        " (SELECT count(*) FROM orders o WHERE o.business_id = $1) AS orders,"
        " (SELECT coalesce(sum(ol.quantity), 0) FROM order_lines ol"
        "   WHERE ol.business_id = $1 AND ol.sku = $2) AS units"
        " FROM stock_levels l JOIN variants v ON v.id = l.variant_id"
        " WHERE v.business_id = $1 AND v.sku = $2", business_id, SKU)
    return StockAfter(on_hand=row["on_hand"], reserved=row["reserved"],
                      active_reservations=int(row["active"]), orders=int(row["orders"]),
                      units_ordered=int(row["units"]))

"""``orderline bench console``: how fast the console's pages render in a business with a year
of orders, and how soon a new order reaches an open console, on PostgreSQL.

On a throw-away database (created and dropped like every bench), the demo shop is grown to
``--orders`` orders (``console_shop``). Then:

1. **Pages.** Each page is asked for ``--samples`` times, one request at a time, by the demo
   owner's session, through ``orderline serve --workers N``: the dashboard (a week, the
   default, and a year), the order list (first page, the next page, a filter, a search by
   phone and by number) and the order page (a different order each time, across the year).
   The server's own time is read from each answer's ``Server-Timing`` header (from the
   request's arrival to the start of the answer: rendering included, the network not), the
   CPU of the server processes and of this database's PostgreSQL backends from ``/proc``
   around each page's requests. Beside them, **what the database alone needs** for the page:
   the SQL statements one render sends (recorded in this process, with their parameters)
   replayed by ``pgbench`` on the same server, one client, for a few seconds.
2. **Live.** ``--consoles`` console streams (``/console/stream``, as the order list opens
   it) are held by the page servers, while ``--live`` orders are placed one after another
   through ``POST /v1/orders`` on *another* ``orderline serve`` process: each event crosses
   processes through PostgreSQL's NOTIFY, as in production. Measured from the moment an
   order's request is sent: its event on each console, and its row rendered for the list
   (``GET /console/orders/live``, what the page fetches when the event arrives).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import typer

from orderline.api.app import create_app
from orderline.bench import cpu as bench_cpu
from orderline.bench import http as bench_http
from orderline.bench.console_shop import SKUS, ConsoleShop, open_console_shop
from orderline.bench.load import percentile
from orderline.bench.orders import (
    BenchRefused,
    CpuMeter,
    LoadOptions,
    run_bench,
    staged,
)
from orderline.bench.report import ms
from orderline.bench.statements import StatementCount, counting
from orderline.core.config import driver_free_url
from orderline.core.http import encode_cursor
from orderline.core.runtime import Runtime
from orderline.orders.rollups import roll_up
from orderline.staff import sessions
from orderline.web.console.access import SESSION_COOKIE

HTML = {"Accept": "text/html,application/xhtml+xml"}
# p95 targets; "queue" is the verification queue (``bench verifications``).
TARGET_MS = {"dashboard": 300.0, "orders": 100.0, "order": 100.0, "queue": 2000.0}
PGBENCH_SECONDS = 3
LIVE_WAIT_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class ConsoleBenchOptions(LoadOptions):
    orders: int = 100_000
    samples: int = 100
    live: int = 100
    consoles: int = 4
    # Sum the year's closed days into the overview's daily rollups before measuring, as the
    # worker would have over the year (off: every day is summed live, as before migration 0019).
    rollups: bool = True

    def check(self) -> None:
        if not 100 <= self.orders <= 2_000_000:
            raise BenchRefused("--orders must be between 100 and 2000000.")
        if not 1 <= self.samples <= 10_000:
            raise BenchRefused("--samples must be between 1 and 10000.")
        if not 0 <= self.live <= 10_000:
            raise BenchRefused("--live must be between 0 and 10000.")
        if not 1 <= self.consoles <= 50:
            raise BenchRefused("--consoles must be between 1 and 50.")
        if not 1 <= self.workers <= 32:
            raise BenchRefused("--workers must be between 1 and 32.")

    @property
    def settings(self) -> dict[str, Any]:
        return {"orders": self.orders, "samples": self.samples, "live": self.live,
                "consoles": self.consoles, "workers": self.workers, "rollups": self.rollups}


@dataclass
class PageFigures:
    """One page asked for ``samples`` times."""

    page: str
    kind: str  # dashboard, orders, order or queue: which target applies
    example: str
    server_ms: list[float] = field(default_factory=list)  # from Server-Timing, sorted
    client_ms: list[float] = field(default_factory=list)  # as this client waited, sorted
    server_cpu_seconds: float | None = None
    db_cpu_seconds: float | None = None
    statements: int | None = None
    database_ms: float | None = None  # pgbench's average latency of the page's SQL
    failed: int = 0

    @property
    def target_ms(self) -> float:
        return TARGET_MS[self.kind]

    def per_request(self, seconds: float | None) -> float | None:
        done = len(self.server_ms) + self.failed
        return None if seconds is None or not done else seconds * 1000 / done

    def as_dict(self) -> dict[str, Any]:
        return {"page": self.page, "example": self.example, "requests": len(self.server_ms),
                "failed": self.failed, "target_p95_ms": self.target_ms,
                "server_ms": {"p50": percentile(self.server_ms, 50),
                              "p95": percentile(self.server_ms, 95),
                              "p99": percentile(self.server_ms, 99),
                              "max": self.server_ms[-1] if self.server_ms else None},
                "client_p95_ms": percentile(self.client_ms, 95),
                "cpu_ms_per_request": {"server": self.per_request(self.server_cpu_seconds),
                                       "postgres": self.per_request(self.db_cpu_seconds)},
                "sql_statements": self.statements,
                "database_alone_ms": self.database_ms}


@dataclass
class LiveFigures:
    orders: int = 0
    consoles: int = 0
    placed_ms: list[float] = field(default_factory=list)  # POST /v1/orders, sorted
    event_ms: list[float] = field(default_factory=list)  # order sent -> event, per console
    row_ms: list[float] = field(default_factory=list)  # order sent -> its row rendered
    missed: int = 0  # (order, console) pairs whose event never came

    def as_dict(self) -> dict[str, Any]:
        def spread(values: list[float]) -> dict[str, float | None]:
            return {"p50": percentile(values, 50), "p95": percentile(values, 95),
                    "max": values[-1] if values else None}

        return {"orders": self.orders, "consoles": self.consoles, "missed": self.missed,
                "target_p95_ms": 500.0, "placed_ms": spread(self.placed_ms),
                "to_event_ms": spread(self.event_ms), "to_row_ms": spread(self.row_ms)}


@dataclass
class ConsoleReport:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    shop: dict[str, Any] = field(default_factory=dict)
    pages: list[PageFigures] = field(default_factory=list)
    live: LiveFigures | None = None


def render(report: ConsoleReport, *, verbose: bool = False) -> str:
    shop = report.shop
    lines = [f"PostgreSQL {report.server_version}; {shop.get('orders', 0):,} orders in the "
             f"business ({shop.get('templates', 0)} through the services, the rest copied in "
             f"SQL over a year; set up in {shop.get('seconds', 0):.0f}s); "
             + (f"daily rollups summed in {shop['rollup_seconds']}s (the worker's first "
                "round); " if "rollup_seconds" in shop else "no daily rollups (every day "
                "summed live); ") +
             f"{report.settings['workers']} server processes; one request at a time", "",
             "page                          requests  server p50   p95     max   target  "
             "| CPU ms/request server  postgres | SQL  database alone"]
    for p in report.pages:
        flag = "" if (percentile(p.server_ms, 95) or 0) <= p.target_ms else "  OVER"
        lines.append(
            f"{p.page:<30}{len(p.server_ms):>8}  {ms(percentile(p.server_ms, 50)):>9} "
            f"{ms(percentile(p.server_ms, 95)):>6} "
            f"{ms(p.server_ms[-1] if p.server_ms else None):>7} {p.target_ms:>7.0f}  | "
            f"{ms(p.per_request(p.server_cpu_seconds)):>20} "
            f"{ms(p.per_request(p.db_cpu_seconds)):>9} | {p.statements or '-':>3}  "
            f"{ms(p.database_ms):>8}{flag}" + (f"  ({p.failed} failed)" if p.failed else ""))
        if verbose:
            lines.append(f"    e.g. {p.example}")
    live = report.live
    if live is not None and live.orders:
        lines += ["", f"live: {live.orders} orders placed one at a time through another server "
                      f"process, {live.consoles} consoles open (target p95 500 ms)",
                  f"  POST /v1/orders answered      p50 {ms(percentile(live.placed_ms, 50))} "
                  f"p95 {ms(percentile(live.placed_ms, 95))}",
                  f"  sent -> event on a console    p50 {ms(percentile(live.event_ms, 50))} "
                  f"p95 {ms(percentile(live.event_ms, 95))} "
                  f"max {ms(live.event_ms[-1] if live.event_ms else None)}",
                  f"  sent -> its row rendered      p50 {ms(percentile(live.row_ms, 50))} "
                  f"p95 {ms(percentile(live.row_ms, 95))} "
                  f"max {ms(live.row_ms[-1] if live.row_ms else None)}",
                  f"  events missed: {live.missed}"]
    lines += ["", "server: from the request's arrival to the start of the answer (the "
                  "Server-Timing header); database alone: pgbench replaying the SQL one render "
                  "sends, one client (the dashboard's reads, run side by side by the server, "
                  "are summed)."]
    return "\n".join(lines)


def as_json(report: ConsoleReport) -> dict[str, Any]:
    return {"bench": "console", "database": report.database, "settings": report.settings,
            "postgres": report.server_version, "shop": report.shop,
            "pages": [p.as_dict() for p in report.pages],
            "live": report.live.as_dict() if report.live else None}


def run(options: ConsoleBenchOptions,
        say: Callable[[str], None] = typer.echo) -> ConsoleReport:
    """Run the whole bench, print its report, and drop its database whatever happens."""
    return run_bench(options, say, ConsoleReport,
                     lambda url, report: _bench(options, url, report, say), render, as_json)


# --- the SQL of one render, replayed by pgbench -----------------------------------------------

def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return f"'{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


_PLACEHOLDER = re.compile(r"\$(\d+)")


def _written_in(params: list[Any]) -> Callable[[re.Match[str]], str]:
    return lambda m: _literal(params[int(m[1]) - 1])


def as_pgbench_script(count: StatementCount) -> str:
    """The statements with their parameters written in, one per line, for ``pgbench -f``
    (its simple protocol: no placeholders)."""
    lines = []
    for statement, parameters in count.executed:
        text = _PLACEHOLDER.sub(_written_in(list(parameters or ())), statement)
        lines.append(" ".join(text.split()) + ";")
    return "\n".join(lines) + "\n"


def database_alone_ms(url: str, script: str) -> float | None:
    """pgbench's average latency of ``script`` on the bench's database; None without
    pgbench (PostgreSQL's client tools) on PATH."""
    program = shutil.which("pgbench")
    if program is None or not script.strip():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = Path(f.name)
    try:
        done = subprocess.run([program, "-n", "-M", "simple", "-c", "1", "-T",
                               str(PGBENCH_SECONDS), "-f", str(path), driver_free_url(url)],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        path.unlink(missing_ok=True)
    found = re.search(r"latency average = ([0-9.]+) ms", done.stdout)
    if done.returncode != 0 or found is None:
        raise BenchRefused(f"pgbench failed on a page's SQL:\n{done.stderr[-2000:]}")
    return float(found[1])


# --- pages -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Page:
    name: str
    kind: str
    paths: list[str]  # asked for in turn


def server_timing_ms(response: httpx.Response) -> float:
    found = re.search(r"app;dur=([0-9.]+)", response.headers.get("server-timing", ""))
    if found is None:
        raise BenchRefused("The server's answer has no Server-Timing header.")
    return float(found[1])


async def _pages(client: httpx.AsyncClient, monitor: Any, shop: ConsoleShop,
                 samples: int) -> list[Page]:
    first = await client.get("/console/orders")
    if first.status_code != 200:
        raise BenchRefused(f"The order list answered {first.status_code}: {first.text[:300]}")
    more = re.search(r'href="(/console/orders\?[^"]*cursor=[^"]+)"', first.text)
    if more is None:
        raise BenchRefused("The order list's first page links no next page.")
    phone = await monitor.fetchval(
        "SELECT customer_phone FROM orders WHERE business_id = $1 AND customer_phone IS NOT "
        "NULL ORDER BY created_at LIMIT 1", shop.business_id)
    numbers = [r["number"] for r in await monitor.fetch(
        "SELECT number FROM orders WHERE business_id = $1 ORDER BY random() LIMIT $2",
        shop.business_id, samples)]
    ids = [str(r["id"]) for r in await monitor.fetch(
        "SELECT id FROM orders WHERE business_id = $1 ORDER BY random() LIMIT $2",
        shop.business_id, samples)]
    return [Page("dashboard (a week)", "dashboard", ["/console"]),
            Page("dashboard (a year)", "dashboard", ["/console?period=year"]),
            Page("orders: first page", "orders", ["/console/orders"]),
            Page("orders: next page", "orders", [html.unescape(more[1])]),
            Page("orders: paid, WhatsApp", "orders",
                 ["/console/orders?status=paid&channel=whatsapp"]),
            Page("orders: search a phone", "orders",
                 [f"/console/orders?{urlencode({'q': phone})}"]),
            Page("orders: search a number", "orders",
                 [f"/console/orders?q={n}" for n in numbers]),
            Page("order page", "order", [f"/console/orders/{i}" for i in ids])]


async def measure_page(client: httpx.AsyncClient, in_process: httpx.AsyncClient,
                        runtime: Runtime, url: str, meter: CpuMeter, page: Page,
                        samples: int, warmup: int, say: Callable[[str], None]) -> PageFigures:
    figures = PageFigures(page=page.name, kind=page.kind, example=page.paths[0])
    with counting(runtime.db.engine) as recorded:
        once = await in_process.get(page.paths[0])
    if once.status_code != 200:
        raise BenchRefused(f"{page.paths[0]} answered {once.status_code} in process: "
                           f"{once.text[:300]}")
    figures.statements = len(recorded.executed)
    for n in range(warmup):
        await client.get(page.paths[n % len(page.paths)])
    server_before, db_before = await meter.read()
    for n in range(samples):
        started = time.perf_counter()
        response = await client.get(page.paths[n % len(page.paths)])
        waited = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            figures.failed += 1
            continue
        figures.server_ms.append(server_timing_ms(response))
        figures.client_ms.append(waited)
    server_after, db_after = await meter.read()
    figures.server_cpu_seconds = bench_cpu.spent(server_before, server_after)
    figures.db_cpu_seconds = bench_cpu.spent(db_before, db_after)
    figures.server_ms.sort()
    figures.client_ms.sort()
    figures.database_ms = await asyncio.to_thread(database_alone_ms, url,
                                                  as_pgbench_script(recorded))
    say(f"  {page.name}: p95 {ms(percentile(figures.server_ms, 95))} ms on the server, "
        f"{figures.statements} SQL statements, database alone {ms(figures.database_ms)} ms")
    return figures


# --- live ------------------------------------------------------------------------------------

class ConsoleStream:
    """One open ``/console/stream``: when each order's ``order.created`` arrived."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.arrived: dict[str, float] = {}
        self.open = asyncio.Event()
        self.wake = asyncio.Event()

    async def follow(self) -> None:
        async with self.client.stream("GET", "/console/stream?types=order.created",
                                      headers={"Accept": "text/event-stream"}) as response:
            if response.status_code != 200:
                raise BenchRefused(f"/console/stream answered {response.status_code}")
            self.open.set()
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    envelope = json.loads(line[5:])
                    self.arrived[envelope["aggregate"]["id"]] = time.perf_counter()
                    self.wake.set()


async def _live(options: ConsoleBenchOptions, url: str, pages_base: str, shop: ConsoleShop,
                token: str, say: Callable[[str], None]) -> LiveFigures:
    figures = LiveFigures(orders=options.live, consoles=options.consoles)
    orders_server = bench_http.ApiServer(database_url=url, workers=1)
    clients = [console_client(pages_base, token) for _ in range(options.consoles)]
    streams = [ConsoleStream(c) for c in clients]
    tasks = [asyncio.create_task(s.follow()) for s in streams]
    try:
        await orders_server.wait_ready()
        await asyncio.wait_for(asyncio.gather(*(s.open.wait() for s in streams)), 30)
        say(f"live: {options.consoles} consoles open; placing {options.live} orders through "
            "another server process ...")
        sent: dict[str, float] = {}
        rows = clients[0]
        async with bench_http.api_client(orders_server.base_url, shop.api_key,
                                         connections=1) as api:
            for n in range(options.live):
                body = {"customer": {"name": f"Live buyer {n}",
                                     "phone": f"+62 813 7770 {n:04d}"},
                        "channel": "whatsapp", "payment_method": "bank_wire",
                        "lines": [{"sku": SKUS[n % len(SKUS)], "quantity": 1}]}
                started = time.perf_counter()
                answer = await api.post("/v1/orders", json=body)
                figures.placed_ms.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 201:
                    raise BenchRefused(f"POST /v1/orders answered {answer.status_code}: "
                                       f"{answer.text[:300]}")
                order = answer.json()
                sent[order["id"]] = started
                # The list's live part asks for the rows after the newest it shows.
                since = encode_cursor(datetime.fromisoformat(order["created_at"]),
                                      uuid.UUID(int=0))
                while order["id"] not in streams[0].arrived:
                    streams[0].wake.clear()
                    try:
                        await asyncio.wait_for(streams[0].wake.wait(), LIVE_WAIT_SECONDS)
                    except TimeoutError:
                        break
                if order["id"] in streams[0].arrived:
                    fetched = await rows.get(f"/console/orders/live?after={since}")
                    if fetched.status_code == 200 and order["number"] in fetched.text:
                        figures.row_ms.append((time.perf_counter() - started) * 1000)
        deadline = time.perf_counter() + LIVE_WAIT_SECONDS
        while time.perf_counter() < deadline and any(
                len(s.arrived) < len(sent) for s in streams):
            await asyncio.sleep(0.05)
        for s in streams:
            for order_id, at in sent.items():
                if order_id in s.arrived:
                    figures.event_ms.append((s.arrived[order_id] - at) * 1000)
                else:
                    figures.missed += 1
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients:
            await c.aclose()
        orders_server.stop()
    figures.placed_ms.sort()
    figures.event_ms.sort()
    figures.row_ms.sort()
    return figures


def console_client(base: str, token: str, transport: httpx.AsyncBaseTransport | None = None
                    ) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, headers=HTML, transport=transport, timeout=60)
    client.cookies.set(SESSION_COOKIE, token)
    return client


# --- the run ---------------------------------------------------------------------------------

async def _bench(options: ConsoleBenchOptions, url: str, report: ConsoleReport,
                 say: Callable[[str], None]) -> None:
    async with staged(url, report.database, workers=options.workers) as stage:
        runtime, monitor = stage.runtime, stage.monitor
        report.server_version = stage.server_version
        shop = await open_console_shop(runtime, monitor, orders=options.orders, say=say)
        report.shop = {"orders": shop.orders, "templates": shop.template_orders,
                       "seconds": round(shop.seconds, 1)}
        say(f"shop ready: {shop.orders:,} orders ({shop.seconds:.0f}s)")
        started = await sessions.log_in(runtime, shop.owner_email, shop.owner_password,
                                        client_ip="127.0.0.1", user_agent="orderline bench")
        await stage.server.wait_ready()
        app = create_app(runtime=runtime)
        app.state.runtime = runtime
        logging.getLogger("orderline").setLevel(logging.WARNING)  # no access lines here
        transport = httpx.ASGITransport(app=app)
        async with console_client(stage.server.base_url, started.token) as client, \
                console_client("http://bench", started.token, transport) as in_process:
            pages = await _pages(client, monitor, shop, options.samples)
            say(f"pages: {options.samples} requests each, one at a time ...")
            if options.rollups:
                # The dashboards first as they were before the rollups (every day summed
                # live), then the worker's first round, then every page.
                for page in pages[:2]:
                    report.pages.append(await measure_page(
                        client, in_process, runtime, url, stage.meter,
                        replace(page, name=page.name[:-1] + ", no rollups)"),
                        options.samples, warmup=4 * options.workers, say=say))
                started_at = time.perf_counter()
                await roll_up(runtime)
                report.shop["rollup_seconds"] = round(time.perf_counter() - started_at, 2)
                say(f"rollups: the year's closed days summed in "
                    f"{report.shop['rollup_seconds']}s (the worker's first round)")
            for page in pages:
                report.pages.append(await measure_page(
                    client, in_process, runtime, url, stage.meter, page, options.samples,
                    warmup=4 * options.workers, say=say))
        if options.live:
            report.live = await _live(options, url, stage.server.base_url, shop,
                                      started.token, say)

"""``orderline bench live``: how soon a new order or a status change reaches an SSE subscriber
that is connected to *another* server process, on PostgreSQL.

On a throw-away database (created and dropped like every bench), two ``orderline serve``
processes on different ports share it: **A** holds the subscribers, **B** takes the writes, so
every event crosses processes the way it does behind a load balancer (the outbox trigger's
``pg_notify``, heard by A's ``LISTEN`` connection, wakes A's streams, which read the outbox).
``--subscribers`` business streams (``GET /v1/stream``, its default types: new orders and status
changes among them) stay open on A. Then, ``--writes`` times, one at a time:

1. a new order through B (``POST /v1/orders``), awaited on every business stream
   (``order.created``);
2. that order's own stream opened on A (``GET /v1/orders/{id}/events``), then its payment
   confirmed through B (``PATCH /v1/orders/{id}/payment``: ``pending_payment`` -> ``paid``),
   awaited on the order stream and on every business stream (``order.paid``).

Each arrival is timed three ways, on this process's clock: from the write's **answer** (B has
committed; the target's measure: an event may even arrive before the answer is read, a negative
time), from the event's own ``timestamp`` (taken in B's transaction before its commit, so an
upper bound on the time from the commit), and from the moment the request was **sent** (the
write's own time included).

The run does this twice: **quiet** (nothing else happens), then **under load** (``--background``
requests in flight keep placing other orders through B meanwhile, whose events the business
streams receive too), unless ``--background 0``. No worker runs: the streams read the outbox
themselves and do not wait for the relay. The streams' fallback poll
(``ORDERLINE_LIVE_POLL_SECONDS``) is left at its default; an arrival as late as that poll would
mean a wake-up was lost.

A business stream hands out only events older than every running write transaction of the whole
PostgreSQL server (``pg_snapshot_xmin``, so that an event committing late is never behind a
position already given out): the oldest running write transaction, in this database and in the
server's other databases, is sampled every 0.1 s and reported beside each phase, since one that
runs long delays the business streams' events by as much.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import typer

from orderline.bench import http as bench_http
from orderline.bench.load import percentile
from orderline.bench.orders import (
    BUYERS,
    BenchRefused,
    LoadOptions,
    buyer,
    check_sizes,
    place_in_process,
    run_bench,
    staged,
)
from orderline.bench.report import ms
from orderline.catalog import products as catalog
from orderline.tenancy import service as tenancy

__all__ = ["LiveBenchOptions", "LiveReport", "run"]

TARGET_P95_MS = 100.0
READY_TIMEOUT_SECONDS = 180.0  # a server starting on busy cores
ARRIVAL_TIMEOUT_SECONDS = 30.0  # past the 3 s poll and a migration elsewhere on the server
SKU = "LIVE-1"
NEW_ORDER, STATUS_ORDER_STREAM, STATUS_BUSINESS_STREAM = (
    "new order -> business streams", "status change -> order stream",
    "status change -> business streams")
KINDS = (NEW_ORDER, STATUS_ORDER_STREAM, STATUS_BUSINESS_STREAM)
QUIET, UNDER_LOAD = "quiet", "under load"


@dataclass(frozen=True, slots=True)
class LiveBenchOptions(LoadOptions):
    writes: int = 200
    subscribers: int = 4
    background: int = 8

    @property
    def settings(self) -> dict[str, Any]:
        return {"writes": self.writes, "subscribers": self.subscribers,
                "background": self.background, "cpus": os.cpu_count(),
                "live_poll_seconds": float(os.environ.get("ORDERLINE_LIVE_POLL_SECONDS", 3.0))}

    def check(self) -> None:
        check_sizes((("--writes", self.writes, 100_000),
                     ("--subscribers", self.subscribers, 1000)), None)
        if not 0 <= self.background <= 64:
            raise BenchRefused(f"--background must be between 0 and 64, not {self.background}.")


@dataclass
class Arrivals:
    """The arrival times of one kind of event in one phase, in ms."""

    from_answer: list[float] = field(default_factory=list)
    from_timestamp: list[float] = field(default_factory=list)
    from_sent: list[float] = field(default_factory=list)
    missed: int = 0

    def spread(self, values: list[float]) -> dict[str, float | None]:
        ordered = sorted(values)
        return {"p50": _rounded(percentile(ordered, 50)),
                "p95": _rounded(percentile(ordered, 95)),
                "p99": _rounded(percentile(ordered, 99)),
                "max": _rounded(ordered[-1] if ordered else None)}

    def as_dict(self) -> dict[str, Any]:
        return {"arrivals": len(self.from_answer), "missed": self.missed,
                "from_answer_ms": self.spread(self.from_answer),
                "from_timestamp_ms": self.spread(self.from_timestamp),
                "from_sent_ms": self.spread(self.from_sent)}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class Phase:
    name: str
    writes: int = 0
    write_ms: list[float] = field(default_factory=list)  # each write's own answer time
    background_orders_per_second: float | None = None
    # The oldest running write transaction seen while the phase ran, in seconds, in this
    # database and in the server's other databases: either holds back the business streams.
    oldest_write: dict[str, float] = field(default_factory=lambda: {"this": 0.0, "other": 0.0})
    kinds: dict[str, Arrivals] = field(default_factory=lambda: {k: Arrivals() for k in KINDS})

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.write_ms)
        return {"name": self.name, "writes": self.writes,
                "write_ms": {"p50": _rounded(percentile(ordered, 50)),
                             "p95": _rounded(percentile(ordered, 95))},
                "background_orders_per_second": _rounded(self.background_orders_per_second),
                "oldest_write_transaction_seconds": {
                    "this_database": _rounded(self.oldest_write["this"]),
                    "other_databases": _rounded(self.oldest_write["other"])},
                "kinds": {k: a.as_dict() for k, a in self.kinds.items()}}


@dataclass
class LiveReport:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    phases: list[Phase] = field(default_factory=list)


def run(options: LiveBenchOptions, say: Callable[[str], None] = typer.echo) -> LiveReport:
    """Run both phases, print the table, and drop the bench's database whatever happens."""
    return run_bench(options, say, LiveReport,
                     lambda url, report: _bench(options, url, report, say), render, as_json)


# --- subscribers -----------------------------------------------------------------------------

class Subscriber:
    """One open SSE stream: when each (aggregate id, event type) arrived, on two clocks."""

    def __init__(self, client: httpx.AsyncClient, path: str) -> None:
        self.client = client
        self.path = path
        self.arrived: dict[tuple[str, str], tuple[float, float, str]] = {}
        self.open = asyncio.Event()

    async def follow(self) -> None:
        async with self.client.stream("GET", self.path,
                                      headers={"Accept": "text/event-stream"}) as response:
            if response.status_code != 200:
                raise BenchRefused(f"GET {self.path} answered {response.status_code}")
            async for line in response.aiter_lines():
                self.open.set()  # the stream's first line is its "stream open" comment
                if line.startswith("data:"):
                    at, wall = time.perf_counter(), time.time()
                    envelope = json.loads(line[5:])
                    self.arrived[(envelope["aggregate"]["id"], envelope["type"])] = (
                        at, wall, envelope["timestamp"])


@contextlib.asynccontextmanager
async def following(subscribers: list[Subscriber]) -> AsyncIterator[None]:
    """The subscribers' streams open (waited for) until the block ends."""
    tasks = [asyncio.create_task(s.follow()) for s in subscribers]
    try:
        opened: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(s.open.wait() for s in subscribers)))
        waiting: list[asyncio.Future[Any]] = [opened, *tasks]
        done, _ = await asyncio.wait(waiting, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        opened.cancel()
        for task in tasks:
            if task in done:
                task.result()  # a stream that ended before opening: its error
        if not all(s.open.is_set() for s in subscribers):
            raise BenchRefused("the SSE streams did not open within 30 s")
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _await_arrivals(subscribers: list[Subscriber], key: tuple[str, str],
                          arrivals: Arrivals, *, sent: float, answered: float) -> None:
    """Wait until ``key`` reached every subscriber (or the timeout), and record the times."""
    deadline = time.perf_counter() + ARRIVAL_TIMEOUT_SECONDS
    while time.perf_counter() < deadline and any(key not in s.arrived for s in subscribers):
        await asyncio.sleep(0.002)  # the arrival time is taken by the reader, not here
    for s in subscribers:
        if key not in s.arrived:
            arrivals.missed += 1
            continue
        at, wall, stamp = s.arrived[key]
        arrivals.from_answer.append((at - answered) * 1000)
        arrivals.from_sent.append((at - sent) * 1000)
        arrivals.from_timestamp.append((wall - datetime.fromisoformat(stamp).timestamp()) * 1000)


# --- the writes ------------------------------------------------------------------------------

async def _timed(request: Callable[[], Any]) -> tuple[httpx.Response, float, float]:
    sent = time.perf_counter()
    response = await request()
    return response, sent, time.perf_counter()


async def _one_write(n: int, *, writer: httpx.AsyncClient, reader: httpx.AsyncClient,
                     streams: list[Subscriber], phase: Phase) -> None:
    name, phone = buyer(n)
    body = {"customer": {"name": name, "phone": phone}, "channel": "web",
            "payment_method": "bank_wire", "lines": [{"sku": SKU, "quantity": 1}]}
    answer, sent, answered = await _timed(lambda: writer.post("/v1/orders", json=body))
    if answer.status_code != 201:
        raise BenchRefused(f"POST /v1/orders answered {answer.status_code}: {answer.text[:300]}")
    phase.write_ms.append((answered - sent) * 1000)
    order_id = answer.json()["id"]
    await _await_arrivals(streams, (order_id, "order.created"), phase.kinds[NEW_ORDER],
                          sent=sent, answered=answered)
    order_stream = Subscriber(reader, f"/v1/orders/{order_id}/events")
    async with following([order_stream]):
        answer, sent, answered = await _timed(
            lambda: writer.patch(f"/v1/orders/{order_id}/payment", json={}))
        if answer.status_code != 200:
            raise BenchRefused(f"PATCH /v1/orders/{{id}}/payment answered "
                               f"{answer.status_code}: {answer.text[:300]}")
        phase.write_ms.append((answered - sent) * 1000)
        await asyncio.gather(
            _await_arrivals([order_stream], (order_id, "order.paid"),
                            phase.kinds[STATUS_ORDER_STREAM], sent=sent, answered=answered),
            _await_arrivals(streams, (order_id, "order.paid"),
                            phase.kinds[STATUS_BUSINESS_STREAM], sent=sent,
                            answered=answered))
    phase.writes += 1


async def _background(client: httpx.AsyncClient, stop: asyncio.Event, placed: list[int],
                      first: int) -> None:
    """Place orders one after another until ``stop``; each answer counted in ``placed``."""
    n = first
    while not stop.is_set():
        order = bench_http.HttpOrder(SKU, *buyer(n))
        response = await client.post("/v1/orders", json=order.body())
        if response.status_code != 201:
            raise BenchRefused(f"a background POST /v1/orders answered "
                               f"{response.status_code}: {response.text[:300]}")
        placed[0] += 1
        n += 1


async def _watch_horizon(monitor: Any, stop: asyncio.Event, phase: Phase) -> None:
    """Note the oldest running write transaction, here and in the server's other databases,
    every 0.1 s: a business stream hands out only events older than every running write
    transaction of the whole server (``pg_snapshot_xmin``), so these explain a late arrival."""
    while not stop.is_set():
        for row in await monitor.fetch(
                "SELECT datname = current_database() AS here, "
                "max(extract(epoch FROM now() - xact_start)) AS age FROM pg_stat_activity "
                "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() GROUP BY 1"):
            where = "this" if row["here"] else "other"
            phase.oldest_write[where] = max(phase.oldest_write[where], float(row["age"] or 0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def _phase(name: str, options: LiveBenchOptions, *, writer: httpx.AsyncClient,
                 reader: httpx.AsyncClient, background: int, monitor: Any,
                 say: Callable[[str], None]) -> Phase:
    phase = Phase(name)
    streams = [Subscriber(reader, "/v1/stream") for _ in range(options.subscribers)]
    stop, placed = asyncio.Event(), [0]
    async with following(streams):
        loaders = [asyncio.create_task(_background(writer, stop, placed, 10_000 * (i + 1)))
                   for i in range(background)]
        watcher = asyncio.create_task(_watch_horizon(monitor, stop, phase))
        started = time.perf_counter()
        try:
            say(f"{name}: {options.subscribers} business streams open on server A; "
                f"{options.writes} new orders and payments through server B"
                + (f", {background} other orders in flight meanwhile" if background else "")
                + " ...")
            for n in range(options.writes):
                await _one_write(n, writer=writer, reader=reader, streams=streams, phase=phase)
                for task in loaders:
                    if task.done():
                        task.result()  # a background failure ends the bench with its reason
        finally:
            stop.set()
            await asyncio.gather(*loaders, return_exceptions=True)
            await watcher
        if background:
            phase.background_orders_per_second = placed[0] / (time.perf_counter() - started)
    created = phase.kinds[NEW_ORDER]
    say(f"{name}: {phase.writes} writes; new order -> business stream p95 "
        f"{ms(percentile(sorted(created.from_answer), 95))} ms from the answer, "
        f"{sum(a.missed for a in phase.kinds.values())} missed")
    return phase


async def _bench(options: LiveBenchOptions, url: str, report: LiveReport,
                 say: Callable[[str], None]) -> None:
    async with staged(url, report.database, workers=1) as stage:
        runtime = stage.runtime
        report.server_version = stage.server_version
        created = await tenancy.create_business(runtime, name="Live bench shop", currency="USD")
        principal = await tenancy.authenticate(runtime, created.api_key.key)
        await catalog.create_product(runtime, principal, name="Live product", description="",
                                     variants=[catalog.NewVariant(
                                         sku=SKU, name="Live variant", price=1000,
                                         initial_stock=100_000_000)])
        for i in range(BUYERS):  # returning customers, as in the other benches
            await place_in_process(runtime, principal, i, SKU)
        writes_server = bench_http.ApiServer(database_url=url, workers=1)
        try:
            await stage.server.wait_ready(READY_TIMEOUT_SECONDS)
            await writes_server.wait_ready(READY_TIMEOUT_SECONDS)
            say(f"server A (subscribers) at {stage.server.base_url}, server B (writes) at "
                f"{writes_server.base_url}, one process each, one PostgreSQL database")
            connections = options.subscribers + 2 + options.background
            async with bench_http.api_client(writes_server.base_url, created.api_key.key,
                                             connections=connections) as writer, \
                    bench_http.api_client(stage.server.base_url, created.api_key.key,
                                          connections=connections) as reader:
                report.phases.append(await _phase(QUIET, options, writer=writer, reader=reader,
                                                  background=0, monitor=stage.monitor, say=say))
                if options.background:
                    report.phases.append(await _phase(
                        UNDER_LOAD, options, writer=writer, reader=reader,
                        background=options.background, monitor=stage.monitor, say=say))
        finally:
            writes_server.stop()


# --- the report ------------------------------------------------------------------------------

def render(report: LiveReport, *, verbose: bool = False) -> str:
    s = report.settings
    lines = [f"orderline bench live: PostgreSQL {report.server_version or '?'}; subscribers on "
             f"server A, writes through server B (one process each); {s['subscribers']} "
             f"business streams; {s['writes']} writes per phase; {s['cpus']} CPUs on this "
             f"machine; target: p95 under {TARGET_P95_MS:.0f} ms", ""]
    head = (f"{'phase':<11} {'event -> subscriber':<34} {'arrived':>7} {'missed':>6}  "
            f"{'from the answer, ms':^27}  {'timestamp':>9} {'sent':>7}")
    lines += [head, f"{'':<62}{'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}  {'p95':>9} "
              f"{'p95':>7}", "-" * (len(head) + 4)]
    verdicts = []
    for phase in report.phases:
        for kind, a in phase.kinds.items():
            answer = a.spread(a.from_answer)
            lines.append(
                f"{phase.name:<11} {kind:<34} {len(a.from_answer):>7} {a.missed:>6}  "
                f"{ms(answer['p50']):>6} {ms(answer['p95']):>6} {ms(answer['p99']):>6} "
                f"{ms(answer['max']):>7}  {ms(a.spread(a.from_timestamp)['p95']):>9} "
                f"{ms(a.spread(a.from_sent)['p95']):>7}")
            p95 = answer["p95"]
            verdicts.append(p95 is not None and p95 < TARGET_P95_MS and not a.missed)
    lines.append("")
    for phase in report.phases:
        ordered = sorted(phase.write_ms)
        lines.append(f"{phase.name}: the writes themselves (POST /v1/orders, PATCH .../payment "
                     f"on B) p50 {ms(percentile(ordered, 50))} ms, p95 "
                     f"{ms(percentile(ordered, 95))} ms"
                     + (f"; background orders {phase.background_orders_per_second:.0f}/s"
                        if phase.background_orders_per_second is not None else "")
                     + f"; oldest write transaction seen: {phase.oldest_write['this']:.2f} s "
                     f"here, {phase.oldest_write['other']:.2f} s in other databases")
    lines += ["", ("target met: every p95 from the answer under "
                   f"{TARGET_P95_MS:.0f} ms, nothing missed" if verdicts and all(verdicts) else
                   f"target NOT met: a p95 from the answer at or over {TARGET_P95_MS:.0f} ms, "
                   "or an event missed"),
              "from the answer: arrival on A minus the moment B's answer was read (negative: "
              "the event arrived first); timestamp: arrival minus the event's own timestamp "
              "(taken in B's transaction before its commit: an upper bound from the commit); "
              "sent: arrival minus the moment the write was sent (its own time included). "
              f"The streams' fallback poll is {s['live_poll_seconds']:g} s; wake-ups come from "
              "PostgreSQL NOTIFY. A business stream hands out only events older than every "
              "running write transaction of the whole PostgreSQL server: a long one, even in "
              "another database, holds its events back."]
    return "\n".join(lines)


def as_json(report: LiveReport) -> dict[str, Any]:
    return {"settings": report.settings, "database": report.database,
            "postgresql": report.server_version, "target_p95_ms": TARGET_P95_MS,
            "phases": [p.as_dict() for p in report.phases]}

"""``orderline bench verifications``: the verification workspace's three targets, on PostgreSQL.

On a throw-away database, the demo shop gets ``--proofs`` payment proofs waiting for a person
(``verification_queue``: a few through the services, the rest copied in SQL). ``--sessions``
verifiers log in (console sessions of the demo owner) and each holds the queue's live stream
open (``/console/stream?types=<the queue's types>``, what ``/console/verifications`` connects
to) on ``orderline serve --workers N``. Then:

1. **The queue page** (target p95 under 2 s): ``/console/verifications`` (first page), a page
   from the middle of the queue, and ``/console/verifications/rows`` (what each open queue asks
   for when its stream says a proof moved), ``--samples`` times each, one at a time, while
   the streams are held. As ``bench console`` measures pages: the server's time from the
   ``Server-Timing`` header, CPU per request of the server processes and of this database's
   PostgreSQL backends from ``/proc``, and the database alone (the SQL of one render replayed
   by ``pgbench``).
2. **A decision reaching the others** (target p95 under 100 ms): ``--decisions`` proofs are
   approved one after another through ``POST /v1/verifications/{id}/approve`` on *another*
   ``orderline serve`` process (after one unmeasured: its first request), while the sessions'
   streams and each decided order's buyer stream (``/v1/orders/{id}/events?access_token=``)
   are held by the page servers: each event crosses processes through PostgreSQL's NOTIFY.
   The commit time is bracketed: the event's ``timestamp`` (the server's clock as the
   decision began, before its COMMIT: the time from it is an upper bound, and the one held to
   the target) and the moment the approve answer reached the bench (after the COMMIT: a lower
   bound). Both clocks are this machine's.
3. **A 10 MB proof upload** (target p95 under 5 s): ``--uploads`` JPEG photos of
   ``--upload-mb`` MB, each to its own order, ``PUT /v1/orders/{id}/payment-proof`` with the
   buyer's token, one at a time, timed from the request's start to its 201.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import httpx
import typer

from orderline.api.app import create_app
from orderline.bench import cpu as bench_cpu
from orderline.bench import http as bench_http
from orderline.bench.console import (
    Page,
    console_client,
    measure_page,
    server_timing_ms,
)
from orderline.bench.orders import BenchRefused, CpuMeter, LoadOptions, run_bench, staged
from orderline.bench.proofs import sealed_proof_folder
from orderline.bench.receipts import noisy_image
from orderline.bench.verification_queue import BuyerOrder, open_verification_queue
from orderline.bench.verifications_report import (
    UPLOAD_CAP,
    DecisionFigures,
    UploadFigures,
    VerificationReport,
    as_json,
    render,
)
from orderline.core.http import encode_cursor
from orderline.events.event_types import EventType
from orderline.manual_payments import methods as manual_methods
from orderline.staff import sessions
from orderline.tenancy import service as tenancy
from orderline.web.console.verification_pages import LIVE_TYPES

WAIT_SECONDS = 15.0
STATS_FLUSH_SECONDS = 11.0  # an idle backend reports its counts within 10 s (PostgreSQL 15+)
QUEUE_STREAM = "/console/stream?types=" + ",".join(LIVE_TYPES)
APPROVED, PAID = EventType.PAYMENT_PROOF_APPROVED.value, EventType.ORDER_PAID.value


@dataclass(frozen=True, slots=True)
class VerificationBenchOptions(LoadOptions):
    proofs: int = 10_000
    sessions: int = 100
    samples: int = 100
    decisions: int = 100
    uploads: int = 10
    upload_mb: float = 10.0

    def check(self) -> None:
        if not 100 <= self.proofs <= 1_000_000:
            raise BenchRefused("--proofs must be between 100 and 1000000.")
        if not 1 <= self.sessions <= 500:
            raise BenchRefused("--sessions must be between 1 and 500.")
        if not 1 <= self.samples <= 10_000:
            raise BenchRefused("--samples must be between 1 and 10000.")
        if not 1 <= self.decisions <= min(1000, self.proofs - 2):
            raise BenchRefused("--decisions must be between 1 and 1000, and fewer than "
                               "--proofs.")
        if not 1 <= self.uploads <= 1000:
            raise BenchRefused("--uploads must be between 1 and 1000.")
        if not 0.05 <= self.upload_mb <= 50:
            raise BenchRefused("--upload-mb must be between 0.05 and 50.")
        if not 1 <= self.workers <= 32:
            raise BenchRefused("--workers must be between 1 and 32.")

    @property
    def upload_bytes(self) -> int:
        return round(self.upload_mb * 1_000_000)

    @property
    def settings(self) -> dict[str, Any]:
        return {"proofs": self.proofs, "sessions": self.sessions, "samples": self.samples,
                "decisions": self.decisions, "uploads": self.uploads,
                "upload_mb": self.upload_mb, "workers": self.workers}


def run(options: VerificationBenchOptions,
        say: Callable[[str], None] = typer.echo) -> VerificationReport:
    """Run the whole bench, print its report, and drop its database whatever happens."""
    more = ({"ORDERLINE_PROOF_UPLOAD_MAX_BYTES": str(options.upload_bytes + 65_536)}
            if options.upload_bytes > UPLOAD_CAP else {})
    with sealed_proof_folder(**more):
        return run_bench(options, say, VerificationReport,
                         lambda url, report: _bench(options, url, report, say), render,
                         as_json)


# --- streams ---------------------------------------------------------------------------------

class EventStream:
    """One open Server-Sent Events stream: when each (event type, aggregate id) arrived on
    this machine's clock, beside the time its event says."""

    def __init__(self, client: httpx.AsyncClient, path: str, changed: asyncio.Event) -> None:
        self.client = client
        self.path = path
        self.changed = changed
        self.arrived: dict[tuple[str, str], tuple[float, float]] = {}
        self.open = asyncio.Event()
        self.refused: str | None = None

    async def follow(self) -> None:
        async with self.client.stream("GET", self.path,
                                      headers={"Accept": "text/event-stream"}) as response:
            if response.status_code != 200:
                self.refused = f"{self.path} answered {response.status_code}"
                self.open.set()
                return
            self.open.set()
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    at = time.time()
                    envelope = json.loads(line[5:])
                    stamp = datetime.fromisoformat(envelope["timestamp"]).timestamp()
                    self.arrived[(envelope["type"], envelope["aggregate"]["id"])] = (at, stamp)
                    self.changed.set()


class Streams:
    """Streams held open by tasks of their own; closed together."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.held: list[EventStream] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.clients: list[httpx.AsyncClient] = []

    async def open(self, clients: list[httpx.AsyncClient], paths: list[str]) -> list[EventStream]:
        opened = [EventStream(c, p, self.changed) for c, p in zip(clients, paths, strict=True)]
        self.clients += clients
        self.held += opened
        self.tasks += [asyncio.create_task(s.follow()) for s in opened]
        await asyncio.wait_for(asyncio.gather(*(s.open.wait() for s in opened)), 60)
        refused = next((s.refused for s in opened if s.refused), None)
        if refused:
            raise BenchRefused(refused)
        return opened

    async def until(self, done: Callable[[], bool], seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while not done():
            self.changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for c in self.clients:
            await c.aclose()


# --- the phases ------------------------------------------------------------------------------

async def _pages(monitor: Any, business_id: Any, pending: int) -> list[Page]:
    middle = await monitor.fetchrow(
        "SELECT uploaded_at, id FROM payment_proofs WHERE business_id = $1 AND status = "
        "'pending' ORDER BY uploaded_at, id OFFSET $2 LIMIT 1", business_id, pending // 2)
    cursor = encode_cursor(middle["uploaded_at"], middle["id"])
    return [Page("queue: first page", "queue", ["/console/verifications"]),
            Page("queue: a page mid-queue", "queue", [f"/console/verifications?cursor={cursor}"]),
            Page("queue: rows (live refresh)", "queue", ["/console/verifications/rows"])]


async def _outbox_scans(conn: Any) -> int:
    """Scans of the outbox so far, as PostgreSQL counts them (a backend reports its own at
    the end of a transaction a second after its last report, or within 10 s of going idle)."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return int(await conn.fetchval(
        "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
        "WHERE relname = 'outbox_events'"))


def _all_arrived(buyer: EventStream, paid: tuple[str, str], queues: list[EventStream],
                 proof: tuple[str, str]) -> bool:
    return paid in buyer.arrived and all(proof in q.arrived for q in queues)


async def _decide(decider: bench_http.ApiServer, api_key: str, pages_base: str,
                  streams: Streams, queues: list[EventStream], orders: list[BuyerOrder],
                  meters: tuple[CpuMeter, CpuMeter],
                  say: Callable[[str], None]) -> DecisionFigures:
    # The first approval warms the deciding process up (its first request), unmeasured.
    async with bench_http.api_client(decider.base_url, api_key, connections=1) as api:
        warm = await api.post(f"/v1/verifications/{orders[0].proof_id}/approve", json={})
        if warm.status_code != 200:
            raise BenchRefused(f"Approving a proof answered {warm.status_code}: "
                               f"{warm.text[:300]}")
    orders = orders[1:]
    figures = DecisionFigures(decisions=len(orders), sessions=len(queues))
    buyers = await streams.open(
        [httpx.AsyncClient(base_url=pages_base, timeout=60) for _ in orders],
        [f"/v1/orders/{o.order_id}/events?access_token={o.access_token}" for o in orders])
    say(f"decisions: {len(orders)} buyers' order streams open beside {len(queues)} queues; "
        "approving one at a time through another server process ...")
    pages_meter, decider_meter = meters
    pages_before, db_before = await pages_meter.read()
    decider_before, _ = await decider_meter.read()
    bench_before = bench_cpu.cpu_by_pid([os.getpid()])
    scans_before = await _outbox_scans(pages_meter.conn)
    async with bench_http.api_client(decider.base_url, api_key, connections=1) as api:
        for n, (order, buyer) in enumerate(zip(orders, buyers, strict=True)):
            proof, paid = (APPROVED, str(order.proof_id)), (PAID, str(order.order_id))
            started = time.perf_counter()
            answer = await api.post(f"/v1/verifications/{order.proof_id}/approve", json={})
            answered = time.time()
            figures.answered_ms.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise BenchRefused(f"Approving a proof answered {answer.status_code}: "
                                   f"{answer.text[:300]}")
            await streams.until(partial(_all_arrived, buyer, paid, queues, proof),
                                WAIT_SECONDS)
            for stream, key, into, after in ((buyer, paid, figures.to_buyer_ms,
                                              figures.answer_to_buyer_ms),
                                             *((q, proof, figures.to_queue_ms,
                                                figures.answer_to_queue_ms) for q in queues)):
                if key not in stream.arrived:
                    if stream is buyer:
                        figures.missed_buyer += 1
                    else:
                        figures.missed_queue += 1
                    continue
                at, stamp = stream.arrived[key]
                into.append((at - stamp) * 1000)
                after.append((at - answered) * 1000)
            if (n + 1) % 25 == 0:
                say(f"  {n + 1} of {len(orders)} decided")
    pages_after, db_after = await pages_meter.read()
    decider_after, _ = await decider_meter.read()
    figures.bench_cpu_seconds = bench_cpu.spent(bench_before,
                                                bench_cpu.cpu_by_pid([os.getpid()]))
    figures.pages_cpu_seconds = bench_cpu.spent(pages_before, pages_after)
    figures.decider_cpu_seconds = bench_cpu.spent(decider_before, decider_after)
    figures.db_cpu_seconds = bench_cpu.spent(db_before, db_after)
    await asyncio.sleep(STATS_FLUSH_SECONDS)
    figures.outbox_reads = await _outbox_scans(pages_meter.conn) - scans_before
    for values in (figures.answered_ms, figures.to_queue_ms, figures.to_buyer_ms,
                   figures.answer_to_queue_ms, figures.answer_to_buyer_ms):
        values.sort()
    return figures


async def _upload(options: VerificationBenchOptions, pages_base: str, orders: list[BuyerOrder],
                  meter: CpuMeter, limit: int, say: Callable[[str], None]) -> UploadFigures:
    figures = UploadFigures(uploads=len(orders) - 1, limit_bytes=limit,
                            limit_raised=limit > UPLOAD_CAP)
    began = time.perf_counter()
    files = [noisy_image(options.upload_bytes, media_type="image/jpeg", seed=1000 + n)
             for n in range(len(orders))]
    figures.bytes_each = sum(len(f) for f in files[1:]) / max(len(files) - 1, 1)
    say(f"uploads: {len(files)} photos of {figures.bytes_each / 1e6:.2f} MB drawn "
        f"({time.perf_counter() - began:.1f}s); the first one warms up, then one at a time ...")
    async with httpx.AsyncClient(base_url=pages_base, timeout=120) as client:
        server_before: dict[int, float] = {}
        db_before: dict[int, float] = {}
        for n, (order, content) in enumerate(zip(orders, files, strict=True)):
            if n == 1:
                server_before, db_before = await meter.read()
            started = time.perf_counter()
            answer = await client.put(f"/v1/orders/{order.order_id}/payment-proof",
                                      content=content, headers={
                                          "Authorization": f"Bearer {order.access_token}"})
            took = (time.perf_counter() - started) * 1000
            if answer.status_code != 201:
                raise BenchRefused(f"An upload of {len(content):,} bytes answered "
                                   f"{answer.status_code}: {answer.text[:300]}")
            if n:
                figures.client_ms.append(took)
                figures.server_ms.append(server_timing_ms(answer))
        server_after, db_after = await meter.read()
    figures.server_cpu_seconds = bench_cpu.spent(server_before, server_after)
    figures.db_cpu_seconds = bench_cpu.spent(db_before, db_after)
    figures.client_ms.sort()
    figures.server_ms.sort()
    return figures


async def _bench(options: VerificationBenchOptions, url: str, report: VerificationReport,
                 say: Callable[[str], None]) -> None:
    async with staged(url, report.database, workers=options.workers) as stage:
        runtime, monitor = stage.runtime, stage.monitor
        report.server_version = stage.server_version
        decider = bench_http.ApiServer(database_url=url, workers=1)
        streams = Streams()
        try:
            queue = await open_verification_queue(runtime, monitor, proofs=options.proofs,
                                                  decisions=options.decisions + 1,
                                                  uploads=options.uploads + 1, say=say)
            report.queue = {"pending": queue.pending, "templates": queue.templates,
                            "seconds": round(queue.seconds, 1)}
            say(f"queue ready: {queue.pending:,} proofs waiting ({queue.seconds:.0f}s)")
            limit = runtime.settings.proof_upload_max_bytes
            if options.upload_bytes > UPLOAD_CAP:
                principal = await tenancy.authenticate(runtime, queue.api_key)
                await manual_methods.update_settings(runtime, principal,
                                                     {"proof_max_bytes": limit})
                say(f"the proof upload limit is {UPLOAD_CAP:,} bytes by default: raised to "
                    f"{limit:,} for this run (ORDERLINE_PROOF_UPLOAD_MAX_BYTES and the shop's "
                    "proof_max_bytes)")
            tokens = []
            for n in range(options.sessions):
                started = await sessions.log_in(runtime, queue.owner_email,
                                                queue.owner_password, client_ip="127.0.0.1",
                                                user_agent=f"orderline bench verifier {n}")
                tokens.append(started.token)
            await stage.server.wait_ready()
            await decider.wait_ready()
            base = stage.server.base_url
            queues = await streams.open([console_client(base, t) for t in tokens],
                                        [QUEUE_STREAM] * len(tokens))
            report.sessions_open = len(queues)
            report.load_average.append(os.getloadavg()[0])
            say(f"{len(queues)} verifier sessions hold the queue's stream; the queue page, "
                f"{options.samples} requests each, one at a time ...")
            app = create_app(runtime=runtime)
            app.state.runtime = runtime
            logging.getLogger("orderline").setLevel(logging.WARNING)
            async with console_client(base, tokens[0]) as client, \
                    console_client("http://bench", tokens[0],
                                   httpx.ASGITransport(app=app)) as in_process:
                for page in await _pages(monitor, queue.business_id, queue.pending):
                    report.pages.append(await measure_page(
                        client, in_process, runtime, url, stage.meter, page, options.samples,
                        warmup=4 * options.workers, say=say))
            decider_meter = CpuMeter(monitor, report.database, decider.process.pid)
            report.decisions = await _decide(decider, queue.api_key, base, streams,
                                             queues, queue.to_decide,
                                             (stage.meter, decider_meter), say)
            report.uploads = await _upload(options, base, queue.to_upload, stage.meter,
                                           limit, say)
            report.load_average.append(os.getloadavg()[0])
            # Decided proofs left the queue, uploaded ones joined it.
            report.queue["pending_after"] = int(await monitor.fetchval(
                "SELECT count(*) FROM payment_proofs WHERE business_id = $1 AND status = "
                "'pending'", queue.business_id))
        finally:
            await streams.close()
            decider.stop()

"""``orderline bench proofs``: payment proof uploads over HTTP, and reading proofs (OCR).

One run creates a throw-away database on the given server, migrates it, and opens a PHP shop
through the services: one product, a GCash method, and one order per upload to come (each
order takes one proof; a second file for the same order would supersede the first, a file
already sent for another order would be refused as a duplicate, so every upload is a
different picture). Proof files are sealed into a temporary folder with a key made for the
run (``ORDERLINE_PROOF_STORAGE_DIR`` and ``ORDERLINE_PROOF_MASTER_KEYS``, which the server
processes read too). Then:

1. Uploads against ``orderline serve --workers W``, ``connections`` in flight, of two sizes:
   ``~200 KB`` (a receipt screenshot as PNG) and ``~10 MB`` (a large photo as JPEG, under the
   10 MiB limit). Each ``PUT /v1/orders/{id}/payment-proof`` carries the buyer's order access
   token; the server checks the order, decodes and re-encodes the image without metadata,
   checks the fingerprint, seals and stores the file, and writes the proof, its audit entry
   and its event in one transaction. Throughput is uploads (and MB) per second.
2. Reading: ``ocr`` receipts drawn like a phone screenshot (720 px wide) are uploaded, then read
   in-process by the worker's own job (``score_due``: open the sealed file, Tesseract, read the
   amount, reference, date and recipient, score, write the result). Reported per proof: the
   OCR call alone and the whole job, and how many scored with the amount and reference found.

The database and the folder are removed at the end, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import typer

from orderline.bench import http as bench_http
from orderline.bench.load import PhaseResult, drive, percentile
from orderline.bench.orders import (
    BenchRefused,
    LoadOptions,
    check_sizes,
    measured_phase,
    run_bench,
    staged,
)
from orderline.bench.receipts import draw_receipt, noisy_image
from orderline.bench.report import cpu_note, table
from orderline.bench.statements import StatementCount, counting, one_line
from orderline.catalog import products as catalog
from orderline.checkout import direct_orders
from orderline.core.runtime import Runtime
from orderline.manual_payments import methods as manual_methods
from orderline.manual_payments import proof_store
from orderline.manual_payments import proofs as payment_proofs
from orderline.manual_payments.files.configured import PROOF_READER
from orderline.manual_payments.methods import format_amount
from orderline.manual_payments.scoring import score_due
from orderline.orders import service as orders
from orderline.orders.callers import OrderCaller
from orderline.orders.rules import RequestedLine
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal

SMALL, LARGE = "200 KB png", "10 MB jpeg"
SIZES = {SMALL: (200_000, "image/png"), LARGE: (9_800_000, "image/jpeg")}
WARMUP = 4
PRICE = 125_000
ACCOUNT = "Juan Dela Cruz"


@dataclass(frozen=True, slots=True)
class ProofBenchOptions(LoadOptions):
    small: int = 200  # ~200 KB uploads measured
    large: int = 30  # ~10 MB uploads measured
    ocr: int = 20  # receipts read by the worker's job
    connections: int = 8

    def check(self) -> None:
        check_sizes((("--small", self.small, 100_000), ("--large", self.large, 10_000),
                     ("--ocr", self.ocr, 10_000), ("--connections", self.connections, 64),
                     ("--workers", self.workers, 16)), self.max_seconds)

    @property
    def settings(self) -> dict[str, Any]:
        return {"small": self.small, "large": self.large, "ocr": self.ocr, "warmup": WARMUP,
                "connections": self.connections, "workers": self.workers,
                "max_seconds": self.max_seconds}


@dataclass
class ProofReport:
    database: str
    settings: dict[str, Any]
    server_version: str = ""
    results: list[PhaseResult] = field(default_factory=list)
    bytes_per_upload: dict[str, float] = field(default_factory=dict)
    ocr_seconds: list[float] = field(default_factory=list)  # the OCR call, per proof
    job_seconds: list[float] = field(default_factory=list)  # score_due per proof
    scored: dict[str, int] = field(default_factory=dict)
    statements: dict[str, StatementCount] = field(default_factory=dict)  # one upload's SQL


def run(options: ProofBenchOptions, say: Callable[[str], None] = typer.echo) -> ProofReport:
    with sealed_proof_folder():
        return run_bench(options, say, ProofReport,
                         lambda url, report: _bench(options, url, report, say), render,
                         as_json)


@contextlib.contextmanager
def sealed_proof_folder(**more: str) -> Iterator[Path]:
    """A temporary proof folder and a master key made for the run, set in the environment
    that the bench's runtime and its server processes read (with ``more`` variables, e.g.
    ``ORDERLINE_PROOF_UPLOAD_MAX_BYTES``); restored, and the folder removed, on the way out."""
    folder = Path(tempfile.mkdtemp(prefix="orderline-bench-proofs-"))
    wanted = {"ORDERLINE_PROOF_STORAGE_DIR": str(folder),
              "ORDERLINE_PROOF_MASTER_KEYS": f"bench:{base64.b64encode(os.urandom(32)).decode()}",
              **more}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield folder
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Upload:
    order_id: str
    token: str
    content: bytes


async def _orders(runtime: Runtime, principal: Principal, count: int) -> list[dict[str, Any]]:
    placed: list[dict[str, Any]] = []

    async def place(i: int) -> None:
        placed.append(await direct_orders.create_order(runtime, principal, direct_orders.NewOrder(
            customer=orders.Contact(name=f"Bench buyer {i % 100}",
                                    phone=f"+63 917 {i % 100:07d}"),
            channel="web", lines=[RequestedLine("PROOF-1", 1)], payment_method="gcash")))

    made = await drive(range(count), scenario="setup", path="in-process", concurrency=8,
                       place=place)
    if made.failed:
        raise BenchRefused(f"Could not place the bench's orders: {made.first_failure}")
    return placed


def _files(size: str, count: int, seed: int) -> list[bytes]:
    target, media_type = SIZES[size]
    return [noisy_image(target, media_type=media_type, seed=seed + i) for i in range(count)]


async def _upload_phase(options: ProofBenchOptions, client: httpx.AsyncClient,
                        runtime: Runtime, principal: Principal, report: ProofReport,
                        meter: Any, size: str, count: int, seed: int,
                        say: Callable[[str], None]) -> None:
    began = time.perf_counter()
    files = _files(size, WARMUP + count, seed)
    placed = await _orders(runtime, principal, len(files))
    planned = [Upload(o["id"], o["access_token"], f) for o, f in zip(placed, files,
                                                                      strict=True)]
    report.bytes_per_upload[size] = statistics.mean(len(f) for f in files)
    say(f"{size}: {len(files)} files of {report.bytes_per_upload[size] / 1e6:.2f} MB on "
        f"average and their orders made ({time.perf_counter() - began:.1f}s)")

    async def send(upload: Upload) -> None:
        response = await client.put(f"/v1/orders/{upload.order_id}/payment-proof",
                                    content=upload.content,
                                    headers={"Authorization": f"Bearer {upload.token}"})
        if response.status_code != 201:
            raise BenchRefused(f"HTTP {response.status_code}: {response.text[:200]}")

    # One more upload in-process, its SQL counted (the steady state: the business and its
    # settings already read by others).
    extra = (await _orders(runtime, principal, 1))[0]
    caller = OrderCaller(business_id=principal.business_id, order_id=extra["id"],
                         principal=None)
    with counting(runtime.db.engine) as counted:
        await payment_proofs.upload(runtime, caller, _files(size, 1, seed + 50_000)[0])
    report.statements[size] = counted
    report.results.append(await measured_phase(
        label=f"http uploads, {size}", noun="uploads", scenario="upload", path=size,
        planned=planned, warmup=WARMUP, warm=send, place=send,
        connections=options.connections, max_seconds=options.max_seconds, meter=meter,
        say=say, servers=True))


async def _ocr_phase(options: ProofBenchOptions, client: httpx.AsyncClient, runtime: Runtime,
                     principal: Principal, report: ProofReport,
                     say: Callable[[str], None]) -> None:
    from orderline.manual_payments.files.ocr import TesseractReader

    reader = TesseractReader()
    if not reader.available():
        raise BenchRefused("Tesseract is not installed: apt-get install tesseract-ocr, or run "
                           "with --ocr 1 on a machine that has it.")
    timed = _TimedReader(reader)
    runtime.put(PROOF_READER, timed)
    placed = await _orders(runtime, principal, options.ocr)
    for order in placed:
        mp = order["manual_payment"]
        receipt = draw_receipt(amount=format_amount(mp["amount"], "PHP").split(" ", 1)[1],
                               reference=mp["reference"], date="Dec 02, 2026 10:15 AM",
                               recipient=ACCOUNT)
        response = await client.put(f"/v1/orders/{order['id']}/payment-proof",
                                    content=receipt,
                                    headers={"Authorization": f"Bearer {order['access_token']}"})
        if response.status_code != 201:
            raise BenchRefused(f"A receipt upload failed: HTTP {response.status_code}")
    say(f"ocr: {options.ocr} receipts uploaded; reading them one at a time in this process")
    while True:
        began = time.perf_counter()
        if not await score_due(runtime, limit=1):
            break
        report.job_seconds.append(time.perf_counter() - began)
    report.ocr_seconds = list(timed.seconds)
    async with runtime.db.read() as conn:
        rows = await proof_store.queue(conn, principal.business_id,
                                       proof_store.QueueFilter(status=None),
                                       after=None, limit=options.ocr)
    found = [{c["name"]: c["passed"] for c in (r["checks"] or [])} for r in rows]
    report.scored = {"read": len(rows),
                     "scored": sum(r["ocr_status"] == "scored" for r in rows),
                     "amount_found": sum(bool(f.get("amount")) for f in found),
                     "reference_found": sum(bool(f.get("reference")) for f in found)}


class _TimedReader:
    """The reader the worker uses, timing each call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    def available(self) -> bool:
        return bool(self.inner.available())

    async def read_text(self, content: bytes, media_type: str) -> str:
        began = time.perf_counter()
        try:
            return str(await self.inner.read_text(content, media_type))
        finally:
            self.seconds.append(time.perf_counter() - began)


async def _bench(options: ProofBenchOptions, url: str, report: ProofReport,
                 say: Callable[[str], None]) -> None:
    started = time.perf_counter()
    async with staged(url, report.database, workers=options.workers) as stage:
        runtime, server = stage.runtime, stage.server
        report.server_version = stage.server_version
        created = await tenancy.create_business(runtime, name="Proof bench shop",
                                                currency="PHP")
        principal = await tenancy.authenticate(runtime, created.api_key.key)
        units = 2 * (options.small + options.large + options.ocr + 2 * WARMUP) + 10
        await catalog.create_product(runtime, principal, name="Proof bench product",
                                     description="", variants=[catalog.NewVariant(
                                         sku="PROOF-1", name="Tee", price=PRICE,
                                         initial_stock=units)])
        await manual_methods.create_method(
            runtime, principal, template="gcash", code=None, name=None, kind=None,
            currency=None, account_name=ACCOUNT, account_number="0917 555 0101",
            bank_name=None, details={}, instructions=None, channels=[], enabled=True,
            position=0)
        await server.wait_ready()
        say(f"setup: shop, GCash method, {options.workers} server processes ready "
            f"({time.perf_counter() - started:.1f}s)")
        async with bench_http.api_client(server.base_url, None,
                                         connections=options.connections) as client:
            # Reading first: then the only proofs waiting to be read are its receipts.
            await _ocr_phase(options, client, runtime, principal, report, say)
            await _upload_phase(options, client, runtime, principal, report, stage.meter,
                                SMALL, options.small, 1, say)
            await _upload_phase(options, client, runtime, principal, report, stage.meter,
                                LARGE, options.large, 100_000, say)


def _seconds(values: list[float], percent: float) -> str:
    found = percentile(sorted(values), percent)
    return "-" if found is None else f"{found:.2f}s"


def render(report: ProofReport, *, verbose: bool = False) -> str:
    s = report.settings
    lines = [f"orderline bench proofs: PostgreSQL {report.server_version or '?'}; "
             f"{s['connections']} uploads in flight; {s['workers']} server processes; "
             f"{s['warmup']} warm-up uploads per size", ""]
    lines += table(report.results, {SMALL: "PUT payment-proof, ~200 KB PNG",
                                    LARGE: "PUT payment-proof, ~10 MB JPEG"}, None,
                   unit="upload")
    for result in report.results:
        mb = report.bytes_per_upload.get(result.path, 0) / 1e6
        count = report.statements.get(result.path)
        sql = (f"; one upload sends {len(count.statements)} SQL statements in "
               f"{count.checkouts} connection checkouts" if count else "")
        lines.append(f"{result.path}: {result.orders_per_second * mb:.1f} MB/s of proofs "
                     f"({mb:.2f} MB each){sql}")
        if verbose and count:
            lines += [f"    {one_line(sql_text)}" for sql_text in count.statements]
    lines += ["", cpu_note("upload"), ""]
    if report.ocr_seconds:
        lines.append(
            f"reading proofs (worker job, one at a time, {len(report.job_seconds)} receipts "
            f"720 px wide): OCR call p50 {_seconds(report.ocr_seconds, 50)}, p95 "
            f"{_seconds(report.ocr_seconds, 95)}; whole job per proof (open, OCR, score, write)"
            f" p50 {_seconds(report.job_seconds, 50)}, p95 {_seconds(report.job_seconds, 95)}")
        sc = report.scored
        lines.append(f"receipts scored {sc.get('scored', 0)}/{sc.get('read', 0)}, amount read "
                     f"right {sc.get('amount_found', 0)}, reference found "
                     f"{sc.get('reference_found', 0)}")
    return "\n".join(lines)


def as_json(report: ProofReport) -> dict[str, Any]:
    return {"settings": report.settings, "database": report.database,
            "postgresql": report.server_version,
            "results": [{**r.as_dict(),
                         "bytes_per_upload": report.bytes_per_upload.get(r.path),
                         "statements": (report.statements[r.path].as_dict()
                                        if r.path in report.statements else None)}
                        for r in report.results],
            "ocr": {"ocr_seconds": report.ocr_seconds, "job_seconds": report.job_seconds,
                    "scored": report.scored}}

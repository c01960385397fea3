"""The database ceiling of ``orderline bench``: the minimal order transaction, run by ``pgbench``.

The asyncpg replay (``bench_raw``) is Python replaying the service's writes: it measures the
service's SQL, not what PostgreSQL can do. This phase asks the database alone. ``pgbench``
(PostgreSQL's client tools, C, prepared statements) runs, with as many clients as the HTTP
phase has requests in flight, the least an order needs:

1. the conditional stock hold the product sends (``catalog.stock_store.hold_units``:
   ``UPDATE stock_levels SET reserved = reserved + 1 ... WHERE ... AND on_hand - reserved >=
   1``), on a SKU picked by pgbench's ``\\set ... random()`` among the scenario's SKUs (the
   SKU found by its code, as the product finds it);
2. the order (a fresh ``gen_random_uuid()`` id, a number derived from it: no sequence);
3. its line; 4. its ``order.created`` outbox event; then COMMIT.

So it leaves out what the product also writes (order number, reservation row, history entry,
stream counter), what it reads first (API key, channel, location, catalog, customer) and
reading the order back: it is the floor under any implementation of order creation, not a
replay of this one.

The SKUs it takes from belong to a business of their own (``stock_ceiling_skus``), stocked so
high that the conditional UPDATE always finds a free unit, as the HTTP phases always do (their
stock is sized for every planned order): the condition is still evaluated on every hold. A
hold that found no unit would abort its pgbench client (``\\gset`` expects one row); aborted
clients are reported as failures. The measured business's stock books are not touched.

Latency percentiles come from pgbench's per-transaction log (``-l``); the CPU of this
database's PostgreSQL backends is sampled while pgbench runs (a backend's CPU is read last
shortly before it exits, so the figure is a floor), pgbench's own from ``RUSAGE_CHILDREN``.
"""

from __future__ import annotations

import asyncio
import re
import resource
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orderline.bench import cpu as bench_cpu
from orderline.bench.catalog import PRICE, stock_spread_skus
from orderline.bench.load import PhaseResult
from orderline.core.config import driver_free_url

CEILING = "database alone"  # the path name of a ceiling phase in the reports
SKU_PREFIX = "DB-"
PHONE_PREFIX = "+1 555 9"  # + pgbench's client_id: each client orders as a customer of its own
UNITS = 1_000_000_000  # per SKU: no hold is ever refused for want of stock
SAMPLE_SECONDS = 0.25
DEFAULT_SECONDS = 10.0

# The pgbench script: variables business, location, price, first and last come from -D.
HOLD = ("UPDATE stock_levels SET reserved = stock_levels.reserved + 1, updated_at = now() "
        "WHERE stock_levels.id = (SELECT stock_levels.id FROM stock_levels JOIN variants ON "
        "variants.id = stock_levels.variant_id WHERE variants.business_id = :business AND "
        "variants.sku = CAST(:prefix AS text) || CAST(:n AS text) AND stock_levels.location_id "
        "= :location) AND stock_levels.on_hand - stock_levels.reserved >= 1 "
        "RETURNING stock_levels.variant_id \\gset")
INSERT_ORDER = (
    "INSERT INTO orders (id, business_id, number, status, channel, customer_id, customer_name, "
    "customer_phone, payment_method, note, currency, subtotal, total, location_id, version, "
    "payment_deadline, created_at, updated_at) SELECT new.id, "
    "CAST(:business AS uuid), 'DB-' || left(md5(CAST(new.id AS text)), 16), 'pending_payment', "
    "'web', customers.id, customers.name, customers.phone, 'card', '', 'USD', "
    "CAST(:price AS bigint), CAST(:price AS bigint), CAST(:location AS uuid), 1, "
    "now() + interval '15 minutes', now(), now() FROM (SELECT gen_random_uuid() AS id) AS new, "
    "customers WHERE customers.business_id = CAST(:business AS uuid) AND customers.phone = "
    "CAST(:phone AS text) || CAST(:client_id AS text) "
    "RETURNING orders.id AS order_id \\gset")
INSERT_LINE = (
    "INSERT INTO order_lines (id, business_id, order_id, position, variant_id, sku, name, "
    "unit_price, quantity, line_total) VALUES (gen_random_uuid(), :business, :order_id, 0, "
    ":variant_id, CAST(:prefix AS text) || CAST(:n AS text), 'Database variant', :price, 1, "
    ":price);")
INSERT_OUTBOX = (
    "INSERT INTO outbox_events (event_id, business_id, type, aggregate_type, aggregate_id, "
    "sequence, payload, created_at, status, attempts) VALUES (gen_random_uuid(), :business, "
    "'order.created', 'order', :order_id, 1, json_build_object('order', json_build_object("
    "'id', CAST(:order_id AS text), 'status', 'pending_payment', 'channel', 'web', "
    "'currency', 'USD', 'total', CAST(:price AS integer), 'lines', json_build_array("
    "json_build_object('sku', CAST(:prefix AS text) || CAST(:n AS text), 'quantity', 1, "
    "'unit_price', CAST(:price AS integer)))), 'previous_status', NULL, 'action', 'created'), "
    "now(), 'pending', 0);")
STATEMENTS = (HOLD, INSERT_ORDER, INSERT_LINE, INSERT_OUTBOX)
COMMITS = 1


def order_script() -> str:
    """The pgbench script of one order: pick a SKU, then the transaction."""
    return "\n".join(["\\set n random(:first, :last)", "BEGIN;", *STATEMENTS, "COMMIT;"]) + "\n"


def sku(n: int) -> str:
    return f"{SKU_PREFIX}{n}"


async def stock_ceiling_skus(conn: Any, *, business_id: uuid.UUID, location_id: uuid.UUID,
                             actor: str, count: int, clients: int) -> None:
    """``count`` SKUs (``DB-1`` ...) for the ceiling's own business, each with ``UNITS``, and
    one returning customer per pgbench client (one shared customer row would make every
    order's foreign-key check share its lock: a contention no shop has)."""
    await stock_spread_skus(conn, business_id=business_id, location_id=location_id,
                            currency="USD", actor=actor,
                            skus=[sku(n) for n in range(1, count + 1)], units=UNITS)
    now = datetime.now(UTC)
    await conn.copy_records_to_table("customers", records=[
        (uuid.uuid4(), business_id, f"Database buyer {i}", f"{PHONE_PREFIX}{i}", 0, 0, now)
        for i in range(clients)], columns=["id", "business_id", "name", "phone",
                                           "total_orders", "total_spent", "created_at"])


# --- reading pgbench -------------------------------------------------------------------------

def parse_summary(stdout: str) -> tuple[int, int, float]:
    """Transactions done, failed and tx/s from pgbench's summary (PostgreSQL 13+ wording;
    "failed" appears from 15 on, 0 before)."""
    done = re.search(r"number of transactions actually processed: (\d+)", stdout)
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", stdout)
    if done is None or tps is None:
        raise ValueError(f"not a pgbench summary:\n{stdout[-1000:]}")
    failed = re.search(r"number of failed transactions: (\d+)", stdout)
    return int(done[1]), int(failed[1]) if failed else 0, float(tps[1])


def aborted_clients(stderr: str) -> list[str]:
    """pgbench's lines about clients it aborted (an error in a transaction ends a client)."""
    return [line for line in stderr.splitlines()
            if re.search(r"client \d+ (script \d+ )?aborted", line)]


def log_latencies_ms(lines: Sequence[str]) -> list[float]:
    """Latencies of the successful transactions in pgbench's ``-l`` log lines
    (``client_id transaction_no time script_no time_epoch time_us``, time in microseconds;
    a failed transaction's time is a word, not a number)."""
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2].isdigit():
            found.append(int(fields[2]) / 1000)
    return sorted(found)


def share(rate: float, ceiling: float | None) -> float | None:
    """``rate`` as a share of ``ceiling`` (None without a ceiling to compare with)."""
    if ceiling is None or ceiling <= 0:
        return None
    return rate / ceiling


def describe_share(noun: str, rate: float, ceiling: PhaseResult | None) -> str:
    """ "55 orders/s = 2.6% of what the database does alone: 2,100 tx/s (16 clients)"."""
    part = share(rate, ceiling.orders_per_second if ceiling else None)
    if ceiling is None or part is None:
        return f"{rate:,.0f} {noun}/s (no database ceiling measured)"
    return (f"{rate:,.0f} {noun}/s = {part:.1%} of what the database does alone: "
            f"{ceiling.orders_per_second:,.0f} tx/s")


# --- running it ------------------------------------------------------------------------------

async def _sample_backends(monitor: Any, database: str, seen: dict[int, float],
                           stop: asyncio.Event) -> None:
    """Keep the latest CPU reading of each of this database's backends until ``stop``."""
    while True:
        rows = await monitor.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND "
                                   "pid <> pg_backend_pid()", database)
        seen.update(bench_cpu.cpu_by_pid(r["pid"] for r in rows
                                         if bench_cpu.is_postgres(r["pid"])))
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
            return
        except TimeoutError:
            continue


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_ceiling(*, url: str, database: str, monitor: Any, scenario: str, clients: int,
                      seconds: float, business_id: uuid.UUID, location_id: uuid.UUID,
                      first: int, last: int) -> PhaseResult:
    """pgbench running ``order_script`` for ``seconds`` with ``clients``, each transaction on
    a SKU ``DB-first`` .. ``DB-last``; the result as a phase of path ``CEILING``."""
    program = shutil.which("pgbench")
    if program is None:
        raise FileNotFoundError("pgbench (PostgreSQL's client tools) is not on PATH")
    with tempfile.TemporaryDirectory(prefix="orderline-ceiling-") as folder:
        script = Path(folder) / "order.sql"
        script.write_text(order_script())
        defines = {"business": business_id, "location": location_id, "price": PRICE,
                   "prefix": SKU_PREFIX, "phone": PHONE_PREFIX, "first": first, "last": last}
        command = [program, "-n", "-M", "prepared", "-c", str(clients), "-j", "1",
                   "-T", str(max(1, round(seconds))), "-f", str(script), "-l",
                   f"--log-prefix={Path(folder) / 'tx'}",
                   *(f"-D{k}={v}" for k, v in defines.items()), driver_free_url(url)]
        seen_before: dict[int, float] = {}
        seen: dict[int, float] = {}
        stop = asyncio.Event()
        cpu_before = _children_cpu()
        await _sample_backends(monitor, database, seen_before, _stopped())
        sampler = asyncio.create_task(_sample_backends(monitor, database, seen, stop))
        try:
            process = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await process.communicate()
        finally:
            stop.set()
            await sampler
        pgbench_cpu = _children_cpu() - cpu_before
        stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
        try:
            done, failed, tps = parse_summary(stdout)
        except ValueError:
            raise RuntimeError(f"pgbench failed (exit {process.returncode}):\n"
                               f"{stderr[-2000:]}") from None
        aborted = aborted_clients(stderr)
        latencies = log_latencies_ms([line for log in Path(folder).glob("tx.*")
                                      for line in log.read_text().splitlines()])
    return PhaseResult(
        scenario=scenario, path=CEILING, completed=done, failed=failed + len(aborted),
        wall_seconds=done / tps if tps > 0 else 0.0, client_cpu_seconds=pgbench_cpu,
        latencies_ms=tuple(latencies), first_failure=aborted[0] if aborted else None,
        db_cpu_seconds=bench_cpu.spent(seen_before, seen))


def _stopped() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event

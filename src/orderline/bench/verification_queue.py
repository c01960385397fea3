"""The verification queue ``orderline bench verifications`` measures: a shop with thousands of
payment proofs waiting for a person, made quickly but looking like what the services write.

1. **Templates, through the services.** In the demo shop (its ``bank_wire`` method), a few
   orders are placed by hand with the manual method, and each buyer uploads a receipt
   (``payment_proofs.upload``: the file is cleaned, sealed and stored, the proof, its audit
   entry, the order's history line and the ``payment_proof.submitted`` event written). Orders
   for the bench's decisions and uploads are made the same way (with their buyer tokens).
2. **Copies, in SQL.** ``INSERT ... SELECT`` copies the templates' orders, lines, history,
   manual payments, proofs and audit entries until ``proofs`` proofs wait: copy ``k`` is of
   template ``k mod templates``, every id remapped by ``md5(id || ':' || k)`` in every table
   (so a copy's proof belongs to the copy's order and manual payment), its order number and
   transfer reference made unique, and its times moved back by up to ``SPREAD_HOURS`` (the
   queue then waits from minutes to two days; the deadlines stay as they were). A copy's proof
   points at its template's stored file (one sealed file, many rows: the proof page opens it),
   has no fingerprint row (the template holds that content's), and is scored (three in four,
   with a score from its id) or left unscored, never waiting for OCR.

Copies hold no stock reservations (their stock books would not balance) and are never
decided by the bench: decisions go to orders made through the services.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from orderline.bench.receipts import draw_receipt
from orderline.catalog import products as catalog
from orderline.checkout.direct_orders import NewOrder, create_order
from orderline.core.db.tables import Base
from orderline.core.db.types import UTCDateTime
from orderline.core.runtime import Runtime
from orderline.demo.shop import load_demo
from orderline.manual_payments import proofs as payment_proofs
from orderline.manual_payments.methods import format_amount
from orderline.orders.callers import OrderCaller
from orderline.orders.rules import RequestedLine
from orderline.orders.service import Contact
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal

SKUS = [f"VERIFY-{n:02d}" for n in range(8)]
METHOD = "bank_wire"
SPREAD_HOURS = 48
COPY_BATCH = 2_000
# Copied in this order (each row names an order copied before it).
FAMILY = ("orders", "order_lines", "order_events", "manual_payments", "payment_proofs",
          "verification_audit")
_KEY = {"orders": "id"}  # the column naming the order; order_id elsewhere
_REMAPPED = {"id", "order_id", "manual_payment_id", "proof_id"}
_KEPT_TIMES = {"payment_deadline", "proof_deadline"}
_SCORED = "(c.k % 4 <> 0)"
_SPECIAL: dict[tuple[str, str], str] = {
    ("orders", "number"): "'V' || lpad(c.k::text, 6, '0') || '-' || right(c.number, 6)",
    ("orders", "access_token_hash"): "NULL",
    ("manual_payments", "reference"): "'V' || lpad(c.k::text, 7, '0')",
    ("payment_proofs", "ocr_status"):
        f"CASE WHEN {_SCORED} THEN 'scored' ELSE 'unscored' END",
    ("payment_proofs", "ocr_attempts"): "1",
    ("payment_proofs", "ocr_due_at"): "NULL",
    ("payment_proofs", "ocr_error"):
        f"CASE WHEN {_SCORED} THEN NULL ELSE 'bench copy: not read' END",
    ("payment_proofs", "score_bp"):
        f"CASE WHEN {_SCORED} THEN ('x' || substr(md5(c.id::text || ':' || c.k), 1, 4))"
        "::bit(16)::int % 10001 END",
    ("payment_proofs", "scored_at"):
        f"CASE WHEN {_SCORED} THEN c.uploaded_at - c.shift + interval '20 seconds' END",
}


@dataclass(frozen=True, slots=True)
class BuyerOrder:
    """An order made through the services, with its buyer's token and (if sent) its proof."""

    order_id: uuid.UUID
    access_token: str
    proof_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class VerificationQueue:
    business_id: uuid.UUID
    api_key: str  # every scope, verify included
    owner_email: str
    owner_password: str
    pending: int  # proofs waiting for a person, templates and copies
    templates: int
    to_decide: list[BuyerOrder]  # made through the services, each with a pending proof
    to_upload: list[BuyerOrder]  # made through the services, no proof yet
    seconds: float


# --- through the services --------------------------------------------------------------------

async def _order(runtime: Runtime, principal: Principal, n: int) -> dict[str, Any]:
    return await create_order(runtime, principal, NewOrder(
        customer=Contact(name=f"Transfer buyer {n:05d}", phone=f"+62 812 6660 {n % 10_000:04d}"),
        channel=("whatsapp", "instagram", "web")[n % 3],
        lines=[RequestedLine(SKUS[n % len(SKUS)], 1 + n % 3)], payment_method=METHOD))


async def _with_proof(runtime: Runtime, principal: Principal, n: int) -> BuyerOrder:
    order = await _order(runtime, principal, n)
    mp = order["manual_payment"]
    receipt = draw_receipt(provider="Bank app", amount=format_amount(mp["amount"], "USD"),
                           reference=mp["reference"], date="Dec 06, 2026 10:15 AM",
                           recipient="Demo Coffee Shop LLC", currency_label="USD",
                           extra_lines=[f"bench receipt {n}"])
    caller = OrderCaller(business_id=principal.business_id, order_id=order["id"],
                         principal=None)
    proof = await payment_proofs.upload(runtime, caller, receipt)
    return BuyerOrder(order["id"], order["access_token"], proof["id"])


# --- copies ----------------------------------------------------------------------------------

def _is_uuid(kind: Any) -> bool:
    return getattr(kind, "python_type", None) is uuid.UUID


def _expression(table: Table, column: str) -> str | None:
    """What a copy puts in ``column`` (None: the column's default, a sequence's number)."""
    col = table.c[column]
    if col.primary_key and not _is_uuid(col.type):
        return None
    special = _SPECIAL.get((table.name, column))
    if special is not None:
        return special
    if column in _REMAPPED and _is_uuid(col.type):
        return f"md5(c.{column}::text || ':' || c.k)::uuid"
    if isinstance(col.type, UTCDateTime) and column not in _KEPT_TIMES:
        return f"c.{column} - c.shift"
    return f"c.{column}"


def copy_statement(name: str, *, first: int, last: int, templates: int, copies: int) -> str:
    """``INSERT ... SELECT`` of copies ``first`` .. ``last`` of table ``name``'s rows of the
    templates (listed with their rank in ``bench_proof_templates``); copy k is of the template
    ranked ``k % templates`` and moved back by ``k / copies`` of ``SPREAD_HOURS``."""
    table = Base.metadata.tables[name]
    key = _KEY.get(name, "order_id")
    columns, values = [], []
    for column in list(table.c.keys()):
        value = _expression(table, column)
        if value is not None:
            columns.append(f'"{column}"')
            values.append(value)
    shift = f"make_interval(secs => s.k::float8 * {SPREAD_HOURS * 3600} / {copies})"
    return (f'INSERT INTO {name} ({", ".join(columns)}) SELECT {", ".join(values)} '
            f"FROM (SELECT t.*, s.k, {shift} AS shift FROM {name} t "
            f"JOIN bench_proof_templates b ON b.id = t.{key} "
            f"JOIN generate_series({first}, {last}) AS s(k) ON s.k % {templates} = b.rank) "
            "AS c")


async def _copy(monitor: Any, business_id: uuid.UUID, template_orders: list[uuid.UUID], *,
                copies: int, say: Callable[[str], None]) -> None:
    await monitor.execute("CREATE TEMPORARY TABLE bench_proof_templates "
                          "(id uuid PRIMARY KEY, rank int NOT NULL)")
    await monitor.executemany("INSERT INTO bench_proof_templates VALUES ($1, $2)",
                              [(o, n) for n, o in enumerate(template_orders)])
    say(f"copying in SQL: {copies:,} orders with their proofs, {COPY_BATCH:,} per transaction")
    done = 0
    while done < copies:
        last = min(done + COPY_BATCH, copies)
        async with monitor.transaction():
            for name in FAMILY:
                await monitor.execute(copy_statement(
                    name, first=done + 1, last=last, templates=len(template_orders),
                    copies=copies))
        done = last
        say(f"  copied {done:,} of {copies:,}")
    await monitor.execute("DROP TABLE bench_proof_templates")
    await monitor.execute("ANALYZE")


# --- the whole queue -------------------------------------------------------------------------

async def open_verification_queue(runtime: Runtime, monitor: Any, *, proofs: int,
                                  decisions: int, uploads: int,
                                  say: Callable[[str], None]) -> VerificationQueue:
    """The demo shop with ``proofs`` pending proofs, ``decisions`` of them (the newest) on
    orders made through the services for the bench to decide, and ``uploads`` more orders
    awaiting a proof (see the module's doc)."""
    started = time.perf_counter()
    demo = await load_demo(runtime)
    principal = await tenancy.authenticate(runtime, demo.api_key)
    await tenancy.update_settings(runtime, principal, confirms_per_minute=1000)
    units = 10_000_000
    await catalog.create_product(runtime, principal, name="Bench kopi", description="",
                                 variants=[catalog.NewVariant(sku=sku, name=f"Kopi {sku}",
                                                              price=12_500 + 500 * n,
                                                              initial_stock=units)
                                           for n, sku in enumerate(SKUS)])
    template_count = max(1, min(20, proofs - decisions))
    made = template_count + decisions + uploads
    say(f"through the services: {template_count} orders with a receipt to copy, "
        f"{decisions} to decide, {uploads} awaiting an upload")
    templates: list[BuyerOrder] = []
    to_decide: list[BuyerOrder] = []
    to_upload: list[BuyerOrder] = []
    for n in range(made):
        if n < template_count:
            templates.append(await _with_proof(runtime, principal, n))
        elif n < template_count + decisions:
            to_decide.append(await _with_proof(runtime, principal, n))
        else:
            order = await _order(runtime, principal, n)
            to_upload.append(BuyerOrder(order["id"], order["access_token"], None))
        if (n + 1) % 25 == 0 or n + 1 == made:
            say(f"  {n + 1} of {made} orders made")
    copies = proofs - template_count - decisions
    if copies > 0:
        # The decisions' proofs stay the newest: the copies move back in time.
        await _copy(monitor, principal.business_id, [t.order_id for t in templates],
                    copies=copies, say=say)
    pending = int(await monitor.fetchval(
        "SELECT count(*) FROM payment_proofs WHERE business_id = $1 AND status = 'pending'",
        principal.business_id))
    return VerificationQueue(
        business_id=principal.business_id, api_key=demo.api_key, owner_email=demo.owner_email,
        owner_password=demo.owner_password, pending=pending, templates=template_count,
        to_decide=to_decide, to_upload=to_upload, seconds=time.perf_counter() - started)

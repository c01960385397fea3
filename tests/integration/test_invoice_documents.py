"""Invoice PDFs: drawn by the worker from the order as its invoice number was given, kept as
issued, opened and read back here (pypdf); and gapless under workers running at once."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from orderline.core.runtime import Runtime
from orderline.documents import service as documents
from orderline.documents.drawing import draw_all_due
from orderline.documents.rules import DocumentKind, InvoiceNotIssued
from orderline.documents.store import documents as documents_table
from orderline.orders import service as orders
from orderline.orders.callers import OrderCaller
from orderline.orders.status import cancel_order, confirm_payment
from orderline.privacy import service as personal_data
from orderline.tenancy import service as tenancy
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock_sku
from tests.support.servers import running_worker


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def caller_of(m: Merchant, order: dict[str, Any]) -> OrderCaller:
    return OrderCaller(business_id=m.principal.business_id, order_id=uuid.UUID(str(order["id"])),
                       principal=m.principal)


async def test_the_worker_draws_the_invoice_with_its_number_lines_and_totals(
        runtime: Runtime) -> None:
    m = await new_merchant(runtime, name="Cửa hàng Ánh Dương")
    await tenancy.update_settings(runtime, m.principal,
                                  invoice_address="1 Tràng Tiền, Hà Nội\nMST 0101234567")
    await stock_sku(runtime, m, "MUG", 10)
    order = await place(runtime, m, ("MUG", 3), phone="+84 90 000 0001")
    await confirm_payment(runtime, m.principal, uuid.UUID(str(order["id"])))
    with pytest.raises(InvoiceNotIssued):  # not on the buyer's path: the worker draws it
        await documents.invoice_file(runtime, caller_of(m, order))
    await default_relay(runtime).relay_until_idle()
    with pytest.raises(InvoiceNotIssued):  # issued by the relay, not drawn yet
        await documents.invoice_file(runtime, caller_of(m, order))
    assert await draw_all_due(runtime, business_id=m.principal.business_id) == 1

    shown = await orders.get_order(runtime, m.principal, uuid.UUID(str(order["id"])))
    stored = await documents.invoice_file(runtime, caller_of(m, order))
    assert stored.number == shown["invoice_number"] == "INV-000001"
    assert stored.content.startswith(b"%PDF-")
    text = pdf_text(stored.content)
    for expected in ("Invoice", "INV-000001", shown["number"], "Cửa hàng Ánh Dương",
                     "1 Tràng Tiền, Hà Nội", "MST 0101234567", "MUG",
                     f"Total {shown['total'] // 100:,}.{shown['total'] % 100:02d} "
                     f"{shown['currency']}"):
        assert expected in text, (expected, text)

    # Issued once: another relay pass and drawing round change nothing, the bytes stay.
    await default_relay(runtime).relay_until_idle()
    await draw_all_due(runtime, business_id=m.principal.business_id)
    assert (await documents.invoice_file(runtime, caller_of(m, order))).content == stored.content


async def test_an_erased_customers_invoice_keeps_its_number_and_figures_but_not_the_person(
        runtime: Runtime) -> None:
    m = await new_merchant(runtime, name="Forgetful shop")
    await stock_sku(runtime, m, "MUG", 10)
    order = await place(runtime, m, ("MUG", 2), phone="+84 90 777 1234")
    order_id = uuid.UUID(str(order["id"]))
    await confirm_payment(runtime, m.principal, order_id)
    await default_relay(runtime).relay_until_idle()
    await draw_all_due(runtime, business_id=m.principal.business_id)
    before = pdf_text((await documents.invoice_file(runtime, caller_of(m, order))).content)
    assert "+84 90 777 1234" in before
    await cancel_order(runtime, m.principal, order_id)  # erasure waits for a final status
    shown = await orders.get_order(runtime, m.principal, order_id)

    await personal_data.erase(runtime, m.principal, uuid.UUID(str(shown["customer"]["id"])))
    with pytest.raises(InvoiceNotIssued):  # the PDF naming the person is gone at once
        await documents.invoice_file(runtime, caller_of(m, order))
    await draw_all_due(runtime, business_id=m.principal.business_id)  # drawn again

    after = pdf_text((await documents.invoice_file(runtime, caller_of(m, order))).content)
    assert "+84 90 777 1234" not in after and "Erased customer" in after
    total = f"Total {shown['total'] // 100:,}.{shown['total'] % 100:02d} {shown['currency']}"
    for kept in ("INV-000001", shown["number"], "MUG", total):
        assert kept in before and kept in after, kept


async def test_workers_at_once_issue_one_invoice_pdf_per_number_with_no_gap(
        runtime: Runtime) -> None:
    m = await new_merchant(runtime, name="Busy documents shop")
    await stock_sku(runtime, m, "MUG", 100)
    placed = [await place(runtime, m, ("MUG", 1), phone=f"+1 555 {n:04d}") for n in range(12)]
    await asyncio.gather(*(confirm_payment(runtime, m.principal, uuid.UUID(str(o["id"])))
                           for o in placed[:10]))
    # Four relays at once, as four workers would, each on its own connections.
    await asyncio.gather(*(default_relay(runtime).relay_until_idle() for _ in range(4)))
    # Three drawing rounds at once, as three workers' would: each document drawn once.
    drawn = await asyncio.gather(*(draw_all_due(runtime, business_id=m.principal.business_id)
                                   for _ in range(3)))
    assert sum(drawn) == 10

    numbers = []
    for order in placed[:10]:
        stored = await documents.invoice_file(runtime, caller_of(m, order))
        shown = await orders.get_order(runtime, m.principal, uuid.UUID(str(order["id"])))
        assert stored.number == shown["invoice_number"]
        assert stored.number in pdf_text(stored.content)
        numbers.append(stored.number)
    assert sorted(numbers) == [f"INV-{i:06d}" for i in range(1, 11)]
    for order in placed[10:]:  # unpaid: no invoice
        with pytest.raises(InvoiceNotIssued):
            await documents.invoice_file(runtime, caller_of(m, order))


async def _stored_invoices(runtime: Runtime, business_id: uuid.UUID) -> list[Any]:
    """The business's drawn invoices: (order_id, number, content)."""
    async with runtime.db.read() as conn:
        rows = await conn.execute(select(documents_table.c.order_id, documents_table.c.number,
                                         documents_table.c.content)
                                  .where(documents_table.c.business_id == business_id,
                                         documents_table.c.kind == DocumentKind.INVOICE,
                                         documents_table.c.drawn_at.is_not(None)))
        return list(rows)


@pytest.mark.slow
async def test_three_worker_processes_issue_invoices_one_per_number_with_no_gap(
        runtime: Runtime, database_url: str) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("several worker processes share one database on PostgreSQL only")
    m = await new_merchant(runtime, name="Three workers shop")
    await stock_sku(runtime, m, "MUG", 100)
    placed = [await place(runtime, m, ("MUG", 1), phone=f"+1 555 {n:04d}") for n in range(12)]
    relay_fast = {"ORDERLINE_RELAY_BATCH_SIZE": "2", "ORDERLINE_RELAY_CONCURRENCY": "2",
                  "ORDERLINE_RELAY_INTERVAL_SECONDS": "0.05", "ORDERLINE_LOG_LEVEL": "ERROR"}
    with running_worker(database_url, extra_env=relay_fast), \
            running_worker(database_url, extra_env=relay_fast), \
            running_worker(database_url, extra_env=relay_fast):
        # Paid while the workers run: numbering and drawing race the payments too.
        await asyncio.gather(*(confirm_payment(runtime, m.principal, uuid.UUID(str(o["id"])))
                               for o in placed[:10]))
        deadline = time.monotonic() + 120  # a bound on waiting, not a measure of speed
        stored = await _stored_invoices(runtime, m.principal.business_id)
        while len(stored) < 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            stored = await _stored_invoices(runtime, m.principal.business_id)

    assert sorted(d.number for d in stored) == [f"INV-{i:06d}" for i in range(1, 11)]
    by_order = {d.order_id: d for d in stored}
    for order in placed[:10]:
        shown = await orders.get_order(runtime, m.principal, uuid.UUID(str(order["id"])))
        document = by_order[uuid.UUID(str(order["id"]))]
        assert document.number == shown["invoice_number"]
        text = pdf_text(document.content)
        assert document.number in text and shown["number"] in text
    assert not {uuid.UUID(str(o["id"])) for o in placed[10:]} & set(by_order)

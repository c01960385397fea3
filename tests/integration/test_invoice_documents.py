"""Invoice PDFs: drawn by the worker from the order as its invoice number was given, kept as
issued, opened and read back here (pypdf); and gapless under workers running at once."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any

import pytest
from pypdf import PdfReader

from orderline.core.runtime import Runtime
from orderline.documents import service as documents
from orderline.documents.rules import InvoiceNotIssued
from orderline.orders import service as orders
from orderline.orders.callers import OrderCaller
from orderline.orders.status import confirm_payment
from orderline.tenancy import service as tenancy
from orderline.worker.handlers import default_relay
from tests.conftest import Merchant, new_merchant
from tests.support.catalog import place, stock_sku


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

    # Issued once: another relay pass draws nothing again, and the stored bytes stay.
    await default_relay(runtime).relay_until_idle()
    assert (await documents.invoice_file(runtime, caller_of(m, order))).content == stored.content


async def test_workers_at_once_issue_one_invoice_pdf_per_number_with_no_gap(
        runtime: Runtime) -> None:
    m = await new_merchant(runtime, name="Busy documents shop")
    await stock_sku(runtime, m, "MUG", 100)
    placed = [await place(runtime, m, ("MUG", 1), phone=f"+1 555 {n:04d}") for n in range(12)]
    await asyncio.gather(*(confirm_payment(runtime, m.principal, uuid.UUID(str(o["id"])))
                           for o in placed[:10]))
    # Four relays at once, as four workers would, each on its own connections.
    await asyncio.gather(*(default_relay(runtime).relay_until_idle() for _ in range(4)))

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

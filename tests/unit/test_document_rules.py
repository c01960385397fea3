"""What invoices and packing slips say (pure rules), and that they are drawn with the bundled
fonts only: amounts in the currency's minor units, text the fonts cannot draw shown as ``?``,
the order's own figures and tax breakdown, no prices on a packing slip."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from orderline.documents.layout import drawable, invoice_pdf, packing_slip_pdf
from orderline.documents.rules import (
    InvoiceNotIssued,
    address_lines,
    invoice_sheet,
    money_text,
    packing_slip_sheet,
    printable,
)


def test_amounts_use_the_currencys_minor_units_and_its_code() -> None:
    assert money_text(123456, "USD") == "1,234.56 USD"
    assert money_text(120000, "VND") == "120,000 VND"
    assert money_text(1250, "KWD") == "1.250 KWD"
    assert money_text(-5, "THB") == "-0.05 THB"
    assert money_text(0, "IDR") == "0.00 IDR"


def test_text_is_composed_and_what_no_font_draws_is_a_question_mark() -> None:
    decomposed = "Nguye\u0302\u0303n"  # ễ typed as e + two combining marks
    assert printable(decomposed, drawable) == "Nguyễn"
    assert printable("สมชาย", drawable) == "สมชาย"
    assert printable("王小明 মগ", drawable) == "??? ??"
    assert printable("a\u200bb\x07c", drawable) == "abc"


ORDER: dict[str, Any] = {
    "id": "0b0c5f43-5c8c-4a0e-9a51-6f0c1c1f0a01", "number": "OL-1001",
    "invoice_number": "INV-000042", "payment_method": "cod", "currency": "THB",
    "created_at": "2026-12-06T04:00:00Z", "updated_at": "2026-12-07T04:00:00Z",
    "paid_at": "2026-12-07T03:00:00Z", "invoiced_at": "2026-12-07T04:00:00Z",
    "customer": {"name": "สมชาย ใจดี", "phone": "+66 81 234 5678", "email": None},
    "shipping_address": {"name": "สมชาย ใจดี", "line1": "99 ถนนสุขุมวิท", "line2": "",
                         "city": "Bangkok", "region": "", "postal_code": "10110",
                         "country": "TH", "phone": None},
    "lines": [{"sku": "TEA-1", "name": "ชาเขียว Green tea", "quantity": 3, "unit_price": 15000,
               "line_total": 45000, "discount": 4500, "tax": 2835, "refunded_quantity": 1}],
    "subtotal": 45000, "discount_total": 4500, "shipping_total": 5000, "shipping_discount": 0,
    "tax_total": 2835, "total": 45500, "prices_include_tax": True,
    "pricing": {"taxes": [{"name": "VAT", "rate": "7", "amount": 2835}],
                "coupons": [{"code": "SONGKRAN", "kind": "percent", "amount": 4500}]},
    "shipping_method": {"name": "Kerry Express"}, "note": "the shop's own note",
}


def pdf_text(content: bytes) -> tuple[str, set[str]]:
    reader = PdfReader(io.BytesIO(content))
    fonts = {str(font["/BaseFont"]) for page in reader.pages
             for font in page["/Resources"]["/Font"].values()}
    return "\n".join(page.extract_text() for page in reader.pages), fonts


def test_the_invoice_prints_the_orders_figures_and_tax_breakdown_in_bundled_fonts() -> None:
    sheet = invoice_sheet(ORDER, seller_name="ร้านชา Tea shop",
                          seller_address=["1 Silom Road, Bangkok", "Tax ID 0105551234567"])
    assert sheet.payment_status == "Cash collected on delivery on 2026-12-07"
    assert sheet.issued_at == datetime(2026, 12, 7, 4, tzinfo=UTC)
    text, fonts = pdf_text(invoice_pdf(sheet))
    for expected in ("INV-000042", "OL-1001", "ร้านชา Tea shop", "Tax ID 0105551234567",
                     "สมชาย ใจดี", "10110 Bangkok", "TEA-1", "150.00 THB", "-45.00 THB",
                     "405.00 THB", "Discounts (SONGKRAN) -45.00 THB",
                     "Shipping (Kerry Express) 50.00 THB",
                     "VAT 7% (included in prices) 28.35 THB", "Total 455.00 THB",
                     "Cash on delivery"):
        assert expected in text, (expected, text)
    # Only the fonts shipped in the package, never one of the machine's.
    assert fonts and all("NotoSans" in name for name in fonts), fonts


def test_an_order_without_an_invoice_number_has_no_invoice() -> None:
    with pytest.raises(InvoiceNotIssued):
        invoice_sheet({**ORDER, "invoice_number": None}, seller_name="Shop", seller_address=[])


def test_the_packing_slip_has_what_to_send_and_where_but_no_price_nor_note() -> None:
    text, fonts = pdf_text(packing_slip_pdf(packing_slip_sheet(ORDER, seller_name="Tea shop")))
    assert "OL-1001" in text and "99 ถนนสุขุมวิท" in text and "Kerry Express" in text
    assert "TEA-1 2" in text  # three ordered, one refunded
    assert "THB" not in text and "the shop's own note" not in text
    assert all("NotoSans" in name for name in fonts)


def test_an_address_prints_its_given_parts_one_a_line() -> None:
    assert address_lines(ORDER["shipping_address"]) == (
        "สมชาย ใจดี", "99 ถนนสุขุมวิท", "10110 Bangkok", "TH")
    assert address_lines(None) == ()

"""Order and invoice numbers as text, the name of each business's order-number sequence, and
when an order is due its invoice number."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from orderline.orders.rules import (
    format_invoice_number,
    format_order_number,
    needs_invoice_number,
)
from orderline.tenancy.rules import order_number_sequence_name

PAID = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def test_a_sequence_name_is_the_prefix_and_the_business_ids_hex_digits() -> None:
    business = uuid.UUID("0b5e6f1c-2d3a-4b5c-8d9e-0f1a2b3c4d5e")
    assert order_number_sequence_name(business) == (
        "order_numbers_0b5e6f1c2d3a4b5c8d9e0f1a2b3c4d5e")


def test_a_sequence_name_needs_no_quoting_and_fits_postgresqls_63_characters() -> None:
    for _ in range(200):
        name = order_number_sequence_name(uuid.uuid4())
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert len(name) == 46 <= 63


def test_two_businesses_never_share_a_sequence() -> None:
    ids = [uuid.uuid4() for _ in range(500)]
    assert len({order_number_sequence_name(i) for i in ids}) == 500


def test_a_sequence_name_is_made_from_a_business_id_only() -> None:
    with pytest.raises(ValueError):
        order_number_sequence_name("x; DROP TABLE orders")  # type: ignore[arg-type]


def test_numbers_read_as_six_digits_at_least_and_grow_past_them() -> None:
    assert format_order_number(42) == "OL-000042"
    assert format_order_number(1_234_567) == "OL-1234567"
    assert format_invoice_number(1) == "INV-000001"
    assert format_invoice_number(1_000_000) == "INV-1000000"


def test_an_order_is_due_its_invoice_number_once_its_money_is_in_and_only_once() -> None:
    assert needs_invoice_number(paid_at=PAID, invoice_number=None)
    assert not needs_invoice_number(paid_at=None, invoice_number=None)
    assert not needs_invoice_number(paid_at=PAID, invoice_number="INV-000007")

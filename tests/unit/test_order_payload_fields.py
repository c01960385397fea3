"""The order that events, webhooks, NATS and live streams carry is built from named fields:
a new column on the orders row changes no payload until someone adds it on purpose."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from orderline.orders.store import ORDER_COLUMNS
from orderline.orders.views import shape

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

SHOWN = [
    "id", "number", "status", "channel", "customer_id", "payment_method", "note", "currency",
    "subtotal", "total", "version", "payment_deadline", "paid_at", "payment_reference",
    "invoice_number", "invoiced_at", "cancelled_at", "cancel_reason", "shipped_at",
    "delivered_at", "discount_total", "shipping_total", "shipping_discount", "tax_total",
    "prices_include_tax", "pricing", "shipping_method", "shipping_address", "checkout_id",
    "created_at", "updated_at",
    "customer", "lines", "shipping",
]


def _order_row() -> dict[str, Any]:
    """Every column of today's orders row, each with a value of its own."""
    row: dict[str, Any] = {name: f"<{name}>" for name in ORDER_COLUMNS}
    row.update(id=uuid.uuid4(), business_id=uuid.uuid4(), customer_id=uuid.uuid4(),
               location_id=uuid.uuid4(), access_token_hash="secret-hash", total=1250,
               created_at=NOW, updated_at=NOW)
    return row


def _line() -> dict[str, Any]:
    return {"order_id": uuid.uuid4(), "sku": "TEE", "name": "Tee", "unit_price": 1250,
            "quantity": 1, "line_total": 1250, "discount": 0, "tax": 0, "refunded_quantity": 0,
            "cancelled_quantity": 0}


def test_a_new_column_on_the_orders_row_changes_no_payload() -> None:
    row, line = _order_row(), _line()
    today = shape(row, [line])
    with_new_columns = shape({**row, "risk_score": 97, "internal_note": "call the bank"},
                             [{**line, "cost_price": 400}])
    assert with_new_columns == today


def test_the_payload_names_exactly_these_fields_in_this_order() -> None:
    payload = shape(_order_row(), [_line()])
    assert list(payload) == SHOWN
    assert set(payload["customer"]) == {"id", "name", "phone", "email"}
    assert set(payload["shipping"]) == {"carrier", "tracking_number", "tracking_url"}
    assert [set(line) for line in payload["lines"]] == [
        {"sku", "name", "unit_price", "quantity", "line_total", "discount", "tax",
         "refunded_quantity", "cancelled_quantity"}]


def test_the_business_the_location_and_the_buyers_token_hash_never_leave() -> None:
    row = _order_row()
    payload = shape(row, [_line()])
    values = repr(payload)
    for hidden in ("business_id", "location_id", "access_token_hash"):
        assert hidden not in payload
        assert str(row[hidden]) not in values

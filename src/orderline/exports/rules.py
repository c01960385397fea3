"""What a CSV export's cells and rows are: pure, no I/O.

- A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, one
  starting with a tab or a carriage return) as a formula, so a customer named
  ``=HYPERLINK(...)`` would become a link on the merchant's screen (CSV or formula injection,
  OWASP). Such a text cell is written with a leading ``'``, which spreadsheets show as text.
  Numbers the export writes itself (amounts, deltas) are never text and keep their sign.
- Files start with a UTF-8 byte-order mark: without it Excel reads UTF-8 as the local code
  page and Thai or Vietnamese names come out garbled.
- Money is two columns: the integer minor units (exact, for machines) and the same amount as
  a decimal in the currency's major units (``12.50``), beside the currency's code.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from orderline.core.money import major_units_text

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# A cell's value as rows give it: text (maybe from a buyer), a number or time the export made,
# or nothing.
Cell = str | int | datetime | None


def safe_text(value: str) -> str:
    """Text a spreadsheet will not run: one that starts like a formula gets a leading quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # the export's own number: a minus sign is a sign, not a formula
    if isinstance(value, datetime):
        return value.isoformat()
    return safe_text(value)


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    """Rows as CSV lines (comma, double quotes where needed, CRLF as RFC 4180 has it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def money(amount: int, currency: str) -> tuple[int, str]:
    """The minor units and their decimal text: ``(1250, "12.50")`` for 1250 USD."""
    return amount, major_units_text(amount, currency)


ORDER_HEADER = (
    "order_id", "number", "status", "channel", "created_at", "paid_at", "cancelled_at",
    "shipped_at", "customer_id", "customer_name", "customer_phone", "customer_email",
    "payment_method", "currency", "subtotal_minor", "subtotal", "discount_total_minor",
    "discount_total", "shipping_total_minor", "shipping_total", "tax_total_minor", "tax_total",
    "total_minor", "total", "invoice_number", "note")


def order_row(order: Mapping[str, Any]) -> tuple[Cell, ...]:
    currency = str(order["currency"])
    customer = order["customer"]
    return (str(order["id"]), order["number"], str(order["status"]), order["channel"],
            order["created_at"], order["paid_at"], order["cancelled_at"], order["shipped_at"],
            str(customer["id"]) if customer.get("id") else None, customer["name"],
            customer.get("phone"), customer.get("email"), order["payment_method"], currency,
            *money(order["subtotal"], currency), *money(order["discount_total"], currency),
            *money(order["shipping_total"], currency), *money(order["tax_total"], currency),
            *money(order["total"], currency), order.get("invoice_number"), order["note"])


LINE_HEADER = (
    "order_id", "number", "status", "created_at", "line", "sku", "name", "quantity",
    "refunded_quantity", "currency", "unit_price_minor", "unit_price", "discount_minor",
    "discount", "tax_minor", "tax", "line_total_minor", "line_total")


def line_rows(order: Mapping[str, Any]) -> list[tuple[Cell, ...]]:
    currency = str(order["currency"])
    return [(str(order["id"]), order["number"], str(order["status"]), order["created_at"],
             position, line["sku"], line["name"], line["quantity"],
             line.get("refunded_quantity", 0), currency,
             *money(line["unit_price"], currency), *money(line["discount"], currency),
             *money(line["tax"], currency), *money(line["line_total"], currency))
            for position, line in enumerate(order["lines"], start=1)]


CUSTOMER_HEADER = (
    "customer_id", "name", "phone", "email", "created_at", "orders_placed", "orders_paid",
    "last_order_at", "currency", "spent_minor", "spent", "cod_trust_score", "erased")


def customer_rows(customer: Mapping[str, Any], currency: str) -> list[tuple[Cell, ...]]:
    """One row per currency the customer paid in (the business's own when none yet), so
    amounts in two currencies are never added up."""
    spent = customer["spent"] or [{"currency": currency, "amount": 0}]
    return [(str(customer["id"]), customer["name"], customer["phone"], customer["email"],
             customer["created_at"], customer["orders_placed"], customer["orders_paid"],
             customer["last_order_at"], s["currency"], *money(s["amount"], s["currency"]),
             customer["cod_trust_score"], customer["erased_at"] is not None)
            for s in spent]


PAYMENT_HEADER = (
    "entry_id", "created_at", "order_id", "order_number", "payment_id", "provider", "kind",
    "currency", "amount_minor", "amount", "source", "actor")


def payment_row(entry: Mapping[str, Any]) -> tuple[Cell, ...]:
    currency = str(entry["currency"])
    return (entry["id"], entry["created_at"], str(entry["order_id"]), entry["order_number"],
            str(entry["intent_id"]), entry["provider"], entry["kind"], currency,
            *money(entry["amount"], currency), entry["source"], entry["actor"])


MOVEMENT_HEADER = ("movement_id", "created_at", "sku", "location", "delta", "reason", "order_id",
                   "actor", "note")


def movement_row(movement: Mapping[str, Any]) -> tuple[Cell, ...]:
    order_id = movement["order_id"]
    return (movement["id"], movement["created_at"], movement["sku"], movement["location"],
            movement["delta"], movement["reason"], str(order_id) if order_id else None,
            movement["actor"], movement["note"])

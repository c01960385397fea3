"""How an order is shown to callers: one dict shape for every endpoint, the CLI, and the
``order`` of every order event (webhooks, NATS, live streams).

The shape names its fields: a new column of ``orders`` reaches no merchant until it is added
to ``ORDER_FIELDS`` on purpose.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.orders import store as order_store

# The order row's columns shown as they are, in the table's order; the contact and the
# tracking columns are shown grouped (``customer``, ``shipping``), and business_id,
# location_id and access_token_hash never.
ORDER_FIELDS = (
    "id", "number", "status", "channel", "customer_id", "payment_method", "note", "currency",
    "subtotal", "total", "version", "payment_deadline", "paid_at", "payment_reference",
    "invoice_number", "invoiced_at", "cancelled_at", "cancel_reason", "shipped_at",
    "delivered_at", "discount_total", "shipping_total", "shipping_discount", "tax_total",
    "prices_include_tax", "pricing", "shipping_method", "shipping_address", "checkout_id",
    "created_at", "updated_at",
)


_LINE_FIELDS = ("sku", "name", "unit_price", "quantity", "line_total", "discount", "tax")


def shape(order: Mapping[Any, Any], order_lines: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    view = {k: order[k] for k in ORDER_FIELDS}
    view["customer"] = {"id": order["customer_id"], **_contact(order)}
    view["lines"] = _lines(order_lines)
    view["shipping"] = _tracking(order)
    return view


def _contact(order: Mapping[Any, Any]) -> dict[str, Any]:
    return {"name": order["customer_name"], "phone": order["customer_phone"],
            "email": order["customer_email"]}


def _lines(order_lines: Sequence[Mapping[Any, Any]]) -> list[dict[str, Any]]:
    # A line just placed has no refunded unit yet (the column's default).
    return [{**{k: line[k] for k in _LINE_FIELDS},
             "refunded_quantity": line.get("refunded_quantity", 0),
             "cancelled_quantity": line.get("cancelled_quantity", 0)} for line in order_lines]


def _tracking(order: Mapping[Any, Any]) -> dict[str, Any]:
    return {"carrier": order["carrier"], "tracking_number": order["tracking_number"],
            "tracking_url": order["tracking_url"]}


# What the order's buyer sees of it: no merchant note, no internal ids, no pricing internals.
BUYER_FIELDS = (
    "id", "number", "status", "channel", "payment_method", "currency", "subtotal",
    "discount_total", "shipping_total", "shipping_discount", "tax_total", "total",
    "prices_include_tax", "shipping_address", "payment_deadline", "paid_at", "invoice_number",
    "invoiced_at", "cancelled_at",
    "shipped_at", "delivered_at", "created_at", "updated_at",
)


def buyer_shape(order: Mapping[Any, Any], order_lines: Sequence[Mapping[Any, Any]],
                history: Sequence[Mapping[Any, Any]],
                payment: dict[str, Any] | None) -> dict[str, Any]:
    """The buyer's view of their own order: status, lines, totals, how to pay, tracking, and
    what happened when (without who did it or the merchant's notes)."""
    view = {k: order[k] for k in BUYER_FIELDS}
    view["customer"] = _contact(order)
    view["lines"] = _lines(order_lines)
    view["shipping"] = _tracking(order)
    view["payment_instructions"] = payment
    view["history"] = [{"action": h["action"], "from_status": h["from_status"],
                        "to_status": h["to_status"], "at": h["created_at"]} for h in history]
    return view


async def shaped(conn: AsyncConnection,
                 rows: Sequence[order_store.OrderRow]) -> list[dict[str, Any]]:
    if not rows:
        return []
    grouped: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for line in await order_store.load_lines(conn, [r.id for r in rows]):
        grouped[line.order_id].append(line.as_dict())
    return [shape(r.as_dict(), grouped[r.id]) for r in rows]


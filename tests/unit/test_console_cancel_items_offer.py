"""When the console's order page offers "Cancel items": to a role that may write, before
shipment, while a line has units left that were not refunded."""

from __future__ import annotations

from typing import Any

from orderline.web.console.order_rules import order_actions

WRITE = {"read", "write"}


def an_order(status: str, *lines: tuple[int, int]) -> dict[str, Any]:
    return {"status": status, "payment_method": "card", "paid_at": None,
            "lines": [{"quantity": q, "refunded_quantity": r} for q, r in lines]}


def test_cancel_items_is_offered_before_shipment_only() -> None:
    for status in ("pending_payment", "confirmed", "paid", "processing"):
        assert "cancel_units" in order_actions(an_order(status, (2, 0)), [], WRITE)
    for status in ("shipped", "delivered", "cancelled", "returned"):
        assert "cancel_units" not in order_actions(an_order(status, (2, 0)), [], WRITE)


def test_not_to_a_reader_nor_for_lines_refunded_or_already_gone() -> None:
    assert "cancel_units" not in order_actions(an_order("paid", (2, 0)), [], {"read"})
    assert "cancel_units" not in order_actions(an_order("paid", (2, 1)), [], WRITE)
    assert "cancel_units" not in order_actions(an_order("paid", (0, 0)), [], WRITE)
    assert "cancel_units" in order_actions(an_order("paid", (0, 0), (1, 0)), [], WRITE)

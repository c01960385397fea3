"""The typed order rows name exactly the columns they are read from, so a new or renamed column
fails here rather than as a TypeError in one request."""

from __future__ import annotations

from dataclasses import fields

from orderline.orders.store import (
    LINE_COLUMNS,
    ORDER_COLUMNS,
    NewOrderLine,
    NewOrderRow,
    PriceSnapshot,
    lines,
    orders,
)


def test_an_order_row_has_every_column_of_orders_in_table_order() -> None:
    assert tuple(c.name for c in orders.c) == ORDER_COLUMNS


def test_a_new_order_writes_only_columns_of_orders() -> None:
    written = {f.name for f in fields(NewOrderRow) if f.name != "priced"}
    written |= {f.name for f in fields(PriceSnapshot)} | {"version", "updated_at"}
    assert written <= set(ORDER_COLUMNS)


def test_order_lines_read_and_written_are_columns_of_order_lines() -> None:
    columns = [c.name for c in lines.c]
    assert set(LINE_COLUMNS) <= set(columns)
    assert {f.name for f in fields(NewOrderLine)} == set(columns) - {"refunded_quantity",
                                                                  "cancelled_quantity"}

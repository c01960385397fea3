"""A new order's rows in one statement on PostgreSQL: the order, its lines, its history entry,
its event counters and its outbox events.

Written one statement at a time these are six round trips to the database, each through
SQLAlchemy's execution machinery, while the order's stock rows stay locked. Here each table's
rows travel as one JSON parameter that ``jsonb_populate_record(set)`` turns into rows of that
table's own type, and data-modifying CTEs insert them all in one statement: one round trip,
and the same rows, constraints (checked at the statement's end, as the foreign keys from lines
and history to the order need) and triggers (the outbox's NOTIFY) as the separate INSERTs.

Each INSERT names its columns, so what the database fills itself (serial ids, the outbox's
``txid``) keeps its default. The caller gives every other column, so it knows the stored row
without reading it back (``complete_row``). SQLite keeps the separate statements: it has one
writer and no round trips.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.tables import table_of
from orderline.events.tables import EventStream, OutboxEvent
from orderline.orders.tables import Order, OrderEvent, OrderLine

orders = table_of(Order)
lines = table_of(OrderLine)
history = table_of(OrderEvent)
streams = table_of(EventStream)
outbox = table_of(OutboxEvent)

_SERVER_FILLED = {"orders": (), "order_lines": (), "order_events": ("id",),
                  "event_streams": (), "outbox_events": ("id", "txid")}


def complete_row(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every other column of ``table`` at its scalar default (else None):
    the row as the INSERT stores it."""
    row: dict[str, Any] = {}
    for column in table.c:
        if column.name in values:
            row[column.name] = values[column.name]
        elif column.default is not None and column.default.is_scalar:
            row[column.name] = column.default.arg  # type: ignore[attr-defined]
        else:
            row[column.name] = None
    return row


def _insert(table: Table, param: str, *, many: bool) -> str:
    names = [c.name for c in table.c if c.name not in _SERVER_FILLED[table.name]]
    columns = ", ".join(f'"{n}"' for n in names)
    populate = "jsonb_populate_recordset" if many else "jsonb_populate_record"
    return (f"INSERT INTO {table.name} ({columns}) SELECT {columns} "
            f"FROM {populate}(NULL::{table.name}, CAST(:{param} AS jsonb))")


def _statement(*, announce: bool) -> str:
    parts = {"placed": _insert(orders, "order", many=False),
             "placed_lines": _insert(lines, "lines", many=True),
             "created": _insert(history, "history", many=False),
             "counted": _insert(streams, "streams", many=True) + " RETURNING aggregate_id"}
    if announce:
        parts["announced"] = _insert(outbox, "events", many=True) + " RETURNING id"
    ctes = ",\n".join(f"{name} AS ({sql})" for name, sql in parts.items())
    return f"WITH {ctes}\nSELECT count(*) FROM {'announced' if announce else 'counted'}"


# With the outbox events (a confirm, whose stock was held before), or without (POST
# /v1/orders, which appends them after taking its stock: ``placing.write_unannounced_order``).
_PLACE = {True: text(_statement(announce=True)), False: text(_statement(announce=False))}


def _json(table: Table, rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as a JSON array, each completed with its columns' defaults."""
    return to_json([complete_row(table, row) for row in rows]).decode()


async def insert_order_at_once(conn: AsyncConnection, *, order: Mapping[str, Any],
                               order_lines: Sequence[Mapping[str, Any]],
                               history_entry: Mapping[str, Any],
                               events: Sequence[Mapping[str, Any]], announce: bool) -> None:
    """Insert the order, its lines, its history entry and the counters (at 1) of its first
    events, and with ``announce`` the events themselves (outbox rows), in one statement
    (PostgreSQL only). Columns left out get their
    scalar default (``complete_row``); ``id`` of the history and the outbox, and the outbox's
    ``txid``, are the database's."""
    counters = [{"aggregate_id": e["aggregate_id"], "last_sequence": 1} for e in events]
    values = {"order": _json(orders, [order])[1:-1], "lines": _json(lines, order_lines),
              "history": _json(history, [history_entry])[1:-1],
              "streams": _json(streams, counters)}
    if announce:
        values["events"] = _json(outbox, events)
    written = (await conn.execute(_PLACE[announce], values)).scalar_one()
    if written != len(events):
        raise AssertionError(f"{written} of {len(events)} events written")

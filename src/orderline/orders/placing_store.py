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
without reading it back (``core.db.json_rows.complete_row``). SQLite keeps the separate
statements: it has one writer and no round trips.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db import direct
from orderline.core.db.json_rows import insert_from_json, row_json, rows_json
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


def _insert(table: Table, param: str, *, many: bool) -> str:
    return insert_from_json(table, param, many=many, server_filled=_SERVER_FILLED[table.name])


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
    values = {"order": row_json(orders, order), "lines": rows_json(lines, order_lines),
              "history": row_json(history, history_entry),
              "streams": rows_json(streams, counters)}
    if announce:
        values["events"] = rows_json(outbox, events)
    written = (await direct.execute(conn, _PLACE[announce], values)).scalar()
    if written != len(events):
        raise AssertionError(f"{written} of {len(events)} events written")

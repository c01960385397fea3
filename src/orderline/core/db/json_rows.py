"""Rows of a table sent as one JSON parameter and inserted by a data-modifying CTE
(PostgreSQL): ``jsonb_populate_record(set)`` turns the JSON into rows of the table's own type,
so one statement can insert any number of rows into several tables, with the same
constraints and triggers as separate INSERTs.

Each INSERT names its columns, leaving out those the database fills itself (serial ids, the
outbox's ``txid``), which keep their defaults. The caller gives every other column
(``complete_row`` fills in the scalar defaults), so it knows the stored rows without reading
them back."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Table


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


def insert_from_json(table: Table, param: str, *, many: bool,
                     server_filled: Collection[str] = (), where: str = "") -> str:
    """The INSERT of ``table``'s rows from the JSON parameter ``param`` (an array with
    ``many``, else one object), every column but ``server_filled``; ``where`` (SQL) may make
    it insert nothing."""
    names = [c.name for c in table.c if c.name not in server_filled]
    columns = ", ".join(f'"{n}"' for n in names)
    populate = "jsonb_populate_recordset" if many else "jsonb_populate_record"
    return (f"INSERT INTO {table.name} ({columns}) SELECT {columns} "
            f"FROM {populate}(NULL::{table.name}, CAST(:{param} AS jsonb))"
            + (f" WHERE {where}" if where else ""))


def rows_json(table: Table, rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as a JSON array, each completed with its columns' defaults."""
    return to_json([complete_row(table, row) for row in rows]).decode()


def row_json(table: Table, row: Mapping[str, Any]) -> str:
    """One row as a JSON object, completed with its columns' defaults."""
    return to_json(complete_row(table, row)).decode()

"""Dialect-aware INSERT ... ON CONFLICT DO NOTHING."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from orderline.core.db import direct


@cache
def _ignoring_conflict(dialect: str, table: Table, columns: frozenset[str]) -> Insert:
    """Built once per dialect, table and set of columns: each value a typed bound parameter
    (so the compiled statement is reused, and ``direct`` sends it as it is), the primary key
    returned when the row was inserted (so an insert is told from a conflict without a row
    count)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(table)
            .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
            .on_conflict_do_nothing().returning(*table.primary_key.columns))


async def insert_ignoring_conflict(conn: AsyncConnection, table: Table,
                                   values: dict[str, Any]) -> bool:
    """Insert one row unless a unique constraint already holds it; True if inserted."""
    statement = _ignoring_conflict(conn.dialect.name, table, frozenset(values))
    return (await direct.execute(conn, statement, values)).first() is not None

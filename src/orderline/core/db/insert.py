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
def _ignoring_conflict(dialect: str, table: Table) -> Insert:
    """Built once per table and dialect: the row's values come as parameters, so SQLAlchemy
    reuses the compiled statement instead of building it again on every call."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


@cache
def _ignoring_conflict_of(table: Table, columns: frozenset[str]) -> Insert:
    """PostgreSQL's statement for rows of these columns, built once per table and set of
    columns: each value a typed bound parameter, the primary key returned when inserted (so
    ``direct`` tells an insert from a conflict without a row count)."""
    return (postgresql.insert(table)
            .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
            .on_conflict_do_nothing().returning(*table.primary_key.columns))


async def insert_ignoring_conflict(conn: AsyncConnection, table: Table,
                                   values: dict[str, Any]) -> bool:
    """Insert one row unless a unique constraint already holds it; True if inserted."""
    if conn.dialect.name == "postgresql":
        statement = _ignoring_conflict_of(table, frozenset(values))
        return (await direct.execute(conn, statement, values)).first() is not None
    result = await conn.execute(_ignoring_conflict(conn.dialect.name, table), values)
    return bool(result.rowcount)

"""Dialect-aware INSERT ... ON CONFLICT DO NOTHING."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert


@cache
def _ignoring_conflict(dialect: str, table: Table) -> Insert:
    """Built once per table and dialect: the row's values come as parameters, so SQLAlchemy
    reuses the compiled statement instead of building it again on every call."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


async def insert_ignoring_conflict(conn: AsyncConnection, table: Table,
                                   values: dict[str, Any]) -> bool:
    """Insert one row unless a unique constraint already holds it; True if inserted."""
    result = await conn.execute(_ignoring_conflict(conn.dialect.name, table), values)
    return bool(result.rowcount)

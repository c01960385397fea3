"""SQL of the audit log: one INSERT per change, and the merchant's filtered, paged reading."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.audit.tables import AuditEntry
from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of

entries = table_of(AuditEntry)


@dataclass(frozen=True, slots=True)
class AuditEntryRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    action: str
    actor_key_id: uuid.UUID | None
    actor_key_prefix: str | None
    actor_key_name: str | None
    actor_staff_id: uuid.UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditFilter:
    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    actor_key_id: uuid.UUID | None = None
    actor_staff_id: uuid.UUID | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive


async def insert_entry(conn: AsyncConnection, row: AuditEntryRow) -> None:
    await conn.execute(insert(entries).values(**row.as_dict()))


async def list_entries(conn: AsyncConnection, business_id: uuid.UUID, f: AuditFilter, *,
                       limit: int, before: tuple[datetime, uuid.UUID] | None
                       ) -> list[AuditEntryRow]:
    """Newest first; ``before`` is the (created_at, id) of the last entry of the page before."""
    stmt = select(*(entries.c[name] for name in AuditEntryRow.columns())).where(
        entries.c.business_id == business_id)
    if f.entity_type is not None:
        stmt = stmt.where(entries.c.entity_type == f.entity_type)
    if f.entity_id is not None:
        stmt = stmt.where(entries.c.entity_id == f.entity_id)
    if f.actor_key_id is not None:
        stmt = stmt.where(entries.c.actor_key_id == f.actor_key_id)
    if f.actor_staff_id is not None:
        stmt = stmt.where(entries.c.actor_staff_id == f.actor_staff_id)
    if f.created_from is not None:
        stmt = stmt.where(entries.c.created_at >= f.created_from)
    if f.created_to is not None:
        stmt = stmt.where(entries.c.created_at < f.created_to)
    if before is not None:
        stmt = stmt.where(tuple_(entries.c.created_at, entries.c.id) < before)
    stmt = stmt.order_by(entries.c.created_at.desc(), entries.c.id.desc()).limit(limit)
    return [AuditEntryRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]

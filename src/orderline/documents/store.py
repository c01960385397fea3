"""SQL of the documents table, returning typed rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.documents.tables import OrderDocument

documents = table_of(OrderDocument)


@dataclass(frozen=True, slots=True)
class DocumentRow(StoredRow):
    business_id: uuid.UUID
    order_id: uuid.UUID
    kind: str
    number: str
    media_type: str
    content: bytes
    created_at: datetime


async def add_document(conn: AsyncConnection, row: DocumentRow) -> None:
    await conn.execute(insert(documents).values(**row.as_dict()))


async def load_document(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID,
                        kind: str) -> DocumentRow | None:
    found = (await conn.execute(select(*(documents.c[c] for c in DocumentRow.columns())).where(
        documents.c.business_id == business_id, documents.c.order_id == order_id,
        documents.c.kind == kind))).mappings().first()
    return DocumentRow.from_optional(found)


async def has_document(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID,
                       kind: str) -> bool:
    return (await conn.execute(select(documents.c.number).where(
        documents.c.business_id == business_id, documents.c.order_id == order_id,
        documents.c.kind == kind))).first() is not None


async def documented_orders(conn: AsyncConnection, business_id: uuid.UUID,
                            order_ids: Sequence[uuid.UUID], kind: str) -> list[uuid.UUID]:
    """Which of ``order_ids`` have a stored document of ``kind``."""
    if not order_ids:
        return []
    return list((await conn.execute(select(documents.c.order_id).where(
        documents.c.business_id == business_id, documents.c.kind == kind,
        documents.c.order_id.in_(order_ids)))).scalars())


async def replace_content(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID,
                          kind: str, content: bytes) -> None:
    await conn.execute(update(documents).where(
        documents.c.business_id == business_id, documents.c.order_id == order_id,
        documents.c.kind == kind).values(content=content))

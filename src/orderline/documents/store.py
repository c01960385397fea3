"""SQL of the documents table, returning typed rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
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

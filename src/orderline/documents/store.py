"""SQL of the documents table, returning typed rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.documents.tables import OrderDocument

documents = table_of(OrderDocument)


@dataclass(frozen=True, slots=True)
class IssuedDocument(StoredRow):
    """A document as its row is written when it is issued (the PDF comes later)."""

    business_id: uuid.UUID
    order_id: uuid.UUID
    kind: str
    number: str
    media_type: str
    snapshot: dict[str, Any]
    created_at: datetime
    draw_after: datetime


@dataclass(frozen=True, slots=True)
class DocumentFile(StoredRow):
    """A document to download: null ``content`` until the worker has drawn it."""

    number: str
    media_type: str
    content: bytes | None


@dataclass(frozen=True, slots=True)
class DocumentToDraw(StoredRow):
    """A document a worker claimed to draw; ``draw_after`` is its claim."""

    business_id: uuid.UUID
    order_id: uuid.UUID
    kind: str
    snapshot: dict[str, Any]
    draw_after: datetime


def _key(business_id: uuid.UUID, order_id: uuid.UUID, kind: str) -> tuple[Any, ...]:
    return (documents.c.business_id == business_id, documents.c.order_id == order_id,
            documents.c.kind == kind)


async def add_document(conn: AsyncConnection, row: IssuedDocument) -> None:
    await conn.execute(insert(documents).values(**row.as_dict()))


async def has_document(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID,
                       kind: str) -> bool:
    return (await conn.execute(select(documents.c.number).where(
        *_key(business_id, order_id, kind)))).first() is not None


async def load_file(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID,
                    kind: str) -> DocumentFile | None:
    found = (await conn.execute(select(*(documents.c[c] for c in DocumentFile.columns()))
                                .where(*_key(business_id, order_id, kind)))).mappings().first()
    return DocumentFile.from_optional(found)


async def claim_to_draw(conn: AsyncConnection, *, now: datetime, lease_until: datetime,
                        limit: int, business_id: uuid.UUID | None = None
                        ) -> list[DocumentToDraw]:
    """Take up to ``limit`` documents still to draw whose turn has come, oldest first (of one
    business if given), and move their turn on to ``lease_until`` (so no other worker takes
    them meanwhile)."""
    due = (select(documents.c.business_id, documents.c.order_id, documents.c.kind)
           .where(documents.c.drawn_at.is_(None), documents.c.draw_after <= now)
           .order_by(documents.c.draw_after).limit(limit))
    if business_id is not None:
        due = due.where(documents.c.business_id == business_id)
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = []
    for key in list(await conn.execute(due)):
        row = (await conn.execute(
            update(documents).where(*_key(key.business_id, key.order_id, key.kind),
                                    documents.c.drawn_at.is_(None))
            .values(draw_after=lease_until)
            .returning(*(documents.c[c] for c in DocumentToDraw.columns())))).mappings().first()
        if row is not None:
            claimed.append(DocumentToDraw.from_row(row))
    return claimed


async def save_drawn(conn: AsyncConnection, document: DocumentToDraw, content: bytes, *,
                     now: datetime) -> bool:
    """Keep the PDF drawn from ``document``'s snapshot while the claim is still this worker's:
    False if its lease ran out and another worker took it, or if the snapshot was replaced
    since (an erasure moves ``draw_after`` too), and the row is drawn again in its turn."""
    done = await conn.execute(
        update(documents).where(*_key(document.business_id, document.order_id, document.kind),
                                documents.c.drawn_at.is_(None),
                                documents.c.draw_after == document.draw_after)
        .values(content=content, drawn_at=now).returning(documents.c.number))
    return done.first() is not None


async def snapshots_of(conn: AsyncConnection, business_id: uuid.UUID,
                       order_ids: Sequence[uuid.UUID], kind: str
                       ) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    if not order_ids:
        return []
    rows = await conn.execute(select(documents.c.order_id, documents.c.snapshot).where(
        documents.c.business_id == business_id, documents.c.kind == kind,
        documents.c.order_id.in_(order_ids)))
    return [(row.order_id, row.snapshot) for row in rows]


async def replace_snapshot(conn: AsyncConnection, business_id: uuid.UUID,
                           order_id: uuid.UUID, kind: str, snapshot: dict[str, Any], *,
                           now: datetime) -> None:
    """A new snapshot to draw: the PDF drawn from the old one goes at once."""
    await conn.execute(update(documents).where(*_key(business_id, order_id, kind)).values(
        snapshot=snapshot, content=None, drawn_at=None, draw_after=now))

"""The returns tables: written under the order's row lock, read with the order."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.returns.rules import CLOSED_WITHOUT_UNITS, ReturnStatus
from orderline.returns.tables import Return, ReturnLine, ReturnPhoto
from orderline.tenancy.tables import Business

returns = table_of(Return)
return_lines = table_of(ReturnLine)
return_photos = table_of(ReturnPhoto)
businesses = table_of(Business)


@dataclass(frozen=True, slots=True)
class ReturnRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    order_id: uuid.UUID
    number: int
    code: str
    status: str
    reason: str
    note: str | None
    requested_by: str
    actor: str
    rejection_reason: str | None
    restocking_fee: int
    refund_amount: int | None
    refund_method: str | None
    currency: str
    created_at: datetime
    approved_at: datetime | None
    received_at: datetime | None
    refunded_at: datetime | None
    closed_at: datetime | None
    version: int
    exchange_id: uuid.UUID | None = None
    exchange_value: int = 0
    exchange_credit: int = 0


@dataclass(frozen=True, slots=True)
class ReturnLineRow(StoredRow):
    return_id: uuid.UUID
    sku: str
    variant_id: uuid.UUID
    quantity: int
    condition: str | None
    location_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class PhotoRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    return_id: uuid.UUID
    order_id: uuid.UUID
    storage_key: str
    media_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class ReturnWithLines:
    row: ReturnRow
    lines: list[ReturnLineRow]
    photos: list[PhotoRow]


@dataclass(frozen=True, slots=True)
class ReturnSettings:
    return_window_days: int
    restocking_fee_bp: int
    restocking_fee_fixed: int


async def settings_of(conn: AsyncConnection, business_id: uuid.UUID) -> ReturnSettings:
    row = (await conn.execute(
        select(businesses.c.return_window_days, businesses.c.restocking_fee_bp,
               businesses.c.restocking_fee_fixed)
        .where(businesses.c.id == business_id))).mappings().one()
    return ReturnSettings(**row)


async def returned_by_sku(conn: AsyncConnection, order_id: uuid.UUID) -> dict[str, int]:
    """Units of each line in the order's live returns (not rejected nor cancelled)."""
    stmt = (select(return_lines.c.sku, func.sum(return_lines.c.quantity).label("units"))
            .join(returns, returns.c.id == return_lines.c.return_id)
            .where(return_lines.c.order_id == order_id,
                   returns.c.status.not_in([s.value for s in CLOSED_WITHOUT_UNITS]))
            .group_by(return_lines.c.sku))
    return {r.sku: int(r.units) for r in await conn.execute(stmt)}


async def refunded_by_sku(conn: AsyncConnection, order_id: uuid.UUID) -> dict[str, int]:
    """Units of each line that came back in the order's refunded returns."""
    stmt = (select(return_lines.c.sku, func.sum(return_lines.c.quantity).label("units"))
            .join(returns, returns.c.id == return_lines.c.return_id)
            .where(return_lines.c.order_id == order_id,
                   returns.c.status == ReturnStatus.REFUNDED.value)
            .group_by(return_lines.c.sku))
    return {r.sku: int(r.units) for r in await conn.execute(stmt)}


async def next_number(conn: AsyncConnection, order_id: uuid.UUID) -> int:
    """The next return's number (under the order's row lock, so two never share one)."""
    stmt = select(func.coalesce(func.max(returns.c.number), 0)).where(
        returns.c.order_id == order_id)
    return int((await conn.execute(stmt)).scalar_one()) + 1


async def insert_return(conn: AsyncConnection, row: ReturnRow,
                        lines: Sequence[ReturnLineRow]) -> None:
    await conn.execute(insert(returns), [row.as_dict()])
    await conn.execute(insert(return_lines), [
        {**line.as_dict(), "business_id": row.business_id, "order_id": row.order_id}
        for line in lines])


async def update_return(conn: AsyncConnection, return_id: uuid.UUID,
                        values: dict[str, Any]) -> None:
    await conn.execute(update(returns).where(returns.c.id == return_id)
                       .values(**values, version=returns.c.version + 1))


async def clear_exchange_credit(conn: AsyncConnection, exchange_id: uuid.UUID) -> None:
    """The exchange's replacement was cancelled unpaid and its credit went back: the
    return's refund gives back the units' whole value."""
    await conn.execute(update(returns).where(returns.c.exchange_id == exchange_id)
                       .values(exchange_credit=0, version=returns.c.version + 1))


async def set_line_receipt(conn: AsyncConnection, return_id: uuid.UUID, sku: str, *,
                           condition: str, location_id: uuid.UUID | None) -> None:
    await conn.execute(update(return_lines)
                       .where(return_lines.c.return_id == return_id, return_lines.c.sku == sku)
                       .values(condition=condition, location_id=location_id))


async def insert_photo(conn: AsyncConnection, photo: PhotoRow) -> None:
    await conn.execute(insert(return_photos), [photo.as_dict()])


async def count_photos(conn: AsyncConnection, return_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(return_photos).where(
        return_photos.c.return_id == return_id)
    return int((await conn.execute(stmt)).scalar_one())


async def load_photo(conn: AsyncConnection, business_id: uuid.UUID,
                     photo_id: uuid.UUID) -> PhotoRow | None:
    stmt = (select(*(return_photos.c[name] for name in PhotoRow.columns()))
            .where(return_photos.c.id == photo_id,
                   return_photos.c.business_id == business_id))
    return PhotoRow.from_optional((await conn.execute(stmt)).mappings().first())


async def returns_of(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID, *,
                     return_id: uuid.UUID | None = None) -> list[ReturnWithLines]:
    """The order's returns (or the one named), first one first, with lines and photos."""
    stmt = (select(*(returns.c[name] for name in ReturnRow.columns()))
            .where(returns.c.order_id == order_id, returns.c.business_id == business_id)
            .order_by(returns.c.number))
    if return_id is not None:
        stmt = stmt.where(returns.c.id == return_id)
    rows = [ReturnRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]
    if not rows:
        return []
    ids = [r.id for r in rows]
    lines: dict[uuid.UUID, list[ReturnLineRow]] = defaultdict(list)
    for r in (await conn.execute(
            select(*(return_lines.c[name] for name in ReturnLineRow.columns()))
            .where(return_lines.c.return_id.in_(ids)).order_by(return_lines.c.id))).mappings():
        line = ReturnLineRow.from_row(r)
        lines[line.return_id].append(line)
    photos: dict[uuid.UUID, list[PhotoRow]] = defaultdict(list)
    for r in (await conn.execute(
            select(*(return_photos.c[name] for name in PhotoRow.columns()))
            .where(return_photos.c.return_id.in_(ids))
            .order_by(return_photos.c.uploaded_at, return_photos.c.id))).mappings():
        photo = PhotoRow.from_row(r)
        photos[photo.return_id].append(photo)
    return [ReturnWithLines(row, lines[row.id], photos[row.id]) for row in rows]

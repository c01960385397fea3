"""The shipments tables: written under the order's row lock, read with the order."""

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
from orderline.orders.fulfilment.rules import ShipmentStatus
from orderline.orders.tables import Shipment, ShipmentLine

shipments = table_of(Shipment)
shipment_lines = table_of(ShipmentLine)


@dataclass(frozen=True, slots=True)
class ShipmentRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    order_id: uuid.UUID
    number: int
    status: str
    location_id: uuid.UUID | None
    carrier: str
    tracking_number: str
    tracking_url: str | None
    actor: str
    shipped_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class ShipmentLineRow(StoredRow):
    shipment_id: uuid.UUID
    sku: str
    variant_id: uuid.UUID
    stock_level_id: uuid.UUID
    location_id: uuid.UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class ShipmentWithLines:
    shipment: ShipmentRow
    lines: list[ShipmentLineRow]


async def shipped_by_sku(conn: AsyncConnection, order_id: uuid.UUID) -> dict[str, int]:
    stmt = (select(shipment_lines.c.sku, func.sum(shipment_lines.c.quantity).label("units"))
            .where(shipment_lines.c.order_id == order_id).group_by(shipment_lines.c.sku))
    return {r.sku: int(r.units) for r in await conn.execute(stmt)}


async def shipped_by_level(conn: AsyncConnection,
                           order_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Units of the order shipped from each stock level."""
    stmt = (select(shipment_lines.c.stock_level_id,
                   func.sum(shipment_lines.c.quantity).label("units"))
            .where(shipment_lines.c.order_id == order_id)
            .group_by(shipment_lines.c.stock_level_id))
    return {r.stock_level_id: int(r.units) for r in await conn.execute(stmt)}


async def next_number(conn: AsyncConnection, order_id: uuid.UUID) -> int:
    """The next shipment's number (under the order's row lock, so two never share one)."""
    stmt = select(func.coalesce(func.max(shipments.c.number), 0)).where(
        shipments.c.order_id == order_id)
    return int((await conn.execute(stmt)).scalar_one()) + 1


async def insert_shipment(conn: AsyncConnection, shipment: ShipmentRow,
                          lines: Sequence[ShipmentLineRow]) -> None:
    await conn.execute(insert(shipments), [shipment.as_dict()])
    await conn.execute(insert(shipment_lines), [
        {**line.as_dict(), "business_id": shipment.business_id, "order_id": shipment.order_id}
        for line in lines])


async def shipments_of(conn: AsyncConnection, business_id: uuid.UUID,
                       order_id: uuid.UUID) -> list[ShipmentWithLines]:
    """The order's shipments, first one first, each with its lines."""
    rows = [ShipmentRow.from_row(r) for r in (await conn.execute(
        select(*(shipments.c[name] for name in ShipmentRow.columns()))
        .where(shipments.c.order_id == order_id, shipments.c.business_id == business_id)
        .order_by(shipments.c.number))).mappings()]
    if not rows:
        return []
    grouped: dict[uuid.UUID, list[ShipmentLineRow]] = defaultdict(list)
    stmt = (select(*(shipment_lines.c[name] for name in ShipmentLineRow.columns()))
            .where(shipment_lines.c.order_id == order_id).order_by(shipment_lines.c.id))
    for r in (await conn.execute(stmt)).mappings():
        line = ShipmentLineRow.from_row(r)
        grouped[line.shipment_id].append(line)
    return [ShipmentWithLines(row, grouped[row.id]) for row in rows]


async def mark_delivered(conn: AsyncConnection, order_id: uuid.UUID,
                         shipment_id: uuid.UUID | None, now: datetime) -> int:
    """Mark one shipment (or, with None, every one) of the order delivered, unless it already
    is; returns how many changed."""
    stmt = (update(shipments)
            .where(shipments.c.order_id == order_id,
                   shipments.c.status == ShipmentStatus.SHIPPED.value)
            .values(status=ShipmentStatus.DELIVERED.value, delivered_at=now))
    if shipment_id is not None:
        stmt = stmt.where(shipments.c.id == shipment_id)
    return int((await conn.execute(stmt)).rowcount)


async def retrack_latest(conn: AsyncConnection, order_id: uuid.UUID,
                         values: dict[str, Any]) -> None:
    """Correct the carrier and tracking of the order's latest shipment."""
    latest = select(func.max(shipments.c.number)).where(
        shipments.c.order_id == order_id).scalar_subquery()
    await conn.execute(update(shipments)
                       .where(shipments.c.order_id == order_id, shipments.c.number == latest)
                       .values(**values))

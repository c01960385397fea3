"""SQL for the business's whole money ledger, newest first, in keyset pages (by entry id)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.tables import table_of
from orderline.orders.tables import Order
from orderline.payments.tables import PaymentIntent, PaymentMovement

intents = table_of(PaymentIntent)
movements = table_of(PaymentMovement)
orders = table_of(Order)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row with what a reader needs beside it: the order's number, the intent's
    provider and currency."""

    id: int
    created_at: datetime
    order_id: uuid.UUID
    order_number: str
    intent_id: uuid.UUID
    provider: str
    currency: str
    kind: str
    amount: int
    source: str
    actor: str


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    kind: str | None = None
    order_id: uuid.UUID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


async def ledger_entries(conn: AsyncConnection, business_id: uuid.UUID, f: LedgerFilter, *,
                         before_id: int | None, limit: int) -> list[LedgerEntry]:
    stmt = (select(movements.c.id, movements.c.created_at, movements.c.order_id,
                   orders.c.number.label("order_number"), movements.c.intent_id,
                   intents.c.provider, intents.c.currency, movements.c.kind,
                   movements.c.amount, movements.c.source, movements.c.actor)
            .join(intents, intents.c.id == movements.c.intent_id)
            .join(orders, orders.c.id == movements.c.order_id)
            .where(movements.c.business_id == business_id)
            .order_by(movements.c.id.desc()).limit(limit))
    if f.kind is not None:
        stmt = stmt.where(movements.c.kind == f.kind)
    if f.order_id is not None:
        stmt = stmt.where(movements.c.order_id == f.order_id)
    if f.created_from is not None:
        stmt = stmt.where(movements.c.created_at >= f.created_from)
    if f.created_to is not None:
        stmt = stmt.where(movements.c.created_at < f.created_to)
    if before_id is not None:
        stmt = stmt.where(movements.c.id < before_id)
    return [LedgerEntry(**dict(r)) for r in (await conn.execute(stmt)).mappings()]

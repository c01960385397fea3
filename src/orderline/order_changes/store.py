"""SQL of order changes, their lines and their payment requests.

Every write here runs under the order's row lock (``orders.service.lock_for_change`` or the
payment's own ``load_order(lock=True)``), so a change, its request and the order move
together; the request's status moves with one conditional UPDATE besides (``close_request``:
only an open request closes), so a payment and a cancel or a lapse can never both win.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.rows import StoredRow
from orderline.core.db.tables import table_of
from orderline.order_changes.rules import ChangeStatus, RequestStatus
from orderline.order_changes.tables import OrderChange, OrderChangeLine, PaymentRequest

changes = table_of(OrderChange)
change_lines = table_of(OrderChangeLine)
requests = table_of(PaymentRequest)


@dataclass(frozen=True, slots=True)
class ChangeRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    order_id: uuid.UUID
    number: int
    status: str
    currency: str
    totals_before: dict[str, Any]
    totals_after: dict[str, Any]
    pricing_after: dict[str, Any] | None
    difference: int
    refund_amount: int
    refund_method: str | None
    order_version_before: int
    order_version_after: int | None
    note: str | None
    deadline: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    applied_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ChangeLineRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    change_id: uuid.UUID
    kind: str
    variant_id: uuid.UUID
    sku: str
    name: str
    unit_price: int
    quantity_before: int
    quantity_after: int
    reservation_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class RequestRow(StoredRow):
    id: uuid.UUID
    business_id: uuid.UUID
    order_id: uuid.UUID
    change_id: uuid.UUID
    amount: int
    currency: str
    deadline: datetime
    status: str
    paid_by: str | None
    intent_id: uuid.UUID | None
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DueRequest:
    """An open request past its deadline, for the sweeper."""

    id: uuid.UUID
    business_id: uuid.UUID
    order_id: uuid.UUID


async def next_number(conn: AsyncConnection, order_id: uuid.UUID) -> int:
    last = (await conn.execute(select(func.coalesce(func.max(changes.c.number), 0))
                               .where(changes.c.order_id == order_id))).scalar_one()
    return int(last) + 1


async def insert_change(conn: AsyncConnection, change: ChangeRow,
                        lines: Sequence[ChangeLineRow]) -> None:
    await conn.execute(insert(changes), [change.as_dict()])
    await conn.execute(insert(change_lines), [line.as_dict() for line in lines])


async def insert_request(conn: AsyncConnection, request: RequestRow) -> None:
    await conn.execute(insert(requests), [request.as_dict()])


async def load_change(conn: AsyncConnection, business_id: uuid.UUID, order_id: uuid.UUID,
                      change_id: uuid.UUID) -> ChangeRow | None:
    stmt = select(changes).where(changes.c.id == change_id, changes.c.order_id == order_id,
                                 changes.c.business_id == business_id)
    return ChangeRow.from_optional((await conn.execute(stmt)).mappings().first())


async def changes_of_order(conn: AsyncConnection, business_id: uuid.UUID,
                           order_id: uuid.UUID) -> list[ChangeRow]:
    stmt = (select(changes).where(changes.c.order_id == order_id,
                                  changes.c.business_id == business_id)
            .order_by(changes.c.number))
    return [ChangeRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def lines_of(conn: AsyncConnection,
                   change_ids: Sequence[uuid.UUID]) -> list[ChangeLineRow]:
    if not change_ids:
        return []
    stmt = (select(change_lines).where(change_lines.c.change_id.in_(list(change_ids)))
            .order_by(change_lines.c.change_id, change_lines.c.sku))
    return [ChangeLineRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def requests_of(conn: AsyncConnection,
                      change_ids: Sequence[uuid.UUID]) -> list[RequestRow]:
    if not change_ids:
        return []
    stmt = select(requests).where(requests.c.change_id.in_(list(change_ids)))
    return [RequestRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def request_of_change(conn: AsyncConnection, change_id: uuid.UUID) -> RequestRow | None:
    stmt = select(requests).where(requests.c.change_id == change_id)
    return RequestRow.from_optional((await conn.execute(stmt)).mappings().first())


async def open_change_of(conn: AsyncConnection, order_id: uuid.UUID) -> ChangeRow | None:
    """The order's change waiting for payment, if any (there is at most one)."""
    stmt = select(changes).where(changes.c.order_id == order_id,
                                 changes.c.status == ChangeStatus.AWAITING_PAYMENT.value)
    return ChangeRow.from_optional((await conn.execute(stmt)).mappings().first())


async def open_requests_of_order(conn: AsyncConnection,
                                 order_id: uuid.UUID) -> list[RequestRow]:
    stmt = (select(requests).where(requests.c.order_id == order_id,
                                   requests.c.status == RequestStatus.OPEN.value)
            .order_by(requests.c.created_at))
    return [RequestRow.from_row(r) for r in (await conn.execute(stmt)).mappings()]


async def set_request_intent(conn: AsyncConnection, request_id: uuid.UUID,
                             intent_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(update(requests).where(requests.c.id == request_id)
                       .values(intent_id=intent_id, updated_at=now))


async def close_request(conn: AsyncConnection, request_id: uuid.UUID, *,
                        status: RequestStatus, now: datetime, paid_by: str | None = None,
                        intent_id: uuid.UUID | None = None) -> RequestRow | None:
    """Close an open request (paid, lapsed or cancelled); None if it was not open."""
    values: dict[str, Any] = {"status": status.value, "updated_at": now}
    if status == RequestStatus.PAID:
        values.update(paid_by=paid_by, paid_at=now)
        if intent_id is not None:
            values["intent_id"] = intent_id
    stmt = (update(requests)
            .where(requests.c.id == request_id, requests.c.status == RequestStatus.OPEN.value)
            .values(**values).returning(*requests.c))
    return RequestRow.from_optional((await conn.execute(stmt)).mappings().first())


async def close_change(conn: AsyncConnection, change_id: uuid.UUID, *, status: ChangeStatus,
                       now: datetime, order_version_after: int | None = None) -> None:
    values: dict[str, Any] = {"status": status.value, "updated_at": now, "closed_at": now}
    if status == ChangeStatus.APPLIED:
        values.update(applied_at=now, order_version_after=order_version_after)
    await conn.execute(update(changes).where(changes.c.id == change_id).values(**values))


async def due_requests(conn: AsyncConnection, now: datetime, batch: int) -> list[DueRequest]:
    stmt = (select(requests.c.id, requests.c.business_id, requests.c.order_id)
            .where(requests.c.status == RequestStatus.OPEN.value, requests.c.deadline <= now)
            .order_by(requests.c.deadline).limit(batch))
    return [DueRequest(id=r.id, business_id=r.business_id, order_id=r.order_id)
            for r in await conn.execute(stmt)]


async def paid_by_card_unsettled(conn: AsyncConnection, batch: int) -> list[DueRequest]:
    """Open requests with a card payment started: the sweep settles those whose money came
    by webhook (a payment the buyer finished at the provider, after the call returned)."""
    stmt = (select(requests.c.id, requests.c.business_id, requests.c.order_id,
                   requests.c.change_id)
            .where(requests.c.status == RequestStatus.OPEN.value,
                   requests.c.intent_id.is_not(None))
            .order_by(requests.c.created_at).limit(batch))
    return [DueRequest(id=r.change_id, business_id=r.business_id, order_id=r.order_id)
            for r in await conn.execute(stmt)]


async def load_request(conn: AsyncConnection, request_id: uuid.UUID) -> RequestRow | None:
    stmt = select(requests).where(requests.c.id == request_id)
    return RequestRow.from_optional((await conn.execute(stmt)).mappings().first())

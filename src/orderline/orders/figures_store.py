"""SQL for the merchant's overview of orders: sales by UTC day, channel and currency, and the
orders waiting for the merchant (unpaid near their deadline, to ship, cash to collect).

Every figure is one aggregate statement over the business's orders (``GROUP BY``, ``COUNT``,
``SUM``); the lists are the first few rows of an indexed ordering. Days are UTC calendar days.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.rows import StoredRow
from orderline.orders.rules import OrderStatus
from orderline.orders.store import money_received, orders


@dataclass(frozen=True, slots=True)
class SalesBucket:
    """The orders created on one UTC day in one channel and currency: how many, how many of
    them brought their money in (``paid_orders``) and that money (``revenue``, minor units)."""

    day: date
    channel: str
    currency: str
    orders: int
    paid_orders: int
    revenue: int


def _utc_day(conn: AsyncConnection, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column. SQLite keeps naive UTC text, so its first
    ten characters are the day; PostgreSQL converts the timestamptz to UTC first, whatever
    the session's time zone."""
    if conn.dialect.name == "sqlite":
        return func.substr(column, 1, 10)
    return func.date(func.timezone("UTC", column))


def as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


async def sales_buckets(conn: AsyncConnection, business_id: uuid.UUID, *, created_from: datetime,
                        created_to: datetime) -> list[SalesBucket]:
    """The period's orders summed by UTC day, channel and currency: one statement over the
    ``(business_id, created_at)`` index, a few rows per day. (The overview reads closed days
    from their rollups and only the rest through here: ``orders/rollups.py``.)"""
    return await sales_buckets_in(conn, business_id, [(created_from, created_to)])


async def sales_buckets_in(conn: AsyncConnection, business_id: uuid.UUID,
                           ranges: Sequence[tuple[datetime | None, datetime]]
                           ) -> list[SalesBucket]:
    """The orders created in any of ``ranges`` (``[from, to)``, from None: since the first)
    summed by UTC day, channel and currency, in one statement (an index range each)."""
    if not ranges:
        return []
    received = money_received()
    day = _utc_day(conn, orders.c.created_at).label("day")
    created = orders.c.created_at
    spans = [created < to if start is None else and_(created >= start, created < to)
             for start, to in ranges]
    stmt = (select(day, orders.c.channel, orders.c.currency,
                   func.count().label("orders"),
                   func.coalesce(func.sum(case((received, 1), else_=0)), 0).label("paid_orders"),
                   func.coalesce(func.sum(case((received, orders.c.total), else_=0)), 0)
                   .label("revenue"))
            .where(orders.c.business_id == business_id, or_(*spans))
            .group_by(day, orders.c.channel, orders.c.currency))
    return [SalesBucket(day=as_date(r.day), channel=r.channel, currency=r.currency,
                        orders=int(r.orders), paid_orders=int(r.paid_orders),
                        revenue=int(r.revenue))
            for r in await conn.execute(stmt)]


class Waiting(StrEnum):
    """What an order may be waiting for from the merchant."""

    # Unpaid, and its payment deadline falls in the next hours (then it is cancelled).
    PAYMENT_DUE = "payment_due"
    # Paid (or a cash order confirmed) and not shipped yet.
    TO_SHIP = "to_ship"
    # Cash on delivery, out with the courier, the cash not recorded yet.
    CASH_TO_COLLECT = "cash_to_collect"


@dataclass(frozen=True, slots=True)
class WaitingOrder(StoredRow):
    """One order of a waiting list: ``since`` is when it started waiting (placed, paid or
    shipped); ``due_at`` the payment deadline of an unpaid one."""

    id: uuid.UUID
    number: str
    status: str
    customer_name: str
    total: int
    currency: str
    since: datetime
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class WaitingOrders:
    count: int
    first: list[WaitingOrder]


_TO_SHIP = (OrderStatus.PAID.value, OrderStatus.PROCESSING.value, OrderStatus.CONFIRMED.value,
            OrderStatus.PARTIALLY_SHIPPED.value)  # some units still wait


def _waiting(kind: Waiting, business_id: uuid.UUID, now: datetime,
             due_before: datetime) -> tuple[list[ColumnElement[bool]], Any, Any]:
    """The conditions of a waiting list, when its orders started waiting, and its order."""
    mine = orders.c.business_id == business_id
    if kind == Waiting.PAYMENT_DUE:
        return ([mine, orders.c.status == OrderStatus.PENDING_PAYMENT.value,
                 orders.c.payment_deadline > now, orders.c.payment_deadline <= due_before],
                orders.c.created_at, orders.c.payment_deadline)
    if kind == Waiting.TO_SHIP:
        since = func.coalesce(orders.c.paid_at, orders.c.created_at)
        return [mine, orders.c.status.in_(_TO_SHIP)], since, since
    since = func.coalesce(orders.c.shipped_at, orders.c.created_at)
    return ([mine, orders.c.status == OrderStatus.SHIPPED.value,
             orders.c.payment_method == "cod", orders.c.paid_at.is_(None)], since, since)


async def waiting_orders(conn: AsyncConnection, business_id: uuid.UUID, kind: Waiting, *,
                         now: datetime, due_before: datetime, first: int) -> WaitingOrders:
    """How many of the business's orders wait for ``kind``, and the ``first`` of them (the
    nearest deadline, else the longest waiting)."""
    conditions, since, ordering = _waiting(kind, business_id, now, due_before)
    count = (await conn.execute(select(func.count()).select_from(orders).where(*conditions))
             ).scalar_one()
    due_at = orders.c.payment_deadline if kind == Waiting.PAYMENT_DUE else literal(None)
    stmt = (select(orders.c.id, orders.c.number, orders.c.status, orders.c.customer_name,
                   orders.c.total, orders.c.currency, since.label("since"),
                   due_at.label("due_at"))
            .where(*conditions).order_by(ordering, orders.c.id).limit(first))
    rows = [WaitingOrder.from_row(r) for r in (await conn.execute(stmt)).mappings()]
    return WaitingOrders(count=int(count), first=rows)

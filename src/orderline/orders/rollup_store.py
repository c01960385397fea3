"""SQL for the daily rollups of the overview's sales figures (``rollup_rules`` says why they
stay exact): the rows, the business's progress and the stale marks.

The worker's statements for one business run in one transaction under the lock of its
progress row, in this order: the marks are read *before* the orders are summed, and only the
marks read are deleted, so a change that commits in between leaves its mark behind (the day
is summed again next round) and never loses it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.db.insert import insert_ignoring_conflict
from orderline.core.db.tables import table_of
from orderline.orders.figures_store import SalesBucket, as_date, sales_buckets_in
from orderline.orders.rollup_rules import DayRange, midnight
from orderline.orders.tables import OrderRollup, OrderRollupProgress, OrderRollupStale
from orderline.tenancy.tables import Business

rollups = table_of(OrderRollup)
progress = table_of(OrderRollupProgress)
stale = table_of(OrderRollupStale)
businesses = table_of(Business)

_DAY = timedelta(days=1)


# --- the order path ------------------------------------------------------------------------

async def mark_stale(conn: AsyncConnection, business_id: uuid.UUID, day: date, *,
                     now: datetime) -> None:
    """The rollup of ``day`` no longer holds: a row of its own, so no lock is waited on."""
    await conn.execute(insert(stale).values(business_id=business_id, day=day,
                                            id=uuid.uuid4(), created_at=now))


# --- the overview's read -------------------------------------------------------------------

async def rolled_through(conn: AsyncConnection, business_id: uuid.UUID) -> date | None:
    value = (await conn.execute(select(progress.c.rolled_through)
                                .where(progress.c.business_id == business_id))).scalar()
    return None if value is None else as_date(value)


async def stale_days(conn: AsyncConnection, business_id: uuid.UUID, *, first: date,
                     last: date) -> set[date]:
    stmt = (select(stale.c.day).distinct()
            .where(stale.c.business_id == business_id, stale.c.day >= first,
                   stale.c.day <= last))
    return {as_date(day) for day in (await conn.execute(stmt)).scalars()}


async def rolled_buckets(conn: AsyncConnection, business_id: uuid.UUID, days: DayRange, *,
                         leaving_out: Iterable[date]) -> list[SalesBucket]:
    """The rollup rows of ``days`` but those ``leaving_out``: an index range of the key."""
    stmt = (select(rollups.c.day, rollups.c.channel, rollups.c.currency, rollups.c.orders,
                   rollups.c.paid_orders, rollups.c.revenue)
            .where(rollups.c.business_id == business_id, rollups.c.day >= days.first,
                   rollups.c.day <= days.last))
    left_out = sorted(set(leaving_out))
    if left_out:
        stmt = stmt.where(rollups.c.day.not_in(left_out))
    return [SalesBucket(day=as_date(r.day), channel=r.channel, currency=r.currency,
                        orders=int(r.orders), paid_orders=int(r.paid_orders),
                        revenue=int(r.revenue))
            for r in await conn.execute(stmt)]


# --- the worker ----------------------------------------------------------------------------

async def businesses_due(conn: AsyncConnection, *, last_day: date) -> list[uuid.UUID]:
    """Businesses whose rollups stop before ``last_day`` (or never started), and those with
    stale marks."""
    behind = (select(businesses.c.id)
              .select_from(businesses.outerjoin(progress,
                                                progress.c.business_id == businesses.c.id))
              .where(or_(progress.c.rolled_through.is_(None),
                         progress.c.rolled_through < last_day)))
    marked = select(stale.c.business_id).distinct()
    return sorted({r[0] for r in await conn.execute(behind)}
                  | {r[0] for r in await conn.execute(marked)})


@dataclass(frozen=True, slots=True)
class StaleMark:
    id: uuid.UUID
    day: date


async def lock_progress(conn: AsyncConnection, business_id: uuid.UUID, *,
                        now: datetime) -> date | None:
    """The business's progress row, locked for this transaction (made if missing): another
    worker rolling the same business up waits here."""
    await insert_ignoring_conflict(conn, progress, {"business_id": business_id,
                                                    "rolled_through": None, "rolled_at": now})
    stmt = (select(progress.c.rolled_through).where(progress.c.business_id == business_id)
            .with_for_update())
    value = (await conn.execute(stmt)).scalar()
    return None if value is None else as_date(value)


async def stale_marks(conn: AsyncConnection, business_id: uuid.UUID) -> list[StaleMark]:
    stmt = select(stale.c.id, stale.c.day).where(stale.c.business_id == business_id)
    return [StaleMark(id=r.id, day=as_date(r.day)) for r in await conn.execute(stmt)]


async def sum_days(conn: AsyncConnection, business_id: uuid.UUID, *, after: date | None,
                   through: date, days: Sequence[date]) -> list[SalesBucket]:
    """The orders of the days after ``after`` (all days when None) through ``through``, and
    of ``days``, summed as the overview sums them."""
    ranges: list[tuple[datetime | None, datetime]] = []
    if after is None or after < through:
        ranges.append((None if after is None else midnight(after) + _DAY,
                       midnight(through) + _DAY))
    ranges += [(midnight(d), midnight(d) + _DAY) for d in sorted(set(days))]
    return await sales_buckets_in(conn, business_id, ranges) if ranges else []


async def replace_rollups(conn: AsyncConnection, business_id: uuid.UUID, *,
                          after: date | None, through: date, days: Sequence[date],
                          buckets: Sequence[SalesBucket]) -> None:
    """Delete the rows of the days summed again and write ``buckets`` in their place."""
    mine = rollups.c.business_id == business_id
    which: list[ColumnElement[bool]] = []
    if after is None or after < through:
        span = rollups.c.day <= through
        which.append(span if after is None else and_(span, rollups.c.day > after))
    if days:
        which.append(rollups.c.day.in_(sorted(set(days))))
    if which:
        await conn.execute(delete(rollups).where(mine, or_(*which)))
    rows: list[dict[str, Any]] = [
        {"business_id": business_id, "day": b.day, "channel": b.channel,
         "currency": b.currency, "orders": b.orders, "paid_orders": b.paid_orders,
         "revenue": b.revenue} for b in buckets]
    if rows:
        await conn.execute(insert(rollups), rows)


async def delete_marks(conn: AsyncConnection, business_id: uuid.UUID,
                       marks: Sequence[StaleMark]) -> None:
    """Delete exactly the marks read (those written since stay, and so does their day's
    staleness)."""
    ids = [m.id for m in marks]
    for start in range(0, len(ids), 500):
        await conn.execute(delete(stale).where(stale.c.business_id == business_id,
                                               stale.c.id.in_(ids[start:start + 500])))


async def set_progress(conn: AsyncConnection, business_id: uuid.UUID, *, through: date,
                       now: datetime) -> None:
    await conn.execute(update(progress).where(progress.c.business_id == business_id)
                       .values(rolled_through=through, rolled_at=now))


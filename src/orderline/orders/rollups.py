"""The daily rollups of the overview's sales figures: the worker's job that sums closed days
(and sums stale ones again), and the overview's read that puts rollup rows and live sums
together. ``rollup_rules`` says why the two together equal a live sum of the whole period.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.orders import rollup_store
from orderline.orders.figures_store import SalesBucket, sales_buckets_in
from orderline.orders.rollup_rules import (
    OrderFigures,
    last_day_to_roll,
    midnight,
    read_plan,
    stale_day,
)

log = logging.getLogger("orderline.orders.rollups")


async def note_change(conn: AsyncConnection, business_id: uuid.UUID, before: OrderFigures,
                      after: OrderFigures, *, now: datetime) -> None:
    """In the changing transaction: a change that moved the figures of an order of a closed
    day marks that day's rollup stale (nothing for today's orders, the usual case)."""
    day = stale_day(before, after, now=now)
    if day is not None:
        await rollup_store.mark_stale(conn, business_id, day, now=now)


async def period_buckets(conn: AsyncConnection, business_id: uuid.UUID, *, first_day: date,
                         today: date) -> list[SalesBucket]:
    """The orders of ``first_day`` to ``today`` by UTC day, channel and currency, as
    ``figures_store.sales_buckets`` sums them: rolled days without a stale mark from their
    rollups, the rest live. Call it in one snapshot (``figures.sales`` reads in a repeatable
    read transaction on PostgreSQL), so a day the worker sums meanwhile is seen once."""
    through = await rollup_store.rolled_through(conn, business_id)
    stale: set[date] = set()
    if through is not None and through >= first_day:
        stale = await rollup_store.stale_days(conn, business_id, first=first_day,
                                              last=min(through, today))
    plan = read_plan(first_day, today, rolled_through=through, stale=stale)
    buckets: list[SalesBucket] = []
    if plan.rolled is not None:
        buckets += await rollup_store.rolled_buckets(conn, business_id, plan.rolled,
                                                     leaving_out=plan.stale)
    buckets += await sales_buckets_in(
        conn, business_id,
        [(midnight(r.first), midnight(r.last) + _ONE_DAY) for r in plan.live])
    return buckets


async def roll_up(runtime: Runtime) -> int:
    """Sum every business's closed days not summed yet, and its stale days again; one
    transaction per business. Returns the businesses rolled up. Safe to run in several
    workers at once (the business's progress row is locked)."""
    now = runtime.clock.now()
    last = last_day_to_roll(now)
    async with runtime.db.read() as conn:
        due = await rollup_store.businesses_due(conn, last_day=last)
    for business_id in due:
        await runtime.db.run(_rolling_up(business_id, last, now))
    if due:
        log.info("order rollups summed", extra={"businesses": len(due), "through": str(last)})
    return len(due)


def _rolling_up(business_id: uuid.UUID, last: date,
                now: datetime) -> Callable[[AsyncConnection], Awaitable[None]]:
    async def work(conn: AsyncConnection) -> None:
        await _roll_up_business(conn, business_id, last, now)
    return work


async def _roll_up_business(conn: AsyncConnection, business_id: uuid.UUID, last: date,
                            now: datetime) -> None:
    before = await rollup_store.lock_progress(conn, business_id, now=now)
    # The marks first, the orders after: a change committing in between is summed or keeps
    # its mark (rollup_store's docstring).
    marks = await rollup_store.stale_marks(conn, business_id)
    through = last if before is None else max(before, last)
    again = sorted({m.day for m in marks if before is not None and m.day <= before})
    buckets = await rollup_store.sum_days(conn, business_id, after=before, through=through,
                                          days=again)
    await rollup_store.replace_rollups(conn, business_id, after=before, through=through,
                                       days=again, buckets=buckets)
    # Marks of days past ``through`` are dropped too: those days are read live until a later
    # round sums them from the orders as they are then.
    await rollup_store.delete_marks(conn, business_id, marks)
    await rollup_store.set_progress(conn, business_id, through=through, now=now)


_ONE_DAY = timedelta(days=1)

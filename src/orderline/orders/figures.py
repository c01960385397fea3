"""The merchant's figures of orders for the overview: sales by UTC day, channel and currency
with the checkout funnel beside them, and the orders waiting for the merchant. Closed days'
sales come from their daily rollups where the worker has summed them (``rollups.py``).

Each use case is one read transaction of aggregate statements (``figures_store``); nothing
here loops over orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.runtime import Runtime
from orderline.orders import figures_store, rollups
from orderline.orders.figures_store import SalesBucket, Waiting, WaitingOrders
from orderline.orders.rollup_rules import midnight, utc_day
from orderline.orders.service import CHECKOUT_FUNNEL, ChannelFunnel
from orderline.tenancy.rules import Principal, Scope


@dataclass(frozen=True, slots=True)
class SalesFigures:
    """The orders created in a window, summed by UTC day, channel and currency, and the
    checkout funnel of the window and of its last day (``today_funnel``) by channel."""

    buckets: list[SalesBucket]
    funnel: dict[str, ChannelFunnel]
    today_funnel: dict[str, ChannelFunnel]


async def sales(runtime: Runtime, principal: Principal, *, created_from: datetime,
                today_from: datetime, created_to: datetime) -> SalesFigures:
    """The orders created in ``[created_from, created_to)`` by day, channel and currency,
    and the funnel of checkouts started in it and in ``[today_from, created_to)``."""
    principal.require(Scope.READ)
    funnel = runtime.get(CHECKOUT_FUNNEL)
    first_day, today = utc_day(created_from), utc_day(today_from)
    whole_days = (created_from == midnight(first_day) and today_from == midnight(today)
                  and created_to == midnight(today) + timedelta(days=1))

    async def read(conn: AsyncConnection) -> SalesFigures:
        if not runtime.db.is_sqlite:
            # One snapshot for the rollups and the live sums (SQLite's read transaction is
            # one already). A replica's connection has asked how far it has replayed first.
            if conn.in_transaction():
                await conn.commit()
            await conn.execution_options(isolation_level="REPEATABLE READ")
        if whole_days:
            buckets = await rollups.period_buckets(conn, principal.business_id,
                                                   first_day=first_day, today=today)
        else:
            buckets = await figures_store.sales_buckets(
                conn, principal.business_id, created_from=created_from, created_to=created_to)
        in_period = await funnel(conn, principal.business_id, created_from, created_to)
        of_today = await funnel(conn, principal.business_id, today_from, created_to)
        return SalesFigures(buckets=buckets, funnel=in_period, today_funnel=of_today)
    return await runtime.db.read_from_replica(principal.business_id, read)


async def waiting(runtime: Runtime, principal: Principal, *, due_before: datetime,
                  first: int) -> dict[Waiting, WaitingOrders]:
    """The orders waiting for the merchant, each kind counted with its ``first`` few: unpaid
    with a deadline before ``due_before``, to ship, and cash to collect."""
    principal.require(Scope.READ)
    now = runtime.clock.now()

    async def read(conn: AsyncConnection) -> dict[Waiting, WaitingOrders]:
        return {kind: await figures_store.waiting_orders(conn, principal.business_id, kind,
                                                         now=now, due_before=due_before,
                                                         first=first)
                for kind in Waiting}
    return await runtime.db.read_from_replica(principal.business_id, read)

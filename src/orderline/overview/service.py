"""The merchant's overview: one use case that asks each capability for its own figures
(through their use cases, each one read transaction of aggregate statements) and puts them
side by side. It reads no table itself."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from orderline.catalog import inventory
from orderline.catalog.stock_store import LowStock
from orderline.core.errors import ValidationFailed
from orderline.core.runtime import Runtime
from orderline.events.backlog import Backlog, business_backlog
from orderline.manual_payments import verifications
from orderline.orders import figures as order_figures
from orderline.orders.figures_store import Waiting, WaitingOrders
from orderline.overview.rules import (
    FIRST_FEW,
    MAX_DUE_WITHIN_HOURS,
    Period,
    currencies_of,
    daily_series,
    sales_figures,
    window,
)
from orderline.tenancy.rules import Principal, Scope
from orderline.webhooks import service as webhooks
from orderline.webhooks.store import WebhookHealth


@dataclass(frozen=True, slots=True)
class _Read:
    """What each capability answered."""

    sales: order_figures.SalesFigures
    waiting: dict[Waiting, WaitingOrders]
    proofs: WaitingOrders
    low: LowStock
    hooks: WebhookHealth
    backlog: Backlog


def _listed(waiting: WaitingOrders) -> dict[str, Any]:
    return {"count": waiting.count, "first": [w.as_dict() for w in waiting.first]}


async def overview(runtime: Runtime, principal: Principal, *, period: Period,
                   due_within_hours: int) -> dict[str, Any]:
    """Sales today and in the period (by channel, by currency), the daily series, the orders
    waiting for the merchant, low stock, and the health of webhooks and the outbox."""
    principal.require(Scope.READ)
    if not 1 <= due_within_hours <= MAX_DUE_WITHIN_HOURS:
        raise ValidationFailed(f"due_within_hours is between 1 and {MAX_DUE_WITHIN_HOURS}.",
                               details={"field": "due_within_hours"})
    now = runtime.clock.now()
    span = window(now, period)
    due_before = now + timedelta(hours=due_within_hours)
    # Independent reads, each its own short transaction: on PostgreSQL they run at once; on
    # SQLite (one file, one process) one after the other.
    async def sales() -> order_figures.SalesFigures:
        return await order_figures.sales(runtime, principal, created_from=span.starts_at,
                                         today_from=span.today_starts_at,
                                         created_to=span.ends_at)

    async def waiting() -> dict[Waiting, WaitingOrders]:
        return await order_figures.waiting(runtime, principal, due_before=due_before,
                                           first=FIRST_FEW)

    async def proofs() -> WaitingOrders:
        return await verifications.awaiting_verification(runtime, principal, first=FIRST_FEW)

    async def low() -> LowStock:
        return await inventory.low_stock(runtime, principal, first=FIRST_FEW)

    async def hooks() -> WebhookHealth:
        return await webhooks.health(runtime, principal)

    async def backlog() -> Backlog:
        return await business_backlog(runtime, principal)

    if runtime.db.is_sqlite:
        got = _Read(await sales(), await waiting(), await proofs(), await low(), await hooks(),
                    await backlog())
    else:
        got = _Read(*await asyncio.gather(sales(), waiting(), proofs(), low(), hooks(),
                                          backlog()))
    sold = got.sales
    currencies = currencies_of(sold.buckets, principal.currency)
    today = [b for b in sold.buckets if b.day == span.today]
    return {
        "period": period.value, "first_day": span.first_day, "today": span.today,
        "as_of": now, "currency": principal.currency,
        "sales_today": sales_figures(today, sold.today_funnel, currencies=currencies),
        "sales_in_period": sales_figures(sold.buckets, sold.funnel, currencies=currencies),
        "series": daily_series(sold.buckets, span.days(), currencies=currencies),
        "due_within_hours": due_within_hours,
        "waiting": {"payment_due": _listed(got.waiting[Waiting.PAYMENT_DUE]),
                    "to_ship": _listed(got.waiting[Waiting.TO_SHIP]),
                    "cash_to_collect": _listed(got.waiting[Waiting.CASH_TO_COLLECT]),
                    "proofs_to_verify": _listed(got.proofs)},
        "low_stock": {"count": got.low.count,
                      "first": [asdict(level) for level in got.low.first]},
        "health": {"webhooks": asdict(got.hooks), "outbox": asdict(got.backlog)},
    }

"""Customers of a business, matched by phone or email when they order.

What the merchant sees of one customer comes from one read: the customer's row (its cash on
delivery trust score among it) and, read from the orders themselves so it is never behind,
how many orders they placed, how many were paid, what they spent per currency and when they
last ordered. Their orders are ``orders_of_customer``, paged like ``GET /v1/orders``; their
personal data is exported and erased by ``privacy``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from orderline.core.errors import NotFound
from orderline.core.runtime import Runtime
from orderline.orders import store as order_store
from orderline.orders.store import CustomerSpend, OrderFilter
from orderline.orders.views import shaped
from orderline.tenancy.rules import Principal, Scope


def _record(row: RowMapping, spend: list[CustomerSpend]) -> dict[str, Any]:
    last = max((s.last_order_at for s in spend), default=None)
    return {**dict(row),
            "orders_placed": sum(s.orders for s in spend),
            "orders_paid": sum(s.paid_orders for s in spend),
            "spent": [{"currency": s.currency, "amount": s.spent, "orders": s.paid_orders}
                      for s in spend if s.paid_orders],
            "last_order_at": last}


async def _records(conn: AsyncConnection, business_id: uuid.UUID,
                   rows: list[RowMapping]) -> list[dict[str, Any]]:
    by_customer: dict[uuid.UUID, list[CustomerSpend]] = defaultdict(list)
    for s in await order_store.spend_of_customers(conn, business_id, [r["id"] for r in rows]):
        by_customer[s.customer_id].append(s)
    return [_record(r, by_customer[r["id"]]) for r in rows]


async def find_customers(runtime: Runtime, principal: Principal, *, phone: str | None,
                         email: str | None, limit: int, search: str | None = None,
                         after: tuple[datetime, uuid.UUID] | None = None
                         ) -> list[dict[str, Any]]:
    """Customers by creation, each with their order totals: ``phone`` and ``email`` match
    exactly, ``search`` part of the name, phone or email."""
    principal.require(Scope.READ)

    async def page(conn: AsyncConnection) -> list[dict[str, Any]]:
        rows = await order_store.find_customers(conn, principal.business_id, phone=phone,
                                                email=email.lower() if email else None,
                                                limit=limit, search=search, after=after)
        return await _records(conn, principal.business_id, rows)
    return await runtime.db.read_from_replica(principal.business_id, page)


async def get_customer(runtime: Runtime, principal: Principal,
                       customer_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        row = await order_store.get_customer(conn, principal.business_id, customer_id)
        if row is None:
            raise NotFound("customer", customer_id)
        return (await _records(conn, principal.business_id, [row]))[0]


async def orders_of_customer(runtime: Runtime, principal: Principal, customer_id: uuid.UUID, *,
                             limit: int, before: tuple[datetime, uuid.UUID] | None
                             ) -> list[dict[str, Any]]:
    """The customer's orders, newest first (404 for another business's customer)."""
    principal.require(Scope.READ)

    async def page(conn: AsyncConnection) -> list[dict[str, Any]]:
        if await order_store.get_customer(conn, principal.business_id, customer_id) is None:
            raise NotFound("customer", customer_id)
        rows = await order_store.list_orders(conn, principal.business_id,
                                             OrderFilter(customer_id=customer_id),
                                             limit=limit, before=before)
        return await shaped(conn, rows)
    return await runtime.db.read_from_replica(principal.business_id, page)

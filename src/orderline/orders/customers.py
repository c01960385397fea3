"""Customers of a business, matched by phone or email when they order."""

from __future__ import annotations

import uuid
from typing import Any

from orderline.core.errors import NotFound
from orderline.core.runtime import Runtime
from orderline.orders import store as order_store
from orderline.tenancy.rules import Principal, Scope


async def find_customers(runtime: Runtime, principal: Principal, *, phone: str | None,
                         email: str | None, limit: int) -> list[dict[str, Any]]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        rows = await order_store.find_customers(conn, principal.business_id, phone=phone,
                                                email=email.lower() if email else None,
                                                limit=limit)
    return [dict(r) for r in rows]


async def get_customer(runtime: Runtime, principal: Principal,
                       customer_id: uuid.UUID) -> dict[str, Any]:
    principal.require(Scope.READ)
    async with runtime.db.read() as conn:
        row = await order_store.get_customer(conn, principal.business_id, customer_id)
    if row is None:
        raise NotFound("customer", customer_id)
    return dict(row)

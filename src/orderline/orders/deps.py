"""The caller of an order route: its merchant's key, or its buyer's order token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from orderline.core.http import bearer_of, bind_business, get_runtime, parse_id
from orderline.orders.callers import OrderCaller, order_caller


async def get_order_caller(request: Request, order_id: str,
                           authorization: Annotated[str | None, Header()] = None
                           ) -> OrderCaller:
    """An order's caller: its merchant's API key, or its buyer's access token
    (``Authorization: Bearer oat_...``)."""
    caller = await order_caller(get_runtime(request), parse_id("order", order_id),
                                bearer=bearer_of(authorization))
    bind_business(request, caller.business_id)
    return caller


OrderCallerDep = Annotated[OrderCaller, Depends(get_order_caller)]

"""/v1/customers: the business's buyers, found by name, phone or email, with their order
totals, their cash on delivery trust and their orders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orderline.core.http import RuntimeDep, decode_cursor, encode_cursor, parse_id, refusals
from orderline.orders import customers
from orderline.orders.schemas import CustomerList, CustomerRecord, OrderPage
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["business"])


@router.get("/customers", response_model=CustomerList, responses=refusals(401, 403))
async def find_customers(
    runtime: RuntimeDep, principal: PrincipalDep,
    q: Annotated[str | None, Query(min_length=1, max_length=200,
                                   description="part of the name, phone or email")] = None,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Customers by creation, each with their orders' totals and trust score."""
    rows = await customers.find_customers(runtime, principal, phone=phone, email=email,
                                          search=q, limit=limit + 1,
                                          after=decode_cursor(cursor))
    page, more = rows[:limit], len(rows) > limit
    return {"data": page,
            "next_cursor": encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more
            else None}


@router.get("/customers/{customer_id}", response_model=CustomerRecord, responses=refusals(401, 403))
async def get_customer(customer_id: str, runtime: RuntimeDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    return await customers.get_customer(runtime, principal, parse_id("customer", customer_id))


@router.get("/customers/{customer_id}/orders", response_model=OrderPage,
            responses=refusals(401, 403))
async def orders_of_customer(customer_id: str, runtime: RuntimeDep, principal: PrincipalDep,
                             limit: Annotated[int, Query(ge=1, le=200)] = 50,
                             cursor: str | None = None) -> dict[str, Any]:
    """The customer's orders, newest first."""
    rows = await customers.orders_of_customer(runtime, principal,
                                              parse_id("customer", customer_id),
                                              limit=limit + 1, before=decode_cursor(cursor))
    page, more = rows[:limit], len(rows) > limit
    return {"data": page,
            "next_cursor": encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more
            else None}

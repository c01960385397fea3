"""/v1/customers: the business's buyers, found by phone or email, with their order totals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orderline.core.http import RuntimeDep, parse_id, refusals
from orderline.orders import customers
from orderline.orders.schemas import CustomerList, CustomerRecord
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1", tags=["business"])


@router.get("/customers", response_model=CustomerList, responses=refusals(401, 403))
async def find_customers(runtime: RuntimeDep, principal: PrincipalDep,
                         phone: str | None = None, email: str | None = None,
                         limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    return {"data": await customers.find_customers(runtime, principal, phone=phone, email=email,
                                                   limit=limit)}


@router.get("/customers/{customer_id}", response_model=CustomerRecord, responses=refusals(401, 403))
async def get_customer(customer_id: str, runtime: RuntimeDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    return await customers.get_customer(runtime, principal, parse_id("customer", customer_id))

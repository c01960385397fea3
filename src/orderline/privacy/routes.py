"""/v1/customers/{id}/personal-data: export or erase a customer's personal data (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orderline.core.http import RuntimeDep, parse_id, refusals
from orderline.privacy import service as personal_data
from orderline.privacy.schemas import Erasure, PersonalData
from orderline.tenancy.deps import PrincipalDep

router = APIRouter(prefix="/v1/customers", tags=["personal data"])


@router.get("/{customer_id}/personal-data", response_model=PersonalData,
            responses=refusals(401, 403))
async def export_personal_data(customer_id: str, runtime: RuntimeDep,
                               principal: PrincipalDep) -> dict[str, Any]:
    """Everything held about the customer, as one JSON document."""
    return await personal_data.export(runtime, principal, parse_id("customer", customer_id))


@router.delete("/{customer_id}/personal-data", response_model=Erasure,
               responses=refusals(401, 403, 409))
async def erase_personal_data(customer_id: str, runtime: RuntimeDep,
                              principal: PrincipalDep) -> dict[str, Any]:
    """Erase or anonymise the customer's personal data and delete their proof files; the
    financial records (orders' amounts, lines, taxes, payments) stay."""
    return await personal_data.erase(runtime, principal, parse_id("customer", customer_id))

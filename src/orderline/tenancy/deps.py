"""The caller of a merchant route: the business behind an API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from orderline.core.http import bearer_of, bind_business, get_runtime
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal


async def get_principal(request: Request,
                        authorization: Annotated[str | None, Header()] = None) -> Principal:
    principal = await tenancy.authenticate(get_runtime(request), bearer_of(authorization))
    bind_business(request, principal.business_id)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
